"""Materialize one partition (one database) through dagster-dlt's ``DagsterDltResource.run``.

The database is synced exactly as ``dbsync run --partitioned`` syncs it: its own pipeline and
source name (:mod:`dbsync.run.partition`), dbsync's file format choice, ``deletes: mark`` applied
after the load. What dbsync adds on top of dagster-dlt:

* a table that failed (dbsync keeps the other tables going and reports it) fails the step
  *before* any materialization is reported, so Dagster's retry policy runs the partition again
  (its cursor did not move, so nothing is lost);
* a first load that lost a race with another partition creating the same tables is run again
  at once (see :mod:`dbsync.run.ddl_race`);
* tables unknown when the definitions were loaded are synced and logged, not reported;
* the proof of sync (:mod:`dbsync.reconcile`) runs after the load: a table that still differs
  from the source fails the step; each materialization says how its table was proven.
"""

from __future__ import annotations

import glob
import random
import time
from dataclasses import dataclass
from typing import Any, Iterator, List, Optional

from dagster import AssetExecutionContext, Failure, MaterializeResult, MetadataValue

from dbsync.config.model import SyncConfig
from dbsync.dagster.translator import DbsyncTranslator
from dbsync.run.ddl_race import ATTEMPTS, is_ddl_race
from dbsync.run.partition import partition_name
from dbsync.run.sync import with_source_name


@dataclass(frozen=True)
class SyncTarget:
    """Where the partitions go; everything but secrets (those come from dlt's config/env)."""

    config: SyncConfig
    destination: Optional[str] = None
    dataset: Optional[str] = None
    pipeline_name: Optional[str] = None
    pipelines_dir: Optional[str] = None

    @property
    def base_name(self) -> str:
        return self.pipeline_name or self.config.pipeline.name


def materialize_partition(context: AssetExecutionContext, dlt: Any, target: SyncTarget,
                          translator_prefix: str) -> Iterator[Any]:
    """Sync the context's partition (a database id) and yield one MaterializeResult per table."""
    from dlt.pipeline.exceptions import PipelineStepFailed

    from dbsync.run.destination import default_pipelines_dir, loader_file_format, make_pipeline
    from dbsync.run.after_load import after_load
    from dbsync.run.lock import pipeline_lock
    from dbsync.run.sync import quiet_dlt_defaults, stage_runner
    from dbsync.reconcile.prove import prove
    from dbsync.source.source import dbsync_source

    quiet_dlt_defaults()
    database = context.partition_key
    cfg = target.config
    name = partition_name(target.base_name, database)
    pdir = target.pipelines_dir or default_pipelines_dir()
    with pipeline_lock(pdir, name):
        for attempt in range(1, ATTEMPTS + 1):
            source = dbsync_source(cfg, databases=[glob.escape(database)])
            session = source.dbsync_session
            try:
                pipeline = make_pipeline(cfg, destination=target.destination, dataset=target.dataset,
                                         pipeline_name=name, pipelines_dir=pdir)
                translator = DbsyncTranslator(translator_prefix,
                                              {job.resource_name: job.table.name for job in session.jobs})
                try:
                    events: List[Any] = list(dlt.run(
                        context=context, dlt_source=with_source_name(source, name), dlt_pipeline=pipeline,
                        dagster_dlt_translator=translator, loader_file_format=loader_file_format(pipeline)))
                except PipelineStepFailed as exc:
                    if attempt == ATTEMPTS or exc.step != "load" or not is_ddl_race(exc):
                        raise
                    context.log.info(f"{database}: another partition created the same tables; loading again")
                    time.sleep(random.uniform(0.1, 0.5) * attempt)
                    continue
                after_load(pipeline, session)
                prove(pipeline, session, stage_runner(pipeline, session, name, None))
                break
            finally:
                session.close()
    failed = session.report.failed
    if failed:
        first = failed[0].error.one_line() if failed[0].error else failed[0].table
        raise Failure(description=f"{len(failed)} table(s) of database '{database}' failed: {first}",
                      metadata={"failed_tables": [t.table for t in failed]})
    drifted = session.report.drifted
    if drifted:
        first = f"{drifted[0].source}: {drifted[0].check.describe()}"
        raise Failure(description=f"{len(drifted)} table(s) of database '{database}' differ from the source "
                                  f"after the run: {first}", metadata={"drifted_tables": [t.table for t in drifted]})
    by_key = {translator.asset_key(job.table.name): session.report.tables[job.resource_name] for job in session.jobs}
    for event in events:
        report = by_key.get(event.asset_key)
        if event.asset_key not in context.selected_asset_keys or report is None:
            context.log.warning(f"{database}: {event.asset_key.to_user_string()} was synced but has no asset "
                                "(a table unknown when the definitions loaded); reload the code location")
            continue
        yield MaterializeResult(asset_key=event.asset_key, metadata={
            **(event.metadata or {}),
            "database": database,
            "dbsync_rows": MetadataValue.int(report.rows),
            "dbsync_deleted": MetadataValue.int(report.deleted),
            "dbsync_mode": report.mode,
            "dbsync_cursor": str(report.cursor_after if report.cursor_after is not None else report.cursor_before),
            "dbsync_proof": report.check.status if report.check is not None else "not checked",
        })
