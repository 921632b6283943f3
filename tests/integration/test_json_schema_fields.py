"""Fields from a JSON Schema, synced by real dlt into DuckDB: the reference server describes each
table as a JSON Schema object (``schema_format: json_schema``: ``properties`` with ``type`` and
``format``, the NOT NULL fields in ``required``), the config reads it with a dotted
``fields_selector`` and ``required_selector``; the columns are typed and NOT NULL as declared."""

from __future__ import annotations

import pytest
import requests

from dbsync.server import ServerSettings
from support import assert_destination_equals_source, reference_config

# the reference server's field types -> DuckDB column types, through JSON Schema type + format
# (decimals are {"type": "string", "format": "decimal"}: JSON Schema has no precision, so the
# default DECIMAL(38,9) holds them)
DUCKDB_TYPES = {"string": "VARCHAR", "integer": "BIGINT", "number": "DOUBLE", "decimal": "DECIMAL(38,9)",
                "boolean": "BOOLEAN", "date": "DATE", "datetime": "TIMESTAMP WITH TIME ZONE", "json": "JSON",
                "array": "JSON"}


@pytest.fixture
def server(server_factory, monkeypatch):
    srv = server_factory(ServerSettings(seed=11, databases=2, tables_per_database=3, rows_per_table=300,
                                        schema_format="json_schema"))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", srv.api_key)
    # a JSON Schema type list: ["string", "null"] with a format
    srv.add_field("acme", "customers", "seen_on", "date", declared_type=["string", "null"], format="date")
    for i in range(1, 301, 3):
        srv.update("acme", "customers", i, {"seen_on": f"2024-02-{1 + i % 28:02d}"})
    return srv


def json_schema_config(base_url: str):
    config = reference_config(base_url)
    config["tables"]["discover"].update({"fields_selector": "schema.properties", "required_selector": "schema.required"})
    del config["tables"]["discover"]["field"]  # the defaults read JSON Schema: type, format, nullable
    return config


def test_columns_typed_and_not_null_from_a_json_schema(server, workspace, caplog):
    doc = requests.get(f"{server.base_url}/v1/databases/acme/schema", params={"api_key": server.api_key}).json()
    customers = next(t for t in doc["tables"] if t["name"] == "customers")
    assert "fields" not in customers and customers["schema"]["properties"]["seen_on"] == {
        "type": ["string", "null"], "format": "date"}

    result = workspace.sync(json_schema_config(server.base_url))
    assert result.ok, result
    assert "found nothing" not in caplog.text
    checked = 0
    for db in ("acme", "globex"):
        for table in server.schema(db)["tables"]:
            columns = workspace.columns(f"{db}__{table['name']}")
            for f in table["fields"]:
                want = (DUCKDB_TYPES[f["type"] if f["name"] != "seen_on" else "date"], f["nullable"])
                assert columns[f["name"]] == want, (db, table["name"], f, columns[f["name"]])
                checked += 1
    assert checked > 40
    not_null = [name for name, (_t, nullable) in workspace.columns("acme__orders").items() if not nullable]
    assert "id" in not_null and "customer_name" in not_null
    assert assert_destination_equals_source(workspace, server, databases=["acme", "globex"],
                                            types={"seen_on": "date"}) == 6 * 300
