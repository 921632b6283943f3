"""``dbsync check``: can we reach the API, is the key accepted, may it read each database?

It makes the cheapest requests that prove access: the database list, then each database's
schema (or, without a schema endpoint, one record of its first table).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Sequence, Union

from dbsync.config.model import SyncConfig
from dbsync.config.parse import parse_config
from dbsync.discovery.discover import _list_databases, _select, _tables_of
from dbsync.errors import AuthError, ApiUnreachableError, DbsyncError, Where
from dbsync.http.client import ApiClient
from dbsync.source.jobs import build_jobs
from dbsync.discovery.catalog import Catalog, DatabaseInfo


@dataclass
class DatabaseCheck:
    database: Optional[str]
    ok: bool
    tables: int = 0
    error: Optional[DbsyncError] = None

    @property
    def status(self) -> str:
        if self.ok:
            return "ok"
        return type(self.error).__name__ if self.error else "failed"


def check_connection(config: Union[SyncConfig, Mapping[str, Any]], *,
                     databases: Optional[Sequence[str]] = None) -> List[DatabaseCheck]:
    """One entry per database. Raises at once for what no database can survive: an unreachable
    server or a rejected key."""
    cfg = config if isinstance(config, SyncConfig) else parse_config(config)
    client = ApiClient(cfg)
    try:
        entries = _list_databases(cfg, client)
        if databases:
            entries = _select(entries, databases, what="database", key=lambda e: e[0])

        def probe(entry: Any) -> DatabaseCheck:
            db_id = entry[0]
            try:
                if cfg.tables is not None:
                    tables = _tables_of(cfg, client, db_id)
                    if cfg.tables.discover is None and tables:
                        _probe_records(cfg, client, db_id, tables[0].name)
                    return DatabaseCheck(db_id, True, len(tables))
                jobs = build_jobs(cfg, Catalog(databases=()))
                for job in jobs:
                    _fetch_one(client, job)
                return DatabaseCheck(db_id, True, len(jobs))
            except (AuthError, ApiUnreachableError):
                raise
            except DbsyncError as exc:
                return DatabaseCheck(db_id, False, error=exc.with_where(Where(database=db_id)))

        workers = max(1, min(cfg.performance.concurrency, len(entries)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(probe, entries))
    finally:
        client.close()


def _probe_records(cfg: SyncConfig, client: ApiClient, database: Optional[str], table: str) -> None:
    from dbsync.discovery.catalog import TableInfo

    catalog = Catalog(databases=(DatabaseInfo(id=database, tables=(TableInfo(name=table),)),))
    for job in build_jobs(cfg, catalog)[:1]:
        _fetch_one(client, job)


def _fetch_one(client: ApiClient, job: Any) -> None:
    from dbsync.http.paging import make_paginator
    from dbsync.http.select import select_data

    params = dict(job.params)
    paginator = make_paginator(job.paginator)
    limit_param = getattr(paginator, "limit_param", None)
    if limit_param:
        params[limit_param] = 1
    page = client.get_json(job.path, params, where=Where(database=job.database, table=job.table.name, page="probe"))
    select_data(page.doc, job.data_selector, Where(database=job.database, table=job.table.name))
