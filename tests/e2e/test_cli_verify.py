"""`dbsync verify` as users run it: equal after a run, what differs when the destination was
changed by hand (counts, keys, sampled values), `--repair`, `--json`, and a clear line when
there is nothing to verify yet."""

from __future__ import annotations

import json

import duckdb
import pytest
import yaml

from dbsync.server import ServerSettings
from support import assert_destination_equals_source, reference_config
from test_cli import dbsync


@pytest.fixture
def project(tmp_path, server_factory):
    server = server_factory(ServerSettings(seed=3, databases=2, tables_per_database=2, rows_per_table=120))
    (tmp_path / "dbsync.yaml").write_text(yaml.safe_dump(reference_config(server.base_url)))
    return tmp_path, server


def cli(project, *args):
    folder, server = project
    return dbsync(*args, "--pipelines-dir", str(folder / "pipelines"), cwd=folder,
                  env={"SOURCES__DBSYNC__API_KEY": server.api_key})


def test_verify_after_a_run_then_after_changes_by_hand(project):
    folder, server = project
    assert cli(project, "run", "--no-progress").returncode == 0
    equal = cli(project, "verify", "--keys", "--sample", "10")
    assert equal.returncode == 0, equal.stdout + equal.stderr
    assert "4 tables: 4 equal" in equal.stdout
    with duckdb.connect(str(folder / "dbsync_reference-warehouse.duckdb")) as con:
        con.execute("DELETE FROM reference.acme__orders WHERE id = 7")
        con.execute("INSERT INTO reference.globex__customers SELECT * FROM reference.globex__customers WHERE id = 2")
        con.execute("UPDATE reference.globex__customers SET full_name = 'Changed' WHERE id = 3")
    differs = cli(project, "verify", "--keys", "--json")
    assert differs.returncode == 13, differs.stderr
    doc = json.loads(differs.stdout)
    tables = {t["table"]: t for t in doc["tables"]}
    assert doc["ok"] is False and doc["exit_code"] == 13
    orders = tables["acme__orders"]
    assert (orders["status"], orders["source_rows"], orders["destination_rows"], orders["missing_keys"]) == \
        ("differs", 120, 119, 1)
    assert orders["examples"] == {"missing": ["7"]}
    customers = tables["globex__customers"]
    assert customers["status"] == "differs" and customers["destination_rows"] == 121
    sampled = cli(project, "verify", "-t", "customers", "-d", "globex", "--sample", "120")
    assert sampled.returncode == 13
    assert "full_name: destination 'Changed'" in sampled.stdout, sampled.stdout
    repaired = cli(project, "verify", "--repair", "--keys")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "Repair" in repaired.stdout and "4 tables: 4 equal" in repaired.stdout
    assert assert_destination_equals_source(folder / "dbsync_reference-warehouse.duckdb", server,
                                            dataset="reference") == 4 * 120


def test_verify_before_any_run_is_one_clear_line(project):
    proc = cli(project, "verify")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "has loaded nothing" in lines[0] and "dbsync run" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
