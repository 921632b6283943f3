"""What dbsync does in the destination after each load: marks, history, key scans."""

from __future__ import annotations

from typing import Any


def after_load(pipeline: Any, session: Any) -> None:
    """What dbsync does in the destination after each load: mark deleted rows (``deletes:
    mark``), leave one open version per key in history tables, apply the scans for deletes
    (``deletes.detect: keys``). All idempotent, so a run stopped between the load and this step
    is repaired by the next one.

    ``session``: the source's session, or the source itself (``dbsync.dbsync_source(...)`` run
    in your own dlt pipeline: call ``dbsync.after_load(pipeline, source)`` after ``run``)."""
    session = getattr(session, "dbsync_session", session)
    if session.config.deletes.mode == "mark":
        mark_deleted_rows(pipeline, session)
    settle_history(pipeline, session)
    from dbsync.source.key_scan import apply_scans

    apply_scans(pipeline, session)  # deletes found by listing keys (deletes.detect: keys / full_read)


def settle_history(pipeline: Any, session: Any) -> None:
    """History tables: one open version per key (see :func:`dbsync.source.history.settle_versions`)."""
    from dbsync.source.convert import SYNCED_AT
    from dbsync.source.history import settle_versions

    jobs = [j for j in session.jobs if getattr(j, "history", False) and j.primary_key]
    if not jobs or not pipeline.default_schema_name:
        return
    schema = pipeline.default_schema
    naming = schema.naming
    with pipeline.sql_client() as client:
        q = client.escape_column_name
        for job in jobs:
            table = naming.normalize_path(job.table_name)
            if table not in schema.tables:
                continue
            settle_versions(client, client.make_qualified_table_name(table),
                            [q(naming.normalize_identifier(k)) for k in job.primary_key],
                            q(naming.normalize_identifier(SYNCED_AT)))


def mark_deleted_rows(pipeline: Any, session: Any) -> None:
    """``deletes: mark``: flag rows whose keys are in the table's ``__deleted`` side table.

    Idempotent and run after every load, so a run interrupted between the load and this step
    is repaired by the next one. A row re-created after its deletion (newer cursor) stays live.
    """
    from dbsync.source.convert import DELETED_AT, SYNCED_AT
    from dbsync.source.source import tombstone_table_name

    schema = pipeline.default_schema
    naming = schema.naming
    field = naming.normalize_identifier(session.config.deletes.field)
    with pipeline.sql_client() as client:
        for job in session.jobs:
            if not job.primary_key:
                continue
            main = naming.normalize_path(job.table_name)
            side = naming.normalize_path(tombstone_table_name(job.table_name))
            if side not in schema.tables or main not in schema.tables:
                continue
            q = client.escape_column_name
            keys = " AND ".join(f"d.{q(naming.normalize_identifier(k))} = m.{q(naming.normalize_identifier(k))}"
                                for k in job.primary_key)
            newer = ""
            if job.cursor_field:
                cursor = q(naming.normalize_identifier(job.cursor_field))
                newer = f" AND d.{cursor} >= m.{cursor}"
            side_rows = f"FROM {client.make_qualified_table_name(side)} AS d WHERE {keys}{newer}"
            deleted_at = naming.normalize_identifier(DELETED_AT)
            when = ""
            if deleted_at in schema.tables[main].get("columns", {}):  # when the tombstone arrived
                when = f", {q(deleted_at)} = (SELECT MAX(d.{q(naming.normalize_identifier(SYNCED_AT))}) {side_rows})"
            client.execute_sql(
                f"UPDATE {client.make_qualified_table_name(main)} AS m SET {q(field)} = TRUE{when} "
                f"WHERE m.{q(field)} IS NOT TRUE AND EXISTS (SELECT 1 {side_rows})"
            )
