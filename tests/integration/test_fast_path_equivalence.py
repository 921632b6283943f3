"""The fast path changes nothing but speed: concurrent pages converted in worker processes load
the same rows, values and column types as one page at a time converted in the fetch thread, and
the incremental state ends in the same place."""

from __future__ import annotations

import pytest

from dbsync.server import ServerSettings
from support import assert_same_rows, count_worker_pages, field_types, reference_config

ROWS = 12_000


@pytest.fixture
def server(server_factory, monkeypatch):
    srv = server_factory(ServerSettings(seed=31, databases=2, tables_per_database=2, rows_per_table=ROWS // 4,
                                        default_table_rows=ROWS))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", srv.api_key)
    return srv


def sync(workspace, server, *, processes, concurrency, dataset):
    config = reference_config(server.base_url, performance={"processes": processes, "concurrency": concurrency,
                                                            "batch_rows": 3000})
    config["resources"][0]["endpoint"]["paginator"]["limit"] = 500
    return workspace.sync(config, dataset=dataset, pipeline_name=f"p_{dataset}")


def test_worker_processes_and_a_sequential_run_load_identical_data(server, workspace, monkeypatch):
    calls = count_worker_pages(monkeypatch, 1_000)  # every table here takes the fast path
    fast = sync(workspace, server, processes=2, concurrency=8, dataset="fast")
    assert len(calls) > 20, "pages must really have gone through the worker processes"
    calls.clear()
    slow = sync(workspace, server, processes=0, concurrency=1, dataset="slow")
    assert calls == []
    assert fast.ok and slow.ok
    assert fast.report.rows == slow.report.rows == 3 * (ROWS // 4) + ROWS
    for resource, report in fast.report.tables.items():
        assert report.cursor_after == slow.report.tables[resource].cursor_after
        table = report.table_name
        assert workspace.columns(table, dataset="fast") == workspace.columns(table, dataset="slow")
        fast_rows = workspace.rows(table, dataset="fast")
        slow_rows = workspace.rows(table, dataset="slow")
        strip = lambda rows: [{k: v for k, v in r.items() if k != "_dbsync_synced_at"} for r in rows]  # noqa: E731
        assert strip(fast_rows) == strip(slow_rows), resource
        schema = server.schema(report.database)
        assert_same_rows(fast_rows, server.records(report.database, report.table), field_types(schema, report.table))
