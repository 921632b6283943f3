"""Partitioned runs into one PostgreSQL dataset: workers in parallel (separate processes, as on
separate machines), each database with its own pipeline state, the result equal to one run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from dbsync.run.partition import Shard, list_partitions, partition_name, run_partitioned
from dbsync.server import ServerSettings
from dbsync.status import sync_status
from support import assert_destination_equals_source, assert_same_rows, field_types, is_count_request, reference_config

pytestmark = pytest.mark.postgres


@pytest.fixture
def server(server_factory, monkeypatch):
    srv = server_factory(ServerSettings(seed=5, databases=6, tables_per_database=2, rows_per_table=200))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", srv.api_key)
    return srv


def cli(*args, cwd, timeout=240):
    env = dict(os.environ, RUNTIME__DLTHUB_TELEMETRY="false")
    return subprocess.Popen([sys.executable, "-m", "dbsync", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_shards_in_parallel_equal_one_run_and_keep_their_own_state(server, pg, tmp_path, workspace):
    config = reference_config(server.base_url)
    (tmp_path / "dbsync.yaml").write_text(yaml.safe_dump(config))
    databases = [d["id"] for d in server.databases()]
    shards = [[db for db in databases if Shard(k, 3).owns(db)] for k in (1, 2, 3)]
    assert sorted(sum(shards, [])) == sorted(databases)
    # three workers at once into one fresh dataset, each with its own local state folder
    procs = [cli("run", "--no-progress", "--shard", f"{k}/3", "--destination", "postgres", "--dataset", pg.dataset,
                 "--pipelines-dir", str(tmp_path / f"worker{k}"), cwd=tmp_path) for k in (1, 2, 3)]
    outputs = [p.communicate(timeout=240) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-2000:] + out[-2000:]
    # the same data synced by one plain run into DuckDB: table for table, row for row
    assert workspace.sync(config).ok
    assert sorted(pg.tables()) == sorted(workspace.tables())
    for db in databases:
        schema = server.schema(db)
        for table in schema["tables"]:
            dest = f"{db}__{table['name']}"
            assert_same_rows(pg.rows(dest), server.records(db, table["name"]), field_types(schema, table["name"]))
            assert pg.count(dest) == len(workspace.rows(dest))
    assert assert_destination_equals_source(workspace, server) == 6 * 2 * 200
    # one state row and one schema per partition: nobody restored anybody else's
    pipelines = {r[0] for r in pg.query(f'SELECT pipeline_name FROM "{pg.dataset}"._dlt_pipeline_state')}
    assert pipelines == {partition_name("dbsync_reference", db) for db in databases}
    schemas = {r[0] for r in pg.query(f'SELECT schema_name FROM "{pg.dataset}"._dlt_version')}
    assert schemas == pipelines
    for db in databases:
        tables = pg.query(f'SELECT schema FROM "{pg.dataset}"._dlt_version WHERE schema_name = %s',
                          (partition_name("dbsync_reference", db),))
        assert all(f"{db}__" in str(r) and not any(f'"{o}__orders"' in str(r) for o in databases if o != db)
                   for r in tables)


def test_incremental_per_partition_and_state_restored_by_a_fresh_worker(server, pg, tmp_path, monkeypatch):
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", pg.server.dsn)
    config = reference_config(server.base_url)
    pdir = str(tmp_path / "pipelines")
    first = run_partitioned(config, destination="postgres", dataset=pg.dataset, pipelines_dir=pdir,
                            databases=["acme", "globex", "initech"])
    assert first.ok and [p.database for p in first.partitions] == ["acme", "globex", "initech"]
    assert first.combined().report.rows == 3 * 2 * 200
    assert_destination_equals_source(pg, server, ["acme", "globex", "initech"])
    status = sync_status(partition_name("dbsync_reference", "globex"), pipelines_dir=pdir)
    assert {t.resource for t in status.tables} == {"globex__orders", "globex__customers"}
    assert all(t.cursor and t.rows == 200 for t in status.tables)
    server.update("globex", "orders", 4, {"quantity": 31337})
    server.delete("acme", "customers", 9)
    # a new worker (empty local folder): state comes back from the destination, per partition
    shutil.rmtree(pdir)
    server.clear_requests()
    second = run_partitioned(config, destination="postgres", dataset=pg.dataset, pipelines_dir=pdir,
                             databases=["acme", "globex", "initech"])
    assert second.ok
    by_db = {p.database: p.result.report for p in second.partitions}
    assert (by_db["globex"].rows, by_db["acme"].deleted, by_db["initech"].rows) == (1, 1, 0)
    assert all(t.mode == "incremental" for r in by_db.values() for t in r.tables.values())
    resource_requests = [r for r in server.requests() if r.path == "/v1/resource"]
    assert len([r for r in resource_requests if not is_count_request(r)]) == 6, \
        "one request per table: nothing fetched again"
    assert len([r for r in resource_requests if is_count_request(r)]) == 6, "and one for its count"
    assert all(t.check.status == "verified" for r in by_db.values() for t in r.tables.values())
    assert {r["id"]: r["quantity"] for r in pg.rows("globex__orders")}[4] == 31337
    assert 9 not in {r["id"] for r in pg.rows("acme__customers")}
    assert_destination_equals_source(pg, server, ["acme", "globex", "initech"])
    # the partitions not selected were never written
    assert not [t for t in pg.tables() if not t.startswith(("acme__", "globex__", "initech__"))]


def test_partitions_of_a_shard_and_selection(server):
    config = reference_config(server.base_url)
    everything = list_partitions(config)
    assert everything == [d["id"] for d in server.databases()]
    assert list_partitions(config, databases=["acme", "g*"]) == ["acme", "globex"]
    union = sorted(sum((list_partitions(config, shard=Shard(k, 4)) for k in range(1, 5)), []))
    assert union == sorted(everything)


def test_bad_shard_on_the_command_line(tmp_path, server):
    (tmp_path / "dbsync.yaml").write_text(yaml.safe_dump(reference_config(server.base_url)))
    out, err = (proc := cli("run", "--shard", "9/8", "--destination", "postgres", cwd=tmp_path)).communicate(timeout=60)
    assert proc.returncode == 2
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "--shard '9/8'" in lines[0], err
