"""After each load: prove every table equals its source, heal what differs, say what is unproven.

The steps, per table that finished (:func:`prove`):

1. **Compare.** The source's count (a complete key listing's, else the total of the run's own
   unfiltered read, else the one-request probe's: :mod:`dbsync.reconcile.probe`) against the
   destination's live rows (:mod:`dbsync.reconcile.destination`); a key listing also names the
   keys the destination lacks. :func:`judge` turns that into a :class:`~.check.TableCheck`.
2. **Look again.** Counts taken while the source changed can differ without anything being
   wrong: a table that differs asks the source once more, after the load. If the destination
   equals the new count, or lies between two counts that moved, nothing is healed.
3. **Heal**, in this run (``verify.heal``, on by default): tables whose listed keys are missing
   are read again incrementally first (rows written while the run read the table); tables that
   still differ are read in full, their keys compared and rows the source no longer lists removed
   (not with ``deletes.mode: ignore``). Then they are compared again.
4. **Say so.** ``healed`` tables are ok; ``drift`` tables make the run exit 13 and are read in
   full by the next run.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Optional, Sequence

from dbsync.reconcile.check import (DRIFT, HEALED, PARTIAL, UNVERIFIED, VERIFIED, TableCheck, compare_counts,
                                    counts_apply)
from dbsync.reconcile.destination import live_counts
from dbsync.reconcile.probe import SourceCount

logger = logging.getLogger("dbsync.reconcile")

__all__ = ["prove", "judge"]

# a stage re-reads the given resources (full: unfiltered, keys compared) and returns its session
Rerun = Callable[[List[str], bool], Any]


def _source_count(session: Any, report: Any) -> Optional[SourceCount]:
    scan = session.scans.get(report.resource_name)
    if report.scan == "complete" and scan is not None and scan.kind == "listing":
        return SourceCount(report.scan_keys, "key listing", scan.started)
    return report.source_count


def _more_expected(session: Any, job: Any, report: Any) -> Optional[str]:
    """Why the destination may hold rows the source no longer lists, by the config's choice."""
    deletes = session.config.deletes
    if deletes.mode == "ignore":
        return "deletes.mode: ignore keeps rows deleted in the source"
    if report.scan == "not due":
        return "deletes are looked for only every deletes.every: rows deleted since stay until the next scan"
    return None


def judge(session: Any, job: Any, report: Any, destination: Optional[int],
          new_columns: Sequence[str] = ()) -> TableCheck:
    """The check of one finished table, from its report and its live rows in the destination.
    ``new_columns``: columns this run created in a table that had rows (dbsync.reconcile.columns)."""
    check = TableCheck(destination_rows=destination)
    if new_columns and report.mode in ("incremental", "initial"):
        check.status, check.kind = DRIFT, "columns"
        check.reason = (f"new column(s) {', '.join(new_columns)}: the rows loaded before have no value in them "
                        "(adding a column does not change a row's cursor)")
        return check
    not_counted = counts_apply(job)
    if not_counted:
        check.reason = not_counted
        return check
    source = _source_count(session, report)
    if report.scan_missing:
        check.missing_keys = report.scan_missing
        if source is None:
            check.status, check.kind = DRIFT, "keys"
            check.reason = f"{check.missing_keys:,} key(s) the source lists are missing from the destination"
            return check
    if source is None:
        check.reason = f"not proven: {report.count_problem or 'the API announces no total'}"
        if report.scan != "complete" and job.scan is None:
            check.reason += " (deletes.detect: keys would list the keys)"
        return check
    check.source_rows, check.source_how = source.rows, source.how
    if destination is None:
        if source.rows == 0:
            check.status = VERIFIED
        else:
            check.status, check.kind = DRIFT, "counts"
            check.reason = f"the destination has no table for the source's {source.rows:,} rows"
        return check
    more = _more_expected(session, job, report)
    differs = compare_counts(source.rows, destination, fewer_expected=report.from_initial, more_expected=more,
                             pending=report.scan_pending)
    kind = "counts"
    if check.missing_keys:
        differs, kind = f"{check.missing_keys:,} key(s) the source lists are missing from the destination", "keys"
    elif differs and report.duplicates and destination < source.rows <= destination + report.duplicates:
        # rows the API listed under a key another row of the same page had: one row per key is kept
        pk = ", ".join(job.api_primary_key) or "?"
        differs = (f"the source lists {report.duplicates:,} row(s) under a primary key another row has: the "
                   f"destination keeps one row per key (is the primary key '{pk}' right?)")
        check.healable, kind = False, "duplicates"
    if differs:
        check.status, check.reason, check.kind = DRIFT, differs, kind
    elif destination < source.rows and report.from_initial:
        check.status = PARTIAL
        check.reason = (f"{source.rows - destination:,} row(s) of the source not loaded: incremental.initial_value "
                        "leaves out older rows and rows without a cursor value")
    elif destination > source.rows and more:
        check.reason = f"not proven: {more}"
    else:
        check.status = VERIFIED
    return check


def _evaluate(pipeline: Any, session: Any, jobs: Sequence[Any]) -> Dict[str, TableCheck]:
    from dbsync.reconcile.columns import new_columns_since

    counts = live_counts(pipeline, jobs, session.config.deletes)
    new = new_columns_since(pipeline, jobs, getattr(session, "columns_before", {}),
                            own={pipeline.default_schema.naming.normalize_identifier(session.config.deletes.field)}
                            if pipeline.default_schema_name else set())
    return {job.resource_name: judge(session, job, session.report.tables[job.resource_name],
                                     counts.get(job.resource_name), new.get(job.resource_name, ()))
            for job in jobs}


def _sample_values(pipeline: Any, session: Any, job: Any, check: TableCheck, n: int) -> None:
    """``verify.sample``: N rows read again from random pages, compared with the destination by
    key, value by value (dbsync.reconcile.sample); a difference is drift, healed by a full read."""
    from types import SimpleNamespace

    from dbsync.reconcile.sample import compare_sample

    seen = SimpleNamespace(sampled=None, values_differ=None, value_examples=[], not_checked=[],
                           source_rows=check.source_rows)
    compare_sample(pipeline, session, job, seen, n)
    session.report.tables[job.resource_name].requests += 1
    if seen.values_differ:
        check.status, check.kind = DRIFT, "values"
        check.reason = (f"{seen.values_differ:,} of {seen.sampled:,} sampled row(s) differ in value, e.g. "
                        f"{seen.value_examples[0]}")
    elif seen.not_checked:
        check.notes = list(seen.not_checked)


def _second_look(session: Any, check: TableCheck, job: Any, report: Any) -> TableCheck:
    """Ask for the count again: a source that changed while the run read it explains a
    difference that healing would not remove."""
    from dbsync.errors import DbsyncError

    if check.kind != "counts" or check.source_rows is None or check.destination_rows is None:
        return check
    probe = session.count_readers.get(job.resource_name)
    if probe is None:
        return check
    try:
        again = probe.count_now()
    except DbsyncError as exc:
        logger.info("%s: asking for the count again failed: %s", job.label, exc.one_line())
        return check
    finally:
        report.requests += 1
    if again is None:
        return check
    first, now, held = check.source_rows, again.rows, check.destination_rows
    if compare_counts(now, held, fewer_expected=report.from_initial, pending=report.scan_pending) is None:
        check.status, check.source_rows, check.source_how = VERIFIED, now, f"{again.how}, asked after the load"
        check.reason = None
    elif first != now and min(first, now) <= held <= max(first, now):
        check.status = UNVERIFIED
        check.reason = (f"not proven: the source changed while the run read it ({first:,} rows, then {now:,}; "
                        f"the destination holds {held:,}); the next run checks again")
    return check


def prove(pipeline: Any, session: Any, rerun: Optional[Rerun] = None) -> None:
    """Check every finished table of ``session`` (setting ``report.check``), heal with
    ``rerun`` what differs, and clear the keys kept for it."""
    verify = session.config.verify
    jobs = [j for j in session.jobs
            if session.report.tables[j.resource_name].finished and session.report.tables[j.resource_name].error is None]
    try:
        if not verify.counts or not jobs:
            return
        checks = _evaluate(pipeline, session, jobs)
        by_name = {job.resource_name: job for job in jobs}
        if verify.sample:
            for name, check in checks.items():
                if check.status in (VERIFIED, UNVERIFIED, PARTIAL):
                    _sample_values(pipeline, session, by_name[name], check, verify.sample)
        for name, check in checks.items():
            if check.status == DRIFT:
                checks[name] = _second_look(session, check, by_name[name], session.report.tables[name])
        for name, check in checks.items():
            session.report.tables[name].check = check
        drifted = [name for name, check in checks.items() if check.status == DRIFT]
        healable = [by_name[name] for name in drifted if checks[name].healable]
        if healable and verify.heal and rerun is not None:
            _heal(pipeline, session, healable, rerun)
        for name in drifted:
            check = session.report.tables[name].check
            if check.status == DRIFT:
                logger.warning("%s: the destination differs from the source: %s", by_name[name].label, check.describe())
    finally:
        _clear_kept_keys(pipeline, session)


def _heal(pipeline: Any, session: Any, jobs: List[Any], rerun: Rerun) -> None:
    """Read the drifted tables again: a catch-up for keys written while the run read them, then
    in full; each stage ends with a fresh comparison."""
    reports = session.report.tables
    catch_up = [job for job in jobs if reports[job.resource_name].check.missing_keys and job.cursor_fields
                and reports[job.resource_name].mode != "full"]
    if catch_up:
        stage = rerun([job.resource_name for job in catch_up], False)
        _merge(session, stage)
        _recheck(pipeline, session, stage, catch_up, "catch-up")
    rest = [job for job in jobs if reports[job.resource_name].check.status == DRIFT
            and reports[job.resource_name].error is None]
    if rest:
        stage = rerun([job.resource_name for job in rest], True)
        _merge(session, stage)
        _recheck(pipeline, session, stage, rest, "full read")


def _recheck(pipeline: Any, session: Any, stage: Any, jobs: List[Any], how: str) -> None:
    reports = session.report.tables
    counts = live_counts(pipeline, jobs, session.config.deletes)
    for job in jobs:
        report = reports[job.resource_name]
        before = report.check
        if report.error is not None:
            continue
        stage_report = stage.report.tables[job.resource_name]
        if stage_report.error is not None:  # the table stays as the run loaded it, said to differ
            report.check = TableCheck(
                status=DRIFT, source_rows=before.source_rows, source_how=before.source_how,
                destination_rows=before.destination_rows, missing_keys=before.missing_keys, healed=how,
                reason=f"{before.reason}; reading it again failed: {stage_report.error.one_line()}",
                before=before.before)
            logger.warning("%s: %s", job.label, report.check.reason)
            continue
        if how == "catch-up" and report.scan_id:  # the keys the listing found missing: still missing?
            stage_report.scan_missing = _missing_again(pipeline, session, job, report.scan_id)
        if stage_report.source_count is None and stage_report.scan == "complete":
            # no total: the full read's own keys, compared with the destination's, are the count
            stage_report.source_count = SourceCount(stage_report.scan_keys, "keys of the full read",
                                                    stage_report.started or 0.0)
        after = judge(stage, job, stage_report, counts.get(job.resource_name))
        if how == "catch-up" and before.kind == "keys" and after.status == UNVERIFIED and not stage_report.scan_missing:
            after.status = VERIFIED  # no count to compare, and every key the listing missed is there now
        if after.status == DRIFT and after.kind == "counts" and how == "full read":
            after = _count_against_the_read(after, stage_report, report)
        if after.status == DRIFT:
            after = _second_look(stage, after, job, report)
        if before.kind == "values" and after.status in (VERIFIED, UNVERIFIED, PARTIAL):
            _sample_values(pipeline, stage, job, after, session.config.verify.sample)
        after.before = before.before or {"source_rows": before.source_rows,
                                         "destination_rows": before.destination_rows,
                                         "missing_keys": before.missing_keys, "reason": before.reason}
        if after.status in (VERIFIED, PARTIAL):
            first = after.before["reason"]
            after.status, after.healed = HEALED, how
            after.reason = f"{first}; read again ({how}), now equal"
            logger.warning("%s: healed: %s; read again (%s), now equal", job.label, first, how)
        elif after.status == DRIFT:
            after.healed = how
        report.check = after


def _count_against_the_read(check: TableCheck, stage_report: Any, report: Any) -> TableCheck:
    """After a full read whose own keys equal the destination's, a count that still differs
    says nothing about the destination: it is the count that is wrong (a planner's estimate:
    Parse on PostgreSQL answers 0 for a table never analysed). Not proven, and the count is not
    trusted by the next runs (``count_untrusted``), rather than drift every run."""
    read = stage_report.scan_keys if stage_report.scan == "complete" else None
    if read is None or read != check.destination_rows:
        return check
    report.count_untrusted = True
    return TableCheck(status=UNVERIFIED, source_rows=check.source_rows, source_how=check.source_how,
                      destination_rows=check.destination_rows, healed="full read", before=check.before,
                      reason=f"not proven: the source's count ({check.source_how}: {check.source_rows:,}) disagrees "
                             f"with its own full listing ({read:,} rows, all in the destination): the count is not "
                             "trusted from now on")


def _merge(session: Any, stage: Any) -> None:
    """A healing stage's work counts in the run's report and request totals."""
    for name, part in stage.report.tables.items():
        report = session.report.tables[name]
        report.rows += part.rows
        report.deleted += part.deleted
        report.pages += part.pages
        report.requests += part.requests
        report.fetched += part.fetched
        report.seconds += part.seconds
        report.warnings.extend(w for w in part.warnings if w not in report.warnings)
        if part.cursor_after is not None:
            report.cursor_after = part.cursor_after
    stats, more = session.client.stats, stage.client.stats
    with stats._lock:
        stats.requests += more.requests
        stats.bytes_received += more.bytes_received
        stats.retries.update(more.retries)


def _missing_again(pipeline: Any, session: Any, job: Any, scan_id: str) -> int:
    from dbsync.source.key_scan import keys_table_name, _Comparison

    schema = pipeline.default_schema
    main = schema.naming.normalize_path(job.table_name)
    keys = schema.naming.normalize_path(keys_table_name(job.table_name))
    with pipeline.sql_client() as client:
        return _Comparison(client, schema, job, main, keys, session.config.deletes).count_missing(scan_id)


def _clear_kept_keys(pipeline: Any, session: Any) -> None:
    """Keys a listing found missing were kept for the checks above; they go now."""
    kept = [job for job in session.jobs if session.report.tables[job.resource_name].scan_id]
    if not kept:
        return
    from dbsync.source.key_scan import keys_table_name, _Comparison

    schema = pipeline.default_schema
    with pipeline.sql_client() as client:
        for job in kept:
            main = schema.naming.normalize_path(job.table_name)
            keys = schema.naming.normalize_path(keys_table_name(job.table_name))
            _Comparison(client, schema, job, main, keys, session.config.deletes).clear()
            session.report.tables[job.resource_name].scan_id = None
