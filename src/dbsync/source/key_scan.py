"""Deletes where the API sends no tombstones: list every key, compare in the destination.

Most database APIs forget a deleted row: it simply stops being listed. An incremental run never
asks for it again, so it would stay in the warehouse until a ``--full-refresh``. With
``deletes: {detect: keys}`` a run also lists every primary key of the table through the records
endpoint with params that shrink each record (``keys: {params: {fields: id}, limit: 1000}``);
with ``detect: full_read`` the records themselves are read whole (the cursor filter left off).
Either way the keys stream into the destination, into ``<table>__keys``, in Arrow batches (never
held in memory), and after the load the destination removes (or marks, or closes the history
version of) every row whose key was not listed.

**Safe above all.** A scan deletes nothing unless it is complete (:meth:`ScanRun.verdict`):

- every page answered (a page that failed after its retries ends the scan);
- no page came back short in the middle: offset listings overlap by one row, like the records
  reader's pages (:mod:`dbsync.source.offset_reader`), and a boundary whose rows do not match
  means rows moved while listing: a row may have slipped past, so the scan is incomplete;
- the paginator saw the listing end, the listed count equals the total where one is announced
  (the last one), and without overlapping pages the total did not change while listing (rows
  added at the end of an overlapping listing, by id, move no boundary: such a scan completes);
- every record carried its key, no key repeated (checked in the destination: distinct keys
  equal the listed count).

A failed or partial scan deletes nothing and says so (a warning naming the table and why).

**Rows inserted during the scan survive:** only rows loaded before this run began
(``_dbsync_synced_at`` older than the run's start) can be removed by its scan; a row that
arrived meanwhile was loaded by this run or is not in the destination at all.

``every: 6h`` scans at most that often: the time of the last complete scan is kept in the
table's state. An unfiltered records read (a first run, a table without cursor, a reload) is a
scan by itself: its keys are compared and no extra listing is made.

The comparison is applied after dlt's load from the table's state (which names the complete
scan) and the rows of ``<table>__keys`` (which are then removed), so a run stopped between the
load and the comparison is repaired by the next run.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Sequence, Set, Tuple

import dlt
import pyarrow as pa

from dbsync.errors import Where
from dbsync.source.convert import DELETED_AT
from dbsync.source.offset_reader import OffsetReader
from dbsync.source.readers import PageProcessor, PageRequest, PageResult, Reader, SequentialReader

logger = logging.getLogger("dbsync.deletes")

KEYS_SUFFIX = "__keys"
SCAN_COLUMN = "_dbsync_scan"  # which scan listed the key
RESOURCE_COLUMN = "_dbsync_resource"  # which table's scan (union tables share one keys table)
STATE_KEY = "key_scan"
CANDIDATES = "candidates"  # the scan column of keys missed once by a listing whose pages do not overlap


def keys_table_name(table_name: str) -> str:
    return f"{table_name}{KEYS_SUFFIX}"


def is_due(last_scan: Optional[float], every: Optional[float], now: float) -> bool:
    """A scan is due every run, or once ``every`` seconds have passed since the last complete one."""
    return every is None or last_scan is None or now - last_scan >= every


class KeyPageProcessor(PageProcessor):
    """Turns a page of the key listing into an Arrow table of keys, typed like the table's key
    columns: the records processor's selection, without a cursor and without converting the
    other fields (so a listing with only the key never relaxes the table's NOT NULL columns)."""

    def __init__(self, records: PageProcessor, key_types: Dict[str, Optional[pa.DataType]]):
        super().__init__(converter=records.converter, data_selector=records.data_selector, where=records.where,
                         primary_key=records.primary_key, cursor_field=None)
        self.key_types = key_types

    def at(self, label: str) -> Where:
        return Where(self.where.database, self.where.table, f"key listing, {label}", self.where.path)

    def empty(self, request: PageRequest) -> PageResult:
        result = PageResult(request=request, table=self._keys([]), raw_count=0)
        result.ignored = True  # type: ignore[attr-defined]
        return result

    def process_records(self, records: List[Any], request: PageRequest, raw_count: int) -> PageResult:
        result = PageResult(request=request, table=self._keys(records), raw_count=raw_count)
        result.listed = len(records)  # type: ignore[attr-defined]
        return result

    def _keys(self, records: List[Any]) -> pa.Table:
        columns = {}
        for name in self.primary_key:
            values = [r.get(name) if isinstance(r, dict) else None for r in records]
            columns[name] = key_array(values, self.key_types.get(name))
        return pa.table(columns)


def key_array(values: List[Any], arrow_type: Optional[pa.DataType]) -> pa.Array:
    """Key values as the table's key column type (so the destination compares like with like);
    inferred where the schema does not say, text where the values do not fit."""
    if arrow_type is not None:
        try:
            return pa.array(values, arrow_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            try:
                return pa.array(values).cast(arrow_type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, OverflowError):
                pass
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())


class ScanOffsetReader(OffsetReader):
    """Offset pages of the key listing, overlapping by one row whatever the order: a boundary
    whose rows do not match means rows moved while listing, and the scan is incomplete (there is
    no cursor to re-read the gap by, and no need: the next scan lists again)."""

    disturbed: Optional[str] = None
    probe: Optional[Tuple[int, Any]] = None  # (offset, row) read once past the short page ending a listing without total

    @property
    def overlap(self) -> bool:
        return self.limit >= 2

    def fetched(self, request: PageRequest, result: PageResult) -> None:
        """Without a total a short page ends the listing, and so does the first page of an API
        that silently caps its pages below ``limit`` (Parse's ``maxLimit``): every key after it
        would be deleted. So the listing reads once past a short page (overlapping its last row):
        rows there mean the end was not the end, and the scan is incomplete."""
        super().fetched(request, result)
        if getattr(result, "ignored", False) or request.fill is not None or not self.sequential:
            return
        offset, count = request.offset or 0, result.raw_count
        if self.probe is not None and offset == self.probe[0]:
            if (count > 1 or (count == 1 and result.first_key != self.probe[1])) and self.disturbed is None:
                self.disturbed = (f"rows follow the short page that ended the key listing at offset {offset} (does "
                                  f"the API serve fewer than {self.limit} records a page? set deletes.keys.limit to "
                                  "its page size)")
            return
        if self.short_page_seen and count > 0 and self.probe is None:
            self.probe, self.short_page_seen = (offset + count - 1, result.last_key), False
            self.next_offset = offset + count - 1

    def _check(self, before: int, after: int) -> None:
        if before not in self.edges or after not in self.edges:
            return
        last_before, first_after = self.edges[before][1], self.edges[after][0]
        if last_before is None or last_before == first_after:
            return
        if first_after is None and before in self.short_pages:
            return
        self.broken_boundaries += 1
        if self.disturbed is None:
            self.disturbed = f"rows moved while listing keys near offset {after}"


def make_scan_reader(client: Any, records: Reader, key_types: Dict[str, Optional[pa.DataType]],
                     params: Dict[str, Any], limit: Optional[int]) -> Reader:
    """A reader of the key listing: the records endpoint, its params plus ``params``, the same
    paginator (pages of ``limit`` for offset paginators)."""
    processor = KeyPageProcessor(records.processor, key_types)
    kwargs: Dict[str, Any] = dict(path=records.path, params={**records.base_params, **params}, method=records.method,
                                  json=records.json, response_actions=records.response_actions,
                                  headers=records.headers)
    if isinstance(records, OffsetReader):
        paginator = copy_paginator(records)
        reader: Reader = ScanOffsetReader(client, processor, paginator=paginator, total=records.total_source,
                                          **kwargs)
        if limit is not None:
            reader.limit = limit  # type: ignore[attr-defined]
        return reader
    assert isinstance(records, SequentialReader)
    return SequentialReader(client, processor, paginator_cfg=records.paginator_cfg, **kwargs)


def copy_paginator(records: OffsetReader) -> Any:
    """The records reader's paginator settings, as an offset paginator the scan reader takes."""
    from dlt.sources.helpers.rest_client.paginators import OffsetPaginator

    paginator = OffsetPaginator(limit=records.limit, offset=records.start, offset_param=records.offset_param,
                                limit_param=records.limit_param, total_path=records.total_path,
                                maximum_offset=records.maximum_offset)
    return paginator


@dataclass
class ScanRun:
    """One table's scan in this run: what was listed, and whether it can be trusted."""

    resource_name: str
    kind: str  # "listing": the key listing; "records": the keys of an unfiltered records read
    started: float  # the run's start (epoch seconds): rows loaded before it may be removed
    scan_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    keys: int = 0  # keys written to the keys table
    listed: int = 0  # records the listing returned (the overlapping rows not counted twice)
    pages: int = 0
    totals: Set[int] = field(default_factory=set)  # every total announced while listing
    first_total: Optional[int] = None
    last_total: Optional[int] = None
    problem: Optional[str] = None
    overlapping: bool = False  # the listing's pages overlapped (every boundary checked)

    def page(self, result: PageResult, keys: int) -> None:
        self.pages += 1
        self.keys += keys
        self.listed += int(getattr(result, "listed", result.table.num_rows + result.duplicates))
        if result.total is not None:
            self.totals.add(result.total)
            if self.first_total is None:
                self.first_total = result.total
            self.last_total = result.total
        if result.duplicates and self.problem is None:
            self.problem = f"{result.duplicates} key(s) repeated within a page"

    def fail(self, problem: str) -> None:
        if self.problem is None:
            self.problem = problem

    def verdict(self, reader: Reader, warning: Optional[str] = None) -> Optional[str]:
        """None when the scan is complete, else why it is not (see the module docstring).
        ``warning``: what the reader's completeness check said (a full last page no total
        proves complete); the check raises when rows the API announced are missing."""
        self.overlapping = bool(getattr(reader, "overlap", False))
        if warning:
            self.fail(_without_where(warning))
        disturbed = getattr(reader, "disturbed", None) or (
            "rows moved while reading" if getattr(reader, "unrepaired", False) else None)
        if disturbed:
            self.fail(disturbed)
        if len(self.totals) > 1 and not getattr(reader, "overlap", False):
            # pages that do not overlap cannot tell rows that moved: a listing that changed
            # while it was read may have skipped one
            self.fail(f"the total changed while listing ({self.first_total} to {self.last_total})")
        elif self.last_total is not None and self.listed != self.last_total:
            self.fail(f"{self.listed} record(s) listed of the {self.last_total} announced")
        return self.problem

    def state(self) -> Dict[str, Any]:
        # pages that do not overlap (page numbers, next links) cannot prove that no row slipped
        # past a boundary: a key they miss is removed only when the next scan misses it too
        return {"id": self.scan_id, "at": time.time(), "started": self.started, "keys": self.keys, "kind": self.kind,
                "confirm": not self.overlapping}


def _without_where(text: str) -> str:
    return text.split(": ", 1)[1] if text.startswith(("database ", "table ")) and ": " in text else text


class KeyWriter:
    """A scan's keys to the keys table, in batches of ``performance.batch_rows`` (never more in
    memory): the listing's keys and those of an unfiltered records read alike."""

    def __init__(self, session: Any, job: Any, run: ScanRun):
        self.job, self.run = job, run
        self.batch_rows = session.config.performance.batch_rows
        self.pending: List[pa.Table] = []
        self.rows = 0
        self.first = True

    def add(self, result: PageResult, keys: pa.Table) -> Iterator[Any]:
        missing = sum(keys[name].null_count for name in keys.column_names)
        if missing:
            self.run.fail(f"{missing} record(s) without a value in key field(s) {', '.join(keys.column_names)}")
        self.run.page(result, keys.num_rows)
        self.pending.append(key_batch(keys, self.run, self.job.database_column, self.job.database))
        self.rows += keys.num_rows
        if self.rows >= self.batch_rows:
            yield from self.flush()

    def flush(self) -> Iterator[Any]:
        if self.pending:
            batch = pa.concat_tables(self.pending, promote_options="permissive")
            self.pending.clear()
            self.rows = 0
            yield from keys_items(self.job.table_name, batch, first=self.first)
            self.first = False


class RecordKeys:
    """The keys of an unfiltered records read, written as the table's scan for deletes (a first
    run, a table without cursor, ``detect: full_read``)."""

    def __init__(self, session: Any, job: Any, run: ScanRun):
        deletes = session.config.deletes
        self.deleted_field = deletes.field if deletes.mode != "ignore" else None
        self.primary_key = job.primary_key
        self.run = run
        self.writer = KeyWriter(session, job, run)

    def add(self, result: PageResult) -> Iterator[Any]:
        yield from self.writer.add(result, records_keys(result.table, self.primary_key, self.deleted_field))

    def finish(self, reader: Reader, warning: Optional[str]) -> Iterator[Any]:
        yield from self.writer.flush()
        self.run.verdict(reader, warning)


def read_listing(session: Any, job: Any, run: ScanRun, reader: Reader, report: Any) -> Iterator[Any]:
    """Page through the key listing (after the table's records), writing the keys to the keys
    table; a page that fails ends the scan incomplete (the table's records stay loaded, its
    cursor moves as usual)."""
    from dbsync.errors import DbsyncError

    writer = KeyWriter(session, job, run)
    try:
        while True:
            result = session.scheduler.next_page(reader)
            if result is None:
                break
            report.requests += 1
            report.scan_pages += 1
            yield from writer.add(result, result.table)
            if session.progress:
                session.progress(report)
        yield from writer.flush()
        try:
            warning = reader.check_complete()
        except DbsyncError as exc:
            warning = exc.message
        run.verdict(reader, warning)
    except DbsyncError as exc:
        session.scheduler.abandon(reader)
        run.fail(exc.message)


def key_batch(keys: pa.Table, run: ScanRun, database_column: Optional[str], database: Optional[str]) -> pa.Table:
    """Keys as the keys table holds them: the key columns (and the database column of a union
    table), which table's scan and which scan."""
    n = keys.num_rows
    if database_column is not None and database_column not in keys.column_names:
        keys = keys.append_column(database_column, pa.array([database] * n, pa.string()))
    keys = keys.append_column(RESOURCE_COLUMN, pa.array([run.resource_name] * n, pa.string()))
    return keys.append_column(SCAN_COLUMN, pa.array([run.scan_id] * n, pa.string()))


def keys_items(table_name: str, batch: pa.Table, *, first: bool) -> Iterator[Any]:
    """A batch for the keys table, a dlt table variant of the resource (appended; emptied after
    the comparison). The first, empty item resets the hints a variant starts from (the main
    table's NOT NULL columns and key)."""
    name = keys_table_name(table_name)
    if first:
        reset = dlt.mark.make_hints(table_name=name, columns={}, write_disposition="append")
        yield dlt.mark.with_hints(batch.slice(0, 0), reset, create_table_variant=True)
    hints = dlt.mark.make_hints(table_name=name, write_disposition="append")
    yield dlt.mark.with_hints(batch, hints, create_table_variant=True)


def records_keys(table: pa.Table, primary_key: Sequence[str], deleted_field: Optional[str]) -> pa.Table:
    """The keys of a records page (an unfiltered read used as the scan), tombstones left out."""
    import pyarrow.compute as pc

    if deleted_field is not None and deleted_field in table.column_names:
        table = table.filter(pc.invert(pc.fill_null(table[deleted_field], False)))
    return table.select(list(primary_key))


# -- after the load: compare in the destination -------------------------------------------------

def apply_scans(pipeline: Any, session: Any) -> None:
    """Remove, mark or close (history) the rows whose key the table's last complete scan did
    not list, then empty the table's part of the keys table. Runs after every load; a scan is
    applied only while all its keys are in the keys table (so once: they are removed after)."""
    jobs = [j for j in session.jobs if j.scan is not None]
    if not jobs or not pipeline.default_schema_name:
        return
    schema = pipeline.default_schema
    resources = pipeline.state.get("sources", {}).get(schema.name, {}).get("resources", {})
    with pipeline.sql_client() as client:
        for job in jobs:
            main = schema.naming.normalize_path(job.table_name)
            keys = schema.naming.normalize_path(keys_table_name(job.table_name))
            if main not in schema.tables or keys not in schema.tables:
                continue
            compare = _Comparison(client, schema, job, main, keys, session.config.deletes)
            state = (resources.get(job.resource_name) or {}).get(STATE_KEY) or {}
            report = session.report.tables.get(job.resource_name)
            try:
                removed = compare.apply(state) if state.get("id") else 0
                if compare.missing:
                    # listed, yet not in the destination: kept for the proof of sync
                    # (dbsync.reconcile), which reads them again and clears them after
                    if report is not None:
                        report.scan_missing = compare.missing
                        report.scan_id = str(state["id"])
                else:
                    compare.clear()
                if report is not None and state.get("confirm"):
                    report.scan_pending = compare.pending
            except Exception as exc:  # the destination refused the comparison: the keys stay for the next run
                from dbsync.run.load_errors import destination_error

                error = destination_error("key-scan comparison", exc)
                error.message = f"{job.label}: deletes found by the key scan could not be applied: {error.message}"
                logger.error("%s", error.one_line())
                if report is not None and report.error is None:
                    report.error = error
                continue
            if removed:
                if report is not None:
                    report.deleted += removed
                logger.info("%s: %d row(s) no longer listed by the API: %s", job.label, removed,
                            "marked deleted" if session.config.deletes.mode == "mark" and not job.history
                            else ("closed (history)" if job.history else "deleted"))


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _timestamp(epoch: float) -> str:
    import datetime as _dt

    return _literal(_dt.datetime.fromtimestamp(epoch, _dt.timezone.utc).isoformat())


class _Comparison:
    """The SQL of one table's comparison with its keys (DuckDB and PostgreSQL alike).

    Shaped for flat memory: the keys are filtered in a derived table and joined once (a LEFT
    JOIN keeping the rows with no listed key), repeats are found by GROUP BY. DuckDB ran the
    first versions of these (``SELECT DISTINCT`` over the keys, ``COUNT`` over ``NOT EXISTS``)
    out of its 256 MB limit at 10,000,000 keys; these shapes stay within it."""

    def __init__(self, client: Any, schema: Any, job: Any, main: str, keys: str, deletes: Any):
        from dbsync.source.convert import SYNCED_AT

        naming = schema.naming
        self.client, self.job, self.deletes = client, job, deletes
        self.q = client.escape_column_name
        self.ident = lambda name: self.q(naming.normalize_identifier(name))
        self.main = client.make_qualified_table_name(main)
        self.keys = client.make_qualified_table_name(keys)
        self.synced_at = self.ident(SYNCED_AT)
        main_columns = schema.tables[main].get("columns", {})
        key_columns = schema.tables[keys].get("columns", {})
        self.key_names = [self.ident(k) for k in job.primary_key]
        self.same_type = [main_columns.get(naming.normalize_identifier(k), {}).get("data_type")
                          == key_columns.get(naming.normalize_identifier(k), {}).get("data_type")
                          for k in job.primary_key]
        self.mine = f"{self.ident(RESOURCE_COLUMN)} = {_literal(job.resource_name)}"
        self.pending = 0  # rows missed once, removed if the next scan misses them too (confirm)
        self.missing = 0  # keys listed that the destination has no live row for
        self.schema = schema

    def _equal(self, left: str, right: str) -> str:
        """Key columns of two aliases equal (as text where the two tables typed them apart)."""
        return " AND ".join(f"{left}.{k} = {right}.{k}" if same else f"CAST({left}.{k} AS TEXT) = CAST({right}.{k} AS TEXT)"
                            for k, same in zip(self.key_names, self.same_type))

    def _scan_rows(self, scan_id: str) -> str:
        return f"{self.keys} WHERE {self.mine} AND {self.ident(SCAN_COLUMN)} = {_literal(scan_id)}"

    def _count(self, sql: str) -> int:
        rows = self.client.execute_sql(sql)
        return int(rows[0][0]) if rows else 0

    def _gone(self, scan_id: str, started: float) -> str:
        """The keys of the rows to remove: loaded before the scan's run began, of this table (and
        database, in a union table), still current, and not listed."""
        from dbsync.source.history import VALID_TO

        keys = ", ".join(f"t.{k}" for k in self.key_names)
        listed = f"(SELECT {', '.join(self.key_names)} FROM {self._scan_rows(scan_id)})"
        where = [f"k.{self.key_names[0]} IS NULL", f"t.{self.synced_at} < {_timestamp(started)}"]
        if self.job.database_column is not None:  # a union table: this database's rows only
            where.append(f"t.{self.ident(self.job.database_column)} = {_literal(str(self.job.database))}")
        if self.job.history:
            where.append(f"t.{self.ident(VALID_TO)} IS NULL")
        elif self.deletes.mode == "mark":
            where.append(f"t.{self.ident(self.deletes.field)} IS NOT TRUE")
        return (f"SELECT {keys} FROM {self.main} AS t LEFT JOIN {listed} AS k ON {self._equal('k', 't')} "
                f"WHERE {' AND '.join(where)}")

    def apply(self, state: Dict[str, Any]) -> int:
        scan_id, expected = str(state["id"]), int(state.get("keys") or 0)
        listed = self._count(f"SELECT COUNT(*) FROM {self._scan_rows(scan_id)}")
        if listed != expected:
            return 0  # applied already (its keys were removed), or a load that did not finish
        key_list = ", ".join(self.key_names)
        repeated = self._count(f"SELECT COUNT(*) FROM (SELECT {key_list} FROM {self._scan_rows(scan_id)} "
                               f"GROUP BY {key_list} HAVING COUNT(*) > 1) AS d")
        if repeated:
            logger.warning("%s: deletes not checked, nothing deleted: the key scan listed %d key(s) more than once "
                           "(the listing repeated rows)", self.job.label, repeated)
            return 0
        gone = self._gone(scan_id, float(state["started"]))
        confirm = bool(state.get("confirm"))
        remove = gone
        if confirm:  # only the keys the previous scan missed too
            candidates = f"(SELECT {key_list} FROM {self.keys} WHERE {self.mine} AND {self._is_candidate})"
            remove = (f"SELECT {', '.join(f'g.{k}' for k in self.key_names)} FROM ({gone}) AS g "
                      f"JOIN {candidates} AS c ON {self._equal('c', 'g')}")
        removed = self._count(f"SELECT COUNT(*) FROM ({remove}) AS r")
        if removed:
            self._change(f"EXISTS (SELECT 1 FROM ({remove}) AS r WHERE {self._equal('r', 'm')})")
        if confirm:
            self._keep_candidates(gone, key_list)
        else:  # candidates of an earlier, non-overlapping listing are void now
            self.client.execute_sql(f"DELETE FROM {self.keys} WHERE {self.mine} AND {self._is_candidate}")
        self.missing = self.count_missing(scan_id)
        return removed

    def count_missing(self, scan_id: str) -> int:
        """Keys this scan listed that have no live row in the destination."""
        from dbsync.reconcile.destination import missing_keys

        keys_table = self.schema.naming.normalize_path(keys_table_name(self.job.table_name))
        return missing_keys(self.client, self.schema, self.job, self.deletes, keys_table, self._scan_rows(scan_id))

    @property
    def _is_candidate(self) -> str:
        return f"{self.ident(SCAN_COLUMN)} = {_literal(CANDIDATES)}"

    def _keep_candidates(self, gone: str, key_list: str) -> None:
        """The keys this scan missed and did not remove: the next scan removes them if it misses
        them too (the rows already removed are no longer in ``gone``)."""
        self.client.execute_sql(f"DELETE FROM {self.keys} WHERE {self.mine} AND {self._is_candidate}")
        self.client.execute_sql(
            f"INSERT INTO {self.keys} ({key_list}, {self.ident(RESOURCE_COLUMN)}, {self.ident(SCAN_COLUMN)}) "
            f"SELECT {', '.join(f'g.{k}' for k in self.key_names)}, {_literal(self.job.resource_name)}, "
            f"{_literal(CANDIDATES)} FROM ({gone}) AS g")
        self.pending = self._count(f"SELECT COUNT(*) FROM {self.keys} WHERE {self.mine} AND {self._is_candidate}")

    def _change(self, target: str) -> None:
        """Remove, mark or close the rows ``target`` selects (alias ``m``)."""
        now = _timestamp(time.time())
        if self.job.history:
            from dbsync.source.history import VALID_TO

            change = (f"UPDATE {self.main} AS m SET {self.ident(VALID_TO)} = {now} "
                      f"WHERE m.{self.ident(VALID_TO)} IS NULL AND {target}")
        elif self.deletes.mode == "mark":
            flag = self.ident(self.deletes.field)
            change = f"UPDATE {self.main} AS m SET {flag} = TRUE, {self.ident(DELETED_AT)} = {now} WHERE {target}"
        else:
            change = f"DELETE FROM {self.main} AS m WHERE {target}"
        self.client.execute_sql(change)

    def clear(self) -> None:
        """Empty this table's part of the keys table, but for the candidates a confirming scan
        keeps for the next one."""
        self.client.execute_sql(f"DELETE FROM {self.keys} WHERE {self.mine} AND NOT ({self._is_candidate})")
