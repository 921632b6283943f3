"""Shared pytest setup: the reference server fixtures come from dbsync's own pytest plugin."""

pytest_plugins = ["dbsync.server.pytest_plugin", "postgres_plugin"]  # postgres_plugin: a private PostgreSQL server

import pytest

from support import Workspace


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Workspace:
    """A clean folder (cwd) for one test's DuckDB file and dlt pipeline state."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    return Workspace(tmp_path)


@pytest.fixture
def api_key(monkeypatch, reference_server) -> str:
    """The reference server's key, provided the way users provide it: a dlt secrets env var."""
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", reference_server.api_key)
    return reference_server.api_key


def pytest_addoption(parser):
    parser.addoption("--soak", action="store_true", default=False,
                     help="run the long reliability soaks (more faults, more kill points, more data)")


@pytest.fixture
def soak(request) -> bool:
    """True with --soak: reliability tests scale up their faults, kill points and data."""
    return bool(request.config.getoption("--soak"))
