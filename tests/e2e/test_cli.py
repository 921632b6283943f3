"""The ``dbsync`` command line, run as users run it (a subprocess): help, exit codes, one-line
errors, and every command end to end against the reference server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import duckdb
import pytest
import yaml

from dbsync import errors
from dbsync.demo import _make_changes
from dbsync.server import ReferenceServer, ServerSettings
from support import INFERRED_ORDERS, assert_destination_equals_source, original_config, reference_config

COMMANDS = ["run", "check", "discover", "status", "verify", "serve", "demo"]


def dbsync(*args, env=None, cwd=None, timeout=240, python_args=()):
    full_env = dict(os.environ, RUNTIME__DLTHUB_TELEMETRY="false")
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    return subprocess.run([sys.executable, *python_args, "-m", "dbsync", *args], env=full_env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command):
    proc = dbsync(command, "--help")
    assert proc.returncode == 0
    assert "Example" in proc.stdout and f"dbsync {command}" in proc.stdout


def test_top_level_help_lists_the_commands():
    proc = dbsync("--help")
    assert proc.returncode == 0
    for command in COMMANDS:
        assert command in proc.stdout


@pytest.fixture
def project(tmp_path, reference_server):
    """A folder as a user would have it: dbsync.yaml here, the key in .dlt/secrets.toml."""
    (tmp_path / "dbsync.yaml").write_text(yaml.safe_dump(reference_config(reference_server.base_url)))
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "secrets.toml").write_text(f'[sources.dbsync]\napi_key = "{reference_server.api_key}"\n')
    return tmp_path


def test_run_discover_check_status_in_a_project_folder(project, reference_server):
    env = {"SOURCES__DBSYNC__API_KEY": None}  # the key comes from .dlt/secrets.toml
    common = ["--pipelines-dir", str(project / "pipelines")]
    run = dbsync("run", "--no-progress", *common, "--destination", "warehouse.duckdb", "-d", "acme,globex",
                 "-t", "orders", cwd=project, env=env)
    assert run.returncode == 0, run.stderr
    assert "acme__orders" in run.stdout and "globex__orders" in run.stdout and "rows upserted" in run.stdout
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT COUNT(*) FROM reference.acme__orders").fetchone()[0] == len(
            reference_server.records("acme", "orders"))
    assert_destination_equals_source(project / "warehouse.duckdb", reference_server, ["acme", "globex"], ["orders"],
                                     dataset="reference")

    status = dbsync("status", "--json", *common, cwd=project, env=env)
    assert status.returncode == 0, status.stderr
    doc = json.loads(status.stdout)
    tables = {t["resource"]: t for t in doc["tables"]}
    assert tables["acme__orders"]["rows"] == len(reference_server.records("acme", "orders"))
    assert tables["acme__orders"]["cursor"]

    discover = dbsync("discover", "--json", "-d", "acme", cwd=project, env=env)
    assert discover.returncode == 0, discover.stderr
    catalog = json.loads(discover.stdout)
    orders = next(t for t in catalog["databases"][0]["tables"] if t["name"] == "orders")
    price = next(f for f in orders["fields"] if f["name"] == "unit_price")
    assert price["dlt_type"] == "decimal" and price["nullable"] is False

    human = dbsync("discover", "-d", "acme", cwd=project, env=env)
    assert human.returncode == 0 and "unit_price" in human.stdout and "decimal" in human.stdout

    check = dbsync("check", cwd=project, env=env)
    assert check.returncode == 0, check.stderr
    assert "3 of 3 databases readable" in check.stdout


def test_check_reports_a_missing_grant_with_its_exit_code(project):
    env = {"SOURCES__DBSYNC__API_KEY": "dbsync-limited-key"}
    config = yaml.safe_load((project / "dbsync.yaml").read_text())
    config["databases"] = {"list": ["acme", "globex"]}
    (project / "dbsync.yaml").write_text(yaml.safe_dump(config))
    proc = dbsync("check", cwd=project, env=env)
    assert proc.returncode == errors.PermissionDeniedError.exit_code
    assert "1 of 2 databases readable" in proc.stdout


@pytest.mark.parametrize(
    "setup, args, code, words",
    [
        ("no-config", ["run"], errors.ConfigError.exit_code, ["no config file", "dbsync.yaml"]),
        ("bad-yaml", ["run"], errors.ConfigError.exit_code, ["invalid YAML", "line"]),
        ("typo-key", ["run"], errors.ConfigError.exit_code, ["resourcs", "did you mean 'resources'"]),
        ("key-in-file", ["run"], errors.ConfigError.exit_code, ["client.auth.api_key", "SOURCES__DBSYNC__API_KEY"]),
        ("no-secret", ["run"], errors.ConfigError.exit_code, ["no api key", "SOURCES__DBSYNC__API_KEY"]),
        ("wrong-key", ["run"], errors.AuthError.exit_code, ["401", "API key"]),
        ("bad-paginator", ["check"], errors.ConfigError.exit_code, ["paginator", "offst"]),
        ("unknown-table", ["run", "-t", "nope"], errors.NotFoundError.exit_code, ["nope", "dbsync discover"]),
    ],
)
def test_bad_input_gets_one_line_and_an_exit_code(tmp_path, reference_server, setup, args, code, words):
    config = reference_config(reference_server.base_url)
    env = {"SOURCES__DBSYNC__API_KEY": reference_server.api_key}
    if setup == "bad-yaml":
        (tmp_path / "dbsync.yaml").write_text("client:\n  base_url: [unclosed\n")
    elif setup != "no-config":
        if setup == "typo-key":
            config["resourcs"] = config.pop("resources")
        elif setup == "key-in-file":
            config["client"]["auth"]["api_key"] = "written-in-the-file"
        elif setup == "no-secret":
            env = {"SOURCES__DBSYNC__API_KEY": None, "API_KEY": None}
        elif setup == "wrong-key":
            env = {"SOURCES__DBSYNC__API_KEY": "wrong-key"}
        elif setup == "bad-paginator":
            config["resources"][0]["endpoint"]["paginator"]["type"] = "offst"
        (tmp_path / "dbsync.yaml").write_text(yaml.safe_dump(config))
    extra = ["--no-progress", "--pipelines-dir", str(tmp_path / "p")] if args[0] == "run" else []
    proc = dbsync(*args, *extra, cwd=tmp_path, env=env)
    assert proc.returncode == code, proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if line.startswith("dbsync: error")]
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word.lower() in lines[0].lower(), lines[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "p").exists() or setup in ("wrong-key", "unknown-table")


def test_original_config_file_runs_unchanged(tmp_path, reference_server):
    config = original_config(reference_server.base_url)
    (tmp_path / "original.yaml").write_text(yaml.safe_dump(config))
    proc = dbsync("run", "--no-progress", "-c", "original.yaml", "--pipelines-dir", str(tmp_path / "p"),
                  "--destination", "out.duckdb", cwd=tmp_path, env={"SOURCES__DBSYNC__API_KEY": reference_server.api_key})
    assert proc.returncode == 0, proc.stderr
    with duckdb.connect(str(tmp_path / "out.duckdb"), read_only=True) as con:
        count = con.execute("SELECT COUNT(*) FROM dbsync_data.database_resource").fetchone()[0]
    assert count == len(reference_server.records("acme", "orders"))
    assert_destination_equals_source(tmp_path / "out.duckdb", reference_server, ["acme"], ["orders"],
                                     dataset="dbsync_data", table_name=lambda db, t: "database_resource",
                                     types=INFERRED_ORDERS)


def test_demo_runs_end_to_end(tmp_path):
    proc = dbsync("demo", "--dir", str(tmp_path / "demo"), "--rows", "400", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Run 1: full sync" in proc.stdout and "Run 2: incremental sync" in proc.stdout
    assert "3,600 rows upserted" in proc.stdout  # 3 databases x 3 tables x 400 rows
    assert "3 rows upserted, 1 deleted" in proc.stdout
    with duckdb.connect(str(tmp_path / "demo" / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT COUNT(*) FROM demo.acme__orders").fetchone()[0] == 401
    # the demo's server is gone with it: the same seeded data with the same changes is its twin,
    # value for value but the changed rows' updated_at (the server's clock at the change)
    with ReferenceServer(ServerSettings(seed=42, databases=3, tables_per_database=3, rows_per_table=400)) as twin:
        _make_changes(twin)
        changed = {("acme", "orders", 1), ("acme", "orders", 401), ("globex", "orders", 2)}
        assert assert_destination_equals_source(tmp_path / "demo" / "warehouse.duckdb", twin, dataset="demo",
                                                unchecked={k: ["updated_at"] for k in changed}) == 3 * 3 * 400
    # the command the demo suggests works as printed, from where the demo ran
    suggested = proc.stdout.split("Try:")[1].strip().splitlines()[0].strip()
    shown = subprocess.run(suggested, shell=True, cwd=tmp_path, capture_output=True, text=True)
    assert shown.returncode == 0 and "customer_name" in shown.stdout, (suggested, shown.stderr)


def test_two_runs_at_once_refuse_cleanly(project):
    from dbsync.run.lock import pipeline_lock

    with pipeline_lock(str(project / "pipelines"), "dbsync_reference"):
        proc = dbsync("run", "--no-progress", "--pipelines-dir", str(project / "pipelines"), cwd=project,
                      env={"SOURCES__DBSYNC__API_KEY": None})
    assert proc.returncode == errors.PipelineBusyError.exit_code
    assert "already running" in proc.stderr
