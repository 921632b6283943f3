"""A table's shape: what decides its destination columns. A change rebuilds the table once.

Changing ``types:`` (``parse_json`` for JSON sent as text, an integer type for a number), a
field's declared type on the server, a column hint, the primary key, the tombstone field or
history makes the rows already loaded the wrong shape: an incremental run reads nothing again,
and dlt never changes an existing column's type. So each table's shape is kept in its state
(:func:`table_shape`: declared columns with their types, precision and scale, the value rules,
the key, how deletes and history are kept), and a run that finds it changed drops the table
(dlt's own ``pipeline_drop``: its side tables and its state too) and reads it again in full,
saying which part changed. Nullability is not part of it: dbsync relaxes a column that receives
nulls by itself. A union table (``layout: union``) is shared by every database's resource:
it is read in full, and its rebuild left to ``--full-refresh -t <table>``, with a warning. The
destination table's name is part of the shape: a ``layout`` or resource name that moves a table
drops the table it loaded into before (unless that one was a union table) and fills the new one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, Dict, List, Mapping, Optional

logger = logging.getLogger("dbsync.reconcile")

__all__ = ["table_shape", "shape_changes", "STATE_KEY"]

STATE_KEY = "shape"
_COLUMN_KEYS = ("data_type", "precision", "scale", "hard_delete", "dedup_sort")


def table_shape(converter: Any, job: Any, deletes: Any) -> Dict[str, Any]:
    """What decides the table's columns, as a small JSON-able document with its digest."""
    columns = {name: {k: hint[k] for k in _COLUMN_KEYS if hint.get(k) is not None}
               for name, hint in converter.column_hints().items()}
    rules = {name: [rule.type, rule.value, bool(rule.parse_json)] for name, rule in converter.value_rules.items()}
    doc = {"columns": dict(sorted(columns.items())), "rules": dict(sorted(rules.items())),
           "primary_key": list(job.primary_key), "history": bool(job.history),
           "deletes": [deletes.mode, deletes.field] if deletes.mode != "ignore" else None,
           "table": job.table_name, "union": job.database_column is not None}
    digest = hashlib.blake2b(json.dumps(doc, sort_keys=True, default=str).encode(), digest_size=8).hexdigest()
    return {"digest": digest, **doc}


def shape_changes(saved: Optional[Mapping[str, Any]], now: Mapping[str, Any]) -> List[str]:
    """What changed between a saved shape and this run's, in words (empty: nothing)."""
    if not saved or saved.get("digest") == now.get("digest"):
        return []
    out: List[str] = []
    before_columns, after_columns = saved.get("columns") or {}, now.get("columns") or {}
    for name in sorted(set(before_columns) & set(after_columns)):
        was, now_is = before_columns[name], after_columns[name]
        if was != now_is:
            out.append(f"column {name}: {_type_text(was)} -> {_type_text(now_is)}")
    for key, label in (("rules", "value rules"), ("primary_key", "primary key"), ("history", "history"),
                       ("deletes", "deletes (mode, field)"), ("table", "destination table")):
        if saved.get(key) != now.get(key):
            out.append(f"{label}: {saved.get(key)} -> {now.get(key)}")
    gone = sorted(set(before_columns) - set(after_columns))
    if gone and not out:
        return []  # fields the API no longer declares: their columns stay, nothing to rebuild
    return out


def _type_text(hint: Mapping[str, Any]) -> str:
    text = str(hint.get("data_type"))
    if hint.get("precision") is not None:
        text += f"({hint['precision']}" + (f",{hint['scale']})" if hint.get("scale") is not None else ")")
    for flag in ("hard_delete", "dedup_sort"):
        if hint.get(flag):
            text += f" {flag}"
    return text


def changed_tables(pipeline: Any, session: Any, source_name: str) -> Dict[str, List[str]]:
    """resource name -> what changed in its shape since its last run (saved in its state)."""
    resources = pipeline.state.get("sources", {}).get(source_name, {}).get("resources", {})
    out: Dict[str, List[str]] = {}
    for job in session.jobs:
        saved = (resources.get(job.resource_name) or {}).get(STATE_KEY)
        changes = shape_changes(saved, session.shapes[job.resource_name])
        if changes:
            out[job.resource_name] = changes
    return out


def rebuild(pipeline: Any, session: Any, source_name: str) -> Dict[str, List[str]]:
    """Drop the tables whose shape changed (not union tables: those are read in full) so that
    this run loads them anew; each gets a warning saying what changed. Returns what it found."""
    changed = changed_tables(pipeline, session, source_name)
    if not changed:
        return changed
    by_name = {job.resource_name: job for job in session.jobs}
    saved = pipeline.state.get("sources", {}).get(source_name, {}).get("resources", {})
    # the table the resource loaded into so far is dropped, unless it is a union table (shared)
    drop = [name for name in changed if not ((saved.get(name) or {}).get(STATE_KEY) or {}).get("union")]
    if drop:
        from dlt.pipeline.helpers import pipeline_drop

        pipeline_drop(pipeline, resources=drop, schema_name=source_name)()
    for name, changes in changed.items():
        report = session.report.tables[name]
        if name in drop:
            message = (f"{report.source}: the table's shape changed ({'; '.join(changes)}): its destination table "
                       "was dropped and is loaded again in full")
            session.fresh_resources.add(name)
        else:
            session.fresh_resources.add(name)
            message = (f"{report.source}: the table's shape changed ({'; '.join(changes)}): read in full; the union "
                       f"table it loaded into, shared by every database, keeps its old columns (and, if it moved, "
                       f"these rows) until `dbsync run --full-refresh -t {by_name[name].table.name}`")
        logger.warning("%s", message)
        report.warnings.append(message)
    return changed


def jobs_shapes(session: Any) -> Dict[str, Dict[str, Any]]:
    return {job.resource_name: table_shape(session.converters[job.resource_name], job, session.config.deletes)
            for job in session.jobs}

