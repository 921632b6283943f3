"""Discovery costs what it must: filters apply before per-table fields requests and per-database
schema requests, and discovery answers are reused across runs (ETag/If-None-Match, or a
``discovery.cache`` time to live), so a no-change run of N tables costs about N record requests.

Requests are counted in the reference server's own request log."""

from __future__ import annotations

import time
from collections import Counter
from decimal import Decimal

import pytest

from dbsync.server import ServerSettings
from support import assert_destination_equals_source, is_count_request, reference_config

FIELDS_ENDPOINT = {
    "path": "/v1/databases/{database}/tables/{table}/fields",
    "data_selector": "fields",
    "field": {"name": "name", "type": "type", "nullable": "nullable", "precision": "precision", "scale": "scale"},
}


def fields_config(base_url, **overrides):
    """The reference config with the table list read from the schema but the fields from one
    request per table (as SQL-endpoint APIs describe tables)."""
    config = reference_config(base_url, **overrides)
    config["tables"]["discover"]["fields_selector"] = "not_in_the_table_list"
    config["tables"]["discover"]["fields_endpoint"] = FIELDS_ENDPOINT
    return config


def kinds(server):
    """Request counts by endpoint kind and status, from the server's log."""
    out = Counter()
    for r in server.requests():
        if r.path == "/v1/resource":
            out["count" if is_count_request(r) else "records", r.status] += 1  # count: the proof of sync's
        elif r.path == "/v1/databases":
            out["databases", r.status] += 1
        elif r.path.endswith("/schema"):
            out["schema", r.path.split("/")[3], r.status] += 1
        elif r.path.endswith("/fields"):
            out["fields", r.path.split("/")[3], r.path.split("/")[5], r.status] += 1
        else:
            out[r.path, r.status] += 1
    return out


def total(counts, kind, status=None):
    return sum(n for k, n in counts.items() if k[0] == kind and (status is None or k[-1] == status))


@pytest.fixture
def server(server_factory, monkeypatch):
    srv = server_factory(ServerSettings(seed=11, databases=3, tables_per_database=4, rows_per_table=40))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", srv.api_key)
    return srv


# --- filters before requests --------------------------------------------------------------------


def test_excluded_tables_cost_no_fields_request(server, workspace):
    config = fields_config(server.base_url)
    config["tables"]["exclude"] = ["products", "events"]
    result = workspace.sync(config)
    assert result.ok
    counts = kinds(server)
    fields = sorted((k[1], k[2]) for k in counts if k[0] == "fields")
    assert fields == [(db, t) for db in ("acme", "globex", "initech") for t in ("customers", "orders")], fields
    assert total(counts, "fields") == 6, counts
    assert sorted(result.report.tables) == sorted(f"{db}__{t}" for db in ("acme", "globex", "initech")
                                                  for t in ("orders", "customers"))
    # the fields came from the fields endpoint: decimals and dates typed, not inferred as text
    assert workspace.columns("acme__orders")["unit_price"][0].startswith("DECIMAL")
    assert assert_destination_equals_source(workspace, server, tables=["orders", "customers"]) == 3 * 2 * 40


def test_cli_selection_and_excluded_databases_cost_no_request(server, workspace):
    config = fields_config(server.base_url)
    config["databases"]["exclude"] = ["initech"]
    result = workspace.sync(config, tables=["orders"])
    assert result.ok
    counts = kinds(server)
    assert {k[1] for k in counts if k[0] == "schema"} == {"acme", "globex"}, counts  # initech never asked
    assert sorted((k[1], k[2]) for k in counts if k[0] == "fields") == [("acme", "orders"), ("globex", "orders")]
    assert total(counts, "schema") == 2 and total(counts, "fields") == 2 and total(counts, "databases") == 1
    assert assert_destination_equals_source(workspace, server, ["acme", "globex"], ["orders"]) == 2 * 40

    server.clear_requests()
    assert workspace.sync(config, databases=["glob*"], tables=["cust*"]).ok  # -d and -t
    counts = kinds(server)
    assert [k[:-1] for k in counts if k[0] in ("schema", "fields")] == [("schema", "globex"),
                                                                       ("fields", "globex", "customers")], counts
    assert assert_destination_equals_source(workspace, server, ["globex"], ["orders", "customers"]) == 2 * 40
    assert sorted(workspace.tables()) == ["acme__orders", "globex__customers", "globex__orders"]


def test_listed_tables_cost_fields_requests_for_themselves_only(server, workspace):
    config = fields_config(server.base_url)
    config["tables"]["list"] = ["customers"]
    config["tables"]["discover"]["primary_key"] = "primary_key"
    result = workspace.sync(config, databases=["globex"])
    assert result.ok
    counts = kinds(server)
    assert [k for k in counts if k[0] == "fields"] == [("fields", "globex", "customers", 200)], counts
    assert assert_destination_equals_source(workspace, server, ["globex"], ["customers"]) == 40


# --- reuse across runs: validators --------------------------------------------------------------


def test_no_change_run_revalidates_with_etags_and_sees_a_schema_change(server, workspace):
    config = fields_config(server.base_url)
    first = workspace.sync(config)
    assert first.ok
    tables = len(first.report.tables)
    assert tables == 12
    assert assert_destination_equals_source(workspace, server) == 12 * 40

    server.clear_requests()
    second = workspace.sync(config)
    assert second.ok and second.report.rows == 0
    counts = kinds(server)
    assert total(counts, "records") == tables, counts  # one incremental request per table
    assert total(counts, "count") == tables, counts  # and one for its count (the proof of sync)
    # discovery: every answer revalidated and unchanged (304, no body), nothing fetched again
    assert total(counts, "databases", 304) == 1 and total(counts, "schema", 304) == 3
    assert total(counts, "fields", 304) == tables
    assert sum(counts.values()) == 2 * tables + 1 + 3 + tables
    assert not [k for k in counts if k[-1] == 200 and k[0] not in ("records", "count")], counts

    # the schema changes on the server: the next run sees it (a new decimal field, typed as such)
    server.add_field("acme", "orders", "rebate", "decimal", precision=10, scale=2)
    server.update("acme", "orders", 3, {"rebate": "12.50"})
    server.clear_requests()
    third = workspace.sync(config)
    # a field the destination table lacks: read in full once, so the rows loaded before get its values
    orders = third.report.tables["acme__orders"]
    assert third.ok and orders.mode == "full" and orders.rows == 40
    assert any("new field(s) rebate" in w for w in orders.warnings)
    assert all(t.mode == "incremental" for n, t in third.report.tables.items() if n != "acme__orders")
    counts = kinds(server)
    assert counts["schema", "acme", 200] == 1 and counts["fields", "acme", "orders", 200] == 1, counts
    assert counts["schema", "globex", 304] == 1 and counts["fields", "globex", "orders", 304] == 1
    assert workspace.columns("acme__orders")["rebate"][0] == "DECIMAL(10,2)"
    row = workspace.query("SELECT rebate FROM synced.acme__orders WHERE id = 3")[0]
    assert row == (Decimal("12.50"),)
    assert assert_destination_equals_source(workspace, server) == 12 * 40


def test_full_refresh_asks_again(server, workspace):
    config = reference_config(server.base_url)
    workspace.sync(config, databases=["acme"])
    server.clear_requests()
    again = workspace.sync(config, databases=["acme"], full_refresh=True)
    assert again.ok
    counts = kinds(server)
    assert counts["databases", 200] == 1 and counts["schema", "acme", 200] == 1, counts
    assert not [k for k in counts if k[-1] == 304], counts
    assert assert_destination_equals_source(workspace, server, ["acme"]) == 4 * 40


def test_cache_off_sends_no_conditional_request(server, workspace):
    config = reference_config(server.base_url, discovery={"cache": False})
    workspace.sync(config, databases=["acme"])
    server.clear_requests()
    assert workspace.sync(config, databases=["acme"]).ok
    counts = kinds(server)
    assert counts["databases", 200] == 1 and counts["schema", "acme", 200] == 1, counts
    assert not list(workspace.pipelines.glob(".*discovery*"))
    assert assert_destination_equals_source(workspace, server, ["acme"]) == 4 * 40


# --- reuse across runs: a time to live ----------------------------------------------------------


def test_ttl_cache_skips_discovery_until_it_expires(server_factory, workspace, monkeypatch):
    server = server_factory(ServerSettings(seed=5, databases=2, tables_per_database=2, rows_per_table=30,
                                           etags=False))  # an API without validators
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", server.api_key)
    config = fields_config(server.base_url, discovery={"cache": "1h"})
    first = workspace.sync(config)
    assert first.ok
    assert assert_destination_equals_source(workspace, server) == 4 * 30

    server.clear_requests()
    second = workspace.sync(config)
    assert second.ok
    counts = kinds(server)
    # discovery cost nothing at all: a records request and a count (the proof of sync) per table
    assert counts == Counter({("records", 200): 4, ("count", 200): 4}), counts

    # a schema change is not seen while the answers are young ...
    server.add_field("acme", "orders", "rebate", "decimal", precision=10, scale=2)
    server.update("acme", "orders", 3, {"rebate": "12.50"})
    # ... and is once they are older than the time to live (same connection: same cache)
    time.sleep(1.2)
    server.clear_requests()
    third = workspace.sync(fields_config(server.base_url, discovery={"cache": "1s"}))
    assert third.ok
    counts = kinds(server)
    assert counts["databases", 200] == 1 and total(counts, "schema", 200) == 2 and total(counts, "fields", 200) == 4
    assert workspace.columns("acme__orders")["rebate"][0] == "DECIMAL(10,2)"
    assert assert_destination_equals_source(workspace, server) == 4 * 30


def test_cache_file_lives_beside_the_pipeline_state_and_holds_no_secret(server, workspace):
    config = reference_config(server.base_url, discovery={"cache": "10m"})
    workspace.sync(config, databases=["acme"])
    files = list(workspace.pipelines.glob(".test_pipeline.dbsync.discovery.json"))
    assert len(files) == 1
    text = files[0].read_text()
    assert server.api_key not in text and "api_key" not in text
    assert not [p for p in workspace.root.iterdir() if "discovery" in p.name]  # not in the destination's folder
    assert assert_destination_equals_source(workspace, server, ["acme"]) == 4 * 40


def test_another_key_for_the_same_config_does_not_reuse_a_changed_answer(server_factory, workspace, monkeypatch):
    """The cache is tied to the config minus secrets, so a new key reuses answers only where the
    server (asked with the new key) says they are unchanged."""
    server = server_factory(ServerSettings(seed=3, databases=2, tables_per_database=1, rows_per_table=10,
                                           api_keys={"full-key": None, "acme-key": ["acme"]}))
    config = reference_config(server.base_url)
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", "full-key")
    assert workspace.sync(config).ok
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", "acme-key")
    server.clear_requests()
    limited = workspace.sync(config)
    assert limited.ok and sorted(limited.report.tables) == ["acme__orders"]
    assert kinds(server)["databases", 200] == 1  # another account's list: a new answer
    assert assert_destination_equals_source(workspace, server, ["acme"]) == 10
