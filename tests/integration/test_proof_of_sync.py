"""The proof of sync: every run compares each table with its source, heals what differs, and
never says ok when it does not. Each test is a way a run used to end ok while the destination
differed from the source (tried on real servers, reproduced here on the reference server), and
every sync is compared with the server's own records by key and value."""

from __future__ import annotations

import duckdb
import pytest

from dbsync.cli.output import proof_line, result_dict, run_warnings, summary_footer
from dbsync.server import ServerSettings
from dbsync.status import sync_status
from support import (INFERRED_ORDERS, assert_destination_equals_source, assert_same_rows, field_types, is_count_request,
                     reference_config)

NEW_ORDER = {"customer_name": "Nul Cursor", "email": None, "quantity": 3, "unit_price": "2.5000", "discount": None,
             "is_paid": False, "order_date": "2026-02-01", "tags": [], "shipping": None, "big_counter": None,
             "created_at": "2030-01-01T00:00:00Z"}
UPDATED_AT_ONLY = {"param": "updated_since", "cursor_field": "updated_at"}


def no_tombstones(server_factory, monkeypatch, **settings):
    srv = server_factory(ServerSettings(seed=5, databases=1, tables_per_database=2, rows_per_table=300,
                                        tombstones=False, **settings))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", srv.api_key)
    return srv


@pytest.fixture
def server(server_factory, monkeypatch):
    return no_tombstones(server_factory, monkeypatch)


def null_cursor_config(server, **overrides):
    """The cursor is ``updated_at`` alone, which stays NULL until a row is first edited."""
    config = reference_config(server.base_url, incremental=UPDATED_AT_ONLY, **overrides)
    config["tables"]["discover"]["cursor_field"] = None
    return config


def assert_orders_equal(workspace, server):
    assert_same_rows(workspace.rows("acme__orders"), server.records("acme", "orders"),
                     field_types(server.schema("acme"), "orders"))


def checks(result):
    return {name: t.check for name, t in result.report.tables.items()}


def test_a_row_inserted_with_an_empty_cursor_is_healed_in_the_same_run(server, workspace):
    """Case 1: once a cursor is saved, rows inserted with an empty cursor never match the filter.
    The count (one more request) shows the row missing; the table is read again, in full."""
    server.serve_null_cursors("acme", "orders")
    config = null_cursor_config(server)
    first = workspace.sync(config, tables=["orders"])
    assert first.ok and checks(first)["acme__orders"].status == "verified"
    server.update("acme", "orders", 3, {"quantity": 33})
    second = workspace.sync(config, tables=["orders"])
    assert second.ok and second.report.tables["acme__orders"].cursor_after is not None
    assert_orders_equal(workspace, server)

    server.insert("acme", "orders", [NEW_ORDER])  # updated_at NULL: the filter never matches it
    third = workspace.sync(config, tables=["orders"])
    assert third.ok and third.exit_code() == 0
    check = third.report.tables["acme__orders"].check
    assert check.status == "healed" and check.healed == "full read", check
    assert check.before["source_rows"] == 301 and check.before["destination_rows"] == 300
    assert (check.source_rows, check.destination_rows) == (301, 301)
    assert third.report.tables["acme__orders"].status == "healed"
    assert_orders_equal(workspace, server)
    assert "1 healed" in proof_line(third)
    assert any("healed acme.orders" in w and "missing from the destination" in w for w in run_warnings(third))

    # nothing changed: proven by the count alone (row 3, edited within the 120 s a cursor saved by
    # an unfiltered read stays behind the run's start, is merged once more)
    fourth = workspace.sync(config, tables=["orders"])
    assert fourth.ok and fourth.report.rows <= 1
    assert checks(fourth)["acme__orders"].status == "verified"


def test_keys_the_listing_finds_missing_are_loaded_in_the_same_run(server, workspace):
    """Case 1 with deletes.detect: keys: the key listing of that very run holds the new key; the
    destination lacks it. A catch-up read cannot find it (its cursor is empty), a full read does."""
    server.serve_null_cursors("acme", "orders")
    config = null_cursor_config(server, deletes={"detect": "keys", "keys": {"params": {"fields": "id"}}})
    workspace.sync(config, tables=["orders"])
    server.update("acme", "orders", 3, {"quantity": 33})
    workspace.sync(config, tables=["orders"])
    server.insert("acme", "orders", [NEW_ORDER])
    server.delete("acme", "orders", 7)
    result = workspace.sync(config, tables=["orders"])
    assert result.ok
    check = result.report.tables["acme__orders"].check
    assert check.status == "healed" and check.healed == "full read", check
    assert check.before["missing_keys"] == 1
    assert result.report.tables["acme__orders"].deleted >= 1
    assert_orders_equal(workspace, server)
    keys_left = workspace.query('SELECT COUNT(*) FROM synced."acme__orders__keys"')[0][0]
    assert keys_left == 0, "the keys kept for the check are cleared"


def test_a_row_removed_from_the_destination_by_hand_is_restored_by_the_next_run(server, workspace):
    config = reference_config(server.base_url)
    assert workspace.sync(config).ok
    with duckdb.connect(str(workspace.duckdb)) as con:
        con.execute('DELETE FROM synced."acme__customers" WHERE id = 17')
    result = workspace.sync(config)
    assert result.ok
    check = result.report.tables["acme__customers"].check
    assert check.status == "healed" and check.before["destination_rows"] == 299, check
    others = [c.status for name, c in checks(result).items() if name != "acme__customers"]
    assert others == ["verified"], others
    assert_destination_equals_source(workspace, server)


def test_a_row_deleted_on_a_server_without_tombstones_is_removed_by_the_heal(server, workspace):
    """No tombstones and no key listing: the delete used to stay in the destination for good.
    The count shows one row too many; the full read compares keys and removes it."""
    config = reference_config(server.base_url)
    workspace.sync(config, tables=["customers"])
    server.delete("acme", "customers", 5)
    result = workspace.sync(config, tables=["customers"])
    assert result.ok
    check = result.report.tables["acme__customers"].check
    assert check.status == "healed" and "holds 1 row(s) the source does not" in check.before["reason"], check
    assert_destination_equals_source(workspace, server, tables=["customers"])


def test_initial_value_with_empty_cursors_is_reported_partial(server, workspace):
    """Case 2: initial_value filters the first run, and rows whose cursor is empty never match:
    1 row of 300 loaded, labelled a full sync and ok. Now the mode says initial and the check
    says how many rows of the source are not in the destination, and why."""
    server.serve_null_cursors("acme", "orders")
    server.update("acme", "orders", 9, {"quantity": 99})
    config = null_cursor_config(server)
    config["incremental"]["initial_value"] = "2020-01-01T00:00:00Z"
    result = workspace.sync(config, tables=["orders"])
    table = result.report.tables["acme__orders"]
    assert table.rows == 1 and table.mode == "initial"
    assert table.check.status == "partial"
    assert (table.check.source_rows, table.check.destination_rows) == (300, 1)
    assert "299 row(s) of the source not loaded" in table.check.reason and "initial_value" in table.check.reason
    assert "1 partial by initial_value" in proof_line(result)
    again = workspace.sync(config, tables=["orders"])
    assert again.report.tables["acme__orders"].check.status == "partial", "remembered across runs"


def test_a_run_where_every_table_failed_reports_no_rows_and_status_says_failed(server, workspace):
    """Case 6: a run where every table failed printed rows as upserted, and `status` said ok."""
    config = reference_config(server.base_url, retries={"attempts": 1})
    assert workspace.sync(config).ok
    server.update("acme", "orders", 1, {"quantity": 5})
    server.fail_next(100, kind="status", status=500, path_prefix="/v1/resource")
    broken = workspace.sync(config)
    assert not broken.ok and len(broken.failed) == 2
    assert broken.report.rows == 0 and all(t.rows == 0 for t in broken.report.tables.values())
    assert "0 rows upserted" in summary_footer(broken)[0]
    status = sync_status("test_pipeline", pipelines_dir=str(workspace.pipelines))
    assert status.last_run_ok is False and status.last_run_status == "failed"
    assert {t.resource: t.outcome for t in status.tables} == {"acme__orders": "failed", "acme__customers": "failed"}
    server.clear_fail_next()
    fixed = workspace.sync(config)
    assert fixed.ok
    status = sync_status("test_pipeline", pipelines_dir=str(workspace.pipelines))
    assert status.last_run_ok is True and {t.proof for t in status.tables} == {"verified"}
    assert_destination_equals_source(workspace, server)


def test_a_refused_key_listing_is_a_run_warning_and_the_count_still_finds_the_delete(server_factory, monkeypatch,
                                                                                      workspace):
    """Case 7: the key listing answered 403: a table warning only, `ok`, top-level warnings
    empty, and deletes never checked. Now the run's warnings say it, and the count (asked beside
    the listing) finds the deleted row: healed by a full read."""
    server = no_tombstones(server_factory, monkeypatch, forbidden_params=("fields",))
    config = reference_config(server.base_url, deletes={"detect": "keys", "keys": {"params": {"fields": "id"}}})
    assert workspace.sync(config, tables=["orders"]).ok  # a first run: the read itself is the scan
    server.delete("acme", "orders", 12)
    result = workspace.sync(config, tables=["orders"])
    table = result.report.tables["acme__orders"]
    assert table.scan == "incomplete" and "403" in table.scan_problem
    doc = result_dict(result)
    assert any("key scan is incomplete" in w for w in doc["warnings"]), doc["warnings"]
    assert "1 incomplete (nothing deleted there): deletes not checked in 1 table(s)" in "\n".join(summary_footer(result))
    status = sync_status("test_pipeline", pipelines_dir=str(workspace.pipelines))
    assert {t.resource: t.outcome for t in status.tables}["acme__orders"] == "healed (scan incomplete)"
    assert table.check.status == "healed", table.check
    assert doc["tables"][0]["check"]["status"] == "healed"
    assert_destination_equals_source(workspace, server, tables=["orders"])


def test_drift_left_unhealed_exits_13_and_the_next_run_reads_the_table_in_full(server, workspace):
    config = reference_config(server.base_url, verify={"heal": False})
    workspace.sync(config, tables=["orders"])
    server.delete("acme", "orders", 4)
    drifted = workspace.sync(config, tables=["orders"])
    assert not drifted.ok and drifted.exit_code() == 13
    table = drifted.report.tables["acme__orders"]
    assert table.status == "drift" and table.check.status == "drift"
    assert "DIFFERENT from the source" in proof_line(drifted)
    assert result_dict(drifted)["ok"] is False
    status = sync_status("test_pipeline", pipelines_dir=str(workspace.pipelines))
    assert {t.resource: t.outcome for t in status.tables}["acme__orders"] == "drift"
    again = workspace.sync(config, tables=["orders"])
    assert again.ok and again.report.tables["acme__orders"].mode == "full"
    assert_destination_equals_source(workspace, server, tables=["orders"])


def test_an_api_without_totals_is_unverified_and_not_asked_again(server_factory, monkeypatch, workspace):
    """What cannot be proven is said, and costs no request once the API is known to tell no total."""
    server = no_tombstones(server_factory, monkeypatch, total_in_body=False)
    config = reference_config(server.base_url)
    config["resources"][0]["endpoint"]["paginator"]["total_path"] = None
    first = workspace.sync(config, tables=["orders"])
    check = first.report.tables["acme__orders"].check
    assert first.ok and check.status == "unverified" and "announces no total" in check.reason
    assert "1 not proven" in proof_line(first)
    server.clear_requests()
    second = workspace.sync(config, tables=["orders"])
    assert second.report.tables["acme__orders"].check.status == "unverified"
    assert not [r for r in server.requests() if r.path == "/v1/resource" and is_count_request(r)]
    assert_destination_equals_source(workspace, server, tables=["orders"])


def test_a_nested_total_proves_an_incremental_run(server_factory, monkeypatch, workspace):
    """Totals real APIs nest (NocoDB's pageInfo.totalRows) are read too."""
    server = no_tombstones(server_factory, monkeypatch, total_path="pageInfo.totalRows")
    config = reference_config(server.base_url)
    config["resources"][0]["endpoint"]["paginator"]["total_path"] = None
    workspace.sync(config, tables=["orders"])
    server.update("acme", "orders", 2, {"quantity": 22})
    result = workspace.sync(config, tables=["orders"])
    check = result.report.tables["acme__orders"].check
    assert check.status == "verified" and check.source_how == "body 'pageInfo.totalRows'", check
    assert_destination_equals_source(workspace, server, tables=["orders"])


def test_a_field_added_on_the_server_with_a_default_reaches_every_loaded_row(server, workspace):
    """Case 3: adding a column with a default changes no row's cursor, so incremental runs left it
    NULL in every row loaded before. Discovery names the new field: the table is read in full once."""
    config = reference_config(server.base_url)
    workspace.sync(config, tables=["customers"])
    server.add_field("acme", "customers", "tier", "string", nullable=True, default="bronze")
    result = workspace.sync(config, tables=["customers"])
    table = result.report.tables["acme__customers"]
    assert result.ok and table.mode == "full" and table.rows == 300
    assert any("new field(s) tier" in w for w in table.warnings)
    assert {r["tier"] for r in workspace.rows("acme__customers")} == {"bronze"}
    assert_destination_equals_source(workspace, server, tables=["customers"])
    again = workspace.sync(config, tables=["customers"])
    assert again.report.tables["acme__customers"].mode == "incremental" and again.report.rows == 0


def test_a_column_that_appears_in_the_data_of_an_incremental_run_is_healed(server, workspace):
    """Case 3 without a schema: the column appears when a changed row carries it; the rows loaded
    before would keep NULL in it. The run reads the table again in full."""
    config = reference_config(server.base_url, tables={"list": [{"name": "customers", "primary_key": "id",
                                                                  "cursor_field": "updated_at"}]})
    first = workspace.sync(config, databases=["acme"])
    assert first.ok
    server.add_field("acme", "customers", "tier", "string", nullable=True, default="bronze")
    server.update("acme", "customers", 8, {"tier": "gold"})
    result = workspace.sync(config, databases=["acme"])
    check = result.report.tables["acme__customers"].check
    assert result.ok and check.status == "healed", check
    assert "new column(s) tier" in check.before["reason"]
    tiers = {r["id"]: r["tier"] for r in workspace.rows("acme__customers")}
    assert tiers[8] == "gold" and set(tiers.values()) == {"bronze", "gold"}


def test_a_first_page_answered_404_is_the_tables_error_even_where_404_is_ignored(server, workspace):
    """Case 5: response_actions ignoring 404 (to end page-number paging) made a table that does not
    exist, or whose name differs by case, `ok, 0 rows`."""
    config = reference_config(server.base_url, tables={"list": ["orders", "Customers"]})
    config["resources"][0]["endpoint"]["response_actions"] = [{"status_code": 404, "action": "ignore"}]
    result = workspace.sync(config, databases=["acme"])
    assert not result.ok and result.exit_code() == 6
    failed = result.report.tables["acme__Customers"]
    assert failed.status == "failed" and "404" in failed.error.one_line()
    assert "not for the table's first page" in failed.error.one_line()
    assert result.report.tables["acme__orders"].status == "ok"
    assert_destination_equals_source(workspace, server, databases=["acme"], tables=["orders"], types=INFERRED_ORDERS)


def test_a_resource_without_a_paginator_is_never_one_silent_page(server, workspace):
    """Case 4: no paginator, none detected: dlt read the first page alone and called it complete."""
    config = reference_config(server.base_url)
    del config["resources"][0]["endpoint"]["paginator"]
    result = workspace.sync(config, tables=["orders"])
    assert not result.ok and result.exit_code() == 2
    text = result.report.tables["acme__orders"].error.one_line()
    assert "endpoint.paginator is not set" in text and "single_page" in text
    assert "acme__orders" not in workspace.tables()


def test_tables_removed_on_the_server_are_reported_and_dropped_when_asked(server_factory, monkeypatch, workspace):
    """Case 8: a table (or database) deleted on the server kept its rows in the destination, and
    neither the run nor `status` said so."""
    server = server_factory(ServerSettings(seed=8, databases=2, tables_per_database=2, rows_per_table=50))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", server.api_key)
    config = reference_config(server.base_url)
    assert workspace.sync(config).ok
    server.drop_table("acme", "customers")
    kept = workspace.sync(config)
    assert kept.ok
    assert [(g.source, g.rows, g.action) for g in kept.report.gone] == [("acme.customers", 50, "keep")]
    assert any("acme.customers is no longer in the source: its 50 rows stay in acme__customers" in w
               for w in run_warnings(kept))
    assert result_dict(kept)["gone"] == [{"database": "acme", "table": "customers",
                                         "destination_table": "acme__customers", "rows": 50, "action": "keep"}]
    status = sync_status("test_pipeline", pipelines_dir=str(workspace.pipelines))
    assert {t.resource: t.outcome for t in status.tables}["acme__customers"] == "gone"
    assert "acme__customers" in workspace.tables()

    # a run of other tables (-t) or databases (-d) does not call them gone
    assert workspace.sync(config, tables=["orders"]).report.gone == []
    assert workspace.sync(config, databases=["globex"]).report.gone == []

    server.drop_database("globex")
    config["tables"]["gone"] = "drop"
    dropped = workspace.sync(config)
    assert dropped.ok
    assert sorted((g.source, g.action) for g in dropped.report.gone) == [
        ("acme.customers", "drop"), ("globex.customers", "drop"), ("globex.orders", "drop")]
    assert workspace.tables() == ["acme__orders"]
    assert workspace.sync(config).report.gone == [], "dropped tables are not reported again"
    assert_destination_equals_source(workspace, server, databases=["acme"], tables=["orders"])


def test_values_in_another_shape_are_counted_exactly_and_numeric_strings_load_as_numbers(server, workspace):
    """Case 9: a declared big-integer type whose values arrive as JSON strings made a BIGINT column
    NULL in every row (values in __v_text), and the warning counted one page. A field the API
    declares but sends only when asked became an all-NULL column without a word."""
    server.add_field("acme", "orders", "ext_id", "string", declared_type="bigInteger")
    server.add_field("acme", "orders", "code", "string", declared_type="integer")
    server.add_field("acme", "orders", "related", "json")  # declared, never sent
    rows = [dict(NEW_ORDER, ext_id=str(9_000_000_000_000 + i), code="n/a" if i % 3 else str(i)) for i in range(600)]
    server.insert("acme", "orders", rows)
    config = reference_config(server.base_url)
    config["resources"][0]["endpoint"]["paginator"]["limit"] = 100
    result = workspace.sync(config, tables=["orders"])
    assert result.ok
    columns = workspace.columns("acme__orders")
    assert columns["ext_id"][0] == "BIGINT"
    stored = {r["id"]: r for r in workspace.rows("acme__orders")}
    assert [stored[301 + i]["ext_id"] for i in (0, 1, 599)] == [9_000_000_000_000, 9_000_000_000_001,
                                                                  9_000_000_000_599]
    assert stored[301]["code"] == 0 and stored[302]["code"] is None and stored[302]["code__v_text"] == "n/a"
    warnings = result.report.tables["acme__orders"].warnings
    assert "acme.orders: 400 value(s) of field 'code' do not fit its type bigint; kept as text in column " \
           "'code__v_text'" in warnings, warnings
    assert [w for w in warnings if "declares field(s)" in w] == [
        "acme.orders: the API declares field(s) related but none of the 900 rows read had a value in them; if the "
        "API sends them only when asked (relations, expansions), add the parameter that includes them to the "
        "endpoint's params"]
    assert any("400 value(s) of field 'code'" in w for w in run_warnings(result))


def test_a_bug_that_drops_rows_quietly_can_no_longer_end_ok(server, workspace, monkeypatch):
    """The proof catches what no other check inside dbsync would: a converter that silently loses
    a row of every page (a stand-in for any such bug). Healing reads the table again, loses the
    row again, and the run says so: drift, exit 13; never ok."""
    from dbsync.source import convert

    original = convert.TableConverter.convert

    def lossy(self, records, page):
        table = original(self, records, page)
        return table.slice(1) if table.num_rows > 1 else table

    monkeypatch.setattr(convert.TableConverter, "convert", lossy)
    config = reference_config(server.base_url, performance={"processes": 0})
    result = workspace.sync(config, tables=["orders"])
    table = result.report.tables["acme__orders"]
    assert not result.ok and result.exit_code() == 13
    assert table.status == "drift" and table.check.healed == "full read"
    assert "row(s) of the source are missing from the destination" in table.check.reason


def test_sampled_values_find_a_value_changed_by_hand_and_heal_it(server, workspace):
    """verify.sample: rows re-read from random pages are compared value by value; a difference
    (here a value changed in the destination by hand) is healed by reading the table in full."""
    config = reference_config(server.base_url, verify={"sample": 300})
    assert workspace.sync(config, tables=["customers"]).ok
    with duckdb.connect(str(workspace.duckdb)) as con:
        con.execute('UPDATE synced."acme__customers" SET full_name = \'Someone Else\' WHERE id = 42')
    result = workspace.sync(config, tables=["customers"])
    check = result.report.tables["acme__customers"].check
    assert result.ok and check.status == "healed", check
    assert "sampled row(s) differ in value" in check.before["reason"] and "Someone Else" in check.before["reason"]
    assert_destination_equals_source(workspace, server, tables=["customers"])


def test_a_total_that_counts_listed_tombstones_is_not_taken_for_drift(server_factory, monkeypatch, workspace):
    """An API that lists soft-deleted rows (tombstones) in its plain listing counts them in its
    total: the full read knows how many it saw; later runs cannot tell, and say so."""
    srv = server_factory(ServerSettings(seed=5, databases=1, tables_per_database=1, rows_per_table=100,
                                        tombstones_listed=True))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", srv.api_key)
    for record_id in (3, 4):
        srv.delete("acme", "orders", record_id)
    config = reference_config(srv.base_url)
    first = workspace.sync(config)
    check = first.report.tables["acme__orders"].check
    assert first.ok and check.status == "verified" and check.source_rows == 98, check
    assert "less 2 deleted row(s) it listed" in check.source_how
    srv.update("acme", "orders", 7, {"quantity": 70})
    second = workspace.sync(config)
    check = second.report.tables["acme__orders"].check
    assert second.ok and check.status == "unverified" and "counts deleted rows" in check.reason, check
    assert_destination_equals_source(workspace, srv)


def test_the_proof_for_a_source_run_in_your_own_dlt_pipeline(server, workspace):
    import dlt

    import dbsync

    config = reference_config(server.base_url)
    pipeline = dlt.pipeline("own_pipeline", destination=dlt.destinations.duckdb(str(workspace.duckdb)),
                            dataset_name="synced", pipelines_dir=str(workspace.pipelines))
    source = dbsync.dbsync_source(config, tables=["orders"])
    pipeline.run(source, loader_file_format="parquet")
    dbsync.after_load(pipeline, source)
    checks = dbsync.prove_sync(pipeline, source)
    assert {name: c.status for name, c in checks.items()} == {"acme__orders": "verified"}
    with duckdb.connect(str(workspace.duckdb)) as con:
        con.execute('DELETE FROM synced."acme__orders" WHERE id = 3')
    again = dbsync.dbsync_source(config, tables=["orders"])
    pipeline.run(again, loader_file_format="parquet")
    dbsync.after_load(pipeline, again)
    check = dbsync.prove_sync(pipeline, again)["acme__orders"]
    assert check.status == "healed", check
    assert_destination_equals_source(workspace, server, tables=["orders"])


@pytest.mark.parametrize("totals", [True, False], ids=["with totals", "without totals"])
def test_a_row_inserted_while_the_keys_are_listed_is_caught_up_not_read_in_full(server_factory, monkeypatch,
                                                                                workspace, totals):
    """A row written after the records were read and before the key listing reached it: the
    listing names a key the destination lacks. It is no drift of the destination, only a change
    the run had not read yet: an incremental catch-up loads it, and no full read is needed."""
    srv = no_tombstones(server_factory, monkeypatch, **({} if totals else {"total_in_body": False}))
    config = reference_config(srv.base_url, deletes={"detect": "keys", "keys": {"params": {"fields": "id"}, "limit": 20}},
                              performance={"concurrency": 1, "prefetch_pages": 1})
    if not totals:
        config["resources"][0]["endpoint"]["paginator"]["total_path"] = None
    assert workspace.sync(config, tables=["orders"]).ok
    inserted = {}

    def insert_during_the_listing(report):
        if report.scan_pages == 2 and not inserted:
            inserted["ids"] = srv.insert("acme", "orders", [NEW_ORDER])

    srv.clear_requests()
    result = workspace.sync(config, tables=["orders"], progress=insert_during_the_listing)
    check = result.report.tables["acme__orders"].check
    assert inserted and result.ok
    assert check.status == "healed" and check.healed == "catch-up", check
    assert check.before["missing_keys"] == 1
    unfiltered = [r for r in srv.requests() if r.path == "/v1/resource" and "updated_since" not in r.query
                  and "fields=id" not in r.query and "limit=1&" not in r.query + "&"]
    assert not unfiltered, "no full read of the records"
    assert_destination_equals_source(workspace, srv, tables=["orders"])
