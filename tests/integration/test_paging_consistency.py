"""Rows that move while pages are read are never skipped (overlapping pages, boundary checks,
gap fill by cursor). The control run, with the overlap switched off, shows the loss the design
prevents, so this test can fail."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from dbsync.server import FaultSettings, ServerSettings
from dbsync.source.offset_reader import OffsetReader
from support import assert_same_rows, field_types, reference_config

ROWS = 2000
PAGE = 100


def move_rows_during_sync(server, after_requests: int, ids):
    """Once ``after_requests`` pages were served, update rows near the start of the cursor order:
    they move to its end, and every later row shifts left."""
    def watch():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if sum(1 for r in server.requests() if r.path == "/v1/resource") >= after_requests:
                for i in ids:
                    server.update("acme", "orders", i, {"quantity": 7777})
                return
            time.sleep(0.01)
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def server(server_factory, monkeypatch):
    settings = ServerSettings(seed=21, databases=1, tables_per_database=1, default_table_rows=ROWS,
                              faults=FaultSettings(slow_rate=1.0, slow_seconds=0.05, fault_paths=("/v1/resource",)))
    srv = server_factory(settings)
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", srv.api_key)
    return srv


def sync_while_rows_move(server, workspace):
    # a first run filtered from the start, so pages come in cursor order (where updates move rows)
    config = reference_config(server.base_url, performance={"concurrency": 1, "prefetch_pages": 1},
                              incremental={"param": "updated_since", "initial_value": "1970-01-01T00:00:00Z"})
    config["resources"][0]["endpoint"]["paginator"]["limit"] = PAGE
    first_in_cursor_order = sorted(server.records("acme", "orders"), key=lambda r: (r["updated_at"], r["id"]))
    moving = [r["id"] for r in first_in_cursor_order[:5]]
    server.clear_requests()
    watcher = move_rows_during_sync(server, after_requests=8, ids=moving)
    result = workspace.sync(config, tables=["orders"])
    watcher.join()
    return result, moving


def test_rows_moving_during_a_full_sync_are_not_skipped(server, workspace, caplog):
    caplog.set_level(logging.INFO, logger="dbsync")
    result, moving = sync_while_rows_move(server, workspace)
    assert result.ok
    truth = server.records("acme", "orders")
    assert_same_rows(workspace.rows("acme__orders"), truth, field_types(server.schema("acme"), "orders"))
    assert {r["id"]: r["quantity"] for r in workspace.rows("acme__orders")}[moving[0]] == 7777
    assert "reading that range again by cursor" in caplog.text
    assert result.report.tables["acme__orders"].gap_fills >= 1
    # and the cursor stands past every row, so the next run finds nothing left behind
    again = workspace.sync(reference_config(server.base_url), tables=["orders"])
    assert again.report.rows == 0


def test_control_without_overlap_loses_rows(server, workspace, monkeypatch):
    """Without the overlap, the same run silently skips rows and its cursor passes them."""
    monkeypatch.setattr(OffsetReader, "overlap", property(lambda self: False))
    result, _ = sync_while_rows_move(server, workspace)
    assert result.ok
    loaded = {r["id"] for r in workspace.rows("acme__orders")}
    truth = {r["id"] for r in server.records("acme", "orders")}
    assert truth - loaded, "offset paging without the overlap should skip the shifted rows"
