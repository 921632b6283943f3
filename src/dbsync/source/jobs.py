"""Expand the configured resources over the catalog: one job per (database, table).

A resource whose endpoint uses ``{table}`` is a template: it becomes one job for every table of
every selected database. A resource without placeholders (the original rest_api config) is one
job, as rest_api would make it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from dbsync.config.model import (
    DEFAULT_PER_DATABASE_NAME,
    DEFAULT_PER_DATABASE_NAMED,
    DEFAULT_UNION_NAME,
    DEFAULT_UNION_NAMED,
    KeyScanSettings,
    SyncConfig,
    TableSpec,
    cursor_fields,
)
from dbsync.config.placeholders import _placeholders_in
from dbsync.discovery.catalog import Catalog, TableInfo
from dbsync.discovery.placeholders import fill_name, fill_params, fill_path, name_values
from dbsync.errors import ConfigError

logger = logging.getLogger("dbsync.jobs")


@dataclass(frozen=True)
class TableJob:
    resource_name: str  # unique dlt resource name (its state key)
    table_name: str  # destination table name (dlt normalizes it)
    database: Optional[str]  # the database id
    table: TableInfo
    path: str
    params: Dict[str, Any]
    method: str
    json: Optional[Dict[str, Any]]
    data_selector: Optional[str]
    paginator: Any
    primary_key: Tuple[str, ...]  # in the destination (union layout: database column first)
    write_disposition: str
    cursor_fields: Tuple[str, ...]  # () without a cursor; several: the first non-empty value
    response_actions: Optional[Tuple[Dict[str, Any], ...]] = None
    headers: Optional[Dict[str, str]] = None  # endpoint.headers, placeholders filled (every request)
    columns: Optional[Dict[str, Dict[str, Any]]] = None  # resources[].columns hints, for this table
    # verify.count's path and params for this table, placeholders filled (None: the records endpoint's)
    count_path: Optional[str] = None
    count_params: Optional[Dict[str, Any]] = None

    @property
    def api_primary_key(self) -> Tuple[str, ...]:
        """The key as the API's records carry it (without the database column we add)."""
        return tuple(k for k in self.primary_key if k != self.database_column)

    database_column: Optional[str] = None
    history: bool = False  # every version of a row (dlt scd2 merge), see dbsync.source.history
    # how deletes the API sends no tombstones for are found (dbsync.source.key_scan); None: not scanned
    scan: Optional[KeyScanSettings] = None
    # the database's name, when it differs from the id and names the destination tables
    database_name: Optional[str] = None

    @property
    def cursor_field(self) -> Optional[str]:
        """The (first) cursor field, None without a cursor."""
        return self.cursor_fields[0] if self.cursor_fields else None

    @property
    def label(self) -> str:
        db = self.database_label
        return f"{db}.{self.table.name}" if db is not None else self.table.name

    @property
    def database_label(self) -> Optional[str]:
        """The database as people know it: the name, the id when there is none."""
        return self.database if self.database_name is None else self.database_name


def build_jobs(config: SyncConfig, catalog: Catalog) -> List[TableJob]:
    jobs: List[TableJob] = []
    for index, resource in enumerate(config.resources):
        endpoint = resource["endpoint"]
        expands = bool({"table", "table_name"} & _placeholders_in({k: endpoint.get(k) for k in ("path", "params", "json", "headers")}))
        if expands:
            for database in catalog.databases:
                for table in database.tables:
                    jobs.append(_job(config, resource, database.id, table, index, database.name))
        else:
            pk = _pk(resource.get("primary_key"))
            table = TableInfo(name=resource["name"], primary_key=pk, cursor_field=config.incremental.cursor_field)
            jobs.append(_job(config, resource, None, table, index))
    _check_unique(config, jobs)
    _check_column_hints(config, jobs)
    return jobs


def _check_column_hints(config: SyncConfig, jobs: List[TableJob]) -> None:
    """A column hint that no synced table takes (a typo, or a field no schema has) says so."""
    taken = {name for job in jobs for name in (job.columns or {})}
    for index, resource in enumerate(config.resources):
        for name in resource.get("columns") or {}:
            if name not in taken:
                logger.warning("config key 'resources[%d].columns.%s': no synced table has a field '%s'; "
                               "the hint is not used", index, name, name)


def _pk(value: Any) -> Tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _job(config: SyncConfig, resource: Dict[str, Any], database: Optional[str], table: TableInfo,
         index: int, database_name: Optional[str] = None) -> TableJob:
    endpoint = resource["endpoint"]
    values = name_values(database, database_name, table.table_id, table.name)
    name_template = resource["name"]
    named = _names_by_default(config)
    per_database_default = DEFAULT_PER_DATABASE_NAMED if named else DEFAULT_PER_DATABASE_NAME
    union_default = DEFAULT_UNION_NAMED if named else DEFAULT_UNION_NAME
    has_placeholders = bool(_placeholders_in(name_template))
    if database is None and table.name == resource["name"]:
        resource_name = table_name = resource["name"]
    elif config.layout == "union":
        # one table per table name: a template naming the database would split them again
        union_template = name_template if has_placeholders and not (
            {"database", "database_name"} & _placeholders_in(name_template)) else union_default
        table_name = fill_name(union_template, values)
        resource_name = fill_name(per_database_default, values) if database is not None else table_name
    else:
        template = name_template if has_placeholders else (
            per_database_default if database is not None else union_default)
        table_name = resource_name = fill_name(template, values)
    pk = table.primary_key or _pk(resource.get("primary_key"))
    cursor = _cursor_fields(config, table, database)
    if config.layout == "union" and database is not None and pk:
        pk = (config.database_column,) + tuple(pk)
    write_disposition = _write_disposition(resource.get("write_disposition", "append"))
    who = f"{database_name or database}.{table.label}" if database is not None else table.label
    history = _history(config, table)
    if history:
        _require_key_and_merge(config, "history", f"history of {who}", "to tell the versions of a row apart",
                               "turn history off for this table", tuple(pk), write_disposition)
    scan = _scan(config, table, resource, who, tuple(pk), write_disposition)
    return TableJob(
        resource_name=resource_name,
        table_name=table_name,
        database=database,
        table=table,
        path=fill_path(endpoint.get("path") or resource["name"], values),
        params=fill_params(dict(endpoint.get("params") or {}), values),
        method=(endpoint.get("method") or "GET").upper(),
        json=fill_params(endpoint.get("json"), values) if endpoint.get("json") else None,
        data_selector=endpoint.get("data_selector"),
        paginator=endpoint.get("paginator", config.client.get("paginator")),
        primary_key=tuple(pk),
        write_disposition=write_disposition,
        cursor_fields=cursor,
        history=history,
        scan=scan,
        database_column=config.database_column if config.layout == "union" and database is not None else None,
        # shown (summary, messages) where the warehouse is named by it; else the id, as before
        database_name=database_name if database_name is not None and database_name != database and (
            named or "database_name" in _placeholders_in(name_template)) else None,
        response_actions=tuple(endpoint["response_actions"]) if endpoint.get("response_actions") else None,
        headers=fill_params(endpoint["headers"], values) if endpoint.get("headers") else None,
        columns=_columns(resource.get("columns"), table),
        count_path=fill_path(config.verify.count.path, values) if config.verify.count and config.verify.count.path
        else None,
        count_params=fill_params(dict(config.verify.count.params), values) if config.verify.count else None,
    )


def _listed_specs(config: SyncConfig, table: TableInfo) -> List[TableSpec]:
    """The ``tables.list`` entries naming the table."""
    listed = config.tables.listed if config.tables is not None and config.tables.listed else ()
    return [spec for spec in listed if spec.name == table.name]


def _require_key_and_merge(config: SyncConfig, key: str, what: str, why: str, instead: str,
                           pk: Tuple[str, ...], write_disposition: str) -> None:
    """History and scans for deletes tell rows apart by key and rewrite them: a key and a merge."""
    if not pk:
        raise ConfigError(f"{what} needs a primary key {why}", key=key, source=config.source_name,
                          hint=f"give tables.list[].primary_key, or {instead}")
    if write_disposition != "merge":
        raise ConfigError(f"{what} needs write_disposition: merge, got {write_disposition}", key=key,
                          source=config.source_name, hint="set write_disposition: merge on the resource")


def _history(config: SyncConfig, table: TableInfo) -> bool:
    """``tables.list[].history`` for the table, else the top-level ``history``."""
    return next((spec.history for spec in _listed_specs(config, table) if spec.history is not None), config.history)


def _scan(config: SyncConfig, table: TableInfo, resource: Dict[str, Any], who: str, pk: Tuple[str, ...],
          write_disposition: str) -> Optional[KeyScanSettings]:
    """The table's delete detection: ``tables.list[].deletes``, else the top-level one. A scan
    compares keys and removes rows: it needs a key and a merged table."""
    scan = config.deletes.scan
    for spec in _listed_specs(config, table):
        if spec.deletes is not None:
            scan = spec.deletes
    if not scan.scans or config.deletes.mode == "ignore":
        return None
    _require_key_and_merge(config, "deletes.detect", f"deletes.detect: {scan.detect} of {who}", "to compare the keys by",
                           "set deletes: {detect: tombstones} for this table", pk, write_disposition)
    if scan.limit is not None:
        from dbsync.http.paging import make_paginator
        from dlt.sources.helpers.rest_client.paginators import OffsetPaginator

        paginator = make_paginator(resource["endpoint"].get("paginator", config.client.get("paginator")))
        if not isinstance(paginator, OffsetPaginator):
            raise ConfigError(f"deletes.keys.limit of {who}: the page size of an offset paginator, and this "
                              "table pages otherwise", key="deletes.keys.limit", source=config.source_name,
                              hint="set the listing's page size in deletes.keys.params (e.g. perPage: 500)")
    return scan


def _columns(hints: Optional[Dict[str, Dict[str, Any]]], table: TableInfo) -> Optional[Dict[str, Dict[str, Any]]]:
    """``resources[].columns`` for one table. A template resource serves many tables: a table
    whose discovered schema lacks a hinted column does not get it as an empty column (a hint
    no table takes is warned about, see _check_column_hints)."""
    if not hints:
        return None
    if table.fields is not None:
        hints = {name: hint for name, hint in hints.items() if table.field(name) is not None}
    return dict(hints) or None


def _cursor_fields(config: SyncConfig, table: TableInfo, database: Optional[str]) -> Tuple[str, ...]:
    """The table's cursor fields, those its schema lacks left out (filtering on a field the
    table does not have fails, or filters everything out): none left, no cursor."""
    from dbsync.source.incremental import field_indexes

    fields = cursor_fields(table.cursor_field or config.incremental.cursor_field)
    if not config.incremental.enabled or not fields:
        return ()
    label = f"{database}.{table.label}" if database is not None else table.label
    # a cursor the config names is kept even where the schema lacks it: schemas often describe
    # the user's fields only, while the server adds its own (Kinto's last_modified, Parse's
    # updatedAt). Should the records lack it too, the first run (read without the filter) saves
    # no cursor and the summary counts the rows without a cursor value: never a silent filter.
    configured = set(cursor_fields(config.incremental.cursor_field))
    if table.fields is not None:
        missing = [f for f in fields if table.field(f) is None and f not in configured]
        if missing:
            fields = tuple(f for f in fields if f not in missing)
            logger.warning("%s: no cursor field %s in its schema; %s", label, ", ".join(f"'{m}'" for m in missing),
                           f"the cursor is {', '.join(fields)}" if fields else "synced in full every run")
    needed = max(field_indexes(config.incremental), default=-1) + 1
    if fields and needed > len(fields):
        raise ConfigError(
            f"incremental.params use {{cursor_field[{needed - 1}]}} but the cursor of {label} has "
            f"{len(fields)} field(s): {', '.join(fields)}",
            key="incremental.params", source=config.source_name,
            hint="give the cursor as a list, e.g. cursor_field: [updated_at, created_at]")
    return fields


def _who(job: TableJob) -> str:
    """A job for a message: names, with the ids where they differ (``crm.customers (mhcsag29)``)."""
    db = job.database_label
    return f"{db}.{job.table.label}" if db is not None else job.table.label


def _names_by_default(config: SyncConfig) -> bool:
    """Whether default resource names use names (``{database_name}__{table_name}``) rather than ids:
    when the tables have ids apart from their names (``tables.discover.table_id``), the API is
    one of opaque ids, and the warehouse reads as people call things. Otherwise ids, as before
    (a database list's display name, ``Acme Corp``, must not rename existing tables)."""
    return config.tables is not None and config.tables.discover is not None and config.tables.discover.table_id is not None


def _write_disposition(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("disposition", "append"))
    return str(value)


def _check_unique(config: SyncConfig, jobs: List[TableJob]) -> None:
    """Two jobs must not share a resource name, nor (per-database layout) a destination table,
    even after dlt normalizes names (``Sales-EU`` and ``sales_eu`` would collide)."""
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    naming = NamingConvention()
    seen_resources: Dict[str, TableJob] = {}
    seen_tables: Dict[str, TableJob] = {}
    for job in jobs:
        other = seen_resources.get(job.resource_name)
        if other is not None:
            raise ConfigError(f"{_who(other)} and {_who(job)} would both be resource '{job.resource_name}'",
                              key="resources", source=config.source_name,
                              hint="give the resources distinct names, e.g. with {database} and {table}")
        seen_resources[job.resource_name] = job
        normalized = naming.normalize_path(job.table_name)
        other = seen_tables.get(normalized)
        if other is not None and not (config.layout == "union" and other.table.name == job.table.name
                                      and other.database != job.database):
            raise ConfigError(
                f"{_who(other)} and {_who(job)} would both load into table '{normalized}'",
                key="resources", source=config.source_name,
                hint="use layout: union, rename with a name template, or exclude one of them",
            )
        seen_tables[normalized] = job
