"""Syncs into a real PostgreSQL server (private, started by the ``postgres_server`` fixture):
types, nullability, values, merge, deletes and incremental runs behave as they do in DuckDB."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone
from decimal import Decimal

import pytest
import yaml

from dbsync.server import ServerSettings
from postgres_plugin import pg_value
from support import assert_destination_equals_source, assert_same_rows, field_types, is_count_request, reference_config

pytestmark = pytest.mark.postgres

PG_TYPES = {
    "integer": "bigint",
    "string": "character varying",
    "number": "double precision",
    "boolean": "boolean",
    "date": "date",
    "datetime": "timestamp with time zone",
    "json": "json",  # parquet via ADBC: PostgreSQL's COPY BINARY path cannot write jsonb
    "array": "json",
}


@pytest.fixture
def server(server_factory, monkeypatch):
    # all five table kinds (orders, customers, products, events, tickets) in two tenants
    srv = server_factory(ServerSettings(seed=11, databases=2, tables_per_database=5, rows_per_table=400))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", srv.api_key)
    return srv


def sync_pg(workspace, pg, config, **kwargs):
    return workspace.sync(config, destination="postgres", dataset=pg.dataset, **kwargs)


def test_every_table_lands_typed_nullable_and_equal(server, workspace, pg):
    result = sync_pg(workspace, pg, reference_config(server.base_url))
    assert result.ok, [t.error for t in result.failed]
    assert result.destination.startswith("postgres")
    expected = []
    for db in ("acme", "globex"):
        schema = server.schema(db)
        for table in schema["tables"]:
            dest = f"{db}__{table['name']}"
            expected.append(dest)
            columns = pg.columns(dest)
            for f in table["fields"]:
                dtype, nullable = columns[f["name"]]
                if f["type"] == "decimal":
                    assert dtype == f"numeric({f['precision']},{f['scale']})", (dest, f["name"], dtype)
                else:
                    assert dtype == PG_TYPES[f["type"]], (dest, f["name"], dtype)
                assert nullable == f["nullable"], (dest, f["name"], "nullable", nullable)
            assert_same_rows(pg.rows(dest), server.records(db, table["name"]), field_types(schema, table["name"]))
    assert sorted(pg.tables()) == sorted(expected)
    assert len(expected) == 10


def test_postgres_holds_exactly_what_duckdb_holds(server, workspace, pg):
    config = reference_config(server.base_url)
    assert sync_pg(workspace, pg, config).ok
    assert workspace.sync(config, pipeline_name="duck").ok
    assert sorted(pg.tables()) == sorted(workspace.tables())
    assert assert_destination_equals_source(pg, server) == assert_destination_equals_source(workspace, server) == 4000
    for table in workspace.tables():
        duck_rows = workspace.rows(table)
        pg_rows = pg.rows(table)
        assert set(pg_rows[0]) == set(duck_rows[0]), table
        skip = {"_dlt_load_id", "_dlt_id", "_dbsync_synced_at"}
        for d, p in zip(duck_rows, pg_rows, strict=True):
            for name, value in d.items():
                if name in skip:
                    continue
                assert _same(pg_value(p[name]), pg_value(value)), (table, d["id"], name, p[name], value)


def _same(a, b):
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a.astimezone(timezone.utc) == b.astimezone(timezone.utc)
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return Decimal(str(a)) == Decimal(str(b))
    return a == b


def test_big_values_empty_strings_and_nulls_are_kept_apart(server, workspace, pg):
    assert sync_pg(workspace, pg, reference_config(server.base_url), databases=["acme"],
                   tables=["orders", "customers"]).ok
    orders = {r["id"]: r for r in pg.rows("acme__orders")}
    assert orders[2]["big_counter"] == 2**63 - 1 and orders[3]["big_counter"] == -(2**63)
    customers = pg.rows("acme__customers")
    phones = [r["phone"] for r in customers]
    assert "" in phones and None in phones, "CSV loading must not turn empty strings into NULL"
    source = {r["id"]: r["phone"] for r in server.records("acme", "customers")}
    assert {r["id"]: r["phone"] for r in customers} == source
    assert_destination_equals_source(pg, server, ["acme"], ["orders", "customers"])


def test_without_adbc_driver_insert_statements_keep_types_and_empty_strings(server, workspace, pg, monkeypatch):
    # dlt's own pick for Arrow items without ADBC, CSV COPY with FORCE_NULL, would make "" NULL
    monkeypatch.setenv("DISABLE_ADBC_DETECTION", "true")
    result = sync_pg(workspace, pg, reference_config(server.base_url), databases=["acme"], tables=["customers", "orders"])
    assert result.ok
    assert pg.columns("acme__orders")["shipping"] == ("jsonb", True), "INSERT path: JSON as jsonb"
    for table in ("customers", "orders"):
        assert_same_rows(pg.rows(f"acme__{table}"), server.records("acme", table),
                         field_types(server.schema("acme"), table))
    assert "" in [r["phone"] for r in pg.rows("acme__customers")]


def test_incremental_merge_and_deletes(server, workspace, pg):
    config = reference_config(server.base_url)
    assert sync_pg(workspace, pg, config, tables=["orders"]).ok
    loads = pg.count("_dlt_loads")
    server.clear_requests()
    quiet = sync_pg(workspace, pg, config, tables=["orders"])
    assert quiet.ok and quiet.report.rows == 0
    requests = [r for r in server.requests() if r.path == "/v1/resource"]
    assert len([r for r in requests if not is_count_request(r)]) == 2, "one request per table"
    assert len([r for r in requests if is_count_request(r)]) == 2, "and one for its count (the proof of sync)"
    assert all(t.check.status == "verified" for t in quiet.report.tables.values())
    assert pg.count("_dlt_loads") == loads, "no changes: no load"
    assert_destination_equals_source(pg, server, tables=["orders"])
    server.update("acme", "orders", 10, {"quantity": 4242})
    server.delete("acme", "orders", 11)
    server.update("globex", "orders", 1, {"email": None})
    changed = sync_pg(workspace, pg, config, tables=["orders"])
    assert changed.ok and changed.report.rows == 2 and changed.report.deleted == 1
    for db in ("acme", "globex"):
        assert_same_rows(pg.rows(f"{db}__orders"), server.records(db, "orders"),
                         field_types(server.schema(db), "orders"))
    assert pg.query(f'SELECT COUNT(*), COUNT(DISTINCT id) FROM "{pg.dataset}"."acme__orders"')[0] == (399, 399)


def test_deletes_marked_and_union_layout(server, workspace, pg):
    config = reference_config(server.base_url, layout="union", deletes={"field": "deleted", "mode": "mark"})
    assert sync_pg(workspace, pg, config, tables=["orders"]).ok
    server.delete("globex", "orders", 3)
    server.update("acme", "orders", 3, {"quantity": 77})
    assert sync_pg(workspace, pg, config, tables=["orders"]).ok
    assert pg.tables() == ["orders", "orders__deleted"]
    assert pg.columns("orders")["_dbsync_database"] == ("character varying", False)
    rows = {(r["_dbsync_database"], r["id"]): r for r in pg.rows("orders", order_by="_dbsync_database, id")}
    assert len(rows) == 800
    assert rows[("globex", 3)]["deleted"] is True and rows[("acme", 3)]["deleted"] is not True
    assert rows[("acme", 3)]["quantity"] == 77
    assert sum(1 for r in rows.values() if r["deleted"]) == 1
    assert_destination_equals_source(pg, server, tables=["orders"], layout="union", deletes="mark")


def test_full_refresh_reloads(server, workspace, pg):
    config = reference_config(server.base_url)
    assert sync_pg(workspace, pg, config, tables=["products"]).ok
    result = sync_pg(workspace, pg, config, tables=["products"], full_refresh=True)
    assert all(t.mode == "full" for t in result.report.tables.values())
    assert pg.count("acme__products") == 400
    assert_destination_equals_source(pg, server, tables=["products"])


def test_cli_run_and_status_never_print_the_password(server, pg, tmp_path, postgres_server):
    (tmp_path / "dbsync.yaml").write_text(yaml.safe_dump(reference_config(server.base_url)))
    env = dict(os.environ, RUNTIME__DLTHUB_TELEMETRY="false")
    common = ["--pipelines-dir", str(tmp_path / "pipelines"), "--pipeline-name", "cli_pg"]
    run = subprocess.run([sys.executable, "-m", "dbsync", "run", "--no-progress", "--destination", "postgres",
                          "--dataset", pg.dataset, "-t", "orders", "--debug", *common],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
    status = subprocess.run([sys.executable, "-m", "dbsync", "status", *common], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr[-2000:]
    assert "acme__orders" in status.stdout and "400" in status.stdout
    for text in (run.stdout, run.stderr, status.stdout, status.stderr):
        assert postgres_server.password not in text
    assert pg.count("acme__orders") == 400
    assert_destination_equals_source(pg, server, tables=["orders"])


def test_the_destination_password_is_scrubbed_like_the_api_key(server, workspace, pg, postgres_server):
    from dbsync.http.redaction import redact, registered_secrets

    assert sync_pg(workspace, pg, reference_config(server.base_url), databases=["acme"], tables=["orders"]).ok
    assert_destination_equals_source(pg, server, ["acme"], ["orders"])
    assert postgres_server.password in registered_secrets()
    assert postgres_server.password not in redact(f"could not connect: {postgres_server.dsn}")
