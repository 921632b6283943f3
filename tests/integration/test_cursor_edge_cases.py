"""Cursors real APIs serve (issue 12, items 2-4): rows whose ``updated_at`` stays NULL until first
edited, cursors that fall back over several fields, cursor values that do not fit the column's
type, and fields of a declared type the type map does not know. Every sync is compared with the
server's own records, by key and value."""

from __future__ import annotations

import dataclasses

import pytest

from dbsync.cli.output import summary_footer
from dbsync.config import parse_config
from dbsync.discovery.catalog import Catalog
from dbsync.discovery.discover import discover_catalog
from dbsync.http.client import ApiClient
from dbsync.server import ServerSettings
from support import assert_same_rows, field_types, is_count_request, reference_config

ORDER = {"customer_name": "Nul Cursor", "email": None, "quantity": 3, "unit_price": "2.5000", "discount": None,
         "is_paid": False, "order_date": "2026-02-01", "tags": [], "shipping": None, "big_counter": None}
# the reference server's fallback filter: updated_at >= x, or (never edited) created_at >= x
FALLBACK = {"params": {"updated_since": "{cursor}", "created_since": "{cursor}"}}


@pytest.fixture
def server(server_factory, monkeypatch):
    srv = server_factory(ServerSettings(seed=5, databases=1, tables_per_database=2, rows_per_table=300))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", srv.api_key)
    return srv


def resource_queries(server):
    return [r.query for r in server.requests() if r.path == "/v1/resource"]


def assert_orders_equal(workspace, server):
    assert_same_rows(workspace.rows("acme__orders"), server.records("acme", "orders"),
                     field_types(server.schema("acme"), "orders"))


def loads(workspace) -> int:
    return workspace.query("SELECT COUNT(*) FROM synced._dlt_loads")[0][0]


def test_first_run_reads_the_table_without_the_cursor_filter(server, workspace):
    config = reference_config(server.base_url)
    first = workspace.sync(config, tables=["orders"])
    assert first.ok and first.report.rows == 300
    assert resource_queries(server) and not any("updated_since" in q for q in resource_queries(server))
    assert_orders_equal(workspace, server)
    server.clear_requests()
    second = workspace.sync(config, tables=["orders"])
    assert second.ok and second.report.rows == 0
    records = [r for r in server.requests() if r.path == "/v1/resource" and not is_count_request(r)]
    assert records and all("updated_since=" in r.query for r in records)


def test_null_cursors_fall_back_to_created_at_and_a_no_change_run_loads_nothing(server, workspace):
    server.serve_null_cursors("acme", "orders")  # updated_at null until a row is first edited
    config = reference_config(server.base_url, incremental=FALLBACK)  # discovery: [updated_at, created_at]
    first = workspace.sync(config, tables=["orders"])
    assert first.ok
    report = first.report.tables["acme__orders"]
    assert report.rows == 300
    assert_orders_equal(workspace, server)
    assert report.cursor_after is not None, "a cursor is saved (else every run reads the whole table)"
    assert report.cursor_fields == ("updated_at", "created_at") and report.no_cursor == 0

    server.insert("acme", "orders", [dict(ORDER, created_at="2030-01-01T00:00:00Z")])  # never edited
    server.update("acme", "orders", 11, {"quantity": 1100})
    server.delete("acme", "orders", 12)
    second = workspace.sync(config, tables=["orders"])
    assert second.ok
    changed = second.report.tables["acme__orders"]
    assert (changed.mode, changed.rows, changed.deleted) == ("incremental", 2, 1)
    assert_orders_equal(workspace, server)
    assert changed.no_cursor == 0

    before = loads(workspace)
    third = workspace.sync(config, tables=["orders"])
    assert third.ok and third.report.rows == 0 and third.report.deleted == 0
    assert loads(workspace) == before, "a no-change run writes no load package"
    assert_orders_equal(workspace, server)


def test_rows_without_any_cursor_value_are_loaded_counted_and_warned_about(server, workspace):
    server.serve_null_cursors("acme", "orders")
    for record_id in (3, 4, 5):
        server.update("acme", "orders", record_id, {"quantity": record_id})
    config = reference_config(server.base_url, incremental={"param": "updated_since", "cursor_field": "updated_at"})
    config["tables"]["discover"]["cursor_field"] = None  # the cursor is updated_at alone
    result = workspace.sync(config, tables=["orders"])
    assert result.ok
    assert_orders_equal(workspace, server)  # a first run filtered from 1970 would have loaded 3 rows
    report = result.report.tables["acme__orders"]
    assert report.rows == 300 and report.no_cursor == 297
    warnings = [line for line in summary_footer(result) if "warning" in line]
    assert len(warnings) == 1
    assert "acme.orders" in warnings[0] and "297 row(s)" in warnings[0] and "updated_at" in warnings[0]
    assert "only if the filter matches an empty cursor" in warnings[0]


def test_cursor_values_that_do_not_fit_the_column_type_fail_the_table_by_name(server, workspace):
    config = reference_config(server.base_url, types={"datetime": "date"})  # values are timestamps
    for _ in range(2):  # every run says so: no silent full read
        result = workspace.sync(config, tables=["orders"])
        assert not result.ok and result.exit_code() != 0
        error = result.report.tables["acme__orders"].error
        assert error is not None
        text = error.one_line()
        assert "cursor field 'updated_at'" in text and "do not fit its column type date" in text
        assert "types: {datetime: timestamp}" in text
        # the rows themselves are loaded (the values kept in the variant column)
        assert workspace.query('SELECT COUNT(*) FROM synced."acme__orders"')[0][0] == 300
    fixed = workspace.sync(reference_config(server.base_url), tables=["orders"], full_refresh=True)
    assert fixed.ok and fixed.report.tables["acme__orders"].cursor_after is not None


def test_fields_of_an_unknown_declared_type_are_inferred_from_the_data(server, workspace):
    config = reference_config(server.base_url)
    cfg = parse_config(config)
    client = ApiClient(cfg)
    try:
        catalog = discover_catalog(cfg, client, tables=["customers"])
    finally:
        client.close()
    unknown = {"full_name": "citext", "is_active": "bit", "lifetime_value": "money_x", "preferences": "hstore",
               "signup_date": "pg_date"}
    database = catalog.databases[0]
    table = database.tables[0]
    fields = tuple(dataclasses.replace(f, api_type=unknown.get(f.name, f.api_type)) for f in table.fields)
    catalog = Catalog((dataclasses.replace(database, tables=(dataclasses.replace(table, fields=fields),)),))
    result = workspace.sync(config, tables=["customers"], catalog=catalog)
    assert result.ok
    columns = workspace.columns("acme__customers")
    assert columns["full_name"][0] == "VARCHAR"
    assert columns["is_active"][0] == "BOOLEAN"
    assert columns["lifetime_value"][0] == "VARCHAR"  # a decimal sent as a string stays that string
    assert columns["preferences"][0] == "JSON"
    source = server.records("acme", "customers")
    rows = {r["id"]: r for r in workspace.rows("acme__customers")}
    assert len(rows) == len(source)
    for record in source:
        row = rows[record["id"]]
        assert row["full_name"] == record["full_name"], "text without JSON quotes"
        assert row["is_active"] is record["is_active"]
        assert row["lifetime_value"] == record["lifetime_value"]
        assert row["signup_date"] == record["signup_date"]
    assert_same_rows(workspace.rows("acme__customers"), source,
                     {k: v for k, v in field_types(server.schema("acme"), "customers").items()
                      if k not in unknown or k in ("full_name", "is_active", "preferences")})


def test_a_change_during_an_unfiltered_first_run_is_found_by_the_next_run(server_factory, workspace,
                                                                         monkeypatch):
    """Unfiltered, pages come by id: row 5 (page 1, already read) changes, a second later row 950
    (page 10, not read yet) changes too and is read with its higher cursor. Saved as the cursor,
    that value would hide row 5's change from every later run; the cursor stops at the run's start."""
    import threading
    import time

    from dbsync.server import FaultSettings

    server = server_factory(ServerSettings(seed=21, databases=1, tables_per_database=1, default_table_rows=1000,
                                           faults=FaultSettings(slow_rate=1.0, slow_seconds=0.3,
                                                                fault_paths=("/v1/resource",))))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", server.api_key)
    config = reference_config(server.base_url, performance={"concurrency": 1, "prefetch_pages": 1})
    config["resources"][0]["endpoint"]["paginator"]["limit"] = 100

    def change_two_rows():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len(resource_queries(server)) >= 2:
                server.update("acme", "orders", 5, {"quantity": 5555})
                time.sleep(1.1)  # whole-second timestamps: row 950's is higher
                server.update("acme", "orders", 950, {"quantity": 9500})
                return
            time.sleep(0.01)

    server.clear_requests()
    thread = threading.Thread(target=change_two_rows, daemon=True)
    thread.start()
    first = workspace.sync(config, tables=["orders"])
    thread.join()
    assert first.ok
    assert {r["id"]: r["quantity"] for r in workspace.rows("acme__orders")}[950] == 9500
    server.set_faults(FaultSettings())
    second = workspace.sync(config, tables=["orders"])
    assert second.ok
    assert_orders_equal(workspace, server)  # row 5's change too
    third = workspace.sync(config, tables=["orders"])
    assert third.ok and third.report.rows == 0


def test_rows_shifting_during_an_unfiltered_first_run_keep_the_cursor_unsaved(server_factory, workspace,
                                                                             monkeypatch):
    """A first run reads without the filter, in the API's own order (here by id), where no gap can
    be re-read by cursor: rows deleted under it shift others past a page boundary. Such a run saves
    no cursor and says so; the next run reads the table whole again and has every row."""
    import threading
    import time

    from dbsync.server import FaultSettings

    server = server_factory(ServerSettings(seed=21, databases=1, tables_per_database=1, default_table_rows=1000,
                                           faults=FaultSettings(slow_rate=1.0, slow_seconds=0.05,
                                                                fault_paths=("/v1/resource",))))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", server.api_key)
    config = reference_config(server.base_url, performance={"concurrency": 1, "prefetch_pages": 1})
    config["resources"][0]["endpoint"]["paginator"]["limit"] = 100

    def delete_early_rows():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len(resource_queries(server)) >= 4:
                for record_id in range(1, 6):
                    server.delete("acme", "orders", record_id)
                return
            time.sleep(0.01)

    server.clear_requests()
    thread = threading.Thread(target=delete_early_rows, daemon=True)
    thread.start()
    first = workspace.sync(config, tables=["orders"])
    thread.join()
    assert first.ok
    report = first.report.tables["acme__orders"]
    assert report.cursor_kept and report.cursor_after is None
    assert any("could not be re-read" in line for line in summary_footer(first))
    server.set_faults(FaultSettings())
    second = workspace.sync(config, tables=["orders"])
    assert second.ok and second.report.tables["acme__orders"].mode == "full"
    assert second.report.tables["acme__orders"].cursor_after is not None
    truth = server.records("acme", "orders")
    loaded = {r["id"] for r in workspace.rows("acme__orders")}
    assert {r["id"] for r in truth} <= loaded, "no live row is missing"
    third = workspace.sync(config, tables=["orders"])  # filtered now: the tombstones come too
    assert third.ok and third.report.tables["acme__orders"].mode == "incremental"
    assert_orders_equal(workspace, server)
