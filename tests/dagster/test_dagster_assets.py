"""dbsync on Dagster for real: definitions built from a config, partitions discovered by the
sensor, every partition materialized at once with the multiprocess executor (each database's
step in its own process) into PostgreSQL; the result equals a single ``dbsync run``."""

from __future__ import annotations

import importlib.util
import textwrap
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import yaml
from dagster import AssetKey, DagsterInstance, build_sensor_context, execute_job
from dagster._core.definitions.reconstruct import ReconstructableJob

from dbsync.run.partition import partition_name
from dbsync.run.sync import run_sync
from dbsync.server import ServerSettings
from postgres_plugin import pg_value
from support import assert_destination_equals_source, is_count_request, reference_config

pytestmark = pytest.mark.postgres
PREFIX = "dbsync_reference"


@pytest.fixture
def server(server_factory, monkeypatch):
    srv = server_factory(ServerSettings(seed=3, databases=4, tables_per_database=2, rows_per_table=250))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", srv.api_key)
    return srv


@pytest.fixture
def code_location(server, pg, tmp_path, monkeypatch):
    """A Dagster code location as a user writes it: a module building definitions from dbsync.yaml."""
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", pg.server.dsn)
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    config = reference_config(server.base_url, retries={"attempts": 1})
    (tmp_path / "dbsync.yaml").write_text(yaml.safe_dump(config))
    module = tmp_path / "code_location.py"
    module.write_text(textwrap.dedent(f"""
        from dagster import RetryPolicy
        from dbsync.dagster import build_definitions

        defs = build_definitions({str(tmp_path / 'dbsync.yaml')!r}, destination="postgres", dataset={pg.dataset!r},
                                 pipelines_dir={str(tmp_path / 'pipelines')!r}, partitions="dynamic",
                                 retry_policy=RetryPolicy(max_retries=2, delay=0), schedule_cron="0 * * * *")

        def sync_job():
            return defs.resolve_job_def("{PREFIX}_sync")
    """))
    spec = importlib.util.spec_from_file_location("code_location", module)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    (tmp_path / "dagster_home").mkdir()
    instance = DagsterInstance.local_temp(str(tmp_path / "dagster_home"))
    yield loaded, module, instance, config
    instance.dispose()


def discover(defs, instance):
    """Evaluate the discovery sensor once and apply what it asks (as the daemon would)."""
    result = defs.resolve_sensor_def(f"{PREFIX}_discover_databases")(build_sensor_context(instance=instance))
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return [r.partition_key for r in result.run_requests]


def test_all_partitions_in_parallel_with_the_multiprocess_executor_equal_one_run(server, pg, code_location):
    loaded, module, instance, config = code_location
    databases = [d["id"] for d in server.databases()]
    assert discover(loaded.defs, instance) == databases
    assert discover(loaded.defs, instance) == [], "known databases are not requested again"
    job = ReconstructableJob.for_file(str(module), "sync_job")

    def materialize(database):
        with execute_job(job, instance=instance, tags={"dagster/partition": database}) as result:
            return database, result.success, result.run_id

    with ThreadPoolExecutor(max_workers=len(databases)) as pool:
        results = list(pool.map(materialize, databases))
    assert all(ok for _, ok, _ in results), results
    # each partition ran its step in its own process: the multiprocess executor
    step_pids = set()
    for _, _, run_id in results:
        starts = [e for e in instance.all_logs(run_id) if e.dagster_event and e.dagster_event.event_type_value == "STEP_START"]
        assert len(starts) == 1
        step_pids.add(starts[0].dagster_event.pid)
    assert len(step_pids) == len(databases)
    for table in ("orders", "customers"):
        assert instance.get_materialized_partitions(AssetKey([PREFIX, table])) == set(databases)
    # the same data, one plain dbsync run, into another dataset of the same server
    single = run_sync(config, destination="postgres", dataset=f"{pg.dataset}_single",
                      pipelines_dir=str(module.parent / "single"), pipeline_name="single")
    assert single.ok
    for db in databases:
        for table in ("orders", "customers"):
            name = f"{db}__{table}"
            got, want = pg.rows(name), _rows(pg, f"{pg.dataset}_single", name)
            assert len(got) == len(want) == 250
            assert _comparable(got) == _comparable(want), name
    # and both equal the source, by key and values
    assert assert_destination_equals_source(pg, server) == len(databases) * 2 * 250
    assert_destination_equals_source(pg, server, dataset=f"{pg.dataset}_single")
    states = {r[0] for r in pg.query(f'SELECT pipeline_name FROM "{pg.dataset}"._dlt_pipeline_state')}
    assert states == {partition_name(PREFIX, db) for db in databases}

    # the schedule asks for every partition: the next runs are incremental, one request per table
    schedule = loaded.defs.resolve_schedule_def(f"{PREFIX}_incremental")
    from dagster import build_schedule_context

    from datetime import datetime, timezone

    tick = build_schedule_context(instance=instance, scheduled_execution_time=datetime(2026, 1, 1, tzinfo=timezone.utc),
                                  repository_def=loaded.defs.get_repository_def())
    requests = schedule.evaluate_tick(tick).run_requests
    assert sorted(r.partition_key for r in requests) == sorted(databases)
    server.update("acme", "orders", 5, {"quantity": 9090})
    server.clear_requests()
    _, ok, run_id = materialize("acme")
    assert ok
    requests = [r for r in server.requests() if r.path == "/v1/resource"]
    assert len([r for r in requests if not is_count_request(r)]) == 2  # one page per table
    assert len([r for r in requests if is_count_request(r)]) == 2  # and its count (the proof of sync)
    assert {r["id"]: r["quantity"] for r in pg.rows("acme__orders")}[5] == 9090
    assert_destination_equals_source(pg, server, ["acme"])
    event = instance.get_latest_materialization_event(AssetKey([PREFIX, "orders"]))
    assert event.asset_materialization.partition == "acme"
    assert event.asset_materialization.metadata["dbsync_rows"].value == 1


def test_a_failed_partition_is_retried_by_dagster(server, pg, code_location):
    loaded, module, instance, _ = code_location
    discover(loaded.defs, instance)
    # config retries: 1 attempt, so these two 500s fail the first attempt's tables for real
    server.fail_next(2, kind="status", status=500, path_prefix="/v1/resource")
    result = loaded.sync_job().execute_in_process(instance=instance, partition_key="globex", raise_on_error=False)
    assert result.success
    events = result.all_events
    assert any(e.event_type_value == "STEP_UP_FOR_RETRY" for e in events), "the first attempt failed and was retried"
    assert pg.count("globex__orders") == 250 and pg.count("globex__customers") == 250
    assert_destination_equals_source(pg, server, ["globex"])
    assert sorted(pg.tables()) == ["globex__customers", "globex__orders"], "only the materialized partition"


def _rows(pg, dataset, table):
    con = pg.server.connect()
    try:
        with con.cursor() as cur:
            cur.execute(f'SELECT * FROM "{dataset}"."{table}" ORDER BY id')
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]
    finally:
        con.close()


def _comparable(rows):
    skip = {"_dlt_load_id", "_dlt_id", "_dbsync_synced_at"}
    out = []
    for row in rows:
        out.append({k: (str(Decimal(v).normalize()) if isinstance(v, Decimal) else pg_value(v))
                    for k, v in row.items() if k not in skip})
    return out


def test_static_partitions_and_table_assets_from_discovery(server):
    from dbsync.dagster import build_definitions

    defs = build_definitions(reference_config(server.base_url), destination="postgres", partitions="static")
    job = defs.resolve_job_def(f"{PREFIX}_sync")
    assert job.partitions_def.get_partition_keys() == [d["id"] for d in server.databases()]
    keys = {k for k in defs.resolve_all_asset_keys()}
    assert keys == {AssetKey([PREFIX, "orders"]), AssetKey([PREFIX, "customers"])}
    only = build_definitions(reference_config(server.base_url), partitions="static", databases=["acme"],
                             tables=["orders"], asset_prefix="x")
    assert only.resolve_job_def("x_sync").partitions_def.get_partition_keys() == ["acme"]
    assert set(only.resolve_all_asset_keys()) == {AssetKey(["x", "orders"])}
