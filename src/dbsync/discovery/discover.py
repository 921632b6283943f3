"""Build the catalog: list databases (or take the configured list), then each database's tables.

Databases are described concurrently (a connection with hundreds of databases should not wait
for them one by one); the order of the result is always the API's (or the config's) order.
"""

from __future__ import annotations

import fnmatch
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Iterator, List, Mapping, Optional, Sequence, Tuple

from dbsync.config.model import FieldsEndpoint, FieldShape, ListEndpoint, SchemaEndpoint, SyncConfig, TableSpec
from dbsync.discovery.cache import DiscoveryCache
from dbsync.discovery.catalog import Catalog, DatabaseInfo, FieldInfo, TableInfo
from dbsync.discovery.placeholders import fill_params, fill_path, name_values
from dbsync.errors import AuthError, ConfigError, NotFoundError, PermissionDeniedError, ResponseFormatError, Where
from dbsync.http.client import ApiClient
from dbsync.http.paging import iter_pages

logger = logging.getLogger("dbsync.discovery")


def matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def discover_catalog(
    config: SyncConfig,
    client: ApiClient,
    *,
    databases: Optional[Sequence[str]] = None,
    tables: Optional[Sequence[str]] = None,
    cache: Optional[DiscoveryCache] = None,
) -> Catalog:
    """The databases and tables this run will sync, with their fields when the API describes them.

    ``databases``/``tables`` narrow the selection (exact names or glob patterns); a name that
    matches nothing is an error, so a typo does not silently sync nothing. Selection happens
    before anything is asked about what it leaves out: no schema request for a database that
    ``include``/``exclude``/``databases`` drop, no fields request for a table that
    ``tables.include``/``exclude``/``list``/``tables`` drop.

    ``cache`` reuses answers of earlier runs (:mod:`dbsync.discovery.cache`); it is saved when
    discovery succeeds.
    """
    if config.databases is None and config.tables is None:
        return Catalog(databases=())
    if cache is not None:
        client = cache.wrap(client)  # type: ignore[assignment]
    catalog = _discover(config, client, databases, tables)
    if cache is not None:
        cache.save()
    return catalog


def _discover(config: SyncConfig, client: ApiClient, databases: Optional[Sequence[str]],
              tables: Optional[Sequence[str]]) -> Catalog:
    db_entries = _list_databases(config, client)
    if databases:
        db_entries = _select(db_entries, databases, what="database", key=database_keys)
    if config.tables is None:
        raise ConfigError("databases are configured but no 'tables' section says which tables to sync",
                          key="tables", source=config.source_name)

    fields_ep = config.tables.discover.fields_endpoint if config.tables.discover is not None else None

    def describe(entry: Tuple[Optional[str], Optional[str]]) -> DatabaseInfo:
        db_id, db_name = entry
        found = _tables_of(config, client, db_id, db_name)
        if tables:
            found = _select(found, tables, what=f"table in database '{db_id}'" if db_id else "table",
                            key=table_keys, allow_empty=len(db_entries) > 1)
        return DatabaseInfo(id=db_id, name=db_name,
                            tables=tuple(_with_fields(fields_ep, client, db_id, found, db_name)))

    workers = max(1, min(config.performance.concurrency, len(db_entries)))
    if workers == 1:
        described = [describe(e) for e in db_entries]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dbsync-discover") as pool:
            described = list(pool.map(describe, db_entries))
    if tables and not any(d.tables for d in described):
        raise NotFoundError(f"no table matches {', '.join(tables)} in any selected database",
                            hint="run `dbsync discover` to see the tables")
    if fields_ep is not None and config.databases is not None and not _uses_database(fields_ep):
        _check_global_table_ids(described)
    return Catalog(databases=tuple(described))


def database_keys(entry: Tuple[Optional[str], Optional[str]]) -> Tuple[str, ...]:
    """What a database is selected by (``-d``, include/exclude): its id, and its name."""
    return tuple(dict.fromkeys(str(k) for k in entry if k is not None)) or ("None",)


def table_keys(table: TableInfo) -> Tuple[str, ...]:
    """What a table is selected by (``-t``, include/exclude, tables.list): its name, and its id."""
    return tuple(dict.fromkeys((table.name, table.table_id)))


def _keys_match(keys: Any, patterns: Sequence[str]) -> bool:
    return any(matches(str(k), patterns) for k in (keys if isinstance(keys, tuple) else (keys,)))


def _select(items: List[Any], patterns: Sequence[str], *, what: str, key: Any,
            allow_empty: bool = False) -> List[Any]:
    """The items matching any pattern; ``key`` gives an item's name, or a tuple of names it
    answers to (a name and an id)."""
    names = [key(i) for i in items]
    for pattern in patterns:
        if not any(_keys_match(n, (pattern,)) for n in names) and not allow_empty:
            shown = [f"{n[0]} ({n[1]})" if isinstance(n, tuple) and len(n) > 1 else
                     (n[0] if isinstance(n, tuple) else n) for n in names[:20]]
            available = ", ".join(str(n) for n in shown) or "none"
            raise NotFoundError(f"no {what} matches '{pattern}' (available: {available})",
                                hint="run `dbsync discover` to see what exists")
    return [i for i, n in zip(items, names) if _keys_match(n, patterns)]


def _uses_database(ep: FieldsEndpoint) -> bool:
    from dbsync.config.parse import _placeholders_in

    return bool({"database", "database_name"} & _placeholders_in({"p": ep.path, "q": ep.params}))


def _check_global_table_ids(described: Sequence[DatabaseInfo]) -> None:
    """A fields endpoint without ``{database}`` addresses tables by their id alone: two databases
    listing the same table id would get one table's fields for both."""
    seen: dict = {}
    for db in described:
        for t in db.tables:
            other = seen.setdefault(t.table_id, db.id)
            if other != db.id:
                raise ConfigError(
                    f"table id '{t.table_id}' is in databases '{other}' and '{db.id}', but "
                    "tables.discover.fields_endpoint does not use {database}: its ids are not global",
                    key="tables.discover.fields_endpoint",
                    hint="add {database} to the fields endpoint's path or params")


# --- databases ----------------------------------------------------------------------------------


def _list_databases(config: SyncConfig, client: ApiClient) -> List[Tuple[Optional[str], Optional[str]]]:
    cfg = config.databases
    if cfg is None:
        return [(None, None)]
    if cfg.listed is not None:
        entries = [(d, d) for d in cfg.listed]
    else:
        entries = _discover_databases(cfg.discover, client)  # type: ignore[arg-type]
        if not entries:
            raise empty_listing("databases", cfg.discover.path, client)  # type: ignore[union-attr]
    kept = [e for e in entries if _keys_match(database_keys(e), cfg.include)
            and not _keys_match(database_keys(e), cfg.exclude)]
    if not kept:
        raise NotFoundError(
            f"no databases to sync: {'the config lists' if cfg.listed is not None else 'the API listed'} "
            f"{len(entries)}, none matched include {list(cfg.include)} and exclude {list(cfg.exclude)}",
            hint="check databases.include/exclude in the config",
        )
    return kept


def empty_listing(what: str, path: str, client: ApiClient) -> AuthError:
    """The account-wide listing (databases, or tables when there are no databases) came back
    empty. Many servers answer credentials they do not know with an empty account rather than a
    401 (HTTP basic auth where any user/password pair is a new, empty user; a token scoped to
    nothing), so an empty account is reported as a credentials error (exit 4), not as a filter or
    a missing path: nothing can be synced either way, and the credentials are the likely cause."""
    return AuthError(
        f"the API listed 0 {what}: an empty account, or credentials the server does not know "
        f"(some servers answer those with an empty list instead of 401)",
        where=Where(path=path),
        hint=client.credentials_hint,
    )


def _discover_databases(ep: ListEndpoint, client: ApiClient) -> List[Tuple[str, Optional[str]]]:
    where = Where(path=ep.path, page=None)
    out: List[Tuple[str, Optional[str]]] = []
    seen = set()
    pages = iter_pages(client, ep.path, dict(ep.params), paginator_cfg=ep.paginator or "single_page",
                       data_selector=ep.data_selector, where=where)
    for records, _page in _account_listing(pages, "the database list", client.credentials_hint):
        for i, item in enumerate(records):
            if not isinstance(item, Mapping) or ep.id_field not in item:
                raise ResponseFormatError(
                    f"database list item {i} has no '{ep.id_field}' field",
                    where=Where(path=ep.path),
                    hint="set databases.discover.id_field to the field holding the database id",
                )
            db_id = str(item[ep.id_field])
            if db_id in seen:
                continue
            seen.add(db_id)
            name = item.get(ep.name_field) if ep.name_field else None
            out.append((db_id, None if name is None else str(name)))
    return out


# --- tables -------------------------------------------------------------------------------------


def _tables_of(config: SyncConfig, client: ApiClient, database: Optional[str],
               database_name: Optional[str] = None) -> List[TableInfo]:
    tcfg = config.tables
    assert tcfg is not None
    discovered: Optional[List[TableInfo]] = None
    if tcfg.discover is not None:
        discovered = _discover_tables(tcfg.discover, client, database, database_name)
        if database is None and not discovered:  # no databases: this table list is the whole account
            raise empty_listing("tables", tcfg.discover.path, client)
    if tcfg.listed is not None:
        result = []
        by_name = {k: t for t in discovered or [] for k in reversed(table_keys(t))}  # a name wins over an id
        for spec in tcfg.listed:
            if discovered is not None and spec.name not in by_name:
                raise NotFoundError(
                    f"table '{spec.name}' is listed in the config but the schema endpoint does not know it "
                    f"(it has: {', '.join(by_name) or 'no tables'})",
                    where=Where(database=database),
                    hint="fix tables.list, or check the database",
                )
            result.append(_overlay(by_name.get(spec.name), spec, config))
    else:
        result = list(discovered or [])
    kept = [t for t in result if _keys_match(table_keys(t), tcfg.include)
            and not _keys_match(table_keys(t), tcfg.exclude)]
    if database is None and discovered is not None and not kept:  # the whole account filtered away
        raise NotFoundError(
            f"no tables to sync: the API listed {len(discovered)}, none matched include {list(tcfg.include)} "
            f"and exclude {list(tcfg.exclude)}",
            hint="check tables.include/exclude in the config",
        )
    return kept


def _overlay(found: Optional[TableInfo], spec: TableSpec, config: SyncConfig) -> TableInfo:
    base = found or TableInfo(name=spec.name)
    return TableInfo(
        name=base.name,
        id=base.id,
        primary_key=spec.primary_key or base.primary_key,
        cursor_field=spec.cursor_field or base.cursor_field or config.incremental.cursor_field,
        fields=base.fields,
    )


def _account_listing(pages: Iterator[Any], what: str, hint: str) -> Iterator[Any]:
    """The first listing of a run (databases, or tables when there are no databases) covers the
    whole account: a 403 there means the credentials open nothing at all, which is a rejected
    key, not a missing grant for one database. Many servers (Datasette, for one) answer a wrong
    or missing token with 403 rather than 401; either way the user gets the wrong-key error."""
    failure: Optional[AuthError] = None
    try:
        yield from pages
    except PermissionDeniedError as exc:
        detail = exc.message.split("(403 Forbidden)", 1)[-1]
        failure = AuthError(f"the API refused the credentials ({what} answered 403 Forbidden{detail})",
                            status=exc.status, where=Where(database=exc.where.database, path=exc.where.path),
                            hint=f"{hint}, and that they grant read access")
    if failure is not None:  # raised outside the except block: no chain to the 403
        raise failure


def _discover_tables(ep: SchemaEndpoint, client: ApiClient, database: Optional[str],
                     database_name: Optional[str] = None) -> List[TableInfo]:
    values = name_values(database, database_name, None, None)
    path = fill_path(ep.path, values)
    params = fill_params(dict(ep.params), values)
    where = Where(database=database, path=ep.path)
    tables: List[TableInfo] = []
    pages: Iterator[Any] = iter_pages(client, path, params, paginator_cfg=ep.paginator or "single_page",
                                      data_selector=ep.tables_selector or "$", where=where)
    if database is None:
        pages = _account_listing(pages, "the table list", client.credentials_hint)
    for records, _page in pages:
        for i, item in enumerate(records):
            tables.append(_parse_table(ep, item, i, where))
    names = [t.name for t in tables]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        ids = {n: sorted(t.table_id for t in tables if t.name == n) for n in dupes}
        detail = "" if all(len(set(v)) == 1 for v in ids.values()) else \
            " (ids " + "; ".join(f"{n}: {', '.join(v)}" for n, v in sorted(ids.items())) + ")"
        raise ResponseFormatError(f"the schema lists table(s) {sorted(dupes)} twice{detail}", where=where,
                                  hint="two tables of one name would load into one destination table")
    table_ids = [t.table_id for t in tables]
    dupe_ids = {i for i in table_ids if table_ids.count(i) > 1}
    if dupe_ids:
        raise ResponseFormatError(f"the schema lists table id(s) {sorted(dupe_ids)} twice", where=where)
    return tables


def _with_fields(ep: Optional[FieldsEndpoint], client: ApiClient, database: Optional[str],
                 tables: List[TableInfo], database_name: Optional[str] = None) -> List[TableInfo]:
    """The selected tables, with their fields from ``tables.discover.fields_endpoint`` when one
    is configured: asked only now, after every filter, so excluded tables cost nothing."""
    if ep is None:
        return tables
    return [replace(t, fields=_fields_of(ep, client, database, database_name, t)) for t in tables]


def _fields_of(ep: FieldsEndpoint, client: ApiClient, database: Optional[str], database_name: Optional[str],
               table_info: TableInfo) -> Tuple[FieldInfo, ...]:
    """A table's fields from ``tables.discover.fields_endpoint`` (one request, or its pages)."""
    table = table_info.table_id
    values = name_values(database, database_name, table, table_info.name)
    where = Where(database=database, table=table_info.name, path=ep.path)
    fields: List[FieldInfo] = []
    for records, _page in iter_pages(client, fill_path(ep.path, values), fill_params(dict(ep.params), values),
                                     paginator_cfg=ep.paginator or "single_page",
                                     data_selector=ep.data_selector or "$", where=where):
        for j, raw in enumerate(records):
            parsed = _parse_field(ep.field, raw, len(fields) + j, where)
            if parsed is not None:
                fields.append(parsed)
    return tuple(fields)


def _parse_table(ep: SchemaEndpoint, item: Any, index: int, where: Where) -> TableInfo:
    if not isinstance(item, Mapping) or not isinstance(item.get(ep.table_name), str):
        raise ResponseFormatError(
            f"schema entry {index} has no table name at '{ep.table_name}'",
            where=where,
            hint="set tables.discover.table_name (and tables_selector) to match the schema response",
        )
    name = item[ep.table_name]
    table_id: Optional[str] = None
    if ep.table_id is not None:
        raw_id = item.get(ep.table_id)
        if raw_id is None or isinstance(raw_id, (dict, list, bool)) or str(raw_id) == "":
            raise ResponseFormatError(
                f"schema entry {index} ('{name}') has no table id at '{ep.table_id}'",
                where=where,
                hint="set tables.discover.table_id to the key holding the id the API addresses tables by")
        table_id = str(raw_id)
    table_where = Where(database=where.database, table=name, path=where.path)
    pk: Tuple[str, ...] = ()
    if ep.primary_key and item.get(ep.primary_key) is not None:
        raw_pk = item[ep.primary_key]
        pk = (raw_pk,) if isinstance(raw_pk, str) else tuple(str(p) for p in raw_pk)
    cursor = item.get(ep.cursor_field) if ep.cursor_field else None
    raw_fields = item.get(ep.fields_selector)
    fields: Optional[Tuple[FieldInfo, ...]] = None
    if raw_fields is not None:
        if isinstance(raw_fields, Mapping):  # {"name": {...}} shape
            raw_fields = [{**(v if isinstance(v, Mapping) else {ep.field.type: v}), ep.field.name: k}
                          for k, v in raw_fields.items()]
        if not isinstance(raw_fields, list):
            raise ResponseFormatError(f"fields at '{ep.fields_selector}' are not a list", where=table_where)
        parsed = (_parse_field(ep.field, f, j, table_where) for j, f in enumerate(raw_fields))
        fields = tuple(f for f in parsed if f is not None)
    return TableInfo(name=name, primary_key=pk, cursor_field=_discovered_cursor(cursor), fields=fields,
                     id=table_id)


def _discovered_cursor(value: Any) -> Any:
    """A schema's cursor: a field name, or a list of names (compared as the first non-empty one)."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, (list, tuple)):
        names = tuple(v for v in value if isinstance(v, str) and v)
        if names:
            return names[0] if len(names) == 1 else names
    return None


def _parse_field(shape: FieldShape, raw: Any, index: int, where: Where) -> Optional[FieldInfo]:
    """One field of a schema response; None for a field flagged hidden (never returned)."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get(shape.name), str):
        raise ResponseFormatError(f"field {index} has no name at '{shape.name}'", where=where,
                                  hint="set tables.discover.field.name to match the schema response")
    if shape.hidden and raw.get(shape.hidden):
        return None
    nullable: Optional[bool] = None
    if shape.nullable and raw.get(shape.nullable) is not None:
        nullable = bool(raw[shape.nullable])
    elif shape.required and raw.get(shape.required) is not None:
        nullable = not bool(raw[shape.required])
    from dbsync.discovery.types import split_type_list

    api_type, listed_null = split_type_list(raw.get(shape.type))  # JSON Schema: ["string", "null"]
    if listed_null and nullable is None:
        nullable = True
    if isinstance(api_type, str) and not api_type.strip():
        api_type = None  # SQLite columns declared without a type: the API does not say
    fmt = raw.get(shape.format) if shape.format else None
    precision = _int_or_none(raw.get(shape.precision)) if shape.precision else None
    scale = _int_or_none(raw.get(shape.scale)) if shape.scale else None
    from dbsync.discovery.types import parse_type_params

    if precision is None:
        precision, s2 = parse_type_params(api_type if isinstance(api_type, str) else None)
        scale = scale if scale is not None else s2
    return FieldInfo(name=raw[shape.name], api_type=None if api_type is None else str(api_type),
                     nullable=nullable, precision=precision, scale=scale,
                     format=str(fmt) if isinstance(fmt, str) and fmt.strip() else None)


def _int_or_none(value: Any) -> Optional[int]:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None
