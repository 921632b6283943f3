"""Ids in paths, names in the warehouse: an API that addresses databases and tables by opaque ids
(the reference server with ``opaque_ids``, as NocoDB, Airtable or Baserow do) is requested by
ids, while destination tables, ``-d``/``-t``, ``discover`` and the summary use the names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
import requests
import yaml

from dbsync.errors import ConfigError
from dbsync.server import ServerSettings
from dbsync.server.api import opaque_id
from support import assert_destination_equals_source, reference_config

DATABASES = ("acme", "globex")
TABLES = ("orders", "customers", "products")


def ids_config(base_url, resource_name="records"):
    """The reference config for an API of opaque ids: {database}/{table} are the ids, the
    database's name is at ``name``, the table's id at ``id`` (next to its name)."""
    config = reference_config(base_url)
    config["resources"][0]["name"] = resource_name
    config["tables"]["discover"]["table_id"] = "id"
    return config


@pytest.fixture
def server(server_factory, monkeypatch):
    srv = server_factory(ServerSettings(seed=7, databases=2, tables_per_database=3, rows_per_table=30,
                                        opaque_ids=True))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", srv.api_key)
    return srv


def record_requests(server):
    out = []
    for r in server.requests():
        if r.path == "/v1/resource":
            q = parse_qs(r.query)
            out.append((q["database"][0], q["table"][0]))
    return out


def test_destination_tables_are_named_by_names_and_requests_use_ids(server, workspace):
    api_databases = requests.get(f"{server.base_url}/v1/databases", params={"api_key": server.api_key},
                                 timeout=30).json()["data"]
    assert [d["name"] for d in api_databases] == list(DATABASES)  # the server really is one of ids
    assert all(d["id"] != d["name"] for d in api_databases)

    result = workspace.sync(ids_config(server.base_url))
    assert result.ok, result.report.failed
    assert sorted(workspace.tables()) == sorted(f"{db}__{t}" for db in DATABASES for t in TABLES)
    assert assert_destination_equals_source(workspace, server) == 2 * 3 * 30
    # every record request addressed the database and the table by their ids, never by name
    wanted = {(opaque_id("database", db), opaque_id("table", db, t)) for db in DATABASES for t in TABLES}
    assert set(record_requests(server)) == wanted
    # the summary shows names, with the ids where they differ
    rep = result.report.tables["acme__customers"]
    assert rep.source == f"acme.customers ({opaque_id('database', 'acme')}.{opaque_id('table', 'acme', 'customers')})"
    # discovery typed the columns (the schema was read through the ids)
    assert workspace.columns("acme__orders")["unit_price"][0].startswith("DECIMAL")


def test_an_explicit_template_chooses_ids_or_names(server, workspace):
    result = workspace.sync(ids_config(server.base_url, "{database}__{table}"), databases=["acme"], tables=["orders"])
    assert result.ok
    ids = f"{opaque_id('database', 'acme')}__{opaque_id('table', 'acme', 'orders')}"
    assert workspace.tables() == [ids]
    assert assert_destination_equals_source(workspace, server, ["acme"], ["orders"], table_name=lambda d, t: ids) == 30
    result = workspace.sync(ids_config(server.base_url, "crm_{database_name}_{table_name}"),
                            databases=["acme"], tables=["orders"])
    assert result.ok
    assert assert_destination_equals_source(workspace, server, ["acme"], ["orders"],
                                            table_name=lambda d, t: f"crm_{d}_{t}") == 30


def test_selection_by_name_or_by_id(server, workspace):
    config = ids_config(server.base_url)
    result = workspace.sync(config, databases=["acme"], tables=["customers"])  # -d acme -t customers
    assert result.ok
    assert workspace.tables() == ["acme__customers"]
    assert record_requests(server) and set(record_requests(server)) == {
        (opaque_id("database", "acme"), opaque_id("table", "acme", "customers"))}

    server.clear_requests()
    result = workspace.sync(config, databases=[opaque_id("database", "globex")],
                            tables=[opaque_id("table", "globex", "products")])
    assert result.ok
    assert sorted(workspace.tables()) == ["acme__customers", "globex__products"]
    assert assert_destination_equals_source(workspace, server, ["globex"], ["products"]) == 30

    # include/exclude take names too
    config["tables"]["exclude"] = ["orders"]
    config["databases"]["include"] = ["glob*"]
    result = workspace.sync(config)
    assert result.ok
    assert sorted(result.report.tables) == ["globex__customers", "globex__products"]
    assert assert_destination_equals_source(workspace, server, ["globex"], ["customers", "products"]) == 60


def test_two_tables_whose_names_collide_after_normalization_are_an_error(server, workspace):
    server.create_table("acme", "Customers", "customers", 5)  # another table, same name but for case
    with pytest.raises(ConfigError, match=r"acme.customers \(\w+\) and acme.Customers \(\w+\) would both "
                                          r"load into table 'acme__customers'"):
        workspace.sync(ids_config(server.base_url), databases=["acme"])
    assert not workspace.duckdb.exists()  # nothing merged, nothing loaded


def test_a_fields_endpoint_addressed_by_the_global_table_id_alone(server, workspace):
    config = ids_config(server.base_url)
    config["tables"]["discover"]["fields_selector"] = "not_in_the_table_list"
    config["tables"]["discover"]["fields_endpoint"] = {"path": "/v1/tables/{table}/fields", "data_selector": "fields"}
    result = workspace.sync(config, tables=["orders"])
    assert result.ok
    fields_paths = sorted(r.path for r in server.requests() if r.path.endswith("/fields"))
    assert fields_paths == sorted(f"/v1/tables/{opaque_id('table', db, 'orders')}/fields" for db in DATABASES)
    assert workspace.columns("globex__orders")["unit_price"][0].startswith("DECIMAL")  # typed from those fields
    assert assert_destination_equals_source(workspace, server, tables=["orders"]) == 2 * 30
    rows = workspace.rows("acme__orders")
    assert isinstance(rows[0]["unit_price"], Decimal)


def dbsync(*args, cwd):
    env = dict(os.environ, RUNTIME__DLTHUB_TELEMETRY="false")
    return subprocess.run([sys.executable, "-m", "dbsync", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=240)


def test_discover_shows_names_and_ids(server, tmp_path):
    (tmp_path / "dbsync.yaml").write_text(yaml.safe_dump(ids_config(server.base_url)))
    out = dbsync("discover", "--json", "-d", "acme", "-t", "customers", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    [db] = doc["databases"]
    assert (db["id"], db["name"]) == (opaque_id("database", "acme"), "acme")
    assert [(t["id"], t["name"]) for t in db["tables"]] == [(opaque_id("table", "acme", "customers"), "customers")]

    out = dbsync("discover", "-d", "globex", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert f"database {opaque_id('database', 'globex')} (globex)" in out.stdout
    assert f"orders ({opaque_id('table', 'globex', 'orders')})" in out.stdout

    out = dbsync("discover", "-d", "acme", "-t", "nosuch", cwd=tmp_path)
    assert out.returncode != 0
    assert f"customers ({opaque_id('table', 'acme', 'customers')})" in out.stderr + out.stdout
