"""Process-level tuning for long syncs: garbage collector and memory allocators.

A sync parses hundreds of thousands of JSON objects in worker threads and hands big Arrow
buffers around. Python's and glibc's defaults are tuned for other programs; these settings were
chosen by measurement (bench/bench_sync.py, issue 5) and are applied only while run_sync runs.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Any, Iterator, Optional


@contextmanager
def tuned_runtime(destination: Optional[str] = None) -> Iterator[None]:
    """Python and allocator settings that keep a long sync fast and its memory flat.

    - Fewer garbage-collector passes: every page parsed from JSON allocates tens of thousands of
      dicts and lists; with Python's default thresholds a full collection, which walks every
      tracked object (dlt, pyarrow, all pages in flight), runs every few pages. Measured here it
      halved orjson's throughput with 8 fetch threads. Freezing what exists (imports) and
      collecting less often restores it.
    - Memory that does not creep: with 8 threads glibc hands out up to 8 malloc arenas per core
      and fragments them, and Arrow's mimalloc pool keeps freed pages; at 1,000,000 rows that
      grew the process by ~250 MB. Two arenas and Arrow's system pool keep it flat.

    - No SQLAlchemy import for the load's closing message (:func:`dlt_urls_without_sqlalchemy`;
      ``destination``: the destination's name, as given).

    The garbage-collector settings come back afterwards; the allocator choices stay (they only
    affect new allocations).
    """
    import gc

    _limit_malloc_arenas(2)
    _use_system_arrow_pool()
    previous = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(20_000, 50, 1_000)
    try:
        with dlt_urls_without_sqlalchemy(destination):
            yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()


def _libc() -> Any:
    global _LIBC
    if _LIBC is None:
        try:
            import ctypes

            _LIBC = ctypes.CDLL("libc.so.6")
            _LIBC.malloc_trim  # noqa: B018 - glibc only
        except (OSError, AttributeError):
            _LIBC = False
    return _LIBC


_LIBC: Any = None


def release_free_memory() -> None:
    """Hand memory that malloc keeps free inside its heaps back to the system (glibc only).

    Parsing pages frees as much as it allocates, but glibc keeps the holes: over 1,000,000 rows
    that grew the process by ~80 MB. The page scheduler calls this every few dozen pages
    (about 20 ms each time)."""
    libc = _libc()
    if libc:
        libc.malloc_trim(0)


def _limit_malloc_arenas(count: int) -> None:
    libc = _libc()
    if not libc:
        return
    try:
        libc.mallopt(-8, count)  # M_ARENA_MAX
        # a fixed mmap threshold: page bodies (hundreds of KB) are mapped and unmapped whole;
        # glibc's default raises the threshold after the first free, after which such buffers
        # come from the heap and fragment it (RSS grew ~140 MB over 1,000,000 rows)
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def _use_system_arrow_pool() -> None:
    import pyarrow as pa

    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return  # the user chose one
    try:
        pa.set_memory_pool(pa.system_memory_pool())
    except Exception:  # pragma: no cover - every pyarrow build has the system pool
        pass


_SQLALCHEMY_COMPAT = "dlt.common.libs.sql_alchemy_compat"
_url_lock = threading.Lock()
_url_users = 0


@contextmanager
def dlt_urls_without_sqlalchemy(destination: Optional[str]) -> Iterator[None]:
    """While a sync runs, dlt renders credentials with its own URL class, not SQLAlchemy's.

    At the end of every load dlt prints its destination (``Load.get_step_info`` ->
    ``str(credentials)``), which renders the credentials as an SQLAlchemy URL: where SQLAlchemy
    is installed (the dagster extra brings it) that import is 0.16 s of every run, a tenth of a
    run with nothing to sync, for a string. dlt ships a port of that URL class for installs
    without SQLAlchemy (``dlt.common.libs.sql_alchemy_shims``); while the sync runs, dlt's
    ``sql_alchemy_compat`` module is that port, as on a plain dbsync install. Not for dlt's
    ``sqlalchemy`` destination (it needs the real URL), not if SQLAlchemy is imported already,
    and undone afterwards: dlt imports the module anew at each use, so code that runs after the
    sync gets SQLAlchemy's URL again."""
    global _url_users
    import sys

    installed = False
    with _url_lock:
        if _url_users:
            _url_users += 1
            installed = True
        elif ("sqlalchemy" not in (destination or "").lower() and _SQLALCHEMY_COMPAT not in sys.modules
              and "sqlalchemy" not in sys.modules):
            try:
                from dlt.common.libs import sql_alchemy_shims
            except ImportError:  # another dlt layout: nothing to do
                pass
            else:
                sys.modules[_SQLALCHEMY_COMPAT] = sql_alchemy_shims
                _url_users, installed = 1, True
    try:
        yield
    finally:
        if installed:
            with _url_lock:
                _url_users -= 1
                if not _url_users:
                    sys.modules.pop(_SQLALCHEMY_COMPAT, None)


def exit_process(code: int) -> None:
    """End the process now, skipping the interpreter's teardown.

    Python's finalization frees every module and object one by one: after importing dlt,
    pyarrow and DuckDB that takes 0.3-0.45 s here (measured: a bare ``import dlt, duckdb,
    pyarrow`` process, 0.96 s wall against 0.70 s of work), a fifth of a run with nothing to sync.
    Everything a normal exit does for the program runs first: atexit handlers (multiprocessing's,
    servers this process started), logging's shutdown (also an atexit handler), and flushing
    stdout and stderr. Only for the console entry point: library callers keep normal exits.
    """
    import atexit
    import sys

    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # a closed pipe: nothing more can be said
                pass
        os._exit(code)
