"""Child processes that end with their parent, however it went (``kill -9`` and OOM included).

A sync starts helper processes: page-converting workers (:mod:`dbsync.source.page_worker`),
dlt's forked normalize pool (``NORMALIZE__WORKERS`` above 1), the demo's reference server. None
of them is of use without the process that started it, and waiting for end of file on a pipe is
not enough to notice its death: every process forked from the parent meanwhile holds a copy of
the pipe's write end (so after a SIGKILL of ``dbsync run`` with dlt's normalize pool running,
the workers and the pool waited for input forever).

Two ways to notice, either enough on its own:

- Linux: the kernel signals the child when its parent dies (``PR_SET_PDEATHSIG``). The kernel
  also sends that signal when the parent *thread* that started the child ends (workers are
  started from fetch threads), so the handler exits only if the parent process is really gone.
- everywhere: a daemon thread waiting on the parent, with a pidfd where the OS has them (no
  polling), else checking ``getppid()`` every second (an orphan is re-parented).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import Any, Optional

PARENT_DEATH_SIGNAL = signal.SIGUSR1
_PR_SET_PDEATHSIG = 1
EXIT_CODE = 1


def exit_with_parent(parent: int) -> None:
    """End this process (``os._exit``) as soon as the process ``parent`` is gone."""
    if _parent_gone(parent):
        os._exit(EXIT_CODE)  # the parent died while this process started
    _set_parent_death_signal(parent)
    threading.Thread(target=_watch_parent, args=(parent,), name="dbsync-parent-watch", daemon=True).start()


def end_forked_children_with_this_process() -> None:
    """Make every process forked from this one (by any library: dlt's normalize pool) end when
    this process dies. For the ``dbsync`` command only, which owns its process: a library
    caller's own forks (a daemonizing double fork, say) must outlive their parents."""
    if not hasattr(os, "register_at_fork"):
        return
    os.register_at_fork(before=_remember_forker, after_in_child=_child_exits_with_forker)


_forker: Optional[int] = None


def _remember_forker() -> None:
    global _forker
    _forker = os.getpid()


def _child_exits_with_forker() -> None:
    if _forker is not None:
        exit_with_parent(_forker)


def _parent_gone(parent: int) -> bool:
    return os.getppid() != parent


def _set_parent_death_signal(parent: int) -> None:
    if not sys.platform.startswith("linux"):
        return

    def on_parent_death(signum: int, frame: Any) -> None:
        if _parent_gone(parent):
            os._exit(EXIT_CODE)

    try:
        import ctypes

        signal.signal(PARENT_DEATH_SIGNAL, on_parent_death)
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(PARENT_DEATH_SIGNAL), 0, 0, 0) != 0:
            return
    except (OSError, AttributeError, ValueError):  # no prctl, or not the main thread: the watcher remains
        return
    if _parent_gone(parent):  # died between the first check and prctl: no signal will come
        os._exit(EXIT_CODE)


def _watch_parent(parent: int) -> None:
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is not None:
        try:
            fd: Optional[int] = pidfd_open(parent)
        except OSError:  # gone already (ESRCH), or pidfds not allowed here: poll instead
            fd = None
        if fd is not None and not _parent_gone(parent):  # (so the pid was not reused meanwhile)
            import select

            select.select([fd], [], [])  # readable once the parent has exited
            os._exit(EXIT_CODE)
    while not _parent_gone(parent):
        time.sleep(1.0)
    os._exit(EXIT_CODE)
