"""Columns added on the server: the rows already loaded need their values too.

Adding a column (often with a default) does not touch any row's cursor, so an incremental run
never reads the existing rows again: the new column stays NULL in every row loaded before. A
count cannot see that (the row count is unchanged), so a new column is found by name:

- before the run, by discovery: a field the API declares that the destination table does not
  have yet makes this run read the table in full (:func:`new_declared_fields`);
- after the load, for APIs without a schema: a column a filtered read created in a table that
  already had rows marks the table different, and the proof of sync reads it again in full
  (:func:`new_columns_since`).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Sequence, Set

logger = logging.getLogger("dbsync.reconcile")

__all__ = ["stored_columns", "new_declared_fields", "new_columns_since"]


def stored_columns(pipeline: Any, source_name: str, jobs: Sequence[Any]) -> Dict[str, Set[str]]:
    """resource name -> the columns its destination table has in the pipeline's stored schema
    (only tables that exist there with columns)."""
    if source_name not in pipeline.schema_names:
        return {}
    schema = pipeline.schemas[source_name]
    out: Dict[str, Set[str]] = {}
    for job in jobs:
        table = schema.tables.get(schema.naming.normalize_path(job.table_name))
        columns = set((table or {}).get("columns") or {})
        if columns:
            out[job.resource_name] = columns
    return out


def _normalizer(pipeline: Any, source_name: str) -> Any:
    if source_name in pipeline.schema_names:
        return pipeline.schemas[source_name].naming
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    return NamingConvention()


def new_declared_fields(pipeline: Any, source_name: str, jobs: Sequence[Any],
                        before: Dict[str, Set[str]]) -> Dict[str, List[str]]:
    """resource name -> fields the API's schema declares that its destination table lacks."""
    naming = _normalizer(pipeline, source_name)
    out: Dict[str, List[str]] = {}
    for job in jobs:
        columns = before.get(job.resource_name)
        if not columns or not job.table.fields:
            continue
        new = [f.name for f in job.table.fields if naming.normalize_identifier(f.name) not in columns]
        if new:
            out[job.resource_name] = new
    return out


def _is_own_column(name: str, own: Set[str]) -> bool:
    """dlt's and dbsync's own columns, and variant columns (a value whose type changed)."""
    return name.startswith(("_dlt", "_dbsync")) or "__v_" in name or name in own


def new_columns_since(pipeline: Any, jobs: Sequence[Any], before: Dict[str, Set[str]],
                      own: Optional[Set[str]] = None) -> Dict[str, List[str]]:
    """resource name -> columns created by this run in a table that had columns before it."""
    if not pipeline.default_schema_name:
        return {}
    schema = pipeline.default_schema
    out: Dict[str, List[str]] = {}
    for job in jobs:
        columns = before.get(job.resource_name)
        if not columns:
            continue
        now = set((schema.tables.get(schema.naming.normalize_path(job.table_name)) or {}).get("columns") or {})
        new = sorted(c for c in now - columns if not _is_own_column(c, own or set()))
        if new:
            out[job.resource_name] = new
    return out
