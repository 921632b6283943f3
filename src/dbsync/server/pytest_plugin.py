"""pytest fixtures for the reference server (enabled by ``pytest_plugins`` in tests/conftest.py).

* ``reference_server`` (session): one thread-mode server with default settings, shared by
  every test that only reads. Do not mutate it; use ``server_factory`` for that.
* ``server_factory`` (function): ``server_factory(settings=None, mode="thread")`` starts a
  fresh server; all of them are stopped at teardown.
"""

from __future__ import annotations

from typing import Callable, Iterator, List, Optional

import pytest

from dbsync.server.handle import ReferenceServer
from dbsync.server.settings import ServerSettings

ServerFactory = Callable[..., ReferenceServer]


@pytest.fixture(scope="session")
def reference_server() -> Iterator[ReferenceServer]:
    """A shared, read-only reference server with default settings."""
    server = ReferenceServer(mode="thread").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server_factory() -> Iterator[ServerFactory]:
    """Start servers with custom settings; each is stopped when the test ends."""
    started: List[ReferenceServer] = []

    def factory(settings: Optional[ServerSettings] = None, mode: str = "thread") -> ReferenceServer:
        server = ReferenceServer(settings, mode=mode).start()
        started.append(server)
        return server

    try:
        yield factory
    finally:
        for server in reversed(started):
            server.stop()
