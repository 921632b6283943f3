"""``dbsync status``: per table, rows in the destination, the cursor, and when it last synced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from dbsync.errors import ConfigError
from dbsync.source.source import SOURCE_NAME


@dataclass
class TableStatus:
    resource: str
    table: str
    rows: Optional[int]
    cursor: Any
    last_change: Optional[str]  # when new data last moved this table's cursor
    last_key_scan: Optional[str] = None  # when a complete scan for deletes last listed the keys
    # the table's last run: ok, failed, drift, healed, not run; gone (no longer in the source)
    outcome: Optional[str] = None
    proof: Optional[str] = None  # verified, healed, drift, partial, unverified (dbsync.reconcile)
    detail: Optional[str] = None  # what the last run compared, found or failed on
    outcome_at: Optional[str] = None


@dataclass
class PipelineStatus:
    pipeline_name: str
    dataset_name: str
    destination: str
    last_run: Optional[str]
    last_run_ok: Optional[bool]
    tables: List[TableStatus]
    last_run_status: Optional[str] = None  # ok, failed (a table failed), drift (a table differs)


def sync_status(pipeline_name: str, *, pipelines_dir: Optional[str] = None,
                destination: Optional[str] = None) -> PipelineStatus:
    """Read the pipeline's local state and count rows in the destination (the one the last run
    used, unless ``destination`` says otherwise)."""
    import dlt
    from dlt.common.exceptions import DltException

    from dbsync.run.destination import default_pipelines_dir, destination_label, make_destination
    from dbsync.run.run_info import load_run_info
    from dbsync.run.sync import quiet_dlt_defaults

    quiet_dlt_defaults()
    pdir = pipelines_dir or default_pipelines_dir()
    info = load_run_info(pdir, pipeline_name)
    target = destination or info.get("destination")
    try:
        kwargs = {"destination": make_destination(target, pipeline_name)} if target else {}
        if info.get("dataset"):
            kwargs["dataset_name"] = info["dataset"]
        pipeline = dlt.attach(pipeline_name=pipeline_name, pipelines_dir=pdir, **kwargs)
    except DltException:
        raise ConfigError(f"no pipeline named '{pipeline_name}' has run here yet",
                          hint="run `dbsync run` first, or pass --pipeline-name / --pipelines-dir") from None
    # state lives under the source's name: "dbsync", or "<pipeline>__<database>" for a partition
    source_name = pipeline.default_schema_name or SOURCE_NAME
    resources: Dict[str, Any] = pipeline.state.get("sources", {}).get(source_name, {}).get("resources", {})
    schema = pipeline.default_schema if pipeline.default_schema_name else None
    tables: List[TableStatus] = []
    outcomes: Dict[str, Any] = info.get("tables") or {}
    counts = _row_counts(pipeline, schema)
    resource_tables = _resource_tables(schema)
    for resource_name in sorted(set(resources) | set(resource_tables)):
        state = resources.get(resource_name, {})
        table = resource_tables.get(resource_name, resource_name)
        scan = (state.get("key_scan") or {}).get("at")
        outcome = outcomes.get(resource_name) or {}
        tables.append(TableStatus(resource_name, table, counts.get(table), state.get("cursor"),
                                  state.get("last_change"), _utc(scan) if scan else None,
                                  outcome=_outcome(outcome), proof=outcome.get("check"),
                                  detail=outcome.get("detail"), outcome_at=outcome.get("at")))
    trace = pipeline.last_trace
    last_run = None
    last_ok = None
    if trace is not None:
        last_run = trace.started_at.strftime("%Y-%m-%d %H:%M:%S UTC") if trace.started_at else None
        last_ok = all(step.step_exception is None for step in trace.steps)
    run = info.get("run") or {}
    if run.get("status"):  # dbsync's own outcome: a table that failed or differs is not ok
        last_run = run.get("at") or last_run
        last_ok = run["status"] == "ok"
    destination = destination_label(pipeline.destination) if pipeline.destination else "?"  # a file: its absolute path
    return PipelineStatus(pipeline_name, pipeline.dataset_name, destination, last_run, last_ok, tables,
                          last_run_status=run.get("status"))


def _outcome(saved: Dict[str, Any]) -> Optional[str]:
    """The last run's outcome of a table, with a key scan that came out incomplete said too."""
    status = saved.get("status")
    if status and saved.get("scan") == "incomplete":
        return f"{status} (scan incomplete)"
    return status


def _resource_tables(schema: Any) -> Dict[str, str]:
    if schema is None:
        return {}
    out: Dict[str, str] = {}
    for name, table in schema.tables.items():
        if name.startswith("_dlt"):
            continue
        resource = table.get("resource")
        side = name.endswith(("__keys", "__deleted"))  # a resource's side tables: keys listed, tombstones
        if resource and (not side or resource not in out):  # the main table wins over its side tables
            out[resource] = name
    return out


def _utc(epoch: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(epoch)))


def _row_counts(pipeline: Any, schema: Any) -> Dict[str, int]:
    if schema is None:
        return {}
    counts: Dict[str, int] = {}
    try:
        with pipeline.sql_client() as client:
            for name in _resource_tables(schema).values():
                try:
                    rows = client.execute_sql(f"SELECT COUNT(*) FROM {client.make_qualified_table_name(name)}")
                    counts[name] = int(rows[0][0])
                except Exception:
                    continue
    except Exception:
        return counts
    return counts
