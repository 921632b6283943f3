"""Requests in flight and pages fetched ahead, as the server's request log shows them.

``performance.concurrency`` caps the requests in flight (the client's gate), not the threads
that convert pages, and the table dlt is reading keeps fetching while dlt is busy with what it
has: up to ``prefetch_pages`` pages are fetched ahead, not only ``concurrency``."""

from __future__ import annotations

import time
from typing import Any, List

import pytest

from dbsync.server import ServerSettings
from support import assert_same_rows, field_types, most_in_flight, reference_config

LATENCY = 0.06  # seconds every answer waits


@pytest.fixture
def server(server_factory, monkeypatch):
    srv = server_factory(ServerSettings(seed=8, databases=1, tables_per_database=1, default_table_rows=2_000,
                                        latency_ms=LATENCY * 1000))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", srv.api_key)
    return srv


def page_requests(server) -> List[Any]:
    """The records requests, as the server logged them."""
    return [r for r in server.requests() if r.path == "/v1/resource"]


def config_for(server, concurrency: int, prefetch: int = 32):
    config = reference_config(server.base_url, performance={"concurrency": concurrency, "prefetch_pages": prefetch})
    config["resources"][0]["endpoint"]["paginator"]["limit"] = 50  # 40 pages, 2 of discovery
    return config


def assert_orders_loaded(workspace, server):
    assert_same_rows(workspace.rows("acme__orders"), server.records("acme", "orders"),
                     field_types(server.schema("acme"), "orders"))


@pytest.mark.parametrize("concurrency", [1, 3])
def test_requests_in_flight_reach_the_concurrency_and_never_pass_it(server, workspace, concurrency):
    result = workspace.sync(config_for(server, concurrency), tables=["orders"])
    assert result.ok
    pages = page_requests(server)
    assert len(pages) == 41  # 40 pages and the one past the end of the overlapping pages
    assert most_in_flight(pages, LATENCY / 2) == concurrency
    assert_orders_loaded(workspace, server)


def test_the_table_being_read_fetches_ahead_while_dlt_is_busy(server, workspace):
    """dlt holds the first page for a while (here: the progress callback, which runs in dlt's
    thread); meanwhile the table's next pages keep coming, far beyond `concurrency`."""
    seen: List[int] = []

    def slow_consumer(report) -> None:
        if seen:
            return
        deadline = time.monotonic() + 20
        while len(page_requests(server)) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        seen.append(len(page_requests(server)))

    result = workspace.sync(config_for(server, concurrency=2, prefetch=24), tables=["orders"], progress=slow_consumer)
    assert result.ok
    # while dlt held page 1: 1 + 22 pages (prefetch 24 less the 2 kept for other tables), not 1 + 2
    assert seen and seen[0] >= 20, seen
    assert most_in_flight(page_requests(server), LATENCY / 2) == 2
    assert_orders_loaded(workspace, server)


def table_runs(server) -> List[str]:
    """The databases of the records requests in the order they came, consecutive ones merged."""
    from urllib.parse import parse_qs

    runs: List[str] = []
    for r in server.requests():
        if r.path == "/v1/resource":
            database = parse_qs(r.query)["database"][0]
            if not runs or runs[-1] != database:
                runs.append(database)
    return runs


@pytest.mark.parametrize("user_setting", [None, "round_robin"])
def test_tables_are_read_one_after_another_unless_the_user_says_otherwise(server_factory, workspace, monkeypatch,
                                                                          user_setting):
    """dbsync's default for dlt's extract.next_item_mode is fifo (dbsync.dlt_defaults): with one
    request at a time and nothing fetched ahead, the requests follow dlt's reading order."""
    server = server_factory(ServerSettings(seed=9, databases=3, tables_per_database=1, rows_per_table=400))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", server.api_key)
    if user_setting:
        monkeypatch.setenv("EXTRACT__NEXT_ITEM_MODE", user_setting)
    else:
        monkeypatch.delenv("EXTRACT__NEXT_ITEM_MODE", raising=False)
    config = reference_config(server.base_url, performance={"concurrency": 1, "prefetch_pages": 1, "batch_rows": 100})
    config["resources"][0]["endpoint"]["paginator"]["limit"] = 100
    result = workspace.sync(config, tables=["orders"])
    assert result.ok
    runs = table_runs(server)
    if user_setting:
        assert len(runs) > 3, runs  # dlt took a batch of each table in turn
    else:
        assert sorted(runs) == sorted(d["id"] for d in server.databases()), runs
    for database in ("acme", "globex", "initech"):
        assert_same_rows(workspace.rows(f"{database}__orders"), server.records(database, "orders"),
                         field_types(server.schema(database), "orders"))
