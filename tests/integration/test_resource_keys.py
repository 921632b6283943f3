"""rest_api resource keys dbsync honours, end to end against the reference server, real dlt and
DuckDB: ``endpoint.headers`` (placeholders filled, on every request of a table, HEAD included)
and ``columns`` hints (the DuckDB column has the type asked for, the values are the source's)."""

from __future__ import annotations

import copy
import logging
from decimal import Decimal

from dbsync.server.settings import ServerSettings
from support import assert_destination_equals_source, count_worker_pages, original_config, reference_config


def _resource_requests(server):
    return [r for r in server.requests() if r.path == "/v1/resource"]


def test_endpoint_headers_arrive_with_placeholders_filled_on_every_request(server_factory, api_key, workspace):
    server = server_factory(ServerSettings(
        seed=7, databases=2, tables_per_database=2, rows_per_table=90, total_in_body=False,
        total_header="X-Total-Count", total_header_methods=("HEAD",), log_headers=("x-table", "x-database",
                                                                                   "x-static")))
    config = reference_config(server.base_url)
    endpoint = config["resources"][0]["endpoint"]
    endpoint["headers"] = {"X-Table": "{table}", "X-Database": "{database}", "X-Static": "dbsync"}
    endpoint["paginator"] = {"type": "offset", "limit": 40, "total_path": None,
                             "total": {"header": "X-Total-Count", "method": "HEAD"}}
    server.clear_requests()
    result = workspace.sync(config)
    assert result.ok, [t.error for t in result.failed]
    assert_destination_equals_source(workspace, server)

    requests = _resource_requests(server)
    assert {r.method for r in requests} == {"GET", "HEAD"}
    tables_seen = set()
    for r in requests:
        query = dict(p.split("=", 1) for p in r.query.split("&"))
        assert r.headers == {"x-table": query["table"], "x-database": query["database"], "x-static": "dbsync"}, r
        tables_seen.add((query["database"], query["table"]))
    assert len(tables_seen) == 4
    # discovery requests are no resource's: they carry none of its headers
    assert all(not r.headers for r in server.requests() if r.path != "/v1/resource")


COLUMNS = {
    "unit_price": {"data_type": "decimal", "precision": 14, "scale": 4},
    "order_date": {"data_type": "date"},
    "created_at": {"data_type": "timestamp", "nullable": False},
}


def test_columns_hints_type_the_duckdb_columns_and_keep_the_values(reference_server, api_key, workspace):
    """Without discovery, dlt would infer decimals and dates as the strings the API sent: the
    hints make them DECIMAL(14,4) and DATE, value for value the source's."""
    config = original_config(reference_server.base_url)
    config["resources"][0]["columns"] = copy.deepcopy(COLUMNS)
    before = copy.deepcopy(config)
    result = workspace.sync(config)
    assert config == before, "the config dict must not be modified"
    assert result.ok, [t.error for t in result.failed]
    columns = workspace.columns("database_resource")
    assert columns["unit_price"] == ("DECIMAL(14,4)", True)
    assert columns["order_date"] == ("DATE", True)
    assert columns["created_at"] == ("TIMESTAMP WITH TIME ZONE", False)
    compared = assert_destination_equals_source(workspace, reference_server, ["acme"], ["orders"],
                                                table_name=lambda db, table: "database_resource")
    assert compared > 0
    rows = workspace.rows("database_resource")
    assert all(isinstance(r["unit_price"], Decimal) for r in rows if r["unit_price"] is not None)


def test_columns_hints_override_discovered_types_and_never_round(reference_server, api_key, workspace, caplog):
    """A hint narrower than the data (scale 2 for prices with 4 decimals): no value is rounded;
    those that do not fit are kept as text in the variant column, with a warning."""
    config = reference_config(reference_server.base_url)
    config["resources"][0]["columns"] = {"unit_price": {"data_type": "decimal", "precision": 10, "scale": 2},
                                         "no_such_field": {"data_type": "text"}}
    with caplog.at_level(logging.WARNING):
        result = workspace.sync(config, databases=["acme"], tables=["orders"])
    assert result.ok, [t.error for t in result.failed]
    assert workspace.columns("acme__orders")["unit_price"][0] == "DECIMAL(10,2)"
    assert "resources[0].columns.no_such_field" in caplog.text
    rows = {r["id"]: r for r in workspace.rows("acme__orders")}
    source = {r["id"]: r for r in reference_server.records("acme", "orders")}
    assert set(rows) == set(source)
    variants = 0
    for key, src in source.items():
        exact = Decimal(src["unit_price"])
        row = rows[key]
        if row["unit_price"] is not None:
            assert row["unit_price"] == exact, (key, row["unit_price"], exact)
        else:
            assert Decimal(row["unit_price__v_text"]) == exact, key
            variants += 1
    assert variants > 0, "the reference prices have 4 decimals: some do not fit scale 2"
    assert "do not fit its type decimal" in caplog.text
    assert "no_such_field" not in workspace.columns("acme__orders")


def test_columns_hints_and_headers_reach_the_worker_processes(server_factory, api_key, workspace, monkeypatch):
    """Big tables have their pages converted in worker processes: the hints and the headers go
    there too (the same types, values and headers as in-thread)."""
    calls = count_worker_pages(monkeypatch, 1_000)
    server = server_factory(ServerSettings(seed=11, databases=1, tables_per_database=1, default_table_rows=3000,
                                           log_headers=("x-table",)))
    config = original_config(server.base_url)
    config["resources"][0]["columns"] = copy.deepcopy(COLUMNS)
    config["resources"][0]["endpoint"]["headers"] = {"X-Table": "orders"}
    config["resources"][0]["endpoint"]["paginator"]["limit"] = 250
    config["performance"] = {"processes": 1}
    server.clear_requests()
    result = workspace.sync(config)
    assert result.ok, [t.error for t in result.failed]
    assert len(calls) >= 5, "pages must really have gone through the worker processes"
    columns = workspace.columns("database_resource")
    assert columns["unit_price"] == ("DECIMAL(14,4)", True) and columns["order_date"] == ("DATE", True)
    assert assert_destination_equals_source(workspace, server, ["acme"], ["orders"],
                                            table_name=lambda db, table: "database_resource") == 3000
    requests = _resource_requests(server)
    assert len(requests) >= 12 and all(r.headers == {"x-table": "orders"} for r in requests)
