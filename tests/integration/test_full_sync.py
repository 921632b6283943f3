"""Full syncs against the reference server into real DuckDB files: types, nullability, values,
databases kept apart, request counts."""

from __future__ import annotations

import pytest

from support import (INFERRED_ORDERS, assert_destination_equals_source, assert_same_rows, field_types, original_config,
                     reference_config)

DUCKDB_TYPES = {
    "integer": "BIGINT",
    "string": "VARCHAR",
    "number": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "datetime": "TIMESTAMP WITH TIME ZONE",
    "json": "JSON",
    "array": "JSON",
}


def test_every_table_of_every_database_lands_typed_and_equal(reference_server, api_key, workspace):
    result = workspace.sync(reference_config(reference_server.base_url))
    assert result.ok, [t.error for t in result.failed]
    databases = [d["id"] for d in reference_server.databases()]
    assert databases == ["acme", "globex", "initech"]
    expected_tables = []
    for db in databases:
        schema = reference_server.schema(db)
        for table in schema["tables"]:
            dest = f"{db}__{table['name']}"
            expected_tables.append(dest)
            columns = workspace.columns(dest)
            for f in table["fields"]:
                dtype, nullable = columns[f["name"]]
                if f["type"] == "decimal":
                    assert dtype == f"DECIMAL({f['precision']},{f['scale']})", (dest, f)
                else:
                    assert dtype == DUCKDB_TYPES[f["type"]], (dest, f["name"], dtype)
                assert nullable == f["nullable"], (dest, f["name"], "nullable", nullable)
            assert_same_rows(workspace.rows(dest), reference_server.records(db, table["name"]),
                             field_types(schema, table["name"]))
    assert sorted(workspace.tables()) == sorted(expected_tables)
    # one discovery request for the list, one schema per database, and the pages of each table: they
    # overlap by one row (step 999) and go on until one comes back short (a total may be an estimate)
    pages = sum((t.total - 1000) // 999 + 2 if t.total >= 1000 else 1 for t in result.report.tables.values())
    assert result.stats.requests == 1 + len(databases) + pages
    assert result.report.rows == sum(len(reference_server.records(db, t["name"]))
                                     for db in databases for t in reference_server.schema(db)["tables"])


def test_big_integers_decimals_unicode_and_nested_values_survive(reference_server, api_key, workspace):
    workspace.sync(reference_config(reference_server.base_url), databases=["acme"], tables=["orders"])
    rows = {r["id"]: r for r in workspace.rows("acme__orders")}
    source = {r["id"]: r for r in reference_server.records("acme", "orders")}
    big = [i for i, r in source.items() if r.get("big_counter") and r["big_counter"] > 2**53]
    assert big, "the reference data should hold integers above 2**53"
    for i in big[:50]:
        assert rows[i]["big_counter"] == source[i]["big_counter"]
    non_ascii = [i for i, r in source.items() if any(ord(c) > 127 for c in r["customer_name"])]
    assert non_ascii
    for i in non_ascii[:50]:
        assert rows[i]["customer_name"] == source[i]["customer_name"]
    assert_destination_equals_source(workspace, reference_server, ["acme"], ["orders"])


def test_databases_with_same_tables_and_ids_never_mix(reference_server, api_key, workspace):
    workspace.sync(reference_config(reference_server.base_url), databases=["acme", "globex"], tables=["orders"])
    acme = {r["id"]: r for r in workspace.rows("acme__orders")}
    globex = {r["id"]: r for r in workspace.rows("globex__orders")}
    shared = set(acme) & set(globex)
    assert len(shared) > 100, "the two tenants must share ids for this test to mean anything"
    source_acme = {r["id"]: r for r in reference_server.records("acme", "orders")}
    source_globex = {r["id"]: r for r in reference_server.records("globex", "orders")}
    differing = [i for i in shared if source_acme[i]["customer_name"] != source_globex[i]["customer_name"]]
    assert differing
    for i in differing:
        assert acme[i]["customer_name"] == source_acme[i]["customer_name"]
        assert globex[i]["customer_name"] == source_globex[i]["customer_name"]
    assert_destination_equals_source(workspace, reference_server, ["acme", "globex"], ["orders"])


def test_union_layout_keeps_tenants_apart_with_a_database_column(reference_server, api_key, workspace):
    config = reference_config(reference_server.base_url, layout="union")
    result = workspace.sync(config, databases=["acme", "globex"], tables=["orders"])
    assert result.ok
    assert workspace.tables() == ["orders"]
    rows = workspace.rows("orders", order_by="_dbsync_database, id")
    by_key = {(r["_dbsync_database"], r["id"]): r for r in rows}
    for db in ("acme", "globex"):
        source = reference_server.records(db, "orders")
        assert sum(1 for k in by_key if k[0] == db) == len(source)
        for record in source:
            assert by_key[(db, record["id"])]["customer_name"] == record["customer_name"]
    assert_destination_equals_source(workspace, reference_server, ["acme", "globex"], ["orders"], layout="union")
    # a second run merges on (database, id): no duplicates appear
    workspace.sync(config, databases=["acme", "globex"], tables=["orders"], full_refresh=False)
    assert workspace.query('SELECT COUNT(*), COUNT(DISTINCT (_dbsync_database, id)) FROM synced."orders"')[0] == (
        len(rows), len(rows))
    assert_destination_equals_source(workspace, reference_server, ["acme", "globex"], ["orders"], layout="union")


def test_original_rest_api_config_works_unchanged_as_a_python_dict(reference_server, workspace, monkeypatch):
    import dlt

    monkeypatch.setenv("API_KEY", reference_server.api_key)  # what dlt.secrets["api_key"] reads
    config = original_config(reference_server.base_url, api_key=dlt.secrets["api_key"])
    before = repr(config)
    result = workspace.sync(config)
    assert repr(config) == before, "the config dict must not be modified"
    assert result.ok
    rows = workspace.rows("database_resource")
    assert len(rows) == len(reference_server.records("acme", "orders"))
    assert result.stats.requests == len(rows) // 100 + 1  # offset pages of 100 until a short one, nothing else
    # without discovery, types are inferred: integers, text, JSON, timestamps
    cols = workspace.columns("database_resource")
    assert cols["id"][0] == "BIGINT" and cols["quantity"][0] == "BIGINT"
    assert cols["customer_name"][0] == "VARCHAR"
    assert cols["shipping"][0] == "JSON" and cols["tags"][0] == "JSON"
    assert cols["updated_at"][0] == "TIMESTAMP WITH TIME ZONE"
    # the default table (acme's orders), value for value, as the inferred types hold it
    assert_destination_equals_source(workspace, reference_server, ["acme"], ["orders"],
                                     table_name=lambda db, t: "database_resource", types=INFERRED_ORDERS)


@pytest.mark.parametrize("concurrency", [1, 8])
def test_concurrent_and_sequential_fetching_load_the_same_rows(reference_server, api_key, workspace, concurrency):
    config = reference_config(reference_server.base_url, performance={"concurrency": concurrency, "batch_rows": 700})
    config["resources"][0]["endpoint"]["paginator"]["limit"] = 130
    result = workspace.sync(config, databases=["initech"], tables=["orders"])
    assert result.ok
    assert_same_rows(workspace.rows("initech__orders"), reference_server.records("initech", "orders"),
                     field_types(reference_server.schema("initech"), "orders"))
