"""The dlt source: one resource per database table, fed by the shared page scheduler.

Usage (library)::

    import dlt, dbsync
    source = dbsync.dbsync_source(config_dict)          # discovery happens here
    dlt.pipeline("dbsync", destination="duckdb").run(source, loader_file_format="parquet")

Each resource yields Arrow tables (dlt's fast path: no per-row normalizer), carries the column
hints from discovery, merges on the primary key, deletes tombstoned rows (``hard_delete``) and
keeps the newest version of a row seen twice in a run (``dedup_sort`` on ``_dbsync_synced_at``).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from fnmatch import fnmatchcase
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Set, Union

import dlt
import pyarrow as pa
from dlt.extract.source import DltSource

from dbsync.config.model import IncrementalSettings, SyncConfig
from dbsync.config.paging import total_source
from dbsync.config.parse import parse_config
from dbsync.dlt_defaults import apply_dlt_defaults
from dbsync.discovery.catalog import Catalog
from dbsync.discovery.discover import discover_catalog
from dbsync.discovery.types import resolve_type_map
from dbsync.source.unwrap import rules_for_table
from dbsync.source.value_tally import ValueTally
from dbsync.source.column_names import ColumnNames
from dbsync.errors import DataError, DbsyncError, NotFoundError, Where
from dbsync.http.client import ApiClient
from dbsync.source.convert import SYNCED_AT, TableConverter
from dbsync.source import history
from dbsync.source import key_scan
from dbsync.source.incremental import (CursorState, advance, compare_cursors, format_cursor, in_cursor_order,
                                      lower, request_params, settle_cursor)
from dbsync.source.jobs import TableJob, build_jobs
from dbsync.source.offset_reader import OffsetReader
from dbsync.source.page_worker import ParsePool
from dbsync.source.readers import (
    PageProcessor,
    PageResult,
    Reader,
    SequentialReader,
    is_concurrent_offset,
)
from dbsync.source.report import RunReport, TableReport
from dbsync.reconcile.check import counts_apply
from dbsync.reconcile.shape import STATE_KEY as SHAPE_KEY, jobs_shapes, shape_changes
from dbsync.reconcile.probe import CountReader, count_memory, planned_count_problem, read_source_count
from dbsync.source.scheduler import PageScheduler
from dbsync.http.paging import make_paginator

logger = logging.getLogger("dbsync.source")

SOURCE_NAME = "dbsync"
ProgressCallback = Callable[[TableReport], None]


class SyncSession:
    """Everything one source instance shares: the client, the scheduler and the run report."""

    def __init__(self, config: SyncConfig, client: ApiClient, catalog: Catalog, jobs: List[TableJob],
                 progress: Optional[ProgressCallback] = None):
        self.config = config
        self.client = client
        self.catalog = catalog
        self.jobs = jobs
        self.report = RunReport()
        self.progress = progress
        perf = config.performance
        self.scheduler = PageScheduler(perf.concurrency, perf.prefetch_pages)
        self.scheduler.on_start(self._load_cursors)
        self.pool = ParsePool(_processes(perf.processes))
        self.readers: Dict[str, Reader] = {}
        self.cursors: Dict[str, CursorState] = {}
        # resources whose saved cursor is ignored this run: their table is missing from the
        # destination (deleted, a new file), so they are read in full (set by run_sync)
        self.fresh_resources: Set[str] = set()
        # resources whose table is not in the destination yet: appended, not merged, while no
        # key comes twice (dbsync.run.first_load; set by run_sync)
        self.first_loads: Dict[str, Any] = {}
        # each destination table's columns before this run (dbsync.reconcile.columns; set by run_sync)
        self.columns_before: Dict[str, Set[str]] = {}
        # tables whose source count disagreed with a full read: not asked (set by run_sync)
        self.untrusted_counts: Set[str] = set()
        # what decides each table's columns (dbsync.reconcile.shape), and the tables run_sync
        # dropped this run because it changed
        self.shapes: Dict[str, Dict[str, Any]] = {}
        self.rebuilt: Set[str] = set()
        # deletes found by listing keys: the scan of each table that scans this run, and the
        # listing readers (deletes.detect: keys), see dbsync.source.key_scan
        self.scans: Dict[str, key_scan.ScanRun] = {}
        self.scan_readers: Dict[str, Reader] = {}
        # one request per table for the source's count, where the read itself does not tell it
        # (an incremental run): dbsync.reconcile.probe
        self.count_readers: Dict[str, CountReader] = {}
        self.started = time.time()
        self._open = len(jobs)
        self._lock = threading.Lock()
        type_map = resolve_type_map(config.types)
        self.converters: Dict[str, TableConverter] = {}
        self.column_names: Dict[str, ColumnNames] = {}  # each field's column (dbsync.source.column_names)
        for job in jobs:
            where = Where(database=job.database, table=job.table.name)
            union = config.layout == "union" and job.database is not None
            converter = TableConverter(
                job.table, type_map=type_map, deletes=config.deletes, where=where,
                database_column=config.database_column if union else None,
                database_value=job.database, primary_key=job.api_primary_key, columns=job.columns,
                value_rules=rules_for_table(job.table, config.type_rules, config.field_rules),
            )
            self.converters[job.resource_name] = converter
            self.column_names[job.resource_name] = ColumnNames(
                list(converter.plans), _own_columns(), where=job.label,
                generated=[c for c in (config.deletes.field if config.deletes.mode != "ignore" else None,
                                       job.database_column) if c])
            processor = PageProcessor(converter=converter, data_selector=job.data_selector, where=where,
                                      primary_key=job.api_primary_key, cursor_field=job.cursor_fields)
            reader = _make_reader(client, processor, job, config.incremental)
            if isinstance(reader, OffsetReader) and self.pool.processes:
                reader.pool = self.pool
            self.readers[job.resource_name] = reader
            self.scheduler.add_reader(reader)
            probe = CountReader(reader, config.verify.count, job.count_path, job.count_params)
            self.count_readers[job.resource_name] = probe
            self.scheduler.add_reader(probe)
            if job.scan is not None and job.scan.detect == "keys":
                key_types = {name: plan.arrow_type for name, plan in converter.plans.items()
                             if name in job.api_primary_key}
                scan_reader = key_scan.make_scan_reader(client, reader, key_types, dict(job.scan.params),
                                                        job.scan.limit)
                self.scan_readers[job.resource_name] = scan_reader
                self.scheduler.add_reader(scan_reader)
            self.report.add(TableReport(job.resource_name, job.table_name, job.database, job.table.name,
                                        database_name=job.database_name,
                                        table_id=job.table.id if job.table.table_id != job.table.name else None))
        self.shapes = jobs_shapes(self)

    def _load_cursors(self) -> None:
        """Read every table's cursor from dlt state before the first request (runs in extract)."""
        settings = self.config.incremental
        try:
            resources_state = dlt.current.source_state().get("resources", {})
        except Exception:  # no pipeline context (e.g. iterating the source directly): full sync
            resources_state = {}
        self.started = time.time()
        for job in self.jobs:
            reader = self.readers[job.resource_name]
            report = self.report.tables[job.resource_name]
            persisted = (resources_state.get(job.resource_name) or {}).get("relaxed")
            if persisted:
                self.converters[job.resource_name].adopt_relaxed(persisted)
            fresh = job.resource_name in self.fresh_resources
            saved = resources_state.get(job.resource_name) or {}
            fresh = self._note_shape(job, saved, resources_state) or fresh
            if job.scan is not None:
                fresh = self._plan_scan(job, saved, fresh) or fresh
            if job.cursor_fields:
                report.cursor_fields = job.cursor_fields
                state = CursorState.from_state(None if fresh else resources_state.get(job.resource_name))
                self.cursors[job.resource_name] = state
                value = state.request_value(settings)  # None: a first run, the whole table without the filter
                reader.configure(request_params(settings, value, job.cursor_fields), filtered=value is not None)
                report.mode = "incremental" if state.cursor is not None else "full"
                if state.cursor is None and value is not None:  # from incremental.initial_value
                    report.mode = "initial"
                report.from_initial = value is not None and (state.cursor is None or bool(saved.get("from_initial")))
                report.cursor_before = state.cursor
                if state.skip_boundary(settings):
                    reader.processor.skip_cursor = state.cursor
                    reader.processor.skip_hashes = set(state.boundary)
            self._plan_count(job, reader, saved)

    def _note_shape(self, job: TableJob, saved: Mapping[str, Any], resources_state: Any) -> bool:
        """Keep the table's shape in its state; True when it changed and the table was not
        rebuilt before this run (the local state was new: a fresh worker): read it in full."""
        shape = self.shapes[job.resource_name]
        before = saved.get(SHAPE_KEY)
        if before and before.get("digest") == shape["digest"]:
            return False
        try:
            dlt.current.source_state().setdefault("resources", {}).setdefault(job.resource_name, {})[SHAPE_KEY] = shape
        except Exception:  # no pipeline context (iterating the source directly)
            return False
        changes = shape_changes(before, shape)
        if not changes or job.resource_name in self.rebuilt:
            return False
        message = (f"{self.report.tables[job.resource_name].source}: the table's shape changed ({'; '.join(changes)}): "
                   "read in full")
        logger.warning("%s", message)
        self.report.tables[job.resource_name].warnings.append(message)
        return True

    def _plan_count(self, job: TableJob, reader: Reader, saved: Mapping[str, Any]) -> None:
        """Ask the source for the table's count only where this run's read will not tell it (a
        filtered read), unless an earlier full read found that the API announces no total, or
        only an estimate. A key listing counts the table too, but may be refused or come out
        incomplete: the count is asked all the same (one request beside the listing's many)."""
        probe = self.count_readers[job.resource_name]
        configured = self.config.verify.count is not None  # asked every run, unfiltered read or not
        needed = self.config.verify.counts and (reader.filtered or configured) and counts_apply(job) is None
        known = planned_count_problem(saved) if needed and not configured else None
        if needed and job.resource_name in self.untrusted_counts:
            known = "the source's count disagreed with a full read of the table: it is not trusted"
            self.report.tables[job.resource_name].count_untrusted = True
        if known is not None:
            self.report.tables[job.resource_name].count_problem = known
        if not needed or known is not None:
            probe.stop()

    def _plan_scan(self, job: TableJob, saved: Mapping[str, Any], fresh: bool) -> bool:
        """Whether (and how) the table is scanned for deletes this run; True when its records
        are to be read whole for it (``detect: full_read``; the cursor is kept for the next run)."""
        assert job.scan is not None
        report = self.report.tables[job.resource_name]
        listing = self.scan_readers.get(job.resource_name)
        last = (saved.get(key_scan.STATE_KEY) or {}).get("at")
        if not key_scan.is_due(last, job.scan.every, self.started):
            report.scan = "not due"
            if listing is not None:
                listing.stop()
            return False
        unfiltered = fresh or not job.cursor_fields or saved.get("cursor") is None
        if job.scan.detect == "full_read" or unfiltered:
            # the records read is the scan: no listing on top of it
            self.scans[job.resource_name] = key_scan.ScanRun(job.resource_name, "records", self.started)
            if listing is not None:
                listing.stop()
            return job.scan.detect == "full_read"
        self.scans[job.resource_name] = key_scan.ScanRun(job.resource_name, "listing", self.started)
        return False

    def table_done(self) -> None:
        with self._lock:
            self._open -= 1
            last = self._open <= 0
        if last:
            self.scheduler.close()

    def close(self) -> None:
        self.scheduler.close()
        self.pool.close()
        self.client.close()


def _own_columns() -> List[str]:
    """The columns dbsync adds to a page after typing it: no API field may take their names."""
    from dbsync.source.convert import DELETED_AT

    return [SYNCED_AT, DELETED_AT, history.VALID_FROM, history.VALID_TO, history.ROW_VERSION]


def _processes(configured: Optional[int]) -> int:
    """Worker processes for page conversion: as configured, else one per core up to two (the
    API server, dlt and the fetch threads need the rest)."""
    import os

    if configured is not None:
        return configured
    cores = os.cpu_count() or 1
    return min(2, cores) if cores >= 2 else 0


def _make_reader(client: ApiClient, processor: PageProcessor, job: TableJob,
                 settings: IncrementalSettings) -> Reader:
    paginator = make_paginator(job.paginator)
    kwargs = dict(path=job.path, params=job.params, method=job.method, json=job.json,
                  response_actions=job.response_actions, headers=job.headers)
    if paginator is not None and is_concurrent_offset(paginator, job.method):
        cursor_params: Optional[Callable[[Any], Dict[str, Any]]] = None
        if job.cursor_fields:
            cursor_field = job.cursor_fields

            def _cursor_params(value: Any) -> Dict[str, Any]:
                return request_params(settings, format_cursor(value, settings.value_format), cursor_field)

            cursor_params = _cursor_params

        return OffsetReader(client, processor, paginator=paginator, cursor_params=cursor_params,
                            total=total_source(job.paginator), **kwargs)
    return SequentialReader(client, processor, paginator_cfg=job.paginator, **kwargs)


def _table_generator(session: SyncSession, job: TableJob) -> Callable[[], Iterator[pa.Table]]:
    batch_rows = session.config.performance.batch_rows

    def read_table() -> Iterator[pa.Table]:
        reader = session.readers[job.resource_name]
        converter = session.converters[job.resource_name]
        report = session.report.tables[job.resource_name]
        mark_deletes = session.config.deletes.mode == "mark" and bool(job.primary_key)
        side_table_started = False
        report.started = time.time()
        pending = _Pending(report)
        cursor_max: Any = None
        unfit_example: Any = None
        pages_seen: List[Any] = []  # a run without the filter: (position, first, highest, sorted) per page
        boundary: List[str] = []
        last_stamp = 0
        session.scheduler.start()  # cursors loaded, scans planned
        scan = session.scans.get(job.resource_name)  # this run's scan for deletes, if any
        record_keys = key_scan.RecordKeys(session, job, scan) if scan is not None and scan.kind == "records" else None
        values = ValueTally([f.name for f in job.table.fields] if job.table.fields else None)
        names = session.column_names[job.resource_name]
        try:
            while True:
                result = session.scheduler.next_page(reader)
                if result is None:
                    break
                _count(report, result)
                values.add(result.table)
                if record_keys is not None:
                    yield from record_keys.add(result)
                relaxed = converter.take_relaxed()
                if relaxed:
                    _relax_destination(job, {names.name(column) for column in relaxed})
                table = result.table
                tombstones_in_table = result.deleted
                if mark_deletes and result.deleted:
                    table, tombstones = _split_tombstones(table, session.config.deletes.field)
                    yield from _tombstone_batches(job, tombstones, first=not side_table_started)
                    side_table_started = True
                    report.deleted += result.deleted
                    tombstones_in_table = 0
                table = names.apply(table)  # fields that cannot be their own column (blank, colliding)
                if table.num_rows:
                    if job.history:
                        table = history.with_row_version(table, exclude=(session.config.deletes.field,))
                    last_stamp = max(time.time_ns() // 1000, last_stamp + 1)
                    table = _with_synced_at(table, last_stamp)
                    pending.add(table, tombstones_in_table)
                report.no_cursor += result.no_cursor
                report.unfit_cursor += result.unfit_cursor
                if unfit_example is None:
                    unfit_example = result.unfit_example
                if result.cursor_max is not None and not reader.filtered:
                    position = result.request.offset if result.request.offset is not None else report.pages
                    pages_seen.append((position, result.cursor_first, result.cursor_max, result.cursor_sorted))
                if result.cursor_max is not None:
                    order = 1 if cursor_max is None else compare_cursors(result.cursor_max, cursor_max)
                    if order > 0:
                        cursor_max, boundary = result.cursor_max, list(result.boundary)
                    elif order == 0:
                        boundary.extend(result.boundary)
                if session.progress:
                    session.progress(report)
                if pending.rows >= batch_rows:
                    yield _batch(converter, pending.take(), session.first_loads.get(job.resource_name), names)
            if pending.tables:
                yield _batch(converter, pending.take(), session.first_loads.get(job.resource_name), names)
            warning = reader.check_complete()  # raises when rows the API announced are missing
            if warning:
                report.warnings.append(warning)
            report.warnings.extend(values.warnings(job.label, converter.column_types(), whole_table=not reader.filtered))
            read_source_count(session.scheduler, session.count_readers[job.resource_name], reader, report)
            if record_keys is not None:
                yield from record_keys.finish(reader, warning)
            if job.cursor_fields:
                _check_cursor(job, converter, report, cursor_max, unfit_example)
                before = session.cursors.get(job.resource_name, CursorState())
                floor = before.floor
                if not reader.filtered and cursor_max is not None:
                    cursor_max, boundary, floor = _unfiltered_cursor(session, reader, before, cursor_max, boundary,
                                                                     pages_seen, report)
                after = dataclasses.replace(advance(before, cursor_max, boundary), floor=floor)
                report.cursor_after = after.cursor
                counted = count_memory(report)
                if (after.cursor, after.boundary, after.floor) != (before.cursor, before.boundary, before.floor) or (
                        counted is not None and counted != saved_count_memory(job)):
                    # state changes only with data: a run with no changes writes no load package
                    state = dlt.current.resource_state(job.resource_name)
                    state["cursor"] = after.cursor
                    state["boundary"] = after.boundary
                    if after.floor is not None or "floor" in state:
                        state["floor"] = after.floor
                    if report.from_initial:  # older rows are left out on purpose (dbsync.reconcile)
                        state["from_initial"] = True
                    if counted is not None:  # whether the API's total counts the table (dbsync.reconcile.probe)
                        state["count"] = counted
                    state["last_change"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            if scan is not None and scan.kind == "listing":
                yield from key_scan.read_listing(session, job, scan, session.scan_readers[job.resource_name], report)
            if scan is not None:
                _scan_done(job, scan, report)
            report.finished = True
        except DbsyncError as exc:
            session.scheduler.abandon(reader)
            report.error = exc.with_where(Where(database=job.database, table=job.table.name))
            logger.error("%s", report.error.one_line())
        finally:
            listing = session.scan_readers.get(job.resource_name)
            if listing is not None:
                session.scheduler.abandon(listing)  # a table that failed never lists its keys
            session.scheduler.abandon(session.count_readers[job.resource_name])
            report.gap_fills = getattr(reader, "fill_requests", 0)
            report.seconds = time.time() - (report.started or time.time())
            if session.progress:
                session.progress(report)
            session.table_done()
        if report.error is not None and job.write_disposition != "merge":
            # append/replace: a partial table would duplicate or truncate data, so fail the whole
            # run (raised outside the except block: no chain back to lower-level errors)
            raise report.error

    read_table.__name__ = job.resource_name
    return read_table


def saved_count_memory(job: TableJob) -> Optional[str]:
    """What the table's state remembers of the API's total (see :func:`count_memory`)."""
    try:  # read without creating the entry (that alone would change the state)
        return ((dlt.current.source_state().get("resources") or {}).get(job.resource_name) or {}).get("count")
    except Exception:
        return None


def _scan_done(job: TableJob, scan: "key_scan.ScanRun", report: TableReport) -> None:
    """A complete scan is noted in the table's state (compared after the load); an incomplete
    one deletes nothing and says why."""
    if scan.problem is None:
        report.scan, report.scan_keys = "complete", scan.keys
        dlt.current.resource_state(job.resource_name)[key_scan.STATE_KEY] = scan.state()
        return
    report.scan, report.scan_problem = "incomplete", scan.problem
    message = (f"{job.label}: deletes not checked this run, nothing deleted: the key scan is incomplete "
               f"({scan.problem}); the next run scans again")
    logger.warning("%s", message)
    report.warnings.append(message)


def _unfiltered_cursor(session: SyncSession, reader: Reader, before: CursorState, cursor_max: Any,
                       boundary: List[str], pages: List[Any], report: TableReport) -> Any:
    """(cursor, boundary, floor) after a run read without the filter, in the API's own order.

    In cursor order (the API sorted the pages) the highest cursor is safe, as with the filter.
    Otherwise it is settled at the run's start (settle_cursor). Rows that shifted across a page
    boundary could not be re-read: no cursor then (the next run reads the table whole), and a
    floor the cursor saved later may not pass, so changes and deletes made since are still read."""
    if not in_cursor_order(pages):
        settled = settle_cursor(cursor_max, session.client.first_server_time, session.config.incremental.value_format)
        if settled is not cursor_max:
            cursor_max, boundary = settled, []
    if getattr(reader, "unrepaired", False):
        report.cursor_kept = True
        return None, [], lower(before.floor, cursor_max)
    if before.floor is not None and compare_cursors(before.floor, cursor_max) < 0:
        return before.floor, [], None
    return cursor_max, boundary, None


def _check_cursor(job: TableJob, converter: TableConverter, report: TableReport, cursor_max: Any,
                  unfit_example: Any) -> None:
    """Rows arrived with cursor values, yet none fits the cursor column's type: no cursor can be
    saved and every run would silently read the whole table again. That is the table's error
    (its rows are loaded; the message names the field and the fix)."""
    if report.no_cursor:
        logger.warning("%s: %d row(s) arrived with no value in cursor field %s; incremental runs see them "
                       "again only if the filter matches an empty cursor", job.label, report.no_cursor,
                       ", ".join(job.cursor_fields))
    if cursor_max is not None or not report.unfit_cursor:
        return
    fields = job.cursor_fields
    plan = converter.plans.get(fields[0])
    declared = job.table.field(fields[0])
    api_type = declared.api_type if declared is not None else None
    column_type = plan.dlt_type if plan is not None and plan.dlt_type else "its inferred type"
    raise DataError(
        f"cursor field '{', '.join(fields)}': {report.unfit_cursor} value(s) such as {unfit_example!r} do not fit "
        f"its column type {column_type}, so no cursor can be saved and every run would read the whole table",
        hint=(f"map the API type '{api_type}' to a type that holds these values under 'types:' "
              f"(e.g. types: {{{api_type}: timestamp}})" if api_type else "map its type under 'types:'")
        + ", or set incremental.cursor_field to another field",
    )


def _count(report: TableReport, result: PageResult) -> None:
    report.pages += 1
    report.requests += 1
    report.fetched += result.table.num_rows
    report.duplicates += result.duplicates
    if result.total is not None:
        report.total = result.total if report.total is None else max(report.total, result.total)


_SYNCED_AT_TYPE = pa.timestamp("us", tz="UTC")


def _with_synced_at(table: pa.Table, micros: int) -> pa.Table:
    """Append the fetch time: one value for the page, laid out as a plain int64 buffer."""
    import struct

    n = table.num_rows
    data = pa.py_buffer(struct.pack("<q", micros) * n)
    column = pa.Array.from_buffers(_SYNCED_AT_TYPE, n, [None, data])
    return table.append_column(pa.field(SYNCED_AT, _SYNCED_AT_TYPE), column)


def tombstone_table_name(table_name: str) -> str:
    """Where ``deletes: mark`` keeps the keys of deleted rows (the rows stay, marked)."""
    return f"{table_name}__deleted"


def _split_tombstones(table: pa.Table, deleted_field: str) -> Any:
    import pyarrow.compute as pc

    is_deleted = pc.fill_null(table[deleted_field], False)
    return table.filter(pc.invert(is_deleted)), table.filter(is_deleted)


def _tombstone_batches(job: TableJob, tombstones: pa.Table, *, first: bool) -> Iterator[Any]:
    """Deleted keys go to a side table (merge on the key); run_sync marks the rows after loading.

    The side table is a dlt table variant of the resource. A variant starts from the resource's
    column hints (the main table's NOT NULL columns); the first, empty item resets them.
    """
    keep = [c for c in tombstones.column_names
            if c in job.primary_key or c in job.cursor_fields or c == job.database_column]
    side = _with_synced_at(tombstones.select(keep), time.time_ns() // 1000)
    name = tombstone_table_name(job.table_name)
    if first:
        reset = dlt.mark.make_hints(table_name=name, columns={})
        yield dlt.mark.with_hints(side.slice(0, 0), reset, create_table_variant=True)
    hints = dlt.mark.make_hints(
        table_name=name, write_disposition="merge", primary_key=list(job.primary_key),
        columns={SYNCED_AT: {"data_type": "timestamp", "dedup_sort": "desc"}},
    )
    yield dlt.mark.with_hints(side, hints, create_table_variant=True)


def _relax_destination(job: TableJob, columns: Any) -> None:
    """Columns the API declared NOT NULL received nulls: make them nullable where they already
    exist (the table and its staging copy) and remember it in the table's state; the next batch
    carries the hint (TableConverter.take_new_hints). dlt never changes an existing column's
    nullability by itself."""
    state = dlt.current.resource_state(job.resource_name)
    state["relaxed"] = sorted(set(state.get("relaxed") or []) | set(columns))
    try:
        pipeline = dlt.current.pipeline()
        naming = pipeline.default_schema.naming if pipeline.default_schema_name else None
        table = naming.normalize_path(job.table_name) if naming else job.table_name
        with pipeline.sql_client() as client:
            for qualified in (client.make_qualified_table_name(table),
                              ".".join(client.make_qualified_table_name_path(table,
                                                                             dataset_name=client.staging_dataset_name))):
                for column in columns:
                    name = client.escape_column_name(naming.normalize_identifier(column) if naming else column)
                    try:
                        client.execute_sql(f"ALTER TABLE {qualified} ALTER COLUMN {name} DROP NOT NULL")
                    except Exception:  # the table (or its staging copy) does not exist yet: nothing to alter
                        pass
    except Exception as exc:  # no destination to reach from here: the load will say what is wrong
        logger.warning("could not make columns %s of %s nullable in the destination: %s", sorted(columns),
                       job.table_name, type(exc).__name__)


def _batch(converter: TableConverter, tables: List[pa.Table], first_load: Any = None,
           names: Optional[ColumnNames] = None) -> Any:
    """One Arrow table for dlt, carrying hints for newly inferred JSON columns if there are any
    (and the write disposition of a table's first load: dbsync.run.first_load).

    ``tables`` is emptied: the generator stays suspended at its ``yield`` until dlt comes back
    to it (after every other table's turn), and a list still holding the pages would keep one
    batch per table alive (8 tables: ~100 MB)."""
    table = _concat(tables)
    tables.clear()
    hints = converter.take_new_hints()
    if names is not None:
        hints = names.hints(hints)
    if first_load is not None:
        table, disposition, merge_hints = first_load.prepare(table)
        columns = dict(hints or {})
        for name, hint in merge_hints.items():
            columns[name] = {**columns.get(name, {}), **hint}
        return dlt.mark.with_hints(table, dlt.mark.make_hints(write_disposition=disposition, columns=columns))
    if hints:
        return dlt.mark.with_hints(table, dlt.mark.make_hints(columns=hints))
    return table


class _Pending:
    """Pages converted and not yet handed to dlt. Their rows count as upserted (and their
    tombstones as deleted) only once handed over: a table that fails later never reports rows
    that were fetched and dropped."""

    def __init__(self, report: TableReport):
        self.report = report
        self.tables: List[pa.Table] = []
        self.rows = 0
        self.deleted = 0

    def add(self, table: pa.Table, deleted: int) -> None:
        self.tables.append(table)
        self.rows += table.num_rows
        self.deleted += deleted

    def take(self) -> List[pa.Table]:
        tables, self.tables = self.tables, []
        self.report.rows += self.rows - self.deleted
        self.report.deleted += self.deleted
        self.rows = self.deleted = 0
        return tables


def _concat(tables: List[pa.Table]) -> pa.Table:
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="permissive")


def _resource(session: SyncSession, job: TableJob) -> Any:
    converter = session.converters[job.resource_name]
    hints = session.column_names[job.resource_name].hints(converter.column_hints())
    write_disposition: Any = job.write_disposition
    if job.history:
        deletes = session.config.deletes
        write_disposition = history.write_disposition(job.primary_key,
                                                      deletes.field if deletes.mode == "delete" else None)
        # scd2 keeps every version: no dedup by fetch time, and deletes close versions (history.py)
        hints = {name: {k: v for k, v in hint.items() if k not in ("hard_delete", "dedup_sort")}
                 for name, hint in hints.items()}
    return dlt.resource(
        _table_generator(session, job),
        name=job.resource_name,
        table_name=job.table_name,
        primary_key=list(job.primary_key) if job.primary_key else None,
        write_disposition=write_disposition,
        columns=hints,
        max_table_nesting=0,
    )


@dlt.source(name=SOURCE_NAME, section=SOURCE_NAME, max_table_nesting=0)
def _dbsync(resources: List[Any]) -> Any:
    return resources


def dbsync_source(
    config: Union[SyncConfig, Mapping[str, Any]],
    *,
    databases: Optional[Sequence[str]] = None,
    tables: Optional[Sequence[str]] = None,
    catalog: Optional[Catalog] = None,
    progress: Optional[ProgressCallback] = None,
    discovery_cache: Optional[Any] = None,
    repair: Optional[Set[str]] = None,
) -> DltSource:
    """A dlt source syncing every selected table of every selected database.

    ``config`` is the rest_api config dict (optionally extended with dbsync's sections) or a
    :class:`SyncConfig`. ``databases``/``tables`` select by name or glob pattern. Discovery runs
    now (so errors such as a wrong key surface before the pipeline starts); the session is
    available as ``source.dbsync_session`` (run report, catalog). ``discovery_cache`` (a
    :class:`~dbsync.discovery.cache.DiscoveryCache`) reuses discovery answers of earlier runs.
    ``repair``: resources to read in full, keys compared (the last run left them different from
    the source: dbsync.reconcile).
    """
    apply_dlt_defaults()  # no telemetry also when the caller made its dlt pipeline first
    cfg = config if isinstance(config, SyncConfig) else parse_config(config)
    client = ApiClient(cfg)
    try:
        if catalog is None:
            catalog = discover_catalog(cfg, client, databases=databases, tables=tables, cache=discovery_cache)
        jobs = build_jobs(cfg, catalog)
        jobs = _select_plain_jobs(jobs, databases, tables)
        repair = set(repair or ()) & {job.resource_name for job in jobs}
        jobs = [repair_job(job, cfg) if job.resource_name in repair else job for job in jobs]
        session = SyncSession(cfg, client, catalog, jobs, progress=progress)
        session.fresh_resources |= repair
    except BaseException:
        client.close()
        raise
    source = _dbsync([_resource(session, job) for job in jobs])
    source.dbsync_session = session  # type: ignore[attr-defined]
    return source


def repair_job(job: TableJob, config: SyncConfig) -> TableJob:
    """The job of a table read in full to repair it: its keys are compared with the destination's
    after the load (``detect: full_read``), so rows the source no longer lists go too, unless
    deletes are ignored or the table has no key to compare."""
    from dbsync.config.model import KeyScanSettings

    if job.primary_key and job.write_disposition == "merge" and config.deletes.mode != "ignore":
        return dataclasses.replace(job, scan=KeyScanSettings(detect="full_read"))
    return job


def heal_source(session: SyncSession, resources: Sequence[str], *, full: bool,
                progress: Optional[ProgressCallback] = None) -> DltSource:
    """A source that reads ``resources`` of ``session`` again, to heal a destination that differs
    from the source (dbsync.reconcile.prove): ``full`` reads each table whole (from
    ``initial_value`` where one is set) and compares its keys, so rows the source no longer lists
    go too (unless ``deletes.mode: ignore``); otherwise a plain incremental read, without a key
    listing, catches up with rows written while the run read the table."""
    config = session.config
    wanted = set(resources)
    jobs = [repair_job(job, config) if full else dataclasses.replace(job, scan=None)
            for job in session.jobs if job.resource_name in wanted]
    client = ApiClient(config)
    try:
        stage = SyncSession(config, client, session.catalog, jobs, progress=progress)
    except BaseException:
        client.close()
        raise
    if full:
        stage.fresh_resources = set(wanted)
    source = _dbsync([_resource(stage, job) for job in jobs])
    source.dbsync_session = stage  # type: ignore[attr-defined]
    return source


def _select_plain_jobs(jobs: List[TableJob], databases: Optional[Sequence[str]],
                       tables: Optional[Sequence[str]]) -> List[TableJob]:
    """--tables also selects resources that do not expand (the original single-resource config)."""
    if not tables:
        return jobs
    plain = [j for j in jobs if j.database is None and j.table.name == j.resource_name]
    if not plain:
        return jobs
    kept = [j for j in jobs if j not in plain or any(fnmatchcase(j.resource_name, p) for p in tables)]
    if not kept:
        raise NotFoundError(f"no table matches {', '.join(tables)}",
                            hint=f"tables here: {', '.join(j.resource_name for j in jobs)}")
    return kept
