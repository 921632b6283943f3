"""The public ``/v1`` API: parameter checks, grants, and the four read endpoints.

Handlers are plain synchronous functions from a parsed request to ``(status, body)``; they
raise :class:`~dbsync.server.problems.Problem` for every error answer. Checks run in a fixed
order so clients can rely on it: 401 (key), 429 (rate limit), 400 (parameters), 403 (grant),
404 (database/table). A key limited to some databases gets 403 for any other database id,
existing or not, so a limited key cannot probe which tenants exist.
"""

from __future__ import annotations

import hashlib
from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import parse_qsl, urlencode

import orjson

from dbsync.server.problems import Problem
from dbsync.server.settings import ServerSettings
from dbsync.server.store import DEFAULT_TABLE, Store
from dbsync.server.timefmt import parse_instant

__all__ = ["ApiHandlers", "DEFAULT_LIMIT", "parse_query"]

DEFAULT_LIMIT = 100

_SCHEMA_PREFIX = "/v1/databases/"
_SCHEMA_SUFFIX = "/schema"
_FIELDS_SUFFIX = "/fields"


def fields_path_parts(path: str) -> Optional[Tuple[str, str]]:
    """(database, table) of ``/v1/databases/{database}/tables/{table}/fields``, else None."""
    parts = path.split("/")
    if len(parts) == 7 and parts[:3] == ["", "v1", "databases"] and parts[4] == "tables" \
            and parts[6] == "fields" and parts[3] and parts[5]:
        return parts[3], parts[5]
    return None


# the reference server's field types as JSON Schema (type, format); decimals travel as strings
_JSON_SCHEMA_TYPES = {"string": ("string", None), "integer": ("integer", None), "number": ("number", None),
                      "decimal": ("string", "decimal"), "boolean": ("boolean", None), "date": ("string", "date"),
                      "datetime": ("string", "date-time"), "json": ("object", None), "array": ("array", None)}


def _json_schema_table(entry: Dict) -> Dict:
    """A schema entry with its ``fields`` list as a JSON Schema object: each field a property
    (``type``, ``format``; a declared type list such as ``["string", "null"]`` as it is), the
    fields that are not nullable in ``required``."""
    properties: Dict[str, Dict] = {}
    for f in entry["fields"]:
        declared = f["type"]
        json_type, fmt = _JSON_SCHEMA_TYPES.get(declared, (declared, None)) if isinstance(declared, str) \
            else (declared, None)
        prop: Dict = {"type": json_type}
        if f.get("format") or fmt:
            prop["format"] = f.get("format") or fmt
        properties[f["name"]] = prop
    out = {k: v for k, v in entry.items() if k != "fields"}
    out["schema"] = {"type": "object", "properties": properties,
                     "required": [f["name"] for f in entry["fields"] if not f["nullable"]]}
    return out


def table_fields_path_part(path: str) -> Optional[str]:
    """The table id of ``/v1/tables/{table}/fields`` (``opaque_ids``: table ids are global), else None."""
    parts = path.split("/")
    if len(parts) == 5 and parts[:3] == ["", "v1", "tables"] and parts[4] == "fields" and parts[3]:
        return parts[3]
    return None


def opaque_id(*parts: str) -> str:
    """A stable opaque id (8 lowercase letters and digits) for a database or a table: what APIs
    such as NocoDB or Airtable address things by, apart from the names people give them."""
    digest = int.from_bytes(hashlib.sha256("/".join(parts).encode("utf-8")).digest()[:8], "big")
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    out = alphabet[digest % 26]  # starts with a letter
    digest //= 26
    for _ in range(7):
        out += alphabet[digest % 36]
        digest //= 36
    return out


def is_discovery_path(path: str) -> bool:
    """The endpoints that describe rather than hold data: they carry ETags (``etags`` setting)."""
    return path == "/v1/databases" or fields_path_parts(path) is not None or \
        table_fields_path_part(path) is not None or (
        path.startswith(_SCHEMA_PREFIX) and path.endswith(_SCHEMA_SUFFIX) and path.count("/") == 4)


def _int_param(query: Mapping[str, str], name: str, default: int, minimum: int,
               maximum: Optional[int] = None) -> int:
    text = query.get(name)
    if text is None:
        return default
    try:
        value = int(text.strip())
    except ValueError:
        raise Problem.bad_request(f"parameter '{name}' must be an integer, got {text!r}") from None
    if value < minimum:
        raise Problem.bad_request(f"parameter '{name}' must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise Problem.bad_request(f"parameter '{name}' must be <= {maximum}, got {value}")
    return value


def _fields_param(query: Mapping[str, str]) -> Optional[Tuple[str, ...]]:
    """The ``fields`` parameter as a tuple of names (None when absent); 400 when it names none.
    Whether the names exist is the table's check (it needs the table)."""
    text = query.get("fields")
    if text is None:
        return None
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise Problem.bad_request(f"parameter 'fields' must name at least one field (e.g. fields=id), got {text!r}")
    return names


class ApiHandlers:
    """The ``/v1`` endpoints over one store."""

    def __init__(self, settings: ServerSettings, store: Store):
        self.settings = settings
        self.store = store

    def authenticate(self, key: Optional[str]) -> Optional[List[str]]:
        """The key's grant (None = every database); 401 for a missing or unknown key, or an empty
        grant for an unknown one with ``unknown_keys_empty`` (an empty account, as basic-auth
        servers answer a user/password pair they have not seen)."""
        if key is None or key == "":
            raise Problem(401, "missing API key: pass it as the api_key query parameter or in the "
                               "Authorization header (Bearer KEY, or Basic with KEY as the password)")
        if key not in self.settings.api_keys:
            if self.settings.unknown_keys_empty:
                return []
            raise Problem(401, "invalid API key")
        return self.settings.api_keys[key]

    @staticmethod
    def _check_grant(grant: Optional[List[str]], database: str) -> None:
        if grant is not None and database not in grant:
            raise Problem(403, f"this API key is not granted access to database '{database}'")

    def _paging(self, query: Mapping[str, str]) -> Tuple[int, int]:
        offset = _int_param(query, "offset", 0, 0)
        limit = _int_param(query, "limit", DEFAULT_LIMIT, 1, self.settings.max_limit)
        return offset, limit

    def route(self, method: str, path: str, query: Mapping[str, str], grant: Optional[List[str]],
              headers: Optional[List[Tuple[bytes, bytes]]] = None, base_url: str = "") -> bytes:
        """Dispatch an authenticated ``/v1`` request to its handler; returns the 200 body. Paging
        headers (``total_header``, ``next_page_header``) are appended to ``headers``."""
        if path == "/v1/resource":
            if method not in ("GET", "HEAD"):
                raise Problem(405, f"method {method} not allowed on {path}; use GET")
            return self.resource(query, grant, headers=headers, base_url=base_url, method=method)
        elif path == "/v1/databases":
            handler = self.databases
        elif path.startswith(_SCHEMA_PREFIX) and path.endswith(_SCHEMA_SUFFIX) and \
                path.count("/") == 4 and len(path) > len(_SCHEMA_PREFIX) + len(_SCHEMA_SUFFIX):
            database = path[len(_SCHEMA_PREFIX):-len(_SCHEMA_SUFFIX)]
            if method not in ("GET", "HEAD"):
                raise Problem(405, f"method {method} not allowed on {path}; use GET")
            return self.schema(database, grant)
        elif fields_path_parts(path) is not None:
            if method not in ("GET", "HEAD"):
                raise Problem(405, f"method {method} not allowed on {path}; use GET")
            database, table = fields_path_parts(path)  # type: ignore[misc]
            return self.fields(database, table, grant)
        elif self.settings.opaque_ids and table_fields_path_part(path) is not None:
            if method not in ("GET", "HEAD"):
                raise Problem(405, f"method {method} not allowed on {path}; use GET")
            return self.table_fields(table_fields_path_part(path), grant)  # type: ignore[arg-type]
        else:
            raise Problem.not_found(f"no such endpoint: {path}")
        if method not in ("GET", "HEAD"):
            raise Problem(405, f"method {method} not allowed on {path}; use GET")
        return handler(query, grant)

    def databases(self, query: Mapping[str, str], grant: Optional[List[str]]) -> bytes:
        """``GET /v1/databases``: the granted databases, ordered by id, paged."""
        offset, limit = self._paging(query)
        if self.settings.opaque_ids:  # the database's name is what is an id otherwise
            visible = [{"id": opaque_id("database", i), "name": i} for i, _n in self.store.database_list()
                       if grant is None or i in grant]
        else:
            visible = [{"id": i, "name": n} for i, n in self.store.database_list() if grant is None or i in grant]
        return orjson.dumps({"data": visible[offset:offset + limit], "total": len(visible),
                             "offset": offset, "limit": limit})

    def schema(self, database: str, grant: Optional[List[str]]) -> bytes:
        """``GET /v1/databases/{database}/schema`` (its tables' fields as JSON Schema with
        ``schema_format: json_schema``)."""
        if self.settings.opaque_ids:
            opaque, database = database, self._database_of(database)
            self._check_grant(grant, database)
            doc: Dict[str, Any] = self.store.schema(database)
            tables = [{"id": opaque_id("table", database, t["name"]), **t} for t in doc["tables"]]
            doc = {**doc, "database": opaque, "tables": tables}
        else:
            self._check_grant(grant, database)
            doc = self.store.schema(database)
        if self.settings.schema_format == "json_schema":
            doc = {**doc, "tables": [_json_schema_table(t) for t in doc["tables"]]}
        return orjson.dumps(doc)

    # --- opaque_ids: ids apart from names, translated here; the store (and /admin) use names

    def _database_of(self, opaque: str) -> str:
        for db_id, _name in self.store.database_list():
            if opaque_id("database", db_id) == opaque:
                return db_id
        raise Problem.not_found(f"database '{opaque}' not found (this server addresses databases by id)")

    def _table_of(self, database: str, opaque: str) -> str:
        for entry in self.store.schema(database)["tables"]:
            if opaque_id("table", database, entry["name"]) == opaque:
                return str(entry["name"])
        raise Problem.not_found(f"table '{opaque}' not found in database '{opaque_id('database', database)}' "
                                f"(this server addresses tables by id)")

    def table_fields(self, table: str, grant: Optional[List[str]]) -> bytes:
        """``GET /v1/tables/{table}/fields`` (``opaque_ids``): table ids are global, no database."""
        for db_id, _name in self.store.database_list():
            for entry in self.store.schema(db_id)["tables"]:
                if opaque_id("table", db_id, entry["name"]) == table:
                    self._check_grant(grant, db_id)
                    return orjson.dumps({"table": table, "fields": entry["fields"]})
        raise Problem.not_found(f"table '{table}' not found")

    def fields(self, database: str, table: str, grant: Optional[List[str]]) -> bytes:
        """``GET /v1/databases/{database}/tables/{table}/fields``: one table's fields, as its
        schema entry lists them (for clients that describe tables one request at a time)."""
        if self.settings.opaque_ids:
            opaque_db, opaque_table = database, table
            database = self._database_of(opaque_db)
            self._check_grant(grant, database)
            table = self._table_of(database, opaque_table)
            for entry in self.store.schema(database)["tables"]:
                if entry["name"] == table:
                    return orjson.dumps({"database": opaque_db, "table": opaque_table, "fields": entry["fields"]})
        self._check_grant(grant, database)
        for entry in self.store.schema(database)["tables"]:
            if entry["name"] == table:
                return orjson.dumps({"database": database, "table": table, "fields": entry["fields"]})
        raise Problem.not_found(f"table '{table}' not found in database '{database}'")

    def resource(self, query: Mapping[str, str], grant: Optional[List[str]],
                 headers: Optional[List[Tuple[bytes, bytes]]] = None, base_url: str = "",
                 method: str = "GET") -> bytes:
        """``GET /v1/resource``: one page of a table, live by id or changes since a time
        (``updated_since``; with ``created_since`` also never-edited records created since);
        ``fields=id,updated_at`` keeps only those keys of each record (a cheap key listing)."""
        database = query.get("database")
        table = query.get("table")
        if database is not None and table is None:
            raise Problem.bad_request("parameter 'table' is required when 'database' is given")
        refused = [name for name in self.settings.forbidden_params if name in query]
        if refused:
            raise Problem(403, f"this key may not use parameter '{refused[0]}'")
        offset, limit = self._paging(query)
        since_text = query.get("updated_since")
        since_us = None
        if since_text is not None:
            since_us = parse_instant(since_text)
            if since_us is None:
                raise Problem.bad_request(
                    f"parameter 'updated_since' must be an ISO 8601 date-time with a timezone "
                    f"(e.g. 2024-01-31T12:00:00Z or 2024-01-31T14:00:00+02:00), got {since_text!r}")
        created_text = query.get("created_since")
        created_us = None
        if created_text is not None:
            created_us = parse_instant(created_text)
            if created_us is None:
                raise Problem.bad_request(f"parameter 'created_since' must be an ISO 8601 date-time with a "
                                          f"timezone, got {created_text!r}")
        fields = _fields_param(query)
        if database is None:
            database = self.store.default_database
        elif self.settings.opaque_ids:
            database = self._database_of(database)
        if table is None:
            table = DEFAULT_TABLE
        elif self.settings.opaque_ids:
            self._check_grant(grant, database)
            table = self._table_of(database, table)
        self._check_grant(grant, database)
        body, real_total = self.store.page_and_count(database, table, offset, limit, since_us, created_us, fields)
        if headers is not None:
            self._paging_headers(headers, query, offset, limit, real_total, base_url, method)
        return body

    def _paging_headers(self, headers: List[Tuple[bytes, bytes]], query: Mapping[str, str], offset: int,
                        limit: int, real_total: int, base_url: str, method: str = "GET") -> None:
        settings = self.settings
        if settings.total_header and method.upper() in settings.total_header_methods:
            announced = self.store.announced_total(real_total)
            if settings.total_header.lower() == "content-range":  # PostgREST: first-last/total
                shown = max(0, min(limit, real_total - offset))
                value = b"%d-%d/%d" % (offset, offset + shown - 1, announced) if shown else b"*/%d" % announced
            else:
                value = b"%d" % announced
            headers.append((settings.total_header.lower().encode(), value))
        if settings.next_page_header and offset + limit < real_total:
            # the client adds its own auth, unless the server echoes the key into its links
            params = {k: v for k, v in query.items() if k != "api_key" or settings.next_page_with_key}
            params.update(offset=str(offset + limit), limit=str(limit))
            origin = settings.next_page_base or ("" if settings.next_page_relative else base_url)
            url = f"{origin.rstrip('/')}/v1/resource?{urlencode(params)}"
            name = settings.next_page_header
            value = f'<{url}>; rel="next"' if name.lower() == "link" else url
            headers.append((name.lower().encode(), value.encode()))


def parse_query(raw: bytes) -> Dict[str, str]:
    """Decode a query string; for repeated parameters the last one wins."""
    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
