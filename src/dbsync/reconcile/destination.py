"""What the destination holds, table by table: live rows, and keys a listing found missing.

"Live" means what a source's listing counts: in a union table only the rows of that database
(``_dbsync_database``), with ``deletes: mark`` only rows not marked deleted, in a history table
only current versions (``_dbsync_valid_to`` NULL). The counts of many tables go to the
destination as one query per batch of tables (a ``UNION ALL`` of ``COUNT(*)``), so a run over a
thousand tables asks a handful of times, not a thousand.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Sequence

logger = logging.getLogger("dbsync.reconcile")

__all__ = ["live_counts", "live_rows_filter", "missing_keys"]

COUNTS_PER_QUERY = 200


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def live_rows_filter(client: Any, schema: Any, job: Any, deletes: Any, alias: str = "") -> List[str]:
    """SQL conditions selecting ``job``'s live rows in its destination table."""
    from dbsync.source.history import VALID_TO

    naming = schema.naming
    prefix = f"{alias}." if alias else ""
    table = schema.tables.get(naming.normalize_path(job.table_name), {})
    columns = table.get("columns", {})
    where: List[str] = []
    if job.database_column is not None:
        where.append(f"{prefix}{client.escape_column_name(naming.normalize_identifier(job.database_column))} = "
                     f"{_literal(str(job.database))}")
    valid_to = naming.normalize_identifier(VALID_TO)
    if getattr(job, "history", False) and valid_to in columns:
        where.append(f"{prefix}{client.escape_column_name(valid_to)} IS NULL")
    elif deletes.mode == "mark":
        flag = naming.normalize_identifier(deletes.field)
        if flag in columns:
            where.append(f"{prefix}{client.escape_column_name(flag)} IS NOT TRUE")
    return where


def live_counts(pipeline: Any, jobs: Sequence[Any], deletes: Any) -> Dict[str, Optional[int]]:
    """resource name -> live rows in its destination table (None: the table is not there)."""
    if not jobs or not pipeline.default_schema_name:
        return {job.resource_name: None for job in jobs}
    schema = pipeline.default_schema
    naming = schema.naming
    counts: Dict[str, Optional[int]] = {job.resource_name: None for job in jobs}
    present = [job for job in jobs if naming.normalize_path(job.table_name) in schema.tables]
    if not present:
        return counts
    with pipeline.sql_client() as client:
        for start in range(0, len(present), COUNTS_PER_QUERY):
            batch = present[start:start + COUNTS_PER_QUERY]
            queries = [_count_query(client, schema, job, deletes, i) for i, job in enumerate(batch)]
            try:
                rows = client.execute_sql(" UNION ALL ".join(queries)) or []
            except Exception:  # a table dropped by hand: ask one by one, the missing ones stay None
                rows = []
                for query in queries:
                    try:
                        rows.extend(client.execute_sql(query) or [])
                    except Exception as exc:
                        logger.debug("could not count rows: %s", exc)
            for i, n in rows:
                counts[batch[int(i)].resource_name] = int(n)
    return counts


def _count_query(client: Any, schema: Any, job: Any, deletes: Any, i: int) -> str:
    table = client.make_qualified_table_name(schema.naming.normalize_path(job.table_name))
    where = live_rows_filter(client, schema, job, deletes)
    condition = f" WHERE {' AND '.join(where)}" if where else ""
    return f"SELECT {i} AS i, COUNT(*) AS n FROM {table}{condition}"


def missing_keys(client: Any, schema: Any, job: Any, deletes: Any, keys_table: str, scan_rows: str) -> int:
    """Keys a complete listing found (``scan_rows``: the FROM/WHERE of this scan's keys) that
    the destination holds no live row for: rows the source has and the destination lacks."""
    naming = schema.naming
    q = client.escape_column_name
    main = client.make_qualified_table_name(naming.normalize_path(job.table_name))
    key_columns = [q(naming.normalize_identifier(k)) for k in job.primary_key if k != job.database_column]
    main_columns = schema.tables[naming.normalize_path(job.table_name)].get("columns", {})
    side_columns = schema.tables[keys_table].get("columns", {})
    join = []
    for name, column in zip([naming.normalize_identifier(k) for k in job.primary_key if k != job.database_column],
                            key_columns):
        same = main_columns.get(name, {}).get("data_type") == side_columns.get(name, {}).get("data_type")
        join.append(f"k.{column} = t.{column}" if same else f"CAST(k.{column} AS TEXT) = CAST(t.{column} AS TEXT)")
    join.extend(live_rows_filter(client, schema, job, deletes, alias="t"))
    listed = f"(SELECT {', '.join(key_columns)} FROM {scan_rows})"  # no key twice: checked before
    sql = (f"SELECT COUNT(*) FROM {listed} AS k LEFT JOIN {main} AS t ON {' AND '.join(join)} "
           f"WHERE t.{key_columns[0]} IS NULL")
    rows = client.execute_sql(sql)
    return int(rows[0][0]) if rows else 0
