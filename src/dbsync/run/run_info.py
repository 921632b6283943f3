"""What dbsync keeps beside dlt's pipeline state: the last run's destination (dlt does not keep a
DuckDB file's path), the file's fingerprint, and each table's last outcome (``dbsync status``,
and the next run: tables left different from the source, counts not to be trusted)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Set

from dbsync.run.destination import duckdb_fingerprint, duckdb_path
from dbsync.source.report import RunReport

logger = logging.getLogger("dbsync.run")


def run_info_path(pipelines_dir: str, pipeline_name: str) -> Path:
    """Where dbsync notes the destination of a pipeline's last run (for ``dbsync status``);
    dlt's own state does not keep a DuckDB file's path."""
    return Path(pipelines_dir) / f".{pipeline_name}.dbsync.json"


def save_run_info(pipelines_dir: str, pipeline_name: str, destination: Any, dataset: str,
                  loaded: bool = False, tables: Optional[Mapping[str, Any]] = None,
                  run: Optional[Mapping[str, Any]] = None) -> None:
    """``loaded``: the run finished loading, so the DuckDB file's fingerprint is noted too.
    ``tables``: each table's outcome (:func:`table_outcomes`), merged over the last run's (a
    run of some tables keeps the others' outcomes)."""
    path = None if isinstance(destination, str) else duckdb_path(destination)
    name = destination if isinstance(destination, str) else getattr(destination, "destination_name", None)
    info: Dict[str, Any] = {"destination": str(Path(path).resolve()) if path else name, "dataset": dataset}
    previous = load_run_info(pipelines_dir, pipeline_name)
    outcomes = dict(previous.get("tables") or {})
    outcomes.update(tables or {})
    if outcomes:
        info["tables"] = outcomes
    if run is not None or previous.get("run"):
        info["run"] = run if run is not None else previous["run"]
    if loaded and path:
        info["fingerprint"] = duckdb_fingerprint(path)
    run_info_path(pipelines_dir, pipeline_name).write_text(json.dumps(info))


def load_run_info(pipelines_dir: str, pipeline_name: str) -> Dict[str, Any]:
    path = run_info_path(pipelines_dir, pipeline_name)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def count_source_key(count_request: Any) -> str:
    """What a distrust of a table's count is tied to: the count the config asks for (a new
    ``verify.count`` is trusted again)."""
    return repr(count_request)


def table_outcomes(report: RunReport, count_request: Any = None) -> Dict[str, Dict[str, Any]]:
    """Each table's outcome, kept with the run info for ``dbsync status`` and the next run."""
    out: Dict[str, Dict[str, Any]] = {}
    for gone in report.gone:
        out[gone.resource_name] = {"status": "gone", "check": None, "detail": gone.describe(),
                                   "action": gone.action, "database": gone.database, "table": gone.table,
                                   "table_name": gone.table_name,
                                   "at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    for name, table in report.tables.items():
        check = table.check
        out[name] = {"status": table.status, "check": check.status if check is not None else None,
                     "database": table.database, "table": table.table, "table_name": table.table_name,
                     "detail": (table.error.one_line() if table.error is not None
                                else check.describe() if check is not None else None),
                     "source_rows": check.source_rows if check is not None else None,
                     "destination_rows": check.destination_rows if check is not None else None,
                     "scan": table.scan, "at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
        if table.count_untrusted:
            out[name]["count_untrusted"] = count_source_key(count_request)
    return out


def untrusted_counts(previous: Mapping[str, Any], count_request: Any) -> Set[str]:
    """Tables whose source count disagreed with a full read of the table (kept across runs,
    until the config asks for the count otherwise or a --full-refresh)."""
    tables = previous.get("tables") or {}
    key = count_source_key(count_request)
    return {name for name, outcome in tables.items()
            if isinstance(outcome, dict) and outcome.get("count_untrusted") == key}


def run_outcome(report: RunReport) -> Dict[str, Any]:
    """The run as a whole: ok only when no table failed or still differs from the source."""
    status = "failed" if report.failed else "drift" if report.drifted else "ok"
    return {"status": status, "at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "tables": sorted(report.tables)}


def drifted_last_run(previous: Mapping[str, Any]) -> Set[str]:
    """Tables the last run left different from the source: read in full now, keys compared."""
    tables = previous.get("tables") or {}
    drifted = {name for name, outcome in tables.items() if isinstance(outcome, dict) and outcome.get("check") == "drift"}
    if drifted:
        logger.warning("%d table(s) differed from the source after the last run: reading them in full: %s",
                       len(drifted), ", ".join(sorted(drifted)))
    return drifted
