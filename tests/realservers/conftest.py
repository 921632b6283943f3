"""Fixtures for the real-server tests: what dbsync sent on the wire (each server's own fixture
lives in its test module: one process per module, stopped at the end)."""

from __future__ import annotations

from typing import Iterator

import pytest
import requests

from realserver_helpers import Recorder, SentRequest


@pytest.fixture
def recorder(monkeypatch) -> Iterator[Recorder]:
    """Every HTTP request dbsync sends (as it went on the wire: URL with query, headers)."""
    rec = Recorder()
    original = requests.adapters.HTTPAdapter.send

    def send(self, request, *args, **kwargs):
        rec.sent.append(SentRequest(request.method, request.url, dict(request.headers)))
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    yield rec
