"""Which of a run's tables the destination holds: tables with a saved cursor that are missing are
read in full again, tables not there yet are first loads."""

from __future__ import annotations

import logging
import os
from typing import Any, List, Optional, Sequence, Set

from dbsync.run.destination import destination_label, duckdb_fingerprint, duckdb_path

logger = logging.getLogger("dbsync.run")


def tables_to_reload(pipeline: Any, jobs: Sequence[Any], source_name: str,
                     fingerprint: Optional[List[Any]] = None, stored: Optional["StoredTables"] = None) -> Set[str]:
    """The resources with a saved cursor whose table is not in the destination: the file was
    deleted, the default file is a new one (another folder), the table was dropped. Their
    cursor lives in the pipeline folder, so an incremental run would load nothing into the
    empty table and end ok: they are read in full instead.

    Cheap on a run with nothing to do: no query when no table has a cursor yet, when the DuckDB
    file does not exist, or when it is unchanged since this pipeline's last load
    (``fingerprint``, see :func:`duckdb_fingerprint`); else one information-schema query."""
    saved = pipeline.state.get("sources", {}).get(source_name, {}).get("resources", {})
    candidates = [job for job in jobs
                  if job.cursor_field and (saved.get(job.resource_name) or {}).get("cursor") is not None]
    if not candidates:
        return set()
    path = duckdb_path(pipeline.destination)
    if path is not None and not os.path.exists(path):
        missing = {job.resource_name for job in candidates}
    elif path is not None and fingerprint == duckdb_fingerprint(path):
        return set()  # nobody wrote to the file since this pipeline's last load
    else:
        missing = stored.missing(candidates) if stored is not None else missing_in_destination(pipeline, candidates,
                                                                                         source_name)
    if missing:
        logger.warning("%d table(s) with a saved cursor are not in the destination %s: syncing them in full: %s",
                       len(missing), destination_label(pipeline.destination), ", ".join(sorted(missing)))
    return missing


class StoredTables:
    """Which of a run's tables are missing from the destination, asked once per run: one
    information-schema query for every table of the run, however many decisions need the
    answer (tables to read in full again, first loads that may append). Before, each decision
    asked on its own: two queries per run on PostgreSQL or a DuckDB file changed by others."""

    def __init__(self, pipeline: Any, jobs: Sequence[Any], source_name: str):
        self.pipeline, self.jobs, self.source_name = pipeline, list(jobs), source_name
        self._missing: Optional[Set[str]] = None

    def missing(self, jobs: Sequence[Any]) -> Set[str]:
        """The resources among ``jobs`` whose table is not in the destination."""
        if self._missing is None:
            self._missing = missing_in_destination(self.pipeline, self.jobs, self.source_name)
        return self._missing & {job.resource_name for job in jobs}


def missing_in_destination(pipeline: Any, jobs: Sequence[Any], source_name: str) -> Set[str]:
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    schema = pipeline.schemas[source_name] if source_name in pipeline.schema_names else None
    naming = schema.naming if schema is not None else NamingConvention()
    tables = {job.resource_name: naming.normalize_path(job.table_name) for job in jobs}
    try:
        with pipeline.destination_client(source_name if schema is not None else None) as client:
            stored = {name for name, columns in client.get_storage_tables(list(tables.values())) if columns}
            missing = {resource for resource, table in tables.items() if table not in stored}
            if missing and schema is not None and client.is_storage_initialized():
                # dlt creates tables only for a schema version it has not stored yet: a table
                # dropped from a dataset that still holds this version is created here
                client.update_stored_schema(force=True)
    except Exception as exc:  # not an SQL destination, or unreachable (then the load says so)
        logger.debug("could not list the destination's tables: %s", exc)
        return set()
    return missing
