"""Values as the API wraps them and type names other servers use, synced by real dlt into DuckDB.

The reference server's schema declares fields the way Parse, JSON Schema, NocoDB and Directus do
(``declared_type``/``format``) and serves wrapped values (raw updates); the config's value rules
unwrap them. Both conversion paths (in the fetch thread, and in worker processes) must load the
same columns and values."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import pytest

from dbsync.server import ServerSettings
from support import assert_destination_equals_source, count_worker_pages, reference_config

ROWS = 400
WRAPPED = ("last_seen", "owner", "settings_text", "seen_on", "amount", "flag", "visits", "spot")


@pytest.fixture
def server(server_factory, monkeypatch):
    srv = server_factory(ServerSettings(seed=7, databases=1, tables_per_database=2, rows_per_table=ROWS))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", srv.api_key)
    db, table = "acme", "customers"
    # Parse Server's wrapped types
    srv.add_field(db, table, "last_seen", "json", declared_type="Date")
    srv.add_field(db, table, "owner", "json", declared_type="Pointer")
    srv.add_field(db, table, "settings_text", "string")  # JSON sent as text
    # JSON Schema / OpenAPI type lists and formats, NocoDB's and Directus's names, Parse's GeoPoint
    srv.add_field(db, table, "seen_on", "string", declared_type=["string", "null"], format="date")
    srv.add_field(db, table, "amount", "string", declared_type="string", format="decimal")
    srv.add_field(db, table, "flag", "boolean", declared_type="Checkbox")
    srv.add_field(db, table, "visits", "integer", declared_type="bigInteger")
    srv.add_field(db, table, "spot", "json", declared_type="GeoPoint")
    for i in range(1, ROWS + 1):
        changes = {
            "last_seen": {"__type": "Date", "iso": f"2024-03-{1 + i % 28:02d}T10:{i % 60:02d}:00.123Z"},
            "owner": {"__type": "Pointer", "className": "_User", "objectId": f"u{i:05d}"},
            "settings_text": json.dumps({"theme": "dark" if i % 2 else "light", "n": i}),
            "seen_on": None if i % 5 == 0 else f"2024-02-{1 + i % 28:02d}",
            "amount": f"{i}.{i % 100:02d}",
            "flag": i % 3 == 0,
            "visits": 2 ** 40 + i,
            "spot": {"__type": "GeoPoint", "latitude": i / 10, "longitude": -i / 10},
        }
        if i == 7:
            changes["last_seen"] = "2024-05-01T00:00:00Z"  # a plain ISO string passes a value rule as it is
        if i == 11:
            changes["last_seen"] = {"__type": "Date"}  # no 'iso' inside: kept in last_seen__v_text
            changes["settings_text"] = "{not json"  # not JSON text: kept in settings_text__v_text
        srv.update(db, table, i, changes, raw=True)
    return srv


def config_for(server, processes):
    config = reference_config(server.base_url, performance={"processes": processes, "concurrency": 4})
    config["resources"][0]["endpoint"]["paginator"]["limit"] = 50
    # by API type (as a Parse config says {Date: {type: timestamp, value: iso}} too; here the
    # reference server's own "date" fields would match that name, type names being case-blind)
    config["types"] = {"Pointer": {"type": "text", "value": "objectId"}}
    # by field: of every table, and of one table
    config["fields"] = {"last_seen": {"type": "timestamp", "value": "iso"},
                        "customers.settings_text": {"parse_json": True}}
    return config


def expected(record):
    """What the destination should hold for the wrapped fields of one source record."""
    last_seen = record["last_seen"]
    iso = last_seen.get("iso") if isinstance(last_seen, dict) else last_seen
    try:
        settings = json.loads(record["settings_text"])
    except ValueError:
        settings = None
    return {
        "last_seen": None if iso is None else datetime.fromisoformat(iso.replace("Z", "+00:00")),
        "last_seen__v_text": json.dumps(last_seen, separators=(",", ":")) if iso is None else None,
        "owner": record["owner"]["objectId"],
        "settings_text": settings,
        "settings_text__v_text": record["settings_text"] if settings is None else None,
        "seen_on": None if record["seen_on"] is None else date.fromisoformat(record["seen_on"]),
        "amount": Decimal(record["amount"]),
        "flag": record["flag"],
        "visits": record["visits"],
        "spot": record["spot"],
    }


@pytest.mark.parametrize("processes", [0, 2], ids=["in-thread", "worker-processes"])
def test_wrapped_values_and_other_servers_type_names_land_typed(server, workspace, monkeypatch, processes):
    calls = count_worker_pages(monkeypatch, 100)
    result = workspace.sync(config_for(server, processes), tables=["customers"])
    assert result.ok
    assert (len(calls) > 0) == (processes > 0), calls

    columns = workspace.columns("acme__customers")
    assert columns["last_seen"][0] == "TIMESTAMP WITH TIME ZONE"
    assert columns["last_seen__v_text"][0] == "VARCHAR"
    assert columns["owner"][0] == "VARCHAR"
    assert columns["settings_text"][0] == "JSON"
    assert columns["settings_text__v_text"][0] == "VARCHAR"
    assert columns["seen_on"] == ("DATE", True)
    assert columns["amount"][0] == "DECIMAL(38,9)"
    assert columns["flag"][0] == "BOOLEAN"
    assert columns["visits"][0] == "BIGINT"
    assert columns["spot"][0] == "JSON"

    # the other fields, by key and values, as the server's schema declares them
    source = {r["id"]: r for r in server.records("acme", "customers")}
    unchecked = {("acme", "customers", k): WRAPPED for k in source}
    assert assert_destination_equals_source(workspace, server, tables=["customers"], unchecked=unchecked) == ROWS
    # the wrapped fields, by key and values, against the server's own records
    rows = {r["id"]: r for r in workspace.rows("acme__customers")}
    assert rows.keys() == source.keys()
    for key, record in source.items():
        row = dict(rows[key])
        for name in ("settings_text", "spot"):
            row[name] = None if row[name] is None else json.loads(row[name])
        for name, value in expected(record).items():
            assert row[name] == value, f"id={key} field {name}: destination {row[name]!r} != expected {value!r}"
