"""Build the catalog: list databases (or take the configured list), then each database's tables.

Databases are described concurrently (a connection with hundreds of databases should not wait
for them one by one); the order of the result is always the API's (or the config's) order.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields as dataclass_fields, replace
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from dbsync.config.model import FieldsEndpoint, FieldShape, ListEndpoint, SchemaEndpoint, SyncConfig, TableSpec
from dbsync.discovery.cache import DiscoveryCache
from dbsync.discovery.catalog import Catalog, DatabaseInfo, FieldInfo, TableInfo
from dbsync.discovery.placeholders import fill_params, fill_path, name_values
from dbsync.errors import AuthError, ConfigError, NotFoundError, PermissionDeniedError, ResponseFormatError, Where
from dbsync.http.client import ApiClient
from dbsync.http.paging import iter_pages
from dbsync.http.select import MISSING, find_path

logger = logging.getLogger("dbsync.discovery")


def _defaults(cls: Any) -> Dict[str, Any]:
    return {f.name: f.default for f in dataclass_fields(cls)}


_DEFAULTS = {"databases.discover": _defaults(ListEndpoint), "tables.discover": _defaults(SchemaEndpoint),
             "field": _defaults(FieldShape)}


class KeyReads:
    """Reads each configured key (a plain key, dotted path or JSONPath: :func:`find_path`) from
    the items of the API's answers, and remembers over a whole discovery run which keys found
    nothing. A key set to anything but its default that finds nothing in any of the items it was
    read from is a warning naming the config key, once per run (a default that finds nothing is
    just an API that does not say)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: Dict[str, List[Any]] = {}  # config key -> [path, found, items read, example item keys]

    def get(self, item: Any, path: Optional[str], key: str, default: Any = None) -> Any:
        """The value at ``path`` in ``item`` (None when it finds nothing or ``path`` is None)."""
        if not path:
            return None
        value = find_path(item, path)
        if path != default:
            with self._lock:
                entry = self._keys.setdefault(key, [path, False, 0, ()])
                entry[2] += 1
                if value is not MISSING:
                    entry[1] = True
                elif not entry[3] and isinstance(item, Mapping):
                    entry[3] = tuple(str(k) for k in list(item)[:10])
        return None if value is MISSING else value

    def warn(self) -> None:
        with self._lock:
            missing = [(k, e) for k, e in self._keys.items() if not e[1] and e[2]]
            for k, _e in missing:
                del self._keys[k]
        for key, (path, _found, count, example) in missing:
            logger.warning("%s: '%s' found nothing in %d item(s) of the API's answer%s; check the path "
                           "(a key, a dotted path such as schema.is_nullable, or a JSONPath)", key, path, count,
                           f" (an item has: {', '.join(example)})" if example else "")


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
    reads = KeyReads()
    try:
        return _discover_with(config, client, databases, tables, reads)
    finally:
        reads.warn()


def _discover_with(config: SyncConfig, client: ApiClient, databases: Optional[Sequence[str]],
                   tables: Optional[Sequence[str]], reads: KeyReads) -> Catalog:
    db_entries = _list_databases(config, client, reads)
    if databases:
        db_entries = _select(db_entries, databases, what="database", key=database_keys)
    if config.tables is None:
        raise ConfigError("databases are configured but no 'tables' section says which tables to sync",
                          key="tables", source=config.source_name)

    fields_ep = config.tables.discover.fields_endpoint if config.tables.discover is not None else None

    def describe(entry: Tuple[Optional[str], Optional[str]]) -> DatabaseInfo:
        db_id, db_name = entry
        found = _tables_of(config, client, db_id, reads, db_name)
        if tables:
            found = _select(found, tables, what=f"table in database '{db_id}'" if db_id else "table",
                            key=table_keys, allow_empty=len(db_entries) > 1)
        return DatabaseInfo(id=db_id, name=db_name,
                            tables=tuple(_with_fields(fields_ep, client, db_id, found, reads=reads,
                                                      database_name=db_name)))

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
    from dbsync.config.placeholders import _placeholders_in

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


def _list_databases(config: SyncConfig, client: ApiClient,
                    reads: Optional[KeyReads] = None) -> List[Tuple[Optional[str], Optional[str]]]:
    cfg = config.databases
    if cfg is None:
        return [(None, None)]
    if cfg.listed is not None:
        entries = [(d, d) for d in cfg.listed]
    else:
        entries = _discover_databases(cfg.discover, client, reads or KeyReads())  # type: ignore[arg-type]
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


def _discover_databases(ep: ListEndpoint, client: ApiClient, reads: KeyReads) -> List[Tuple[str, Optional[str]]]:
    where = Where(path=ep.path, page=None)
    out: List[Tuple[str, Optional[str]]] = []
    seen = set()
    pages = iter_pages(client, ep.path, dict(ep.params), paginator_cfg=ep.paginator or "single_page",
                       data_selector=ep.data_selector, where=where)
    for records, _page in _account_listing(pages, "the database list", client.credentials_hint):
        for i, item in enumerate(records):
            raw_id = find_path(item, ep.id_field) if isinstance(item, Mapping) else MISSING
            if raw_id is MISSING or raw_id is None or isinstance(raw_id, (Mapping, list)):
                raise ResponseFormatError(
                    f"database list item {i} has no '{ep.id_field}' field",
                    where=Where(path=ep.path),
                    hint="set databases.discover.id_field to the field (a key or a dotted path) holding the "
                         "database id",
                )
            db_id = str(raw_id)
            if db_id in seen:
                continue
            seen.add(db_id)
            name = reads.get(item, ep.name_field, "databases.discover.name_field",
                             _DEFAULTS["databases.discover"]["name_field"])
            out.append((db_id, None if name is None else str(name)))
    return out


# --- tables -------------------------------------------------------------------------------------


def _tables_of(config: SyncConfig, client: ApiClient, database: Optional[str],
               reads: Optional[KeyReads] = None, database_name: Optional[str] = None) -> List[TableInfo]:
    tcfg = config.tables
    assert tcfg is not None
    discovered: Optional[List[TableInfo]] = None
    if tcfg.discover is not None:
        discovered = _discover_tables(tcfg.discover, client, database, reads=reads, database_name=database_name)
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


def _discover_tables(ep: SchemaEndpoint, client: ApiClient, database: Optional[str], *,
                     reads: Optional[KeyReads] = None, database_name: Optional[str] = None) -> List[TableInfo]:
    own = reads is None
    reads = reads or KeyReads()
    values = name_values(database, database_name, None, None)
    path = fill_path(ep.path, values)
    params = fill_params(dict(ep.params), values)
    where = Where(database=database, path=ep.path)
    tables: List[TableInfo] = []
    pages: Iterator[Any] = iter_pages(client, path, params, paginator_cfg=ep.paginator or "single_page",
                                      data_selector=ep.tables_selector or "$", where=where, mapping_items=True)
    if database is None:
        pages = _account_listing(pages, "the table list", client.credentials_hint)
    for records, _page in pages:
        for i, item in enumerate(records):
            tables.append(_parse_table(ep, item, i, where, reads))
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
    if own:
        reads.warn()
    return tables


def _with_fields(ep: Optional[FieldsEndpoint], client: ApiClient, database: Optional[str],
                 tables: List[TableInfo], *, reads: Optional[KeyReads] = None,
                 database_name: Optional[str] = None) -> List[TableInfo]:
    """The selected tables, with their fields from ``tables.discover.fields_endpoint`` when one
    is configured: asked only now, after every filter, so excluded tables cost nothing."""
    if ep is None:
        return tables
    own = reads is None
    reads = reads or KeyReads()
    out = []
    for t in tables:
        flagged: List[str] = []
        fields = _fields_of(ep, client, database, database_name, t, reads, flagged)
        out.append(replace(t, fields=fields, primary_key=t.primary_key or tuple(flagged)))
    if own:
        reads.warn()
    return out


_FIELDS_EP = "tables.discover.fields_endpoint"


def _fields_of(ep: FieldsEndpoint, client: ApiClient, database: Optional[str], database_name: Optional[str],
               table_info: TableInfo, reads: KeyReads, flagged: List[str]) -> Tuple[FieldInfo, ...]:
    """A table's fields from ``tables.discover.fields_endpoint`` (one request, or its pages):
    a list of fields, or a mapping name -> field (JSON Schema ``properties``). ``{table}`` is the
    table's id (its name where the API has no separate id), ``{table_name}`` its name."""
    values = name_values(database, database_name, table_info.table_id, table_info.name)
    where = Where(database=database, table=table_info.name, path=ep.path)
    fields: List[FieldInfo] = []
    selector = fill_params(ep.data_selector, values) if ep.data_selector else "$"
    for records, page in iter_pages(client, fill_path(ep.path, values), fill_params(dict(ep.params), values),
                                    paginator_cfg=ep.paginator or "single_page",
                                    data_selector=selector, where=where, mapping_items=True):
        required = _required_names(reads, page.doc, fill_params(ep.required_selector, values) if ep.required_selector
                                   else None, f"{_FIELDS_EP}.required_selector", where) if records else None
        for j, raw in enumerate(records):
            parsed = _parse_field(ep.field, raw, len(fields) + j, where, required=required, reads=reads,
                                  key_prefix=f"{_FIELDS_EP}.field", flagged=flagged)
            if parsed is not None:
                fields.append(parsed)
    return tuple(fields)


def _required_names(reads: KeyReads, doc: Any, path: Optional[str], key: str, where: Where) -> Optional[frozenset]:
    """The object-level list of required field names (JSON Schema ``required``) at ``path``;
    None when no path is configured, empty when the answer has none (nothing is required)."""
    if not path:
        return None
    raw = reads.get(doc, path, key)
    if raw is None:
        return frozenset()
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, (list, tuple)):
        raise ResponseFormatError(f"the required fields at '{path}' are a {type(raw).__name__}, not a list of names",
                                  where=where, hint=f"point {key} at the list of required field names")
    return frozenset(str(n) for n in raw)


def _parse_table(ep: SchemaEndpoint, item: Any, index: int, where: Where,
                 reads: Optional[KeyReads] = None) -> TableInfo:
    """One table of the table list: an item of a list, or a ``(name, item)`` pair of a mapping
    (OpenAPI ``components.schemas``), whose key is the table's name unless ``table_name`` finds one."""
    reads = reads or KeyReads()
    defaults = _DEFAULTS["tables.discover"]
    key_name: Optional[str] = None
    if isinstance(item, tuple):
        key_name, item = str(item[0]), item[1]
    found = find_path(item, ep.table_name) if isinstance(item, Mapping) else MISSING
    name = found if isinstance(found, str) and found else key_name
    if not isinstance(item, Mapping) or not name:
        raise ResponseFormatError(
            f"schema entry {index} has no table name at '{ep.table_name}'",
            where=where,
            hint="set tables.discover.table_name (a key or a dotted path; and tables_selector) to match the "
                 "schema response",
        )
    table_id: Optional[str] = None
    if ep.table_id is not None:
        raw_id = reads.get(item, ep.table_id, "tables.discover.table_id")
        if raw_id is None or isinstance(raw_id, (dict, list, bool)) or str(raw_id) == "":
            raise ResponseFormatError(
                f"schema entry {index} ('{name}') has no table id at '{ep.table_id}'",
                where=where,
                hint="set tables.discover.table_id to the key holding the id the API addresses tables by")
        table_id = str(raw_id)
    table_where = Where(database=where.database, table=name, path=where.path)
    pk: Tuple[str, ...] = ()
    raw_pk = reads.get(item, ep.primary_key, "tables.discover.primary_key", defaults["primary_key"])
    if isinstance(raw_pk, str) and raw_pk:
        pk = (raw_pk,)
    elif isinstance(raw_pk, (list, tuple)):
        pk = tuple(str(p) for p in raw_pk)
    cursor = reads.get(item, ep.cursor_field, "tables.discover.cursor_field", defaults["cursor_field"])
    raw_fields = reads.get(item, ep.fields_selector, "tables.discover.fields_selector", defaults["fields_selector"])
    fields: Optional[Tuple[FieldInfo, ...]] = None
    flagged: List[str] = []
    if raw_fields is not None:
        if isinstance(raw_fields, Mapping):  # {"name": {...}} shape (JSON Schema properties)
            raw_fields = list(raw_fields.items())
        if not isinstance(raw_fields, list):
            raise ResponseFormatError(f"fields at '{ep.fields_selector}' are not a list (or a mapping)",
                                      where=table_where)
        required = _required_names(reads, item, ep.required_selector, "tables.discover.required_selector",
                                   table_where) if raw_fields else None
        parsed = (_parse_field(ep.field, f, j, table_where, required=required, reads=reads, flagged=flagged)
                  for j, f in enumerate(raw_fields))
        fields = tuple(f for f in parsed if f is not None)
    return TableInfo(name=name, primary_key=pk or tuple(flagged), cursor_field=_discovered_cursor(cursor),
                     fields=fields, id=table_id)


def _discovered_cursor(value: Any) -> Any:
    """A schema's cursor: a field name, or a list of names (compared as the first non-empty one)."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, (list, tuple)):
        names = tuple(v for v in value if isinstance(v, str) and v)
        if names:
            return names[0] if len(names) == 1 else names
    return None


def _parse_field(shape: FieldShape, raw: Any, index: int, where: Where, *, required: Optional[frozenset] = None,
                 reads: Optional[KeyReads] = None, key_prefix: str = "tables.discover.field",
                 flagged: Optional[List[str]] = None) -> Optional[FieldInfo]:
    """One field of a schema response; None for a field flagged hidden (never returned).

    ``raw`` is a field object, or a ``(name, field)`` pair of a mapping of fields (JSON Schema
    ``properties``), whose key is the field's name unless ``shape.name`` finds one there; a
    mapping's value that is not an object is the field's type (``{"id": "integer"}``).
    ``required``: the object-level list of required names (JSON Schema), when the API gives one.
    Nullability: the ``nullable`` key, else the ``required`` flag, else a type list naming "null",
    else the ``required`` list (listed: NOT NULL; not listed: nullable), else unknown."""
    from dbsync.discovery.types import parse_type_params, split_type_list

    reads = reads or KeyReads()
    defaults = _DEFAULTS["field"]

    def get(attr: str) -> Any:
        return reads.get(raw, getattr(shape, attr), f"{key_prefix}.{attr}", defaults[attr])  # type: ignore[union-attr]

    key_name: Optional[str] = None
    bare_type: Any = MISSING  # {"id": "integer"}: the mapping's value is the type
    if isinstance(raw, tuple):
        key_name, raw = str(raw[0]), raw[1]
        if not isinstance(raw, Mapping):
            bare_type, raw = raw, {}
    if not isinstance(raw, Mapping):
        raise ResponseFormatError(f"field {index} has no name at '{shape.name}'", where=where,
                                  hint=f"set {key_prefix}.name to match the schema response")
    found = find_path(raw, shape.name)
    name = found if isinstance(found, str) else key_name
    if name is None:
        get("name")  # counted for the warning
        raise ResponseFormatError(f"field {index} has no name at '{shape.name}'", where=where,
                                  hint=f"set {key_prefix}.name (a key or a dotted path) to match the schema response")
    if shape.hidden and get("hidden"):
        return None
    if shape.primary_key and get("primary_key") and flagged is not None:
        flagged.append(name)
    nullable: Optional[bool] = None
    said_nullable = get("nullable")
    said_required = get("required")
    if said_nullable is not None:
        nullable = bool(said_nullable)
    elif said_required is not None:
        nullable = not bool(said_required)
    api_type, listed_null = split_type_list(get("type") if bare_type is MISSING else bare_type)  # ["string", "null"]
    if listed_null and nullable is None:
        nullable = True
    if nullable is None and required is not None:
        nullable = name not in required
    if isinstance(api_type, str) and not api_type.strip():
        api_type = None  # SQLite columns declared without a type: the API does not say
    fmt = get("format")
    precision = _int_or_none(get("precision"))
    scale = _int_or_none(get("scale"))
    if precision is None:
        precision, s2 = parse_type_params(api_type if isinstance(api_type, str) else None)
        scale = scale if scale is not None else s2
    return FieldInfo(name=name, api_type=None if api_type is None else str(api_type),
                     nullable=nullable, precision=precision, scale=scale,
                     format=str(fmt) if isinstance(fmt, str) and fmt.strip() else None)


def _int_or_none(value: Any) -> Optional[int]:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None
