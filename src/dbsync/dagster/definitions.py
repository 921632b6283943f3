"""Dagster definitions from a dbsync config: table assets partitioned by database.

``build_definitions("dbsync.yaml", destination="postgres")`` returns a ``Definitions`` with

* one ``@dlt_assets`` multi-asset (dagster-dlt): one asset per API table name, partitioned by
  database; a run of partition ``acme`` syncs acme's tables as its own dbsync partition
  (own pipeline state), so Dagster can run any number of partitions at once, on any executor;
* a job ``<prefix>_sync`` over those assets with an op retry policy (a failed partition is run
  again; its cursors did not move);
* partitions that are *static* (the config's database list, or the list endpoint asked once
  when the code location loads) or *dynamic* (a sensor ``<prefix>_discover_databases`` asks
  the list endpoint and adds new databases as partitions, requesting their first sync);
* optionally a schedule (cron) that requests every partition: incremental runs, since each
  partition's cursors live in its pipeline state in the destination.

Secrets are never arguments: the API key and destination credentials come from dlt's config
(environment variables such as ``SOURCES__DBSYNC__API_KEY`` and
``DESTINATION__POSTGRES__CREDENTIALS``, or ``.dlt/secrets.toml``) wherever the step runs.
"""

# (no "from __future__ import annotations": Dagster reads the context annotation at definition time)

from pathlib import Path
from typing import Any, List, Literal, Mapping, Optional, Sequence, Union

import dlt
from dagster import (
    AssetExecutionContext,
    AssetSelection,
    DefaultSensorStatus,
    Definitions,
    DynamicPartitionsDefinition,
    PartitionsDefinition,
    RetryPolicy,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    StaticPartitionsDefinition,
    define_asset_job,
    multiprocess_executor,
    schedule,
    sensor,
)
from dagster_dlt import DagsterDltResource, dlt_assets
from dlt.common.schema import Schema
from dlt.extract.source import DltSource

from dbsync.config.model import SyncConfig
from dbsync.dagster.materialize import SyncTarget, materialize_partition
from dbsync.dagster.translator import DbsyncTranslator
from dbsync.errors import ConfigError
from dbsync.run.partition import check_unique_partitions, list_partitions

ConfigLike = Union[str, Path, SyncConfig, Mapping[str, Any]]
DEFAULT_RETRY = RetryPolicy(max_retries=3, delay=10)


def load(config: ConfigLike) -> SyncConfig:
    from dbsync.config import load_config
    from dbsync.config.parse import parse_config

    if isinstance(config, SyncConfig):
        return config
    if isinstance(config, (str, Path)):
        return load_config(Path(config))
    return parse_config(config)


def table_names(config: SyncConfig, databases: Sequence[str]) -> List[str]:
    """The asset set: the config's table list when it has no discovery, else the tables the
    API describes for these databases (one schema request per database, when the code loads)."""
    from dbsync.discovery.discover import discover_catalog
    from dbsync.http.client import ApiClient

    tables = config.tables
    if tables is not None and tables.listed is not None and tables.discover is None:
        return sorted({t.name for t in tables.listed})
    if not databases:
        return []
    import glob

    client = ApiClient(config)
    try:
        catalog = discover_catalog(config, client, databases=[glob.escape(d) for d in databases])
    finally:
        client.close()
    return sorted({t.name for db in catalog.databases for t in db.tables})


def _template_source(name: str, tables: Sequence[str]) -> DltSource:
    """A stand-in dlt source with one empty resource per table name: dagster-dlt builds the
    asset specs from a source's resources; the real source is built per partition at run time."""
    resources = [dlt.resource([], name=t, table_name=t) for t in tables]
    return DltSource(Schema(name), "dbsync", resources)


def build_definitions(
    config: ConfigLike,
    *,
    destination: Optional[str] = None,
    dataset: Optional[str] = None,
    pipeline_name: Optional[str] = None,
    pipelines_dir: Optional[str] = None,
    partitions: Literal["static", "dynamic"] = "static",
    databases: Optional[Sequence[str]] = None,
    tables: Optional[Sequence[str]] = None,
    asset_prefix: Optional[str] = None,
    group_name: Optional[str] = "dbsync",
    retry_policy: Optional[RetryPolicy] = DEFAULT_RETRY,
    schedule_cron: Optional[str] = None,
    sensor_interval_seconds: int = 3600,
    max_concurrent: Optional[int] = None,
) -> Definitions:
    """Dagster definitions for syncing every database of a dbsync config, one partition each.

    ``databases`` fixes the static partitions (default: the config's list, or the list endpoint);
    ``tables`` fixes the asset set (default: from the config or discovery). ``max_concurrent``
    caps the multiprocess executor's parallel steps (default: the number of CPUs).
    """
    cfg = load(config)
    target = SyncTarget(cfg, destination=destination, dataset=dataset, pipeline_name=pipeline_name,
                        pipelines_dir=pipelines_dir)
    prefix = asset_prefix or target.base_name
    if cfg.databases is None:
        raise ConfigError("Dagster partitions are databases: the config needs a 'databases' section",
                          key="databases", source=cfg.source_name)
    partitions_def: PartitionsDefinition
    if partitions == "static":
        keys = list(databases) if databases is not None else list_partitions(cfg)
        check_unique_partitions(keys, target.base_name)
        partitions_def = StaticPartitionsDefinition(keys)
        sample = keys
    elif partitions == "dynamic":
        partitions_def = DynamicPartitionsDefinition(name=f"{prefix}_databases")
        sample = list(databases) if databases is not None else (list_partitions(cfg)[:1] if tables is None else [])
    else:
        raise ConfigError(f"partitions must be 'static' or 'dynamic', not '{partitions}'")
    names = sorted(set(tables)) if tables is not None else table_names(cfg, sample)
    if not names:
        raise ConfigError("no tables to make assets of", key="tables", source=cfg.source_name,
                          hint="pass tables=[...] to build_definitions or list them in the config")
    translator = DbsyncTranslator(prefix)
    template_pipeline = dlt.pipeline(pipeline_name=f"{target.base_name}__dagster_template",
                                     pipelines_dir=pipelines_dir, destination=None)

    @dlt_assets(dlt_source=_template_source(target.base_name, names), dlt_pipeline=template_pipeline,
                name=f"{prefix}_tables", group_name=group_name, dagster_dlt_translator=translator,
                partitions_def=partitions_def)
    def dbsync_tables(context: AssetExecutionContext, dlt: DagsterDltResource) -> Any:
        yield from materialize_partition(context, dlt, target, prefix)

    job = define_asset_job(f"{prefix}_sync", selection=AssetSelection.assets(dbsync_tables),
                           partitions_def=partitions_def, op_retry_policy=retry_policy)
    schedules = []
    if schedule_cron:
        @schedule(name=f"{prefix}_incremental", job=job, cron_schedule=schedule_cron)
        def incremental(context: Any) -> List[RunRequest]:
            keys = partitions_def.get_partition_keys(dynamic_partitions_store=context.instance)
            tick = context.scheduled_execution_time.isoformat()  # one run per partition and tick
            return [RunRequest(partition_key=key, run_key=f"{key}@{tick}") for key in keys]

        schedules.append(incremental)
    sensors = []
    if isinstance(partitions_def, DynamicPartitionsDefinition):
        sensors.append(discovery_sensor(cfg, target, partitions_def, job, prefix, sensor_interval_seconds))
    executor = multiprocess_executor.configured({"max_concurrent": max_concurrent or 0})
    return Definitions(assets=[dbsync_tables], jobs=[job], schedules=schedules, sensors=sensors,
                       resources={"dlt": DagsterDltResource()}, executor=executor)


def discovery_sensor(cfg: SyncConfig, target: SyncTarget, partitions_def: DynamicPartitionsDefinition, job: Any,
                     prefix: str, interval: int) -> Any:
    """Adds databases the API lists (after include/exclude) as partitions and requests a first
    sync of each new one. Databases that disappear keep their partition (and their data)."""

    @sensor(name=f"{prefix}_discover_databases", job=job, minimum_interval_seconds=interval,
            default_status=DefaultSensorStatus.RUNNING)
    def discover_databases(context: SensorEvaluationContext) -> SensorResult:
        found = list_partitions(cfg)
        check_unique_partitions(found, target.base_name)
        known = set(partitions_def.get_partition_keys(dynamic_partitions_store=context.instance))
        new = [db for db in found if db not in known]
        return SensorResult(
            run_requests=[RunRequest(partition_key=db) for db in new],
            dynamic_partitions_requests=[partitions_def.build_add_request(new)] if new else [],
        )

    return discover_databases
