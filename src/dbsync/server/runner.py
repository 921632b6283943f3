"""Running the app under uvicorn: in the foreground (CLI) or in a background thread (tests).

We bind the listening socket ourselves so port 0 works everywhere: the real port is known
before uvicorn starts, and the one line ``dbsync reference server listening on http://...``
that the CLI prints (and the process-mode handle parses) always carries it.
The uvicorn setup is the fastest one measured for this workload: httptools + uvloop, no
access log, no lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
import socket
import sys
import threading
import time
from typing import Any, Callable, Coroutine, Iterator, Optional

import uvicorn
import uvloop

from dbsync.server.app import ReferenceApp
from dbsync.server.settings import ServerSettings

__all__ = [
    "LISTENING_PREFIX",
    "ThreadedServer",
    "bind_socket",
    "check_loopback",
    "serve_forever",
]

LISTENING_PREFIX = "dbsync reference server listening on "
EXIT_WITH_PARENT_ENV = "DBSYNC_SERVER_EXIT_WITH_PARENT"  # set by the handle: the pid whose death ends the server


def exit_with_parent_from_env() -> None:
    """A server started by a :class:`~dbsync.server.handle.ReferenceServer` in process mode ends
    with the process that started it (a killed demo or benchmark leaves no server listening)."""
    import os

    parent = os.environ.pop(EXIT_WITH_PARENT_ENV, None)
    if parent and parent.isdigit():
        from dbsync.parent_watch import exit_with_parent

        exit_with_parent(int(parent))


def check_loopback(host: str) -> str:
    """Refuse anything but a loopback address: this server hands out demo keys and data."""
    if host == "localhost":
        return host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"host must be a loopback address such as 127.0.0.1, got {host!r}") from None
    if not address.is_loopback:
        raise ValueError(f"refusing to listen on {host}: the reference server only binds loopback addresses "
                         f"(127.0.0.0/8 or ::1)")
    return host


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0 = pick a free one)."""
    check_loopback(host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _config(app: ReferenceApp, log_level: str, *, configure_logging: bool) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http="httptools",
        loop="uvloop",
        lifespan="off",
        access_log=False,
        log_level=log_level,
        log_config=uvicorn.config.LOGGING_CONFIG if configure_logging else None,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=3,
    )


class _QuietSignalsServer(uvicorn.Server):
    """uvicorn re-raises SIGINT/SIGTERM after shutting down, so the process would die from the
    signal; a clean stop should exit 0 instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _stop(self, sig: int, frame: object) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True


def serve_forever(settings: ServerSettings, host: str = "127.0.0.1", port: int = 8765, *,
                  log_level: str = "warning", announce: Callable[[str], None] = print) -> None:
    """Run in the foreground until SIGINT/SIGTERM; ``announce`` gets the listening line once up."""
    sock = bind_socket(host, port)
    app = ReferenceApp(settings)
    server = _QuietSignalsServer(_config(app, log_level, configure_logging=True))

    async def main() -> None:
        async def announce_when_started() -> None:
            while not server.started and not server.should_exit:
                await asyncio.sleep(0.01)
            if server.started:
                announce(LISTENING_PREFIX + base_url(sock))
                sys.stdout.flush()

        watcher = asyncio.ensure_future(announce_when_started())
        try:
            await server.serve(sockets=[sock])
        finally:
            watcher.cancel()

    try:
        _run_with_uvloop(main)
    finally:
        sock.close()


def _run_with_uvloop(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a coroutine on a fresh uvloop event loop (works in any thread)."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


class ThreadedServer:
    """The app served by uvicorn in a daemon thread with its own event loop."""

    def __init__(self, settings: ServerSettings, host: str = "127.0.0.1", port: int = 0, *,
                 log_level: str = "warning"):
        self.settings = settings
        self.app = ReferenceApp(settings)
        self._sock = bind_socket(host, port)
        self.base_url = base_url(self._sock)
        self.port: int = self._sock.getsockname()[1]
        self._server = uvicorn.Server(_config(self.app, log_level, configure_logging=False))
        logging.getLogger("uvicorn.error").setLevel(log_level.upper())
        self._thread: Optional[threading.Thread] = None
        self._error: Optional[BaseException] = None

    def start(self, timeout: float = 15.0) -> None:
        self._thread = threading.Thread(target=self._run, name=f"dbsync-server-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"reference server thread failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"reference server did not start within {timeout} s")
            time.sleep(0.005)

    def _run(self) -> None:
        try:
            _run_with_uvloop(lambda: self._server.serve(sockets=[self._sock]))
        except BaseException as exc:  # reported by start()
            self._error = exc

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit, wait for the thread; idempotent."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout)
        self._sock.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
