"""Tables removed from the source: said by the run and by ``status``, handled as configured.

A table (or a whole database) deleted on the server simply stops being listed. Its rows stay in
the destination, and without a word nobody knows they are stale. A table the last runs synced is
**gone** when this run's discovery, which would have listed it, does not: its database was
discovered and no longer lists it, or its database is no longer listed by a database
discovery. A table that the config's ``include``/``exclude``/``list`` or the run's ``-d``/``-t``
leave out is not gone, only not synced this run.

``tables.gone`` decides what happens to its rows: ``keep`` (the default: a warning every run),
``mark`` (``deletes.mode: mark``: every row flagged deleted, ``_dbsync_deleted_at`` set) or
``drop`` (the destination table dropped; in a union table, that database's rows deleted).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence

from dbsync.discovery.discover import matches

logger = logging.getLogger("dbsync.reconcile")

__all__ = ["GoneTable", "find_gone", "handle_gone"]


@dataclass
class GoneTable:
    resource_name: str
    database: Optional[str]
    table: str
    table_name: str  # the destination table
    rows: Optional[int] = None  # its live rows in the destination (this database's, in a union table)
    action: str = "keep"  # keep | mark | drop: what this run did with them

    @property
    def source(self) -> str:
        return f"{self.database}.{self.table}" if self.database else self.table

    def describe(self) -> str:
        rows = "" if self.rows is None else f"{self.rows:,} "
        done = {"keep": f"its {rows}rows stay in {self.table_name} (tables.gone: drop removes them, mark flags "
                        "them deleted)",
                "mark": f"its {rows}rows in {self.table_name} are marked deleted",
                "drop": f"its {rows}rows were removed from {self.table_name}"}[self.action]
        return f"{self.source} is no longer in the source: {done}"

    def as_dict(self) -> Dict[str, Any]:
        return {"database": self.database, "table": self.table, "destination_table": self.table_name,
                "rows": self.rows, "action": self.action}


def _selected(name: Optional[str], patterns: Optional[Sequence[str]]) -> bool:
    return not patterns or (name is not None and matches(name, patterns))


def find_gone(config: Any, catalog: Any, jobs: Sequence[Any], known: Mapping[str, Mapping[str, Any]],
              databases: Optional[Sequence[str]] = None, tables: Optional[Sequence[str]] = None) -> List[GoneTable]:
    """The tables of ``known`` (the last runs' outcomes: resource -> database, table, table_name)
    that this run's discovery would have listed and did not."""
    if config.tables is None or config.tables.discover is None and config.databases is None:
        return []
    synced = {job.resource_name for job in jobs}
    by_database = {db.id: db for db in catalog.databases}
    listed_tables = {spec.name for spec in config.tables.listed} if config.tables.listed is not None else None
    gone: List[GoneTable] = []
    for resource, outcome in sorted(known.items()):
        if resource in synced or not isinstance(outcome, Mapping) or outcome.get("table") is None:
            continue
        if outcome.get("status") == "gone" and outcome.get("action") == "drop":
            continue  # dropped already
        database, table = outcome.get("database"), str(outcome["table"])
        if not _selected(table, tables) or not _selected(database, databases) and database is not None:
            continue  # not selected this run
        if not (matches(table, config.tables.include) and not matches(table, config.tables.exclude)):
            continue  # the config no longer syncs it
        if listed_tables is not None and table not in listed_tables:
            continue
        if database in by_database:
            if config.tables.discover is None:
                continue  # tables listed by hand: a listed table the API lacks fails discovery
            names = {t.name for t in by_database[database].tables} | {t.table_id for t in by_database[database].tables}
            if table in names:
                continue  # listed, just not synced (a resource of another name)
        else:
            dbs = config.databases
            if dbs is None or dbs.discover is None or database is None:
                continue  # databases listed by hand: not discovered, so not known to be gone
            if not (matches(database, dbs.include) and not matches(database, dbs.exclude)):
                continue
        gone.append(GoneTable(resource, database, table, str(outcome.get("table_name") or resource)))
    return gone


def handle_gone(pipeline: Any, config: Any, gone: List[GoneTable]) -> None:
    """Count each gone table's rows, then keep, mark or drop them as ``tables.gone`` says."""
    if not gone or not pipeline.default_schema_name:
        return
    schema = pipeline.default_schema
    naming = schema.naming
    action = config.tables.gone if config.tables is not None else "keep"
    union = config.layout == "union"
    to_drop: List[str] = []
    with pipeline.sql_client() as client:
        q = client.escape_column_name
        for table in gone:
            name = naming.normalize_path(table.table_name)
            if name not in schema.tables:
                table.action = "drop" if action == "drop" else table.action
                table.rows = 0
                continue
            qualified = client.make_qualified_table_name(name)
            where = ""
            if union and table.database is not None:
                column = q(naming.normalize_identifier(config.database_column))
                where = f" WHERE {column} = '{str(table.database).replace(chr(39), chr(39) * 2)}'"
            try:
                rows = client.execute_sql(f"SELECT COUNT(*) FROM {qualified}{where}")
                table.rows = int(rows[0][0]) if rows else 0
            except Exception as exc:  # dropped by hand already
                logger.debug("could not count %s: %s", name, exc)
                table.rows = 0
                continue
            if action == "mark":
                _mark(client, schema, config, qualified, name, where)
                table.action = "mark"
            elif action == "drop":
                if where:
                    client.execute_sql(f"DELETE FROM {qualified}{where}")
                else:
                    to_drop.append(table.resource_name)
                table.action = "drop"
    if to_drop:
        # dlt's own drop: the tables of those resources (side tables too), their state, the schema
        from dlt.pipeline.helpers import pipeline_drop

        pipeline_drop(pipeline, resources=to_drop, schema_name=schema.name)()
    for table in gone:
        logger.warning("%s", table.describe())


def _mark(client: Any, schema: Any, config: Any, qualified: str, name: str, where: str) -> None:
    from dbsync.source.convert import DELETED_AT

    naming = schema.naming
    columns = schema.tables[name].get("columns", {})
    flag = naming.normalize_identifier(config.deletes.field)
    deleted_at = naming.normalize_identifier(DELETED_AT)
    q = client.escape_column_name
    if flag not in columns:
        return
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    when = f", {q(deleted_at)} = '{now}'" if deleted_at in columns else ""
    condition = f"{where} AND" if where else " WHERE"
    client.execute_sql(f"UPDATE {qualified} SET {q(flag)} = TRUE{when}{condition} {q(flag)} IS NOT TRUE")
