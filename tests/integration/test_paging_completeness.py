"""Paging that stops early is never silent: real syncs against the reference server configured
like APIs that fool paginators (the next page announced in a header the paginator does not read,
totals that are estimates, totals only in a header), into real DuckDB files, compared by key and
value with the server's data."""

from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
import threading
import time

import pytest
import yaml

from dbsync.errors import IncompleteReadError
from dbsync.server import FaultSettings, ServerSettings
from support import PAST_THE_END, assert_same_rows, field_types, original_config, reference_config

ROWS = 260
TABLE = "acme__orders"


@pytest.fixture
def serve(server_factory, monkeypatch):
    def start(rows: int = ROWS, **options):
        server = server_factory(ServerSettings(seed=5, databases=1, tables_per_database=1, default_table_rows=rows,
                                               **options))
        monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", server.api_key)
        return server
    return start


def paged_config(server, paginator, **params):
    config = reference_config(server.base_url)
    endpoint = config["resources"][0]["endpoint"]
    endpoint["paginator"] = paginator
    endpoint["params"].update(params)
    return config


def assert_loaded(workspace, server, table=TABLE, first=None):
    """The destination holds the server's rows, value by value (or ``first`` of them: the rows the
    first page held, each equal to the server's)."""
    truth = server.records("acme", "orders")
    dest = workspace.rows(table)
    if first is not None:
        assert len(dest) == first
        ids = {r["id"] for r in dest}
        truth = [r for r in truth if r["id"] in ids]
    types = field_types(server.schema("acme"), "orders")
    if table == "database_resource":  # no discovery: decimals and dates arrive as the API's strings
        types = {k: ("string" if t in ("decimal", "date") else t) for k, t in types.items()}
    assert_same_rows(dest, truth, types)


def run_cli(*args, env, cwd):
    full_env = dict(os.environ, RUNTIME__DLTHUB_TELEMETRY="false", **env)
    return subprocess.run([sys.executable, "-m", "dbsync", *args], env=full_env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def resource_requests(server):
    return [r for r in server.requests() if r.path == "/v1/resource"]


# -- a paginator that never finds the next page ------------------------------------------------------

TOTALS = {  # where the server announces the listing's size
    "body total": {},
    "X-Total-Count": {"total_in_body": False, "total_header": "X-Total-Count"},
    "Total-Records": {"total_in_body": False, "total_header": "Total-Records"},
    "X-Total": {"total_in_body": False, "total_header": "X-Total"},
}


@pytest.mark.parametrize("params", [{}, {"limit": 100}], ids=["server default page size", "limit=100"])
@pytest.mark.parametrize("where", list(TOTALS))
def test_next_page_in_an_unread_header_fails_when_a_total_says_more(serve, workspace, where, params):
    server = serve(next_page_header="Next-Page", **TOTALS[where])
    result = workspace.sync(paged_config(server, {"type": "header_link"}, **params))
    assert not result.ok
    error = result.report.tables[TABLE].error
    assert isinstance(error, IncompleteReadError)
    text = error.one_line()
    assert "table 'orders'" in text and "100 of the 260 rows" in text, text
    assert where.split()[-1] in text, text  # says where the total came from
    assert result.exit_code() == 8
    assert_loaded(workspace, server, first=100)  # what did arrive is loaded, value by value
    assert len(resource_requests(server)) == 1


def test_next_page_in_an_unread_header_warns_on_a_full_page_without_a_total(serve, workspace, caplog):
    caplog.set_level(logging.WARNING, logger="dbsync")
    server = serve(next_page_header="Next-Page", total_in_body=False)
    result = workspace.sync(paged_config(server, {"type": "header_link"}, limit=100))
    assert result.ok  # nothing says rows are missing for sure, but it is not silent:
    warnings = result.report.tables[TABLE].warnings
    assert len(warnings) == 1
    assert "table 'orders'" in warnings[0] and "page 1 came back full (100 records, limit=100)" in warnings[0]
    assert warnings[0] in caplog.text
    assert_loaded(workspace, server, first=100)


@pytest.mark.parametrize("total", ["body total", "none"])
def test_cli_exit_code_and_summary_name_the_table(serve, workspace, total):
    server = serve(next_page_header="Next-Page", **({} if total == "body total" else {"total_in_body": False}))
    config = paged_config(server, {"type": "header_link"}, limit=100)
    (workspace.root / "dbsync.yaml").write_text(yaml.safe_dump(config))
    done = run_cli("run", "--no-progress", "--destination", str(workspace.duckdb), "--dataset", "synced",
                   env={"SOURCES__DBSYNC__API_KEY": server.api_key}, cwd=workspace.root)
    summary = " ".join(done.stdout.split())
    if total == "body total":
        assert done.returncode == 8, done.stdout + done.stderr
        assert "failed database 'acme', table 'orders': 100 of the 260 rows" in summary, summary
    else:
        assert done.returncode == 0, done.stdout + done.stderr
        assert "warning database 'acme', table 'orders': page 1 came back full" in summary, summary
    assert_loaded(workspace, server, first=100)


# -- a paginator that does find it: no false alarms ----------------------------------------------------

@pytest.mark.parametrize("rows,announce", [(ROWS, "body total"), (200, "body total"), (ROWS, "X-Total-Count"),
                                           (ROWS, "none"), (0, "body total")])
def test_link_header_paging_reads_everything_without_warnings(serve, workspace, rows, announce):
    options = {"none": {"total_in_body": False}}.get(announce, TOTALS.get(announce, {}))
    server = serve(rows=rows, next_page_header="Link", **options)
    config = paged_config(server, {"type": "header_link"}, limit=100)
    result = workspace.sync(config)
    assert result.ok, [t.error for t in result.failed]
    assert result.report.tables[TABLE].warnings == []
    if rows:
        assert_loaded(workspace, server)
    # an incremental run: the total counts what the filter selects, so 3 changed rows are complete
    for record_id in (3, 150, 260 if rows == ROWS else 199)[: 3 if rows else 0]:
        server.update("acme", "orders", record_id, {"quantity": 4242})
    again = workspace.sync(config)
    assert again.ok and again.report.tables[TABLE].warnings == []
    if rows:
        assert again.report.tables[TABLE].mode == "incremental"
        assert_loaded(workspace, server)


@pytest.mark.parametrize("kind", ["plain", "cursor"])
def test_rows_deleted_while_paging_are_not_a_failure(serve, workspace, kind):
    """Plain id order: the listing shrinks and the total announced last (lower) is compared.
    Cursor order: deleted rows come back as tombstones at the end, the total counts them."""
    # every page is answered 0.3 s late, so the rows are gone before the second page is read
    server = serve(next_page_header="Link",
                   faults=FaultSettings(slow_rate=1.0, slow_seconds=0.3, fault_paths=("/v1/resource",)))
    records = server.records("acme", "orders")
    if kind == "cursor":  # the last rows of the listing, so that no row shifts across a page boundary
        records.sort(key=lambda r: (r["updated_at"], r["id"]))
    gone = [r["id"] for r in records[-5:]]

    def delete_after_first_page():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not resource_requests(server):
            time.sleep(0.005)
        for record_id in gone:
            server.delete("acme", "orders", record_id)

    config, table = offset_config(server, kind, 100)
    config["resources"][0]["endpoint"]["paginator"] = {"type": "header_link"}
    config["resources"][0]["endpoint"].setdefault("params", {})["limit"] = 100
    watcher = threading.Thread(target=delete_after_first_page, daemon=True)
    watcher.start()
    result = workspace.sync(config)
    watcher.join()
    assert result.ok, [t.error for t in result.failed]
    assert result.report.tables[table].warnings == []
    assert_loaded(workspace, server, table=table)
    if kind == "plain":
        assert result.report.tables[table].rows == ROWS - 5


# -- totals that are estimates (offset pages, fetched concurrently) --------------------------------------

def offset_config(server, kind, limit):
    """``cursor``: the bundled config (discovery, cursor order, overlapping pages); ``plain``: the
    original rest_api config (id order, no overlap)."""
    if kind == "plain":
        config = original_config(server.base_url)
    else:
        config = reference_config(server.base_url)
    config["resources"][0]["endpoint"]["paginator"]["limit"] = limit
    return config, ("database_resource" if kind == "plain" else TABLE)


@pytest.mark.parametrize("kind,rows,limit,bias,header", [
    ("plain", 35, 10, -5, False),      # a planner's estimate: 30 for 35 (the issue)
    ("cursor", 35, 10, -7, False),     # pages overlap in cursor order: the last planned page ends at 28
    ("cursor", 350, 100, -350, False),  # "0 rows" from a table never analysed
    ("plain", 1000, 100, -100, False),
    ("cursor", 35, 10, -7, True),      # the estimate comes in X-Total-Count
    ("cursor", 9000, 1000, -500, False),  # big enough for the page-converting worker processes
])
def test_a_total_that_is_too_low_does_not_truncate(serve, workspace, kind, rows, limit, bias, header):
    options = {"total_in_body": False, "total_header": "X-Total-Count"} if header else {}
    server = serve(rows=rows, total_bias=bias, **options)
    config, table = offset_config(server, kind, limit)
    result = workspace.sync(config)
    assert result.ok, [t.error for t in result.failed]
    assert result.report.tables[table].warnings == []
    assert_loaded(workspace, server, table=table)
    assert len(resource_requests(server)) <= math.ceil(rows / (limit - 1)) + 1


@pytest.mark.parametrize("kind,rows,limit,bias,header", [
    ("cursor", 35, 10, 5, False),
    ("plain", 35, 10, 500, False),
    ("cursor", 350, 100, 5000, False),
    ("plain", 35, 10, 500, True),
    ("cursor", 0, 10, 50, False),
])
def test_a_total_that_is_too_high_neither_hangs_nor_fails(serve, workspace, kind, rows, limit, bias, header):
    options = {"total_in_body": False, "total_header": "X-Total-Count"} if header else {}
    server = serve(rows=rows, total_bias=bias, **options)
    config, table = offset_config(server, kind, limit)
    result = workspace.sync(config)
    assert result.ok, [t.error for t in result.failed]
    assert result.report.tables[table].warnings == []
    if rows:
        assert_loaded(workspace, server, table=table)
    # pages past the real end come back empty and end the plan: a few in flight at most, not one
    # request per page of the announced total
    needed = math.ceil(rows / (limit - 1)) + 1
    assert len(resource_requests(server)) <= needed + PAST_THE_END + 1


@pytest.mark.parametrize("limit, words", [(50, "100 records came back for a page of at most 50"),
                                          (100, "returned the same rows as offset 0")],
                         ids=["more-than-the-limit", "same-rows-at-every-offset"])
def test_an_api_that_ignores_the_paging_parameters_fails_the_table(server_factory, workspace, monkeypatch,
                                                                   limit, words):
    """The config names paging parameters the API does not know (json-server pages by _start and
    _limit, not offset and limit): every page is then the same rows, or all of them, and paging
    would never end. The table fails at once, naming the parameters; the others load."""
    server = server_factory(ServerSettings(seed=4, databases=1, tables_per_database=2, rows_per_table=400))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", server.api_key)
    config = reference_config(server.base_url)
    config["resources"][0]["endpoint"]["paginator"] = {"type": "offset", "limit": limit, "offset_param": "start",
                                                       "limit_param": "size", "total_path": "total"}
    result = workspace.sync(config)
    assert not result.ok and result.exit_code() == 8
    errors = [t.error.one_line() for t in result.failed]
    assert len(errors) == 2 and all(words in e and "'start' and 'size'" in e for e in errors), errors
    assert len(server.requests()) < 20, "it stopped at once instead of paging on"
