"""Fixtures for the real-server tests: what dbsync sent on the wire, and a workspace that runs
``dbsync verify`` after every sync (each server's own fixture lives in its test module: one
process per module, stopped at the end)."""

from __future__ import annotations

from typing import Any, Iterator, Optional

import pytest
import requests

from realserver_helpers import Recorder, SentRequest
from support import Workspace


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


class VerifyingWorkspace(Workspace):
    """A workspace whose every sync that ends ok is followed by ``dbsync verify`` (the library
    call), which must find no table that differs from the server (the proof of sync, checked from
    the outside). Its requests are taken out of the recorder: tests count what the sync sent."""

    recorder: Optional[Recorder] = None
    verified: int = 0

    def sync(self, config: Any, **kwargs: Any) -> Any:
        result = super().sync(config, **kwargs)
        if result.ok:
            self.verify(config, **kwargs)
        return result

    def verify(self, config: Any, **kwargs: Any) -> Any:
        from dbsync.reconcile.verify import verify_sync

        kwargs.setdefault("destination", str(self.duckdb))
        kwargs.setdefault("pipelines_dir", str(self.pipelines))
        kwargs.setdefault("pipeline_name", "test_pipeline")
        kwargs.setdefault("dataset", "synced")
        for ignored in ("full_refresh", "progress", "catalog", "source_name", "repair"):
            kwargs.pop(ignored, None)
        seen = len(self.recorder.sent) if self.recorder is not None else 0
        try:
            verdict = verify_sync(config, keys=True, sample=20, **kwargs)
        finally:
            if self.recorder is not None:
                del self.recorder.sent[seen:]
        differing = {t.source: t.differences + t.value_examples + [f"pending deletes {t.pending_deletes}, changed {t.changed_since}"] for t in verdict.differing}
        assert not differing, f"dbsync verify after an ok sync: {differing}"
        self.verified += 1
        return verdict


@pytest.fixture
def workspace(tmp_path, monkeypatch, recorder) -> VerifyingWorkspace:
    """The shared workspace, verifying after every sync (tests/conftest.py's, plus verify)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    ws = VerifyingWorkspace(tmp_path)
    ws.recorder = recorder
    return ws
