"""Shared pytest setup: the reference server fixtures come from dbsync's own pytest plugin."""

pytest_plugins = ["dbsync.server.pytest_plugin", "postgres_plugin"]  # postgres_plugin: a private PostgreSQL server

import os
from pathlib import Path

import pytest

from support import Workspace


def _global_dlt_folders():
    """Where dlt keeps its data when nothing says otherwise: /var/dlt as root, else ~/.dlt."""
    return [Path("/var/dlt"), Path.home() / ".dlt"]


def _snapshot(folders):
    out = {}
    for folder in folders:
        if folder.exists():
            out[str(folder)] = sorted((str(p.relative_to(folder)), p.stat().st_mtime_ns)
                                      for p in folder.rglob("*") if p.is_file())
    return out


@pytest.fixture(scope="session", autouse=True)
def dlt_data_in_the_test_folder(tmp_path_factory):
    """No test writes outside its temporary folders: dlt's data folder (pipelines state, and the
    CLI's default --pipelines-dir) and HOME point into the session's temporary folder, for the
    tests and every process they start; the session fails if dlt's global folders changed."""
    before = _snapshot(_global_dlt_folders())
    root = tmp_path_factory.mktemp("dlt-home")
    saved = {k: os.environ.get(k) for k in ("DLT_DATA_DIR", "HOME")}
    os.environ["DLT_DATA_DIR"] = str(root / "dlt")
    os.environ["HOME"] = str(root)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    after = _snapshot(_global_dlt_folders())
    changed = {folder for folder in set(before) | set(after) if before.get(folder) != after.get(folder)}
    assert not changed, f"tests wrote into dlt's global folder(s) {sorted(changed)}: give them a pipelines dir"


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
