"""Incremental syncs: cursors per table, one request per table when nothing changed, only the
changed rows after changes, tombstones deleting rows, lag windows, new fields."""

from __future__ import annotations

import pytest

from dbsync.server import ServerSettings
from support import (assert_destination_equals_source, assert_same_rows, field_types, is_count_request, query_params,
                     reference_config)


@pytest.fixture
def server(server_factory, monkeypatch):
    srv = server_factory(ServerSettings(seed=7, databases=2, tables_per_database=2, rows_per_table=1500))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", srv.api_key)
    return srv


def resource_requests(server):
    return [r for r in server.requests() if r.path == "/v1/resource"]


def test_second_run_without_changes_makes_two_requests_per_table_and_loads_nothing(server, workspace):
    config = reference_config(server.base_url)
    first = workspace.sync(config)
    assert first.ok and first.report.rows == 2 * 2 * 1500
    assert all(t.check.status == "verified" and t.check.source_how == "body 'total'"
               for t in first.report.tables.values()), "the first read's own total proves it: no count request"
    loads_before = workspace.query("SELECT COUNT(*) FROM synced._dlt_loads")[0][0]
    server.clear_requests()
    second = workspace.sync(config)
    assert second.ok
    assert second.report.rows == 0 and second.report.deleted == 0
    tables = len(second.report.tables)
    records = [r for r in resource_requests(server) if not is_count_request(r)]
    counts = [r for r in resource_requests(server) if is_count_request(r)]
    assert len(records) == tables, "one records request per table"
    assert len(counts) == tables, "and one for its count (the proof of sync)"
    assert {(query_params(r)["database"], query_params(r)["table"]) for r in counts} == \
        {(t.database, t.table) for t in second.report.tables.values()}
    assert all(t.check.status == "verified" and t.check.source_rows == 1500 for t in second.report.tables.values())
    # plus discovery: the database list and one schema per database
    assert len(server.requests()) == 2 * tables + 1 + 2
    assert all("updated_since=" in r.query for r in records)
    assert all(t.mode == "incremental" for t in second.report.tables.values())
    # nothing new to load: no load package at all (state unchanged too)
    assert workspace.query("SELECT COUNT(*) FROM synced._dlt_loads")[0][0] == loads_before
    assert assert_destination_equals_source(workspace, server) == 2 * 2 * 1500


def test_changes_are_fetched_alone_and_merged(server, workspace):
    config = reference_config(server.base_url)
    workspace.sync(config)
    new_ids = server.insert("acme", "orders", [{
        "customer_name": "Zoë Incremental", "email": None, "quantity": 1, "unit_price": "1.0000",
        "discount": None, "is_paid": False, "order_date": "2026-01-01", "created_at": "2026-01-01T00:00:00Z",
        "tags": [], "shipping": None, "big_counter": None}])
    server.update("acme", "orders", 10, {"quantity": 4242})
    server.update("globex", "customers", 5, {"email": None})
    server.delete("acme", "orders", 11)
    server.clear_requests()
    result = workspace.sync(config)
    assert result.ok
    by_table = {t.resource_name: t for t in result.report.tables.values()}
    assert by_table["acme__orders"].rows == 2 and by_table["acme__orders"].deleted == 1
    assert by_table["globex__customers"].rows == 1
    assert sum(t.rows for t in by_table.values()) == 3
    assert len([r for r in resource_requests(server) if not is_count_request(r)]) == 4  # still one page per table
    for db, table in (("acme", "orders"), ("globex", "customers")):
        assert_same_rows(workspace.rows(f"{db}__{table}"), server.records(db, table),
                         field_types(server.schema(db), table))
    ids = {r["id"] for r in workspace.rows("acme__orders")}
    assert new_ids[0] in ids and 11 not in ids
    assert_destination_equals_source(workspace, server)  # and every other table


def test_tombstones_can_be_kept_as_marked_rows(server, workspace):
    config = reference_config(server.base_url, deletes={"field": "deleted", "mode": "mark"})
    workspace.sync(config, tables=["orders"])
    server.delete("acme", "orders", 3)
    workspace.sync(config, tables=["orders"])
    rows = {r["id"]: r for r in workspace.rows("acme__orders")}
    source = {r["id"]: r for r in server.records("acme", "orders", include_deleted=False)}
    assert 3 not in source
    assert rows[3]["deleted"] is True, "the row is kept and marked"
    assert rows[3]["customer_name"] and rows[3]["quantity"] is not None, "its last known values are kept"
    assert sum(1 for r in rows.values() if r["deleted"]) == 1
    assert len(rows) == len(source) + 1
    assert workspace.query('SELECT id FROM synced."acme__orders__deleted"') == [(3,)]
    assert_destination_equals_source(workspace, server, tables=["orders"], deletes="mark")


def test_cursor_state_is_per_table_and_survives_a_failed_table(server, workspace):
    config = reference_config(server.base_url)
    workspace.sync(config)
    before = {(db, t): server.records(db, t) for db in ("acme", "globex") for t in ("orders", "customers")}
    server.update("acme", "orders", 1, {"quantity": 7})
    server.update("globex", "orders", 1, {"quantity": 8})
    # two tables of acme, two requests each (records, and the count of the proof of sync), two
    # attempts each: exactly eight failures
    server.fail_next(8, kind="status", status=500, path_prefix="/v1/resource")
    config["retries"] = {"attempts": 2, "backoff_base": 0.01, "backoff_max": 0.02}
    broken = workspace.sync(config, databases=["acme"])
    assert not broken.ok and len(broken.failed) == 2
    # the failed tables (and globex, not selected) hold what the first run loaded, unchanged
    for (db, table), records in before.items():
        assert_same_rows(workspace.rows(f"{db}__{table}"), records, field_types(server.schema(db), table),
                         where=f"{db}.{table} after the failed run")
    fixed = workspace.sync(config)
    assert fixed.ok
    by_table = {t.resource_name: t for t in fixed.report.tables.values()}
    # the failed run did not move acme's cursor: its change is fetched now, as is globex's
    assert by_table["acme__orders"].rows == 1 and by_table["globex__orders"].rows == 1
    assert {r["id"]: r["quantity"] for r in workspace.rows("acme__orders")}[1] == 7
    assert_destination_equals_source(workspace, server)


def test_lag_window_refetches_recent_rows_without_duplicates(server, workspace):
    config = reference_config(server.base_url, incremental={"param": "updated_since", "lag": 3600 * 24 * 365 * 10})
    workspace.sync(config, tables=["orders"])
    second = workspace.sync(config, tables=["orders"])
    assert second.report.rows > 0, "a lag window re-reads rows inside it"
    counts = workspace.query('SELECT COUNT(*), COUNT(DISTINCT id) FROM synced."acme__orders"')[0]
    assert counts[0] == counts[1] == 1500
    assert_destination_equals_source(workspace, server, tables=["orders"])


def test_new_field_becomes_a_new_column(server, workspace):
    config = reference_config(server.base_url)
    workspace.sync(config, tables=["customers"])
    server.add_field("acme", "customers", "loyalty_tier", "string", nullable=True)
    server.update("acme", "customers", 2, {"loyalty_tier": "gold"})
    result = workspace.sync(config, tables=["customers"])
    assert result.ok
    assert workspace.columns("acme__customers")["loyalty_tier"] == ("VARCHAR", True)
    rows = {r["id"]: r for r in workspace.rows("acme__customers")}
    assert rows[2]["loyalty_tier"] == "gold" and rows[3]["loyalty_tier"] is None
    assert_destination_equals_source(workspace, server, tables=["customers"])  # the new field included


def test_full_refresh_drops_and_reloads(server, workspace):
    config = reference_config(server.base_url)
    workspace.sync(config, tables=["orders"])
    result = workspace.sync(config, tables=["orders"], full_refresh=True)
    assert all(t.mode == "full" for t in result.report.tables.values())
    assert result.report.rows == 2 * 1500
    assert workspace.query('SELECT COUNT(*) FROM synced."acme__orders"')[0][0] == 1500
    assert_destination_equals_source(workspace, server, tables=["orders"])
