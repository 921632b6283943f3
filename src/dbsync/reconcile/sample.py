"""Values, sampled: rows read again from random pages and compared with the destination by key.

Counts and keys prove that every row is there; they cannot see a value that is wrong (a column
added with a default, a type that changed shape, a merge that kept an older version). A sample
can: ``verify: {sample: N}`` (or ``dbsync verify --sample N``) reads N rows again, unfiltered,
from random offsets (offset paginators; other paginators: the first page), converts them exactly
as a sync would, and compares every field with the destination's row of the same key. A row
whose cursor moved past the destination's is a change since the last run, not a difference.
"""

from __future__ import annotations

import json
import logging
import random
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Dict, List, Optional

from dbsync.errors import DbsyncError

logger = logging.getLogger("dbsync.reconcile")

__all__ = ["compare_sample", "sample_rows", "same_value"]

MAX_EXAMPLES = 5


def _plain(value: Any) -> Any:
    """A value as Python compares it across Arrow, DuckDB and PostgreSQL."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("{", "[") and text[-1:] in ("}", "]"):
            try:
                return json.loads(text)
            except ValueError:
                return value
        return value
    if isinstance(value, datetime):
        return value if value.tzinfo is None else value.astimezone(timezone.utc)
    if isinstance(value, Decimal):
        return value.normalize()
    return value


def same_value(destination: Any, source: Any) -> bool:
    a, b = _plain(destination), _plain(source)
    if isinstance(a, float) and isinstance(b, (int, float)) or isinstance(b, float) and isinstance(a, (int, float)):
        return float(a) == float(b)
    if isinstance(a, Decimal) and isinstance(b, (int, float)) or isinstance(b, Decimal) and isinstance(a, (int, float)):
        return Decimal(str(a)) == Decimal(str(b))
    return bool(a == b)


def sample_rows(session: Any, job: Any, n: int, total: Optional[int]) -> List[Dict[str, Any]]:
    """Up to ``n`` rows of the table, unfiltered, from random places, typed as a sync types them."""
    from dbsync.source.offset_reader import OffsetReader
    from dbsync.source.readers import PageRequest

    reader = session.readers[job.resource_name]
    processor = reader.processor
    requests: List[PageRequest] = []
    if isinstance(reader, OffsetReader):
        size = max(1, min(n, reader.limit))
        last = max(0, (total or 0) - size)
        offsets = sorted({reader.start + random.randint(0, last) for _ in range((n + size - 1) // size)})
        for offset in offsets:
            params = dict(reader.base_params)
            params[reader.offset_param], params[reader.limit_param] = offset, size
            requests.append(PageRequest(reader.path, params, reader.method, reader.json, label=f"sample at offset {offset}",
                                        offset=offset, limit=size))
    else:
        first = session.count_readers[job.resource_name].request()  # the first page, unfiltered
        params = dict(getattr(reader, "base_params", {}))
        requests.append(PageRequest(reader.path, {**params, **{k: v for k, v in first.params.items()
                                                               if k not in params}}, reader.method, reader.json,
                                    label="sample, page 1"))
    rows: List[Dict[str, Any]] = []
    deleted = session.config.deletes.field
    for request in requests:
        page = session.client.get_json(request.path, request.params, where=processor.at(request.label),
                                       method=request.method, json=request.json, headers=reader.headers)
        if page.ignored or page.doc is None:
            continue
        result, _ = processor.process(page, request)
        for row in result.table.to_pylist():
            if row.get(deleted) is not True:
                rows.append(row)
    return rows[:n]


def compare_sample(pipeline: Any, session: Any, job: Any, verdict: Any, n: int) -> None:
    """Sample ``n`` rows and compare them with the destination: ``verdict.sampled``,
    ``values_differ`` and a few examples."""
    try:
        rows = sample_rows(session, job, n, verdict.source_rows)
    except DbsyncError as exc:
        verdict.not_checked.append(f"values: the sample could not be read: {exc.one_line()}")
        return
    if not rows:
        verdict.sampled, verdict.values_differ = 0, 0
        return
    stored = _stored_rows(pipeline, session, job, rows)
    naming = pipeline.default_schema.naming
    own = {session.config.deletes.field, session.config.database_column}
    cursor = job.cursor_fields[0] if job.cursor_fields else None
    differ = 0
    checked = 0
    for row in rows:
        key = tuple(row.get(k) for k in job.api_primary_key)
        held = stored.get(tuple(str(v) for v in key))
        if held is None:
            differ += 1
            _example(verdict, f"{_key_text(job, key)}: not in the destination")
            continue
        if cursor and _newer(row.get(cursor), held.get(naming.normalize_identifier(cursor))):
            continue  # changed since the last run: a change to sync, not a difference
        checked += 1
        for name, value in row.items():
            if name in own or name.startswith(("_dbsync", "_dlt")):
                continue
            column = naming.normalize_identifier(name)
            if column not in held and value is None:
                continue
            if not same_value(held.get(column), value):
                differ += 1
                _example(verdict, f"{_key_text(job, key)} field {name}: destination {held.get(column)!r} != "
                                  f"source {value!r}")
                break
    verdict.sampled, verdict.values_differ = checked + (differ if differ else 0), differ


def _newer(source: Any, destination: Any) -> bool:
    if source is None or destination is None:
        return False
    try:
        return _plain(source) > _plain(destination)
    except TypeError:
        return str(source) > str(destination)


def _key_text(job: Any, key: tuple) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in zip(job.api_primary_key, key))


def _example(verdict: Any, text: str) -> None:
    if len(verdict.value_examples) < MAX_EXAMPLES:
        verdict.value_examples.append(text)


def _stored_rows(pipeline: Any, session: Any, job: Any, rows: List[Dict[str, Any]]) -> Dict[tuple, Dict[str, Any]]:
    """The destination's live rows of the sampled keys, by key (as text)."""
    from dbsync.reconcile.destination import live_rows_filter

    schema = pipeline.default_schema
    naming = schema.naming
    names = list(job.api_primary_key)
    with pipeline.sql_client() as client:
        q = client.escape_column_name
        table = client.make_qualified_table_name(naming.normalize_path(job.table_name))
        keys = [tuple(r.get(k) for k in names) for r in rows]
        columns = [q(naming.normalize_identifier(k)) for k in names]
        matches = " OR ".join("(" + " AND ".join(f"CAST({c} AS VARCHAR) = %s" for c in columns) + ")" for _ in keys)
        where = live_rows_filter(client, schema, job, session.config.deletes)
        sql = f"SELECT * FROM {table} WHERE ({matches})" + (f" AND {' AND '.join(where)}" if where else "")
        args = [str(v) for key in keys for v in key]
        with client.execute_query(sql, *args) as cursor:
            fetched = cursor.fetchall()
            header = [d[0] for d in cursor.description]
    out: Dict[tuple, Dict[str, Any]] = {}
    for values in fetched:
        row = dict(zip(header, values))
        out[tuple(str(row[naming.normalize_identifier(k)]) for k in names)] = row
    return out
