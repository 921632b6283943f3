"""Deletes where the API sends no tombstones (``deletes: {detect: keys}``): the reference server
forgets deleted rows (``tombstones=False``), dbsync lists every key (``fields=id``) and removes,
marks or closes the rows that are gone; a scan that is not complete deletes nothing."""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, List

import pytest

from dbsync.server import ServerSettings
from support import assert_destination_equals_source, reference_config

KEY_SCAN = {"detect": "keys", "keys": {"params": {"fields": "id"}, "limit": 50}}


@pytest.fixture
def server(server_factory, monkeypatch):
    srv = server_factory(ServerSettings(seed=5, databases=2, tables_per_database=2, rows_per_table=300,
                                        tombstones=False))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", srv.api_key)
    return srv


def scan_config(server, deletes: Dict[str, Any] = KEY_SCAN, **overrides: Any) -> Dict[str, Any]:
    return reference_config(server.base_url, deletes=deletes, **overrides)


def one_table(config: Dict[str, Any]) -> Dict[str, Any]:
    """Only acme.orders (discovered, so it has its cursor and types)."""
    config["databases"]["include"] = ["acme"]
    config["tables"]["include"] = ["orders"]
    return config


def listing_requests(server) -> List[Any]:
    return [e for e in server.requests() if e.path == "/v1/resource" and "fields=id" in e.query]


def test_deleted_rows_are_gone_after_the_next_run(server, workspace):
    config = scan_config(server)
    first = workspace.sync(config)
    assert first.ok and first.report.deleted == 0
    # a first run reads every table whole: that read is the scan, no key listing on top
    assert all(t.scan == "complete" and t.scan_keys == 300 for t in first.report.tables.values())
    assert listing_requests(server) == []
    for db, table, ids in (("acme", "orders", (1, 150, 300)), ("globex", "customers", (7,))):
        for record_id in ids:
            server.delete(db, table, record_id)
    assert all(not r.get("deleted") for r in server.records("acme", "orders", include_deleted=True)), \
        "the server must keep no tombstone for this test"
    server.clear_requests()
    second = workspace.sync(config)
    assert second.ok
    tables = second.report.tables
    assert tables["acme__orders"].deleted == 3 and tables["globex__customers"].deleted == 1
    assert tables["acme__customers"].deleted == 0 and second.report.deleted == 4
    assert tables["acme__orders"].scan == "complete" and tables["acme__orders"].scan_keys == 297
    # the listing asked for keys only, in pages of 50 overlapping by one (297 keys: 7 pages)
    listed = listing_requests(server)
    assert listed and all("limit=50" in e.query for e in listed)
    assert tables["acme__orders"].scan_pages == 7
    assert assert_destination_equals_source(workspace, server) == 4 * 300 - 4
    assert workspace.query('SELECT COUNT(*) FROM synced."acme__orders__keys"') == [(0,)], \
        "the keys are removed once compared"
    third = workspace.sync(config)
    assert third.ok and third.report.deleted == 0
    assert assert_destination_equals_source(workspace, server) == 4 * 300 - 4


def test_mark_mode_flags_the_rows_and_says_when(server, workspace):
    config = scan_config(server, deletes={**KEY_SCAN, "mode": "mark"})
    assert workspace.sync(config).ok
    server.delete("acme", "orders", 42)
    server.delete("acme", "orders", 43)
    before = time.time()
    second = workspace.sync(config)
    assert second.ok and second.report.deleted == 2
    rows = {r["id"]: r for r in workspace.rows("acme__orders")}
    assert len(rows) == 300, "mark keeps the rows"
    marked = {k for k, r in rows.items() if r["deleted"] is True}
    assert marked == {42, 43}
    for key in marked:
        assert rows[key]["_dbsync_deleted_at"] is not None and rows[key]["_dbsync_deleted_at"].timestamp() >= before - 1
    assert all(r["_dbsync_deleted_at"] is None for k, r in rows.items() if k not in marked)
    assert_destination_equals_source(workspace, server, deletes="mark", deleted_keys={("acme", "orders"): {42, 43}})
    # marked once: a later scan does not count them again
    assert workspace.sync(config).report.deleted == 0


def test_union_layout_deletes_only_that_databases_rows(server, workspace):
    config = scan_config(server, layout="union")
    config["resources"][0]["name"] = "{table}"
    assert workspace.sync(config).ok
    server.delete("acme", "orders", 10)  # globex.orders keeps its id 10
    second = workspace.sync(config)
    assert second.ok and second.report.deleted == 1
    rows = workspace.rows("orders", order_by="_dbsync_database, id")
    assert [r["_dbsync_database"] for r in rows if r["id"] == 10] == ["globex"]
    assert assert_destination_equals_source(workspace, server, layout="union") == 4 * 300 - 1


def test_every_scans_at_most_that_often(server, workspace):
    config = scan_config(server, deletes={**KEY_SCAN, "every": "1h"})
    assert workspace.sync(config).ok  # the first read counts as a scan
    server.delete("acme", "orders", 3)
    server.clear_requests()
    second = workspace.sync(config)
    assert second.ok and second.report.deleted == 0
    assert all(t.scan == "not due" for t in second.report.tables.values())
    assert listing_requests(server) == [], "no listing within the interval"
    assert len(workspace.rows("acme__orders")) == 300, "the deleted row stays until the next scan is due"
    hourly = scan_config(server, deletes={**KEY_SCAN, "every": "0s"})
    third = workspace.sync(hourly)
    assert third.ok and third.report.deleted == 1
    assert assert_destination_equals_source(workspace, server) == 4 * 300 - 1


def test_a_scan_that_meets_a_failing_page_deletes_nothing(server, workspace):
    config = one_table(scan_config(server, retries={"attempts": 1},
                                     performance={"concurrency": 1, "prefetch_pages": 1}))
    config["deletes"]["keys"]["limit"] = 20
    assert workspace.sync(config).ok
    server.delete("acme", "orders", 100)
    failing = {"armed": False}

    def break_the_listing(report):
        if report.scan_pages == 1 and not failing["armed"]:
            failing["armed"] = True
            server.fail_next(50, kind="status", status=503, path_prefix="/v1/resource")

    second = workspace.sync(config, progress=break_the_listing)
    server.clear_fail_next()
    table = second.report.tables["acme__orders"]
    assert failing["armed"], "the listing was under way when the fault came"
    assert table.error is None, "the records were synced; only the scan is incomplete"
    assert table.scan == "incomplete" and table.deleted == 0
    assert "nothing deleted" in " ".join(table.warnings) and "503" in (table.scan_problem or "")
    assert len(workspace.rows("acme__orders")) == 300, "an incomplete scan deletes nothing"
    # the count (asked beside the listing) shows one row too many; reading the table again fails
    # while the API does: the run says the table differs (exit 13), never ok
    assert table.status == "drift" and second.exit_code() == 13
    assert "the destination holds 1 row(s) the source does not" in table.check.reason
    assert "reading it again failed" in table.check.reason
    repaired = workspace.sync(config)  # the next run reads it in full, keys compared
    assert repaired.ok and repaired.report.deleted == 1 and repaired.report.tables["acme__orders"].mode == "full"
    assert assert_destination_equals_source(workspace, server, databases=["acme"], tables=["orders"]) == 299


def test_rows_deleted_while_listing_make_the_scan_incomplete(server, workspace):
    """A row deleted before the listing's position shifts the rows after it one place left: the
    row at the next page boundary would never be listed (and would be deleted). The overlap
    sees it, and the scan deletes nothing."""
    config = one_table(scan_config(server, performance={"concurrency": 1, "prefetch_pages": 1}))
    config["deletes"]["keys"]["limit"] = 20
    assert workspace.sync(config).ok
    server.delete("acme", "orders", 250)
    done = {"deleted": False}

    def delete_behind_the_listing(report):
        if report.scan_pages == 2 and not done["deleted"]:
            done["deleted"] = True
            server.delete("acme", "orders", 5)  # already listed: every later row moves left

    second = workspace.sync(config, progress=delete_behind_the_listing)
    table = second.report.tables["acme__orders"]
    assert done["deleted"]
    assert table.scan == "incomplete" and "moved" in table.scan_problem
    # the scan deletes nothing; the count (asked before the listing, and again after the load)
    # shows rows too many, and reading the table again in full removes both
    assert table.check.status == "healed" and table.deleted == 2, table.check
    assert len(workspace.rows("acme__orders")) == 298
    third = workspace.sync(config)
    assert third.ok and third.report.deleted == 0
    assert assert_destination_equals_source(workspace, server, databases=["acme"], tables=["orders"]) == 298


def test_rows_inserted_during_the_scan_survive(server, workspace):
    """A row inserted after the listing passed the end, but read by the same run's records
    request, is in the destination and not in the listing: it must stay."""
    config = one_table(scan_config(server))
    config["deletes"]["keys"]["limit"] = 1000  # one listing page
    assert workspace.sync(config).ok
    server.delete("acme", "orders", 9)
    # the next records request waits 2 s before answering; the listing is answered meanwhile
    server.fail_next(1, kind="slow", seconds=2.0, path_prefix="/v1/resource")
    inserted: List[int] = []
    template = {k: v for k, v in server.records("acme", "orders")[0].items() if k not in ("id", "updated_at")}

    def insert_after_the_listing():
        deadline = time.time() + 10
        while time.time() < deadline and not listing_requests(server):
            time.sleep(0.02)
        inserted.extend(server.insert("acme", "orders", [template]))

    helper = threading.Thread(target=insert_after_the_listing)
    helper.start()
    second = workspace.sync(config)
    helper.join()
    assert inserted, "the listing was answered"
    table = second.report.tables["acme__orders"]
    assert table.scan == "complete" and table.scan_keys == 299
    ids = {r["id"] for r in workspace.rows("acme__orders")}
    assert inserted[0] in ids, "the row inserted during the scan was loaded and stays"
    assert 9 not in ids and table.deleted == 1
    assert assert_destination_equals_source(workspace, server, databases=["acme"], tables=["orders"]) == 300


def test_full_read_fallback_compares_after_reading_the_whole_table(server, workspace):
    config = scan_config(server, deletes={"detect": "full_read"})
    assert workspace.sync(config).ok
    server.delete("globex", "orders", 77)
    server.update("acme", "orders", 5, {"quantity": 555})
    server.clear_requests()
    second = workspace.sync(config)
    assert second.ok and second.report.deleted == 1
    assert listing_requests(server) == []
    assert all(t.rows == 300 - (t.resource_name == "globex__orders") for t in second.report.tables.values()), \
        "every table read whole"
    assert assert_destination_equals_source(workspace, server) == 4 * 300 - 1
    # the cursor still works for runs without a scan due
    third = workspace.sync(scan_config(server, deletes={"detect": "full_read", "every": "1h"}))
    assert third.ok and all(t.mode == "incremental" for t in third.report.tables.values())
    # (an unfiltered read saves its cursor a little before the run began: the row changed just
    # before it is read once more)
    assert third.report.rows <= 1


def test_history_closes_the_deleted_rows_version(server, workspace):
    config = scan_config(server, history=True)
    assert workspace.sync(config).ok
    server.update("acme", "orders", 20, {"quantity": 2001})
    server.delete("acme", "orders", 30)
    second = workspace.sync(config)
    assert second.ok and second.report.deleted == 1
    rows = workspace.rows("acme__orders", order_by="id, _dbsync_valid_from")
    versions: Dict[int, List[Dict[str, Any]]] = {}
    for r in rows:
        versions.setdefault(r["id"], []).append(r)
    assert len(versions[30]) == 1 and versions[30][0]["_dbsync_valid_to"] is not None
    assert [v["quantity"] for v in versions[20]] == [versions[20][0]["quantity"], 2001]
    assert versions[20][-1]["_dbsync_valid_to"] is None
    assert all(len(v) == 1 and v[0]["_dbsync_valid_to"] is None for k, v in versions.items() if k not in (20, 30))
    assert assert_destination_equals_source(workspace, server, history=True) == 4 * 300 - 1


def test_the_dlt_source_in_your_own_pipeline_applies_scans_with_after_load(server, workspace):
    """The README's library use: dbsync_source in a plain dlt pipeline, then dbsync.after_load."""
    import dlt

    import dbsync

    config = scan_config(server)

    def run() -> Any:
        source = dbsync.dbsync_source(config)
        pipeline = dlt.pipeline("own", destination=dlt.destinations.duckdb(str(workspace.duckdb)),
                                dataset_name="synced", pipelines_dir=str(workspace.pipelines))
        pipeline.run(source, loader_file_format="parquet")
        dbsync.after_load(pipeline, source)
        return source.dbsync_session.report

    assert run().deleted == 0
    server.delete("acme", "customers", 21)
    assert run().deleted == 1
    assert assert_destination_equals_source(workspace, server) == 4 * 300 - 1


def test_status_counts_the_table_and_says_when_it_was_scanned(server, workspace):
    from dbsync.status import sync_status

    assert workspace.sync(scan_config(server)).ok
    server.delete("acme", "orders", 2)
    assert workspace.sync(scan_config(server)).ok
    st = sync_status("test_pipeline", pipelines_dir=str(workspace.pipelines))
    tables = {t.resource: t for t in st.tables}
    assert tables["acme__orders"].table == "acme__orders" and tables["acme__orders"].rows == 299, \
        "the table's rows, not its keys table's"
    assert tables["acme__orders"].last_key_scan and tables["acme__orders"].last_key_scan.endswith("UTC")


def test_a_comparison_the_destination_refuses_fails_the_table_and_is_retried(server, workspace, monkeypatch):
    """The destination running out of memory in the comparison (seen at 10M keys before the
    queries were reshaped) is the table's error, one line, exit code 12; the keys stay and the
    next run applies them."""
    import duckdb

    from dbsync.source import key_scan

    config = one_table(scan_config(server))
    assert workspace.sync(config).ok
    server.delete("acme", "orders", 17)
    real_apply = key_scan._Comparison.apply

    def out_of_memory(self, state):
        raise duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate data of size 64.0 MiB")

    monkeypatch.setattr(key_scan._Comparison, "apply", out_of_memory)
    second = workspace.sync(config)
    table = second.report.tables["acme__orders"]
    assert not second.ok and second.exit_code() == 12 and table.deleted == 0
    message = table.error.one_line()
    assert "acme.orders" in message and "key scan" in message and "Out of Memory" in message and "\n" not in message
    assert workspace.query('SELECT COUNT(*) FROM synced."acme__orders__keys"') == [(299,)], "kept for the next run"
    monkeypatch.setattr(key_scan._Comparison, "apply", real_apply)
    third = workspace.sync(config)
    assert third.ok and third.report.deleted == 1
    assert assert_destination_equals_source(workspace, server, databases=["acme"], tables=["orders"]) == 299


def test_pages_that_do_not_overlap_remove_a_key_missed_by_two_scans_in_a_row(server_factory, monkeypatch, workspace):
    """Next-page links (like page numbers) do not overlap, so a scan cannot prove that no row
    slipped past a boundary while it listed: a key it misses is a candidate, removed when the
    next scan misses it too; a key listed again is no longer one."""
    srv = server_factory(ServerSettings(seed=5, databases=1, tables_per_database=1, default_table_rows=260,
                                        tombstones=False, next_page_header="Next-Page", total_in_body=False))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", srv.api_key)
    config = reference_config(srv.base_url, deletes={"detect": "keys", "keys": {"params": {"fields": "id"}}})
    endpoint = config["resources"][0]["endpoint"]
    endpoint["paginator"] = {"type": "header_next_url", "header": "Next-Page"}
    endpoint["params"]["limit"] = 50
    assert workspace.sync(config).ok
    srv.delete("acme", "orders", 120)
    second = workspace.sync(config)
    table = second.report.tables["acme__orders"]
    assert second.ok and table.scan == "complete" and table.deleted == 0 and table.scan_pending == 1
    assert len(workspace.rows("acme__orders")) == 260, "missed once: kept"
    third = workspace.sync(config)
    assert third.ok and third.report.deleted == 1 and third.report.tables["acme__orders"].scan_pending == 0
    assert assert_destination_equals_source(workspace, srv) == 259
    # a key missed once and listed by the next scan stays: the candidates are what the last scan missed
    assert workspace.query('SELECT COUNT(*) FROM synced."acme__orders__keys"') == [(0,)]
