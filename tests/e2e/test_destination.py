"""The destination through the CLI, as users run it: the default DuckDB file (any pipeline and
dataset name, the current folder), and a destination that lost tables (deleted file, another
folder, a dropped table) while the cursors stayed in the pipelines folder: those tables are
synced in full, never skipped with exit 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import duckdb
import pytest
import yaml

from dbsync.server.settings import ServerSettings
from support import assert_same_rows, field_types, reference_config


@pytest.fixture
def server(server_factory):
    return server_factory(ServerSettings(databases=2, tables_per_database=2, rows_per_table=150))


def write_project(folder: Path, server, name: str, dataset: Optional[str]) -> Path:
    """A folder as a user has it: dbsync.yaml with `pipeline: {name, dataset}`, no destination."""
    folder.mkdir(parents=True, exist_ok=True)
    pipeline = {"name": name, **({"dataset": dataset} if dataset else {})}
    (folder / "dbsync.yaml").write_text(yaml.safe_dump(reference_config(server.base_url, pipeline=pipeline)))
    return folder


def dbsync(*args: str, cwd: Path, server, pipelines: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, RUNTIME__DLTHUB_TELEMETRY="false", SOURCES__DBSYNC__API_KEY=server.api_key)
    return subprocess.run([sys.executable, "-m", "dbsync", *args, "--pipelines-dir", str(pipelines)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


def run(cwd: Path, server, pipelines: Path, *args: str) -> subprocess.CompletedProcess:
    proc = dbsync("run", "--no-progress", *args, cwd=cwd, server=server, pipelines=pipelines)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def source_tables(server) -> List[tuple]:
    return [(db["id"], t["name"]) for db in server.databases() for t in server.schema(db["id"])["tables"]]


def assert_destination_equals_source(path: Path, dataset: str, server) -> None:
    """Every table of every database, by key and every value."""
    with duckdb.connect(str(path), read_only=True) as con:
        for db, table in source_tables(server):
            rel = con.sql(f'SELECT * FROM "{dataset}"."{db}__{table}"')
            rows = [dict(zip(rel.columns, r)) for r in rel.fetchall()]
            assert_same_rows(rows, server.records(db, table), field_types(server.schema(db), table))


def rows_loaded(proc: subprocess.CompletedProcess) -> int:
    line = next(line for line in proc.stdout.splitlines() if "rows upserted" in line)
    return int(line.split(" tables, ")[1].split(" rows")[0].replace(",", ""))


# item 6's tests: a pipeline whose dataset is named otherwise, so that they show the lost rows
# (not item 1's clash) on code without the fix
NAME, DATASET = "sync_app", "app_data"
DEFAULT_FILE = f"{NAME}-warehouse.duckdb"


@pytest.mark.parametrize("name, dataset", [
    ("my_api", "my_api"),         # the README's own pattern: name == dataset
    ("Sales", "sales"),           # DuckDB compares catalog names without case
    ("warehouse", "warehouse"),
    ("shop", "shop_staging"),     # dlt's staging dataset of "shop" is "shop_staging"
    ("plain", None),              # the default dataset, <name>_data
])
def test_default_destination_works_for_any_pipeline_and_dataset_name(tmp_path, server, name, dataset):
    project = write_project(tmp_path / "project", server, name, dataset)
    pipelines = tmp_path / "pipelines"
    first = run(project, server, pipelines)
    expected_file = project / f"{name}-warehouse.duckdb"
    assert f"destination duckdb:{expected_file}," in first.stdout  # absolute, in the current folder
    assert rows_loaded(first) == sum(len(server.records(db, t)) for db, t in source_tables(server))
    assert_destination_equals_source(expected_file, dataset or f"{name.lower()}_data", server)
    second = run(project, server, pipelines)
    assert rows_loaded(second) == 0
    assert sorted(p.name for p in project.glob("*.duckdb")) == [expected_file.name]


def test_a_file_named_like_its_dataset_is_a_one_line_config_error(tmp_path, server):
    project = write_project(tmp_path / "project", server, "my_api", "my_api")
    proc = dbsync("run", "--no-progress", "--destination", "out/My_Api.duckdb", cwd=project, server=server,
                  pipelines=tmp_path / "pipelines")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "named like the dataset 'my_api'" in lines[0] and "Traceback" not in proc.stderr
    assert not (project / "out").exists(), "nothing is created before the error"


def test_deleted_file_is_reloaded_in_full(tmp_path, server):
    project = write_project(tmp_path / "project", server, NAME, DATASET)
    pipelines = tmp_path / "pipelines"
    run(project, server, pipelines)
    (project / DEFAULT_FILE).unlink()
    again = run(project, server, pipelines)
    assert rows_loaded(again) == sum(len(server.records(db, t)) for db, t in source_tables(server))
    assert_destination_equals_source(project / DEFAULT_FILE, DATASET, server)


def test_run_from_another_folder_fills_the_new_default_file(tmp_path, server):
    """The default file follows the current folder (dlt alone would keep the first run's)."""
    project = write_project(tmp_path / "project", server, NAME, DATASET)
    pipelines = tmp_path / "pipelines"
    run(project, server, pipelines)
    other = tmp_path / "other"
    other.mkdir()
    moved = run(other, server, pipelines, "-c", str(project / "dbsync.yaml"))
    assert f"destination duckdb:{other / DEFAULT_FILE}," in moved.stdout
    assert rows_loaded(moved) == sum(len(server.records(db, t)) for db, t in source_tables(server))
    assert_destination_equals_source(other / DEFAULT_FILE, DATASET, server)


def test_a_dropped_table_is_synced_in_full_and_the_rest_stays_incremental(tmp_path, server):
    project = write_project(tmp_path / "project", server, NAME, DATASET)
    pipelines = tmp_path / "pipelines"
    run(project, server, pipelines)
    db, table = source_tables(server)[0]
    with duckdb.connect(str(project / DEFAULT_FILE)) as con:
        con.execute(f'DROP TABLE {DATASET}."{db}__{table}"')
    again = run(project, server, pipelines)
    assert rows_loaded(again) == len(server.records(db, table))
    assert "not in the destination" in again.stderr and f"{db}__{table}" in again.stderr
    assert_destination_equals_source(project / DEFAULT_FILE, DATASET, server)
    assert rows_loaded(run(project, server, pipelines)) == 0  # and then nothing to do again


def test_partitions_refill_a_deleted_shared_file(tmp_path, server):
    """The first partition recreates the dataset; the others must still see that their tables
    are missing (dlt's own check looks only at the dataset)."""
    project = write_project(tmp_path / "project", server, NAME, DATASET)
    pipelines = tmp_path / "pipelines"
    run(project, server, pipelines, "--partitioned", "--destination", "shared.duckdb")
    (project / "shared.duckdb").unlink()
    again = run(project, server, pipelines, "--partitioned", "--destination", "shared.duckdb")
    assert rows_loaded(again) == sum(len(server.records(db, t)) for db, t in source_tables(server))
    assert_destination_equals_source(project / "shared.duckdb", DATASET, server)


def test_partitions_share_one_default_file(tmp_path, server):
    project = write_project(tmp_path / "project", server, NAME, DATASET)
    run(project, server, tmp_path / "pipelines", "--partitioned")
    assert [p.name for p in project.glob("*.duckdb")] == [DEFAULT_FILE]
    assert_destination_equals_source(project / DEFAULT_FILE, DATASET, server)


def test_summary_and_status_print_the_destination_file_as_an_absolute_path(tmp_path, server):
    project = write_project(tmp_path / "project", server, NAME, DATASET)
    pipelines = tmp_path / "pipelines"
    absolute = project / "data" / "w.duckdb"
    proc = run(project, server, pipelines, "--destination", "data/w.duckdb")
    assert f"destination duckdb:{absolute}," in proc.stdout
    status = dbsync("status", "--json", "--pipeline-name", NAME, cwd=tmp_path, server=server, pipelines=pipelines)  # another folder
    assert status.returncode == 0, status.stderr
    doc: Dict = json.loads(status.stdout)
    assert doc["destination"] == f"duckdb:{absolute}"
    assert all(t["rows"] == 150 for t in doc["tables"]) and len(doc["tables"]) == 4
    human = dbsync("status", "-c", str(project / "dbsync.yaml"), cwd=tmp_path, server=server, pipelines=pipelines)
    assert human.returncode == 0, human.stderr
    assert str(absolute) in human.stdout.replace("\n", "")
