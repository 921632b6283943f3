"""Run a sync end to end: lock the pipeline, discover, extract/normalize/load with dlt, prove
that the destination equals the source (dbsync.reconcile), report.

This is the library entry point behind ``dbsync run`` and ``dbsync demo``: it returns a
:class:`SyncResult` (per-table rows, deletes, requests, retries, errors, proof) instead of
printing, and raises ``DbsyncError`` subclasses with one-line messages.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from dbsync.config.model import SyncConfig
from dbsync.config.parse import parse_config
from dbsync.discovery.cache import DiscoveryCache
from dbsync.dlt_defaults import apply_dlt_defaults
from dbsync.errors import DbsyncError, DriftError
from dbsync.http.client import RequestStats
from dbsync.reconcile.gone import find_gone, handle_gone
from dbsync.reconcile.prove import prove
from dbsync.reconcile.shape import rebuild
from dbsync.run.after_load import after_load
from dbsync.run.destination import (default_pipelines_dir, destination_label, loader_file_format,
                                    make_pipeline)
from dbsync.run.lock import pipeline_lock
from dbsync.run.recovery import repair_pipeline
from dbsync.run.run_info import (drifted_last_run, load_run_info, run_outcome, save_run_info, table_outcomes,
                                 untrusted_counts)
from dbsync.run.stored_tables import StoredTables, tables_to_reload
from dbsync.runtime import tuned_runtime
from dbsync.source.report import RunReport, TableReport
from dbsync.source.source import ProgressCallback, dbsync_source

logger = logging.getLogger("dbsync.run")


def with_source_name(source: Any, name: str) -> Any:
    """The dlt source under another name (schema and state section: a partition's pipelines
    share one dataset, see :mod:`dbsync.run.partition`); the config section stays ``dbsync``, so
    secrets are found as before. Keeps the dbsync session attached."""
    if source.name == name:
        return source
    session = getattr(source, "dbsync_session", None)
    renamed = source.clone(with_name=name)
    renamed.dbsync_session = session
    return renamed


def quiet_dlt_defaults() -> None:
    """dlt settings that suit a CLI tool: no telemetry (no network), no per-run noise, two load
    workers; users' own settings win (see :mod:`dbsync.dlt_defaults`)."""
    apply_dlt_defaults()


@dataclass
class SyncResult:
    report: RunReport
    stats: RequestStats
    pipeline_name: str
    dataset_name: str
    destination: str
    seconds: float
    load_ids: List[str]

    @property
    def failed(self) -> List[TableReport]:
        return self.report.failed

    @property
    def ok(self) -> bool:
        return not self.report.failed and not self.report.drifted

    def exit_code(self) -> int:
        failed = self.report.failed
        if failed and failed[0].error is not None:
            return failed[0].error.exit_code
        return DriftError.exit_code if self.report.drifted else 0


def run_sync(
    config: Union[SyncConfig, Mapping[str, Any]],
    *,
    destination: Optional[str] = None,
    dataset: Optional[str] = None,
    pipeline_name: Optional[str] = None,
    pipelines_dir: Optional[str] = None,
    databases: Optional[Sequence[str]] = None,
    tables: Optional[Sequence[str]] = None,
    full_refresh: bool = False,
    progress: Optional[ProgressCallback] = None,
    source_name: Optional[str] = None,
    catalog: Optional[Any] = None,
    repair: Optional[Sequence[str]] = None,
) -> SyncResult:
    """Sync the selected databases and tables into the destination and report what happened.

    Tables that fail (after retries) are reported in the result and do not stop the others;
    their cursor does not move, so the next run fetches their rows again.

    ``source_name`` names the dlt source, i.e. its schema and its state section: pipelines that
    share one dataset need distinct ones (see :mod:`dbsync.run.partition`). ``catalog`` skips
    discovery (a caller that already discovered the databases passes its part).
    ``repair``: resources to read in full with their keys compared (``dbsync verify
    --repair``); tables the last run left different from the source are repaired anyway.
    """
    quiet_dlt_defaults()
    cfg = config if isinstance(config, SyncConfig) else parse_config(config)
    name = pipeline_name or cfg.pipeline.name
    pdir = pipelines_dir or default_pipelines_dir()
    started = time.time()
    with pipeline_lock(pdir, name), tuned_runtime(destination or cfg.pipeline.destination):
        pipeline = make_pipeline(cfg, destination=destination, dataset=dataset, pipeline_name=name,
                                 pipelines_dir=pdir)
        previous = load_run_info(pdir, name)
        save_run_info(pdir, name, pipeline.destination, pipeline.dataset_name)
        repair_pipeline(pipeline)
        source = dbsync_source(cfg, databases=databases, tables=tables, progress=progress, catalog=catalog,
                               discovery_cache=None if catalog is not None else
                               DiscoveryCache.for_pipeline(cfg, pdir, name, reuse=not full_refresh),
                               repair=None if full_refresh else drifted_last_run(previous) | set(repair or ()))
        session = source.dbsync_session
        session.untrusted_counts = set() if full_refresh else untrusted_counts(previous, cfg.verify.count)
        if not full_refresh:
            session.rebuilt = set(rebuild(pipeline, session, source_name or source.name))
            stored = StoredTables(pipeline, session.jobs, source_name or source.name)
            session.fresh_resources |= tables_to_reload(pipeline, session.jobs, source_name or source.name,
                                                        previous.get("fingerprint"), stored=stored)
            _read_new_fields_in_full(pipeline, session, source_name or source.name)
            _plan_first_loads(pipeline, session, source_name or source.name, previous.get("fingerprint"), stored)
        if source_name:
            source = with_source_name(source, source_name)
        try:
            info = _run(pipeline, source, full_refresh=full_refresh)
            after_load(pipeline, session)
            prove(pipeline, session, stage_runner(pipeline, session, source_name, progress))
            session.report.gone = find_gone(cfg, session.catalog, session.jobs, previous.get("tables") or {},
                                            databases, tables)
            handle_gone(pipeline, cfg, session.report.gone)
            save_run_info(pdir, name, pipeline.destination, pipeline.dataset_name, loaded=True,
                          tables=table_outcomes(session.report, cfg.verify.count), run=run_outcome(session.report))
        finally:
            session.close()
    return SyncResult(
        report=session.report,
        stats=session.client.stats,
        pipeline_name=name,
        dataset_name=pipeline.dataset_name,
        destination=destination_label(pipeline.destination) if pipeline.destination else str(destination),
        seconds=time.time() - started,
        load_ids=list(getattr(info, "loads_ids", []) or []),
    )


def _read_new_fields_in_full(pipeline: Any, session: Any, source_name: str) -> None:
    """Tables whose API schema declares fields their destination table lacks are read in full
    once: the rows loaded before get the new fields' values (dbsync.reconcile.columns)."""
    from dbsync.reconcile.columns import new_declared_fields, stored_columns

    session.columns_before = stored_columns(pipeline, source_name, session.jobs)
    for resource, fields in new_declared_fields(pipeline, source_name, session.jobs, session.columns_before).items():
        if resource in session.fresh_resources:
            continue
        session.fresh_resources.add(resource)
        report = session.report.tables[resource]
        message = (f"{report.source}: new field(s) {', '.join(fields)} in the API's schema: read in full once, so the "
                   "rows loaded before get their values")
        logger.warning("%s", message)
        report.warnings.append(message)


def stage_runner(pipeline: Any, session: Any, source_name: Optional[str],
                  progress: Optional[ProgressCallback]) -> Any:
    """How the proof of sync reads tables again in this run: a source over those tables alone,
    run through the same pipeline and after-load steps."""

    def rerun(resources: List[str], full: bool) -> Any:
        from dbsync.source.source import heal_source

        logger.info("reading %d table(s) again (%s): %s", len(resources), "in full" if full else "catch-up",
                    ", ".join(resources))
        stage_source = heal_source(session, resources, full=full, progress=progress)
        stage = stage_source.dbsync_session
        if source_name:
            stage_source = with_source_name(stage_source, source_name)
        try:
            _run(pipeline, stage_source, full_refresh=False)
            after_load(pipeline, stage)
        finally:
            stage.close()
        return stage

    return rerun


def prove_sync(pipeline: Any, session: Any) -> Dict[str, Any]:
    """The proof of sync (:mod:`dbsync.reconcile`) for a dbsync source run in your own dlt
    pipeline: call after ``after_load``. Tables that differ from the source are read again
    through ``pipeline``; returns resource name -> its check (``status``: verified, healed,
    drift, partial, unverified; ``describe()`` says what was compared and found)."""
    session = getattr(session, "dbsync_session", session)
    source_name = pipeline.default_schema_name if pipeline.default_schema_name != "dbsync" else None
    prove(pipeline, session, stage_runner(pipeline, session, source_name, None))
    return {name: table.check for name, table in session.report.tables.items()}


def _plan_first_loads(pipeline: Any, session: Any, source_name: str, fingerprint: Any,
                      stored: Optional["StoredTables"] = None) -> None:
    """Tables not in the destination yet are appended while no key comes twice (first_load)."""
    from dbsync.run.first_load import missing_tables, plan_first_loads

    missing = missing_tables(pipeline, session.jobs, source_name, fingerprint, stored=stored)
    session.first_loads = plan_first_loads(session.jobs, missing, session.config.deletes) if missing else {}


def _run(pipeline: Any, source: Any, *, full_refresh: bool) -> Any:
    from dlt.pipeline.exceptions import PipelineStepFailed

    kwargs: Dict[str, Any] = {"loader_file_format": loader_file_format(pipeline)}
    if full_refresh:
        kwargs["refresh"] = "drop_resources"
    from dbsync.run.ddl_race import run_retrying_ddl_races

    try:
        # parallel partitions creating the same tables at once: the loser loads again
        return run_retrying_ddl_races(pipeline, lambda: pipeline.run(source, **kwargs))
    except PipelineStepFailed as exc:
        cause = _find_dbsync_error(exc)
        if cause is not None:
            raise _without_chain(cause) from None
        from dbsync.run.load_errors import destination_error

        raise destination_error(exc.step, exc.exception) from None


def _find_dbsync_error(exc: BaseException) -> Optional[DbsyncError]:
    seen = set()
    node: Optional[BaseException] = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if isinstance(node, DbsyncError):
            return node
        inner = getattr(node, "exception", None)
        node = inner if isinstance(inner, BaseException) else (node.__cause__ or node.__context__)
    return None


def _without_chain(error: DbsyncError) -> DbsyncError:
    error.__cause__ = None
    error.__context__ = None
    error.__traceback__ = None
    return error
