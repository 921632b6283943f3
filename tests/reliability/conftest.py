"""Fixtures of the reliability suite: a server whose only key is unique to the test, and a
check, run after every test, that the key was written nowhere (issue 6, item 7)."""

from __future__ import annotations

import logging
import uuid
from typing import Callable

import pytest

from dbsync.server import ServerSettings

from reliability_helpers import SecretWatch


@pytest.fixture
def secret() -> str:
    return f"sk-rel-{uuid.uuid4().hex}"


@pytest.fixture
def secret_watch(secret, workspace, caplog) -> SecretWatch:
    """Collects everything printed or logged; at teardown, searches it and every file of the
    workspace (DuckDB files, dlt's pipeline folder with its trace, load packages) for the key."""
    caplog.set_level(logging.DEBUG)
    watch = SecretWatch(secret, workspace.root)
    yield watch
    watch.texts.append(caplog.text)
    hits = watch.find()
    assert hits == [], f"the API key was written to: {hits}"


@pytest.fixture
def make_server(server_factory, secret, monkeypatch) -> Callable[..., object]:
    """A reference server that accepts only this test's key (also put where users put it)."""
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", secret)

    def make(extra_keys=None, **kwargs):
        settings = ServerSettings(api_keys={secret: None, **(extra_keys or {})}, **kwargs)
        return server_factory(settings)

    return make
