"""``dbsync verify``: is the destination equal to the source right now? Checked without loading.

For a pipeline that has run, per selected table:

- **counts**: the source's count (one small request: :mod:`dbsync.reconcile.probe`) against the
  destination's live rows; where the API can also count the rows changed since the last run (the
  incremental filter from the saved cursor), a difference within them is "behind", not drift;
- **keys** (tables with a key listing, ``deletes.detect: keys``, or all tables with ``--keys``):
  every key the source lists against every key the destination holds, compared in a scratch
  DuckDB file that spills to disk (never the whole listing in memory): keys missing, keys extra;
- **values** (``--sample N`` or ``verify.sample``): N rows read again from random pages and
  compared with the destination's, field by field, by key.

Each table ends ``equal``, ``differs`` (what differs), ``behind`` (changes since the last run
explain it) or ``unverified`` (what could not be checked, and why). :func:`verify_sync` is the
library entry point; ``--repair`` then reads the tables that differ in full
(:func:`dbsync.run.sync.run_sync` with ``repair``).
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from dbsync.config.model import SyncConfig
from dbsync.errors import DbsyncError

logger = logging.getLogger("dbsync.reconcile")

__all__ = ["TableVerdict", "VerifyResult", "verify_sync"]

EQUAL, DIFFERS, BEHIND, UNVERIFIED = "equal", "differs", "behind", "unverified"


@dataclass
class TableVerdict:
    resource_name: str
    source: str  # the table as people know it: acme.orders
    table_name: str  # the destination table
    status: str = UNVERIFIED
    source_rows: Optional[int] = None
    source_how: Optional[str] = None
    destination_rows: Optional[int] = None
    changed_since: Optional[int] = None  # rows changed in the source since the last run, not in the destination
    pending_deletes: int = 0  # rows a key listing missed once: removed when the next scan misses them too
    missing_keys: Optional[int] = None
    extra_keys: Optional[int] = None
    keys_how: Optional[str] = None
    examples: Dict[str, List[Any]] = field(default_factory=dict)  # a few missing / extra keys
    sampled: Optional[int] = None
    values_differ: Optional[int] = None
    value_examples: List[str] = field(default_factory=list)
    not_checked: List[str] = field(default_factory=list)  # what could not be checked, and why
    differences: List[str] = field(default_factory=list)

    def as_dict(self) -> Dict[str, Any]:
        return {"table": self.resource_name, "source": self.source, "destination_table": self.table_name,
                "status": self.status, "source_rows": self.source_rows, "source_count": self.source_how,
                "destination_rows": self.destination_rows, "changed_since_last_run": self.changed_since,
                "pending_deletes": self.pending_deletes,
                "missing_keys": self.missing_keys, "extra_keys": self.extra_keys, "keys": self.keys_how,
                "examples": self.examples, "sampled_rows": self.sampled, "values_differ": self.values_differ,
                "value_examples": self.value_examples, "differences": self.differences,
                "not_checked": self.not_checked}


@dataclass
class VerifyResult:
    pipeline_name: str
    dataset_name: str
    destination: str
    tables: List[TableVerdict]
    requests: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(t.status in (EQUAL, BEHIND) for t in self.tables) and bool(self.tables)

    @property
    def differing(self) -> List[TableVerdict]:
        return [t for t in self.tables if t.status == DIFFERS]

    def exit_code(self) -> int:
        from dbsync.errors import DriftError

        return DriftError.exit_code if self.differing else 0


def verify_sync(config: Union[SyncConfig, Mapping[str, Any]], *, destination: Optional[str] = None,
                dataset: Optional[str] = None, pipeline_name: Optional[str] = None,
                pipelines_dir: Optional[str] = None, databases: Optional[Sequence[str]] = None,
                tables: Optional[Sequence[str]] = None, keys: bool = False,
                sample: Optional[int] = None) -> VerifyResult:
    """Compare the destination of the config's pipeline with the source, table by table, without
    loading anything. ``keys``: list every key of every table (not only those with a key
    listing). ``sample``: rows per table compared value by value (default ``verify.sample``)."""
    from dbsync.config.parse import parse_config
    from dbsync.run.sync import quiet_dlt_defaults
    from dbsync.source.source import dbsync_source

    quiet_dlt_defaults()
    cfg = config if isinstance(config, SyncConfig) else parse_config(config)
    name = pipeline_name or cfg.pipeline.name
    started = time.time()
    pipeline, pdir = _attach(cfg, name, destination, dataset, pipelines_dir)
    source_name = pipeline.default_schema_name
    if not source_name:
        from dbsync.errors import ConfigError

        raise ConfigError(f"pipeline '{name}' has loaded nothing into {destination or 'its destination'} yet",
                          hint="run `dbsync run` first")
    resources_state = pipeline.state.get("sources", {}).get(source_name, {}).get("resources", {})
    source = dbsync_source(cfg, databases=databases, tables=tables)
    session = source.dbsync_session
    try:
        from dbsync.reconcile.destination import live_counts

        counts = live_counts(pipeline, session.jobs, cfg.deletes)
        verdicts = [_verify_table(pipeline, session, job, counts.get(job.resource_name),
                                  resources_state.get(job.resource_name) or {}, keys=keys,
                                  sample=cfg.verify.sample if sample is None else sample)
                    for job in session.jobs]
        requests = session.client.stats.requests
    finally:
        session.close()
    from dbsync.run.destination import destination_label

    return VerifyResult(name, pipeline.dataset_name, destination_label(pipeline.destination), verdicts,
                        requests=requests, seconds=time.time() - started)


def _attach(cfg: SyncConfig, name: str, destination: Optional[str], dataset: Optional[str],
            pipelines_dir: Optional[str]) -> Tuple[Any, str]:
    """The pipeline the last run used (its destination and dataset from the run info), with its
    schema restored from the destination if the local folder lacks it."""
    from dbsync.run.destination import default_pipelines_dir, make_pipeline
    from dbsync.run.run_info import load_run_info

    pdir = pipelines_dir or default_pipelines_dir()
    info = load_run_info(pdir, name)
    pipeline = make_pipeline(cfg, destination=destination or info.get("destination"),
                             dataset=dataset or info.get("dataset"), pipeline_name=name, pipelines_dir=pdir)
    if not pipeline.default_schema_name:
        try:
            pipeline.sync_destination()
        except Exception as exc:  # nothing there: said by the caller
            logger.debug("could not restore the pipeline from the destination: %s", exc)
    return pipeline, pdir


def _verify_table(pipeline: Any, session: Any, job: Any, destination_rows: Optional[int],
                  state: Mapping[str, Any], *, keys: bool, sample: int) -> TableVerdict:
    from dbsync.reconcile.check import counts_apply

    report = session.report.tables[job.resource_name]
    verdict = TableVerdict(job.resource_name, report.source, job.table_name, destination_rows=destination_rows)
    not_counted = counts_apply(job)
    if destination_rows is None:
        verdict.not_checked.append("the destination has no such table (it has not been synced)")
        return verdict
    if not_counted:
        verdict.not_checked.append(not_counted)
    else:
        _count_source(session, job, verdict, state)
    listing = session.scan_readers.get(job.resource_name)
    if keys or listing is not None:
        if job.primary_key:
            _compare_keys(pipeline, session, job, verdict, listing)
        else:
            verdict.not_checked.append("keys: the table has no primary key")
    elif not not_counted:
        verdict.not_checked.append("keys: no key listing is configured (deletes.detect: keys), none asked (--keys)")
    if sample:
        from dbsync.reconcile.sample import compare_sample

        compare_sample(pipeline, session, job, verdict, sample)
    _conclude(pipeline, verdict, session, job, state)
    return verdict


def _count_source(session: Any, job: Any, verdict: TableVerdict, state: Mapping[str, Any]) -> None:
    probe = session.count_readers[job.resource_name]
    try:
        count = probe.count_now()
    except DbsyncError as exc:
        verdict.not_checked.append(f"counts: the count request failed: {exc.one_line()}")
        return
    if count is None:
        verdict.not_checked.append(f"counts: {probe.problem or 'the API announces no total'}")
        return
    verdict.source_rows, verdict.source_how = count.rows, count.how


def _pending_deletes(pipeline: Any, job: Any) -> int:
    """Rows the last key listing missed once, which the next scan removes if it misses them too
    (pages that do not overlap: dbsync.source.key_scan): a change on its way, not a difference."""
    from dbsync.source.key_scan import CANDIDATES, RESOURCE_COLUMN, SCAN_COLUMN, keys_table_name

    if job.scan is None or not pipeline.default_schema_name:
        return 0
    schema = pipeline.default_schema
    keys = schema.naming.normalize_path(keys_table_name(job.table_name))
    if keys not in schema.tables:
        return 0
    try:
        with pipeline.sql_client() as client:
            q = client.escape_column_name
            rows = client.execute_sql(
                f"SELECT COUNT(*) FROM {client.make_qualified_table_name(keys)} WHERE {q(RESOURCE_COLUMN)} = %s "
                f"AND {q(SCAN_COLUMN)} = %s", job.resource_name, CANDIDATES)
    except Exception as exc:
        logger.debug("could not count the pending deletes of %s: %s", job.label, exc)
        return 0
    return int(rows[0][0]) if rows else 0


MAX_PENDING_ROWS = 10_000  # changes since the last run read to tell "behind" from "differs"


def _pending_changes(pipeline: Any, session: Any, job: Any, cursor: Any) -> Optional[int]:
    """How many rows changed in the source since the last run and are not in the destination
    as changed: the incremental listing from the saved cursor, read (not loaded) and compared by
    key and cursor with the destination (rows at the cursor that the last run loaded are no
    change). None when it cannot tell (no cursor filter, too many changes to read)."""
    from dbsync.source.incremental import format_cursor, request_params

    settings = session.config.incremental
    records = session.readers[job.resource_name]
    records.configure(request_params(settings, format_cursor(cursor, settings.value_format), job.cursor_fields))
    changed: List[Tuple[Tuple[str, ...], Any, bool]] = []
    deleted = session.config.deletes.field
    try:
        for result in drive(records):
            table = result.table
            names = list(job.api_primary_key)
            keys = zip(*[table[n].to_pylist() for n in names]) if table.num_rows else []
            cursors = table[job.cursor_field].to_pylist() if job.cursor_field in table.column_names else \
                [None] * table.num_rows
            flags = table[deleted].to_pylist() if deleted in table.column_names else [None] * table.num_rows
            for key, value, flag in zip(keys, cursors, flags):
                changed.append((tuple(str(v) for v in key), value, flag is True))
            if len(changed) > MAX_PENDING_ROWS:
                return None
    except DbsyncError:
        return None
    if not changed:
        return 0
    stored = _stored_cursors(pipeline, session, job, [c[0] for c in changed])
    pending = 0
    for key, value, is_deleted in changed:
        held = stored.get(key, _ABSENT)
        if is_deleted:
            pending += held is not _ABSENT
        elif held is _ABSENT or (value is not None and held is not None and _later(value, held)):
            pending += 1
    return pending


_ABSENT = object()


def _later(source: Any, destination: Any) -> bool:
    from dbsync.reconcile.sample import _newer

    return _newer(source, destination)


def _stored_cursors(pipeline: Any, session: Any, job: Any, keys: List[Tuple[str, ...]]) -> Dict[Tuple[str, ...], Any]:
    from dbsync.reconcile.destination import live_rows_filter

    schema = pipeline.default_schema
    naming = schema.naming
    names = list(job.api_primary_key)
    out: Dict[Tuple[str, ...], Any] = {}
    with pipeline.sql_client() as client:
        q = client.escape_column_name
        table = client.make_qualified_table_name(naming.normalize_path(job.table_name))
        columns = [f"CAST({q(naming.normalize_identifier(k))} AS VARCHAR)" for k in names]
        cursor = q(naming.normalize_identifier(job.cursor_field))
        where = live_rows_filter(client, schema, job, session.config.deletes)
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            matches = " OR ".join("(" + " AND ".join(f"{c} = %s" for c in columns) + ")" for _ in chunk)
            sql = (f"SELECT {', '.join(columns)}, {cursor} FROM {table} WHERE ({matches})"
                   + (f" AND {' AND '.join(where)}" if where else ""))
            with client.execute_query(sql, *[v for key in chunk for v in key]) as rows:
                for row in rows.fetchall():
                    out[tuple(row[:-1])] = row[-1]
    return out


def drive(reader: Any) -> Iterator[Any]:
    """A reader's pages one at a time, outside the scheduler (nothing is loaded)."""
    while True:
        request = reader.next_request()
        if request is None:
            if reader.exhausted:
                return
            raise RuntimeError("a reader stalled")  # pragma: no cover: readers plan ahead
        result = reader.fetch(request)
        reader.fetched(request, result)
        yield result


def _conclude(pipeline: Any, verdict: TableVerdict, session: Any, job: Any, state: Mapping[str, Any]) -> None:
    from dbsync.reconcile.check import compare_counts

    differences: List[str] = []
    counted = compare_counts(verdict.source_rows, verdict.destination_rows)
    if counted:
        differences.append(counted)
    if verdict.missing_keys:
        differences.append(f"{verdict.missing_keys:,} key(s) the source lists are missing from the destination")
    if verdict.extra_keys:
        differences.append(f"{verdict.extra_keys:,} key(s) in the destination the source no longer lists")
    if verdict.values_differ:
        differences.append(f"{verdict.values_differ:,} of {verdict.sampled:,} sampled row(s) differ in value")
    verdict.differences = differences
    checked = verdict.source_rows is not None or verdict.missing_keys is not None or verdict.sampled
    if differences and state.get("cursor") is not None and job.cursor_fields and not verdict.values_differ:
        verdict.changed_since = _pending_changes(pipeline, session, job, state["cursor"])
    if differences:
        verdict.pending_deletes = _pending_deletes(pipeline, job)
        pending = (verdict.changed_since or 0) + verdict.pending_deletes
        count_gap = 0 if verdict.source_rows is None or verdict.destination_rows is None else \
            abs(verdict.source_rows - verdict.destination_rows)
        key_gap = max(verdict.missing_keys or 0, verdict.extra_keys or 0)
        if pending and count_gap <= pending and key_gap <= pending and not verdict.values_differ:
            verdict.status = BEHIND
        else:
            verdict.status = DIFFERS
    elif checked:
        verdict.status = EQUAL
    if verdict.status == EQUAL and (state.get("count") == "estimate"):
        verdict.not_checked.append("counts: the API's total is an estimate")


# -- keys ------------------------------------------------------------------------------------------

def _compare_keys(pipeline: Any, session: Any, job: Any, verdict: TableVerdict, listing: Any) -> None:
    """Every key the source lists against every key the destination holds, in a scratch DuckDB."""
    import duckdb

    from dbsync.source.key_scan import make_scan_reader

    if listing is None:  # --keys: the records endpoint itself, keys only kept
        converter = session.converters[job.resource_name]
        key_types = {n: p.arrow_type for n, p in converter.plans.items() if n in job.api_primary_key}
        listing = make_scan_reader(session.client, session.readers[job.resource_name], key_types, {}, None)
        verdict.keys_how = "records listing"
    else:
        verdict.keys_how = "key listing"
    names = list(job.api_primary_key)
    with tempfile.TemporaryDirectory(prefix="dbsync-verify-") as scratch:
        con = duckdb.connect(str(Path(scratch) / "keys.duckdb"))
        con.execute("SET memory_limit = '256MB'")
        columns = ", ".join(f"k{i} VARCHAR" for i in range(len(names)))
        con.execute(f"CREATE TABLE listed ({columns})")
        con.execute(f"CREATE TABLE stored ({columns})")
        try:
            for batch in _listing_keys(listing, names):
                _insert(con, "listed", batch)
        except DbsyncError as exc:
            verdict.not_checked.append(f"keys: the key listing failed: {exc.one_line()}")
            verdict.keys_how = None
            return
        problem = listing.check_complete() if hasattr(listing, "check_complete") else None
        disturbed = getattr(listing, "disturbed", None)
        if disturbed or problem:
            verdict.not_checked.append(f"keys: the listing is not complete ({disturbed or problem})")
            verdict.keys_how = None
            return
        for batch in _stored_keys(pipeline, session, job, names):
            _insert(con, "stored", batch)
        on = " AND ".join(f"a.k{i} = b.k{i}" for i in range(len(names)))
        key_list = ", ".join(f"a.k{i}" for i in range(len(names)))
        for label, left, right, attr in (("missing", "listed", "stored", "missing_keys"),
                                         ("extra", "stored", "listed", "extra_keys")):
            gone = f"FROM {left} AS a ANTI JOIN {right} AS b ON {on}"
            setattr(verdict, attr, int(con.execute(f"SELECT COUNT(*) {gone}").fetchone()[0]))
            if getattr(verdict, attr):
                verdict.examples[label] = [row[0] if len(row) == 1 else list(row)
                                           for row in con.execute(f"SELECT {key_list} {gone} LIMIT 5").fetchall()]
        con.close()


def _listing_keys(reader: Any, names: List[str]) -> Iterator[List[Tuple[Any, ...]]]:
    """Each page's keys, as text."""
    for result in drive(reader):
        table = result.table
        columns = [table[n].to_pylist() if n in table.column_names else [None] * table.num_rows for n in names]
        yield [tuple(None if v is None else str(v) for v in row) for row in zip(*columns)]


def _stored_keys(pipeline: Any, session: Any, job: Any, names: List[str]) -> Iterator[List[Tuple[Any, ...]]]:
    from dbsync.reconcile.destination import live_rows_filter

    schema = pipeline.default_schema
    naming = schema.naming
    with pipeline.sql_client() as client:
        q = client.escape_column_name
        table = client.make_qualified_table_name(naming.normalize_path(job.table_name))
        where = live_rows_filter(client, schema, job, session.config.deletes)
        columns = ", ".join(f"CAST({q(naming.normalize_identifier(n))} AS VARCHAR)" for n in names)
        sql = f"SELECT {columns} FROM {table}" + (f" WHERE {' AND '.join(where)}" if where else "")
        with client.execute_query(sql) as cursor:
            while True:
                rows = cursor.fetchmany(50_000)
                if not rows:
                    return
                yield [tuple(r) for r in rows]


def _insert(con: Any, table: str, rows: List[Tuple[Any, ...]]) -> None:
    if not rows:
        return
    import pyarrow as pa

    width = len(rows[0])
    arrow = pa.table({f"k{i}": pa.array([r[i] for r in rows], pa.string()) for i in range(width)})
    con.register("batch", arrow)
    con.execute(f"INSERT INTO {table} SELECT * FROM batch")
    con.unregister("batch")
