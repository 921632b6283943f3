"""``dbsync run --json``: the run's result on stdout for orchestrators, the same exit codes, and
stdout that stays JSON when a table fails or the run cannot start."""

from __future__ import annotations

import json

import yaml

from dbsync.server import ServerSettings
from support import assert_destination_equals_source, reference_config
from test_cli import dbsync


def _project(tmp_path, server, **overrides):
    (tmp_path / "dbsync.yaml").write_text(yaml.safe_dump(reference_config(server.base_url, **overrides)))
    return ["--pipelines-dir", str(tmp_path / "pipelines"), "--destination", str(tmp_path / "w.duckdb")]


def test_run_json_reports_every_table_and_matches_the_destination(tmp_path, server_factory):
    server = server_factory(ServerSettings(seed=3, databases=2, tables_per_database=2, rows_per_table=120))
    common = _project(tmp_path, server)
    env = {"SOURCES__DBSYNC__API_KEY": server.api_key}
    proc = dbsync("run", "--json", *common, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # nothing but the JSON document on stdout
    assert doc["ok"] is True and doc["exit_code"] == 0
    assert doc["destination"] == f"duckdb:{tmp_path / 'w.duckdb'}"
    assert doc["requests"] >= len(doc["tables"]) and doc["retries"]["total"] == 0
    by_table = {(t["database"], t["table"]): t for t in doc["tables"]}
    source_rows = 0
    for db in (d["id"] for d in server.databases()):
        for table in server.schema(db)["tables"]:
            entry = by_table[(db, table["name"])]
            live = len(server.records(db, table["name"]))
            source_rows += live
            assert (entry["status"], entry["mode"], entry["rows"], entry["error"]) == ("ok", "full", live, None)
            assert entry["destination_table"] == f"{db}__{table['name']}" and entry["requests"] >= 1
    assert doc["rows"] == source_rows
    assert assert_destination_equals_source(tmp_path / "w.duckdb", server, dataset="reference") == source_rows

    # changes, then an incremental run: the JSON says what moved
    server.update("acme", "orders", 4, {"quantity": 777})
    server.delete("acme", "orders", 9)
    again = json.loads(dbsync("run", "--json", *common, cwd=tmp_path, env=env).stdout)
    orders = next(t for t in again["tables"] if (t["database"], t["table"]) == ("acme", "orders"))
    assert (orders["mode"], orders["rows"], orders["deleted"]) == ("incremental", 1, 1)
    assert orders["cursor_before"] is not None and orders["cursor_after"] >= orders["cursor_before"]
    assert assert_destination_equals_source(tmp_path / "w.duckdb", server, dataset="reference") == source_rows - 1


def test_run_json_when_a_table_fails_and_when_the_run_cannot_start(tmp_path, server_factory):
    server = server_factory(ServerSettings(seed=3, databases=2, tables_per_database=1, rows_per_table=50))
    common = _project(tmp_path, server)
    env = {"SOURCES__DBSYNC__API_KEY": server.api_key}
    server.fail_next(1, kind="status", status=400, path_prefix="/v1/resource")  # one table's first page
    proc = dbsync("run", "--json", *common, cwd=tmp_path, env=env)
    assert proc.returncode == 3, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ok"] is False and doc["exit_code"] == 3
    failed = [t for t in doc["tables"] if t["status"] == "failed"]
    synced = [t for t in doc["tables"] if t["status"] == "ok"]
    assert len(failed) == 1 and len(synced) == 1
    assert failed[0]["error"]["exit_code"] == 3 and failed[0]["error"]["table"] == failed[0]["table"]
    assert failed[0]["error"]["database"] == failed[0]["database"]
    assert assert_destination_equals_source(tmp_path / "w.duckdb", server, [synced[0]["database"]],
                                            dataset="reference") == 50

    bad = dbsync("run", "--json", *common, cwd=tmp_path, env={"SOURCES__DBSYNC__API_KEY": "wrong-key-123"})
    assert bad.returncode == 4
    doc = json.loads(bad.stdout)
    assert doc["ok"] is False and doc["exit_code"] == 4 and doc["error"]["type"] == "AuthError"
    assert "SOURCES__DBSYNC__API_KEY" in doc["error"]["message"] and "wrong-key-123" not in bad.stdout
    assert "dbsync: error:" in bad.stderr  # the one line, as without --json
