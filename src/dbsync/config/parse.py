"""Turn a raw config mapping (a Python dict, or a parsed YAML/TOML/JSON file) into a SyncConfig.

Validation happens here, before any request: every problem becomes a ``ConfigError`` naming the
config key and what is wrong. The input mapping is never modified.
"""

from __future__ import annotations

import copy
import difflib
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from dbsync.config.model import (
    CURSOR_PLACEHOLDERS,
    DatabasesConfig,
    DeleteSettings,
    FieldsEndpoint,
    FieldShape,
    IncrementalSettings,
    ListEndpoint,
    PerformanceSettings,
    PipelineSettings,
    RetrySettings,
    SchemaEndpoint,
    SyncConfig,
    TableSpec,
    TablesConfig,
)
from dbsync.config import resource_keys
from dbsync.config.discovery import parse_discovery
from dbsync.config.paging import for_dlt_validation, validate_paginator
from dbsync.config.secrets import DEFAULT_AUTH_TYPE, SECRET_FIELDS, resolve_auth_secrets
from dbsync.errors import ConfigError

REST_API_KEYS = ("client", "resources", "resource_defaults")
DBSYNC_KEYS = (
    "databases",
    "tables",
    "incremental",
    "deletes",
    "types",
    "fields",
    "layout",
    "database_column",
    "retries",
    "performance",
    "discovery",
    "pipeline",
)
PLACEHOLDERS = ("database", "table", "database_name", "table_name")
_KNOWN = "only {database}, {table}, {database_name} and {table_name} are filled in"
PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")

# dlt's data types that a type mapping may name
DLT_DATA_TYPES = (
    "text",
    "double",
    "bool",
    "timestamp",
    "bigint",
    "binary",
    "json",
    "decimal",
    "wei",
    "date",
    "time",
)


def parse_config(
    raw: Mapping[str, Any],
    *,
    source_name: Optional[str] = None,
    from_file: bool = False,
    resolve_secrets: bool = True,
) -> SyncConfig:
    """Validate ``raw`` and return a :class:`SyncConfig`.

    ``from_file`` forbids secret values in the mapping itself (they belong in dlt secrets);
    ``resolve_secrets`` looks missing secrets up in dlt secrets (off for `dbsync discover --offline`
    style uses and for tests of validation alone).
    """
    from dbsync.dlt_defaults import apply_dlt_defaults

    apply_dlt_defaults()  # before the first dlt config lookup below (dlt reads its runtime then)
    ctx = _Ctx(source_name)
    if not isinstance(raw, Mapping):
        raise ctx.error(None, f"the config must be a mapping of keys, got {type(raw).__name__}")
    cfg: Dict[str, Any] = copy.deepcopy(dict(raw))

    unknown = [k for k in cfg if k not in REST_API_KEYS + DBSYNC_KEYS]
    if unknown:
        key = unknown[0]
        raise ctx.error(key, "unknown key" + _did_you_mean(key, REST_API_KEYS + DBSYNC_KEYS))
    if "client" not in cfg:
        raise ctx.error("client", "missing: the rest_api 'client' section (base_url, auth) is required")
    if "resources" not in cfg:
        raise ctx.error("resources", "missing: list at least one resource (the records endpoint)")

    client = _parse_client(ctx, cfg["client"], from_file=from_file, resolve_secrets=resolve_secrets)
    resource_defaults = cfg.get("resource_defaults") or {}
    if not isinstance(resource_defaults, Mapping):
        raise ctx.error("resource_defaults", "must be a mapping")
    resources = _parse_resources(ctx, cfg["resources"], resource_defaults)

    rest_api = {"client": client, "resource_defaults": dict(resource_defaults), "resources": resources}
    _validate_with_dlt(ctx, rest_api)

    databases = _parse_databases(ctx, cfg.get("databases"))
    tables = _parse_tables(ctx, cfg.get("tables"))
    _check_placeholders(ctx, resources, databases, tables)

    layout = cfg.get("layout", "per_database")
    if layout not in ("per_database", "union"):
        raise ctx.error("layout", f"must be 'per_database' or 'union', got {layout!r}")
    database_column = _str(ctx, "database_column", cfg.get("database_column", "_dbsync_database"))
    from dbsync.config.values import parse_fields, parse_types

    types, type_rules = parse_types(ctx, cfg.get("types", {}))

    return SyncConfig(
        rest_api=rest_api,
        databases=databases,
        tables=tables,
        incremental=_parse_incremental(ctx, cfg.get("incremental", {})),
        deletes=_parse_deletes(ctx, cfg.get("deletes", {})),
        types=types,
        type_rules=type_rules,
        field_rules=parse_fields(ctx, cfg.get("fields", {})),
        layout=layout,
        database_column=database_column,
        retries=_parse_retries(ctx, cfg.get("retries", {})),
        performance=_parse_performance(ctx, cfg.get("performance", {})),
        discovery=parse_discovery(ctx, cfg.get("discovery")),
        pipeline=_parse_pipeline(ctx, cfg.get("pipeline", {})),
        source_name=source_name,
        secrets=tuple(client.pop("_dbsync_secrets", ())),
    )


class _Ctx:
    """Carries the config's origin so every error can say where it came from."""

    def __init__(self, source_name: Optional[str]):
        self.source_name = source_name

    def error(self, key: Optional[str], message: str, hint: Optional[str] = None) -> ConfigError:
        return ConfigError(message, key=key, source=self.source_name, hint=hint)


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else f"; known keys: {', '.join(choices)}"


def _check_keys(ctx: _Ctx, key: str, value: Mapping[str, Any], allowed: Sequence[str]) -> None:
    for k in value:
        if k not in allowed:
            raise ctx.error(f"{key}.{k}", "unknown key" + _did_you_mean(k, allowed))


def _mapping(ctx: _Ctx, key: str, value: Any) -> Dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ctx.error(key, f"must be a mapping, got {type(value).__name__}")
    return dict(value)


def _str(ctx: _Ctx, key: str, value: Any, *, allow_none: bool = False) -> Any:
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or not value:
        raise ctx.error(key, f"must be a non-empty string, got {value!r}")
    return value


def _number(ctx: _Ctx, key: str, value: Any, *, minimum: float = 0, integer: bool = False) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ctx.error(key, f"must be a number, got {value!r}")
    if integer and not float(value).is_integer():
        raise ctx.error(key, f"must be a whole number, got {value!r}")
    if value < minimum:
        raise ctx.error(key, f"must be at least {minimum}, got {value!r}")
    return int(value) if integer else float(value)


def _str_list(ctx: _Ctx, key: str, value: Any) -> Tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise ctx.error(key, f"must be a list of strings, got {value!r}")
    return tuple(value)


# --- client -------------------------------------------------------------------------------------


def _parse_client(ctx: _Ctx, value: Any, *, from_file: bool, resolve_secrets: bool) -> Dict[str, Any]:
    client = _mapping(ctx, "client", value)
    _check_keys(ctx, "client", client, tuple(resource_keys.CLIENT_KEYS))
    resource_keys.check_keys(ctx.error, "client", client, resource_keys.CLIENT_KEYS)
    base_url = _override_base_url(client.get("base_url"))
    base_url = _str(ctx, "client.base_url", base_url)
    if not re.match(r"^https?://[^/\s]+", base_url):
        raise ctx.error("client.base_url", f"must be an http(s) URL like https://api.example.com, got {base_url!r}")
    client["base_url"] = base_url
    _validate_paginator(ctx, "client.paginator", client.get("paginator"), allow_total=True)
    if client.get("headers") is not None:
        headers = _mapping(ctx, "client.headers", client["headers"])
        client["headers"] = {str(k): v for k, v in headers.items()}
    auth, secrets = resolve_auth_secrets(
        client.get("auth"), key="client.auth", source_name=ctx.source_name, from_file=from_file,
        resolve=resolve_secrets,
    )
    if auth is not None:
        client["auth"] = auth
    client["_dbsync_secrets"] = secrets
    return client


def _override_base_url(configured: Any) -> Any:
    """``SOURCES__DBSYNC__BASE_URL`` (or ``[sources.dbsync] base_url``) overrides the file, so one
    config can point at staging and production."""
    import dlt

    override = dlt.config.get("sources.dbsync.base_url")
    return override if override else configured


# --- resources ----------------------------------------------------------------------------------

ENDPOINT_KEYS = tuple(resource_keys.ENDPOINT_KEYS)  # dlt's Endpoint keys: honoured or refused there


def _parse_resources(
    ctx: _Ctx, value: Any, defaults: Mapping[str, Any]
) -> List[Dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise ctx.error("resources", "must be a non-empty list of resources")
    out: List[Dict[str, Any]] = []
    names = set()
    for i, item in enumerate(value):
        key = f"resources[{i}]"
        if isinstance(item, str):
            item = {"name": item, "endpoint": {"path": item}}
        if not isinstance(item, Mapping):
            raise ctx.error(key, "must be a resource name or a mapping with 'name' and 'endpoint'")
        resource = _merge_resource(defaults, item)
        _check_keys(ctx, key, resource, _resource_keys())
        resource_keys.check_keys(ctx.error, key, resource, resource_keys.RESOURCE_KEYS, own=item,
                                 defaults_prefix="resource_defaults")
        if "write_disposition" in resource:
            resource_keys.check_write_disposition(
                ctx.error, f"{key if 'write_disposition' in item else 'resource_defaults'}.write_disposition",
                resource["write_disposition"])
        if "columns" in resource:
            resource["columns"] = resource_keys.parse_columns(
                ctx.error, f"{key if 'columns' in item else 'resource_defaults'}.columns", resource["columns"])
        name = resource.get("name")
        if not isinstance(name, str) or not name:
            raise ctx.error(f"{key}.name", "missing: every resource needs a name")
        endpoint = resource.get("endpoint")
        if isinstance(endpoint, str):
            endpoint = {"path": endpoint}
        if not isinstance(endpoint, Mapping):
            raise ctx.error(f"{key}.endpoint", "missing: give the records endpoint (path, data_selector, paginator)")
        endpoint = dict(endpoint)
        endpoint.setdefault("path", name)
        _check_keys(ctx, f"{key}.endpoint", endpoint, ENDPOINT_KEYS)
        own_endpoint = item.get("endpoint")
        resource_keys.check_keys(ctx.error, f"{key}.endpoint", endpoint, resource_keys.ENDPOINT_KEYS,
                                 own=own_endpoint if isinstance(own_endpoint, Mapping) else {"path": None},
                                 defaults_prefix="resource_defaults.endpoint")
        if "headers" in endpoint:
            endpoint["headers"] = resource_keys.parse_endpoint_headers(ctx.error, f"{key}.endpoint.headers",
                                                                       endpoint["headers"])
        if endpoint.get("method", "GET").upper() not in ("GET", "POST"):
            raise ctx.error(f"{key}.endpoint.method", "must be GET or POST")
        for p_name, p_value in (endpoint.get("params") or {}).items():
            if isinstance(p_value, Mapping) and "type" in p_value:
                raise ctx.error(
                    f"{key}.endpoint.params.{p_name}",
                    f"params of type '{p_value['type']}' (rest_api's resolve/incremental params) are not "
                    "supported: dbsync fills {database} and {table} itself and manages incremental "
                    "state with the 'incremental' section",
                )
        _validate_paginator(ctx, f"{key}.endpoint.paginator", endpoint.get("paginator"), allow_total=True)
        _validate_response_actions(ctx, f"{key}.endpoint.response_actions", endpoint.get("response_actions"))
        resource["endpoint"] = endpoint
        if name in names:
            raise ctx.error(f"{key}.name", f"duplicate resource name {name!r}")
        names.add(name)
        out.append(resource)
    return out


def _resource_keys() -> Tuple[str, ...]:
    from typing import get_type_hints

    from dlt.sources.rest_api.typing import EndpointResource

    return tuple(get_type_hints(EndpointResource))


def _validate_response_actions(ctx: _Ctx, key: str, actions: Any) -> None:
    """rest_api's response_actions: dbsync supports ``action: ignore`` (treat the response as an
    empty page) matched on ``status_code`` and/or ``content``."""
    if actions is None:
        return
    if not isinstance(actions, list):
        raise ctx.error(key, "must be a list of {status_code, content, action} mappings")
    for i, action in enumerate(actions):
        if not isinstance(action, Mapping):
            raise ctx.error(f"{key}[{i}]", "must be a mapping (callables are not supported by dbsync)")
        _check_keys(ctx, f"{key}[{i}]", action, ("status_code", "content", "action"))
        if action.get("action") != "ignore":
            raise ctx.error(f"{key}[{i}].action", f"only 'ignore' is supported, got {action.get('action')!r}")
        if action.get("status_code") is None and action.get("content") is None:
            raise ctx.error(f"{key}[{i}]", "give status_code and/or content to match")


def _merge_resource(defaults: Mapping[str, Any], resource: Mapping[str, Any]) -> Dict[str, Any]:
    """resource_defaults under the resource, one level deep for endpoint and its params."""
    merged: Dict[str, Any] = copy.deepcopy(dict(defaults))
    for k, v in resource.items():
        if k == "endpoint" and isinstance(v, Mapping) and isinstance(merged.get("endpoint"), Mapping):
            endpoint = dict(merged["endpoint"])
            for ek, ev in v.items():
                if ek == "params" and isinstance(ev, Mapping) and isinstance(endpoint.get("params"), Mapping):
                    endpoint["params"] = {**endpoint["params"], **ev}
                else:
                    endpoint[ek] = copy.deepcopy(ev)
            merged["endpoint"] = endpoint
        else:
            merged[k] = copy.deepcopy(v)
    return merged


def _validate_paginator(ctx: _Ctx, key: str, paginator: Any, *, allow_total: bool = False) -> None:
    """dlt's paginators, dbsync's own (``header_next_url``) and ``total`` (dbsync.config.paging)."""
    validate_paginator(ctx.error, key, paginator, allow_total=allow_total)


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _validate_with_dlt(ctx: _Ctx, rest_api: Dict[str, Any]) -> None:
    """Run dlt's own TypedDict validation of the rest_api part, reporting the most precise error."""
    from dlt.common.exceptions import DictValidationException
    from dlt.common.validation import validate_dict
    from dlt.sources.rest_api.typing import RESTAPIConfig

    doc = copy.deepcopy({k: v for k, v in rest_api.items() if v is not None})
    doc["client"] = {k: v for k, v in doc["client"].items() if not k.startswith("_dbsync")}
    auth = doc["client"].get("auth")
    if isinstance(auth, dict):
        for secret_key in ("api_key", "token", "password", "client_secret", "access_token"):
            if secret_key in auth:
                auth[secret_key] = "***"
        # a config read without its secrets (`dbsync status`, `discover --offline`) is still valid:
        # dlt requires the secret field, which only the secrets provide
        for secret_key in SECRET_FIELDS.get(str(auth.get("type", DEFAULT_AUTH_TYPE)), ()):
            auth.setdefault(secret_key, "***")
    _paginators_for_dlt(doc)
    try:
        validate_dict(RESTAPIConfig, doc, path=".")
    except DictValidationException as exc:
        leaf = _best_leaf(exc)
        path = leaf.path.strip("./").replace("/", ".")
        key = ".".join(p for p in (path, leaf.field or "") if p)
        raise ctx.error(key or None, _one_line(_humanize_dlt_message(leaf.msg))) from None


def _paginators_for_dlt(doc: Dict[str, Any]) -> None:
    """Paginators as dlt's types accept them (already validated by dbsync.config.paging)."""
    holders = [doc.get("client"), (doc.get("resource_defaults") or {}).get("endpoint")]
    holders += [r.get("endpoint") for r in doc.get("resources") or [] if isinstance(r, dict)]
    for holder in holders:
        if isinstance(holder, dict) and holder.get("paginator") is not None:
            holder["paginator"] = for_dlt_validation(holder["paginator"])


def _best_leaf(exc: Any) -> Any:
    """dlt reports a failed union as a tree of attempts; pick the deepest, most specific one."""
    leaves: List[Any] = []

    def walk(e: Any) -> None:
        nested = getattr(e, "nested_exceptions", None) or []
        if not nested:
            leaves.append(e)
        for n in nested:
            walk(n)

    walk(exc)

    def score(e: Any) -> Tuple[int, int, int]:
        depth = (e.path or "").count("/") + (1 if e.field else 0)
        if "is not one of" in e.msg and not isinstance(getattr(e, "value", None), (dict, list)):
            specific = 3
        elif "unexpected fields" in e.msg or "missing required" in e.msg:
            specific = 2
        elif "while `str` is expected" in e.msg or "expects `callable`" in e.msg or "expects class" in e.msg:
            specific = -1  # the shorthand alternatives of a union: rarely what the user meant
        else:
            specific = 1 if e.field else 0
        return specific, depth, -len(e.msg)

    return max(leaves, key=score)


def _humanize_dlt_message(msg: str) -> str:
    msg = re.sub(r"field `([^`=]+)=([^`]*)`", r"\2", msg)
    return msg.replace("`", "'")


# --- databases / tables ------------------------------------------------------------------------


def _parse_list_endpoint(ctx: _Ctx, key: str, value: Any) -> ListEndpoint:
    ep = _mapping(ctx, key, value)
    _check_keys(ctx, key, ep, ("path", "params", "data_selector", "paginator", "id_field", "name_field"))
    _validate_paginator(ctx, f"{key}.paginator", ep.get("paginator"))
    return ListEndpoint(
        path=_str(ctx, f"{key}.path", ep.get("path")),
        params=_mapping(ctx, f"{key}.params", ep.get("params")),
        data_selector=_str(ctx, f"{key}.data_selector", ep.get("data_selector"), allow_none=True),
        paginator=ep.get("paginator"),
        id_field=_str(ctx, f"{key}.id_field", ep.get("id_field", "id")),
        name_field=_str(ctx, f"{key}.name_field", ep.get("name_field", "name"), allow_none=True),
    )


def _parse_databases(ctx: _Ctx, value: Any) -> Optional[DatabasesConfig]:
    if value is None:
        return None
    if isinstance(value, list):
        value = {"list": value}
    section = _mapping(ctx, "databases", value)
    _check_keys(ctx, "databases", section, ("list", "discover", "include", "exclude"))
    listed = section.get("list")
    discover = section.get("discover")
    if listed is None and discover is None:
        raise ctx.error("databases", "give either 'list' (database ids) or 'discover' (a list endpoint)")
    if listed is not None and discover is not None:
        raise ctx.error("databases", "give either 'list' or 'discover', not both")
    return DatabasesConfig(
        listed=_str_list(ctx, "databases.list", listed) if listed is not None else None,
        discover=_parse_list_endpoint(ctx, "databases.discover", discover) if discover is not None else None,
        include=_str_list(ctx, "databases.include", section.get("include", ["*"])),
        exclude=_str_list(ctx, "databases.exclude", section.get("exclude", [])),
    )


def _parse_pk(ctx: _Ctx, key: str, value: Any) -> Optional[Tuple[str, ...]]:
    if value is None:
        return None
    return _str_list(ctx, key, value)


def _parse_tables(ctx: _Ctx, value: Any) -> Optional[TablesConfig]:
    if value is None:
        return None
    if isinstance(value, list):
        value = {"list": value}
    section = _mapping(ctx, "tables", value)
    _check_keys(ctx, "tables", section, ("list", "discover", "include", "exclude"))
    listed = section.get("list")
    discover = section.get("discover")
    if listed is None and discover is None:
        raise ctx.error("tables", "give either 'list' (table names) or 'discover' (a schema endpoint)")
    specs: Optional[Tuple[TableSpec, ...]] = None
    if listed is not None:
        if not isinstance(listed, list) or not listed:
            raise ctx.error("tables.list", "must be a non-empty list of table names or mappings")
        out = []
        for i, item in enumerate(listed):
            k = f"tables.list[{i}]"
            if isinstance(item, str):
                item = {"name": item}
            item = _mapping(ctx, k, item)
            _check_keys(ctx, k, item, ("name", "primary_key", "cursor_field"))
            out.append(
                TableSpec(
                    name=_str(ctx, f"{k}.name", item.get("name")),
                    primary_key=_parse_pk(ctx, f"{k}.primary_key", item.get("primary_key")),
                    cursor_field=_cursor_field(ctx, f"{k}.cursor_field", item.get("cursor_field")),
                )
            )
        specs = tuple(out)
    schema_ep = None
    if discover is not None:
        d = _mapping(ctx, "tables.discover", discover)
        allowed = ("path", "params", "tables_selector", "paginator", "table_name", "table_id", "primary_key",
                   "cursor_field", "fields_selector", "required_selector", "field", "fields_endpoint")
        _check_keys(ctx, "tables.discover", d, allowed)
        _validate_paginator(ctx, "tables.discover.paginator", d.get("paginator"))
        shape = _parse_field_shape(ctx, "tables.discover.field", d.get("field"))
        fields_endpoint = None
        if d.get("fields_endpoint") is not None:
            fields_endpoint = _parse_fields_endpoint(ctx, "tables.discover.fields_endpoint", d["fields_endpoint"])
        schema_ep = SchemaEndpoint(
            path=_str(ctx, "tables.discover.path", d.get("path")),
            params=_mapping(ctx, "tables.discover.params", d.get("params")),
            tables_selector=_str(ctx, "tables.discover.tables_selector", d.get("tables_selector", "tables"), allow_none=True),
            paginator=d.get("paginator"),
            table_name=_str(ctx, "tables.discover.table_name", d.get("table_name", "name")),
            table_id=_str(ctx, "tables.discover.table_id", d.get("table_id"), allow_none=True),
            primary_key=_str(ctx, "tables.discover.primary_key", d.get("primary_key", "primary_key"), allow_none=True),
            cursor_field=_str(ctx, "tables.discover.cursor_field", d.get("cursor_field", "cursor_field"), allow_none=True),
            fields_selector=_str(ctx, "tables.discover.fields_selector", d.get("fields_selector", "fields")),
            field=shape,
            fields_endpoint=fields_endpoint,
            required_selector=_str(ctx, "tables.discover.required_selector", d.get("required_selector"), allow_none=True),
        )
    return TablesConfig(
        listed=specs,
        discover=schema_ep,
        include=_str_list(ctx, "tables.include", section.get("include", ["*"])),
        exclude=_str_list(ctx, "tables.exclude", section.get("exclude", [])),
    )


def _parse_field_shape(ctx: _Ctx, key: str, value: Any) -> FieldShape:
    """Where a schema response keeps each field's name, type, nullability... (``field:``)."""
    f = _mapping(ctx, key, value)
    _check_keys(ctx, key, f, ("name", "type", "nullable", "required", "precision", "scale", "hidden", "format",
                              "primary_key"))
    return FieldShape(
        name=_str(ctx, f"{key}.name", f.get("name", "name")),
        type=_str(ctx, f"{key}.type", f.get("type", "type")),
        nullable=_str(ctx, f"{key}.nullable", f.get("nullable", None if "required" in f else "nullable"), allow_none=True),
        required=_str(ctx, f"{key}.required", f.get("required"), allow_none=True),
        precision=_str(ctx, f"{key}.precision", f.get("precision", "precision"), allow_none=True),
        scale=_str(ctx, f"{key}.scale", f.get("scale", "scale"), allow_none=True),
        hidden=_str(ctx, f"{key}.hidden", f.get("hidden"), allow_none=True),
        format=_str(ctx, f"{key}.format", f.get("format", "format"), allow_none=True),
        primary_key=_str(ctx, f"{key}.primary_key", f.get("primary_key"), allow_none=True),
    )


def _parse_fields_endpoint(ctx: _Ctx, key: str, value: Any) -> FieldsEndpoint:
    """``tables.discover.fields_endpoint``: one request per table for its fields."""
    ep = _mapping(ctx, key, value)
    _check_keys(ctx, key, ep, ("path", "params", "data_selector", "paginator", "field", "required_selector"))
    _validate_paginator(ctx, f"{key}.paginator", ep.get("paginator"))
    path = _str(ctx, f"{key}.path", ep.get("path"))
    params = _mapping(ctx, f"{key}.params", ep.get("params"))
    data_selector = _str(ctx, f"{key}.data_selector", ep.get("data_selector"), allow_none=True)
    required_selector = _str(ctx, f"{key}.required_selector", ep.get("required_selector"), allow_none=True)
    used = _placeholders_in({"path": path, "params": params, "s": data_selector, "r": required_selector})
    for ph in used:
        if ph not in PLACEHOLDERS:
            raise ctx.error(key, f"unknown placeholder '{{{ph}}}': {_KNOWN}")
    if not used & {"table", "table_name"}:
        raise ctx.error(key, "must use {table} in its path, params or data_selector (it is read once per table)")
    return FieldsEndpoint(
        path=path,
        params=params,
        data_selector=data_selector,
        paginator=ep.get("paginator"),
        field=_parse_field_shape(ctx, f"{key}.field", ep.get("field")),
        required_selector=required_selector,
    )


def _placeholders_in(value: Any) -> set:
    found: set = set()
    if isinstance(value, str):
        found.update(m.group(1) for m in PLACEHOLDER_RE.finditer(value))
    elif isinstance(value, Mapping):
        for v in value.values():
            found |= _placeholders_in(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            found |= _placeholders_in(v)
    return found


def _check_placeholders(
    ctx: _Ctx,
    resources: List[Dict[str, Any]],
    databases: Optional[DatabasesConfig],
    tables: Optional[TablesConfig],
) -> None:
    expanding = 0
    for i, resource in enumerate(resources):
        endpoint = resource["endpoint"]
        used = _placeholders_in({k: endpoint.get(k) for k in ("path", "params", "json", "headers")})
        used_in_name = _placeholders_in(resource["name"])
        for ph in used | used_in_name:
            if ph not in PLACEHOLDERS:
                raise ctx.error(f"resources[{i}]", f"unknown placeholder '{{{ph}}}': {_KNOWN}")
        if used & {"database", "database_name"} and databases is None:
            raise ctx.error(f"resources[{i}].endpoint", "uses {database} but no 'databases' section says which databases to sync")
        if used & {"table", "table_name"} and tables is None:
            raise ctx.error(f"resources[{i}].endpoint", "uses {table} but no 'tables' section says which tables to sync")
        if used & {"table", "table_name"}:
            expanding += 1
        elif used_in_name:
            raise ctx.error(f"resources[{i}].name", "uses placeholders but the endpoint does not use {table}")
    if (databases is not None or tables is not None) and expanding == 0:
        raise ctx.error(
            "resources",
            "databases/tables are configured but no resource endpoint uses the {table} placeholder "
            "(e.g. params: {database: '{database}', table: '{table}'})",
        )
    if tables is not None and tables.discover is not None:
        uses_db = bool({"database", "database_name"} & _placeholders_in({"p": tables.discover.path, "q": tables.discover.params}))
        if databases is not None and not uses_db:
            raise ctx.error("tables.discover.path", "must use {database} when several databases are synced")
        fields_ep = tables.discover.fields_endpoint
        if fields_ep is not None:
            used = _placeholders_in({"p": fields_ep.path, "q": fields_ep.params})
            uses_db = bool({"database", "database_name"} & used)
            # a table's name may repeat across databases, its id (table_id) is the API's own
            # address of it: with ids, {table} alone is enough (checked against the catalog)
            if databases is not None and not uses_db and tables.discover.table_id is None:
                raise ctx.error("tables.discover.fields_endpoint",
                                "must use {database} when several databases are synced (or set "
                                "tables.discover.table_id when the API's table ids are global)")
            if databases is None and uses_db:
                raise ctx.error("tables.discover.fields_endpoint", "uses {database} but no 'databases' section says which databases to sync")


# --- the smaller sections ------------------------------------------------------------------------


def _parse_incremental(ctx: _Ctx, value: Any) -> IncrementalSettings:
    if value is False:
        return IncrementalSettings(enabled=False)
    section = _mapping(ctx, "incremental", value)
    allowed = ("enabled", "cursor_field", "param", "params", "initial_value", "lag", "value_format")
    _check_keys(ctx, "incremental", section, allowed)
    fmt = section.get("value_format", "iso")
    if fmt not in ("iso", "epoch_seconds", "epoch_millis"):
        raise ctx.error("incremental.value_format", f"must be iso, epoch_seconds or epoch_millis, got {fmt!r}")
    if "param" in section and "params" in section:
        raise ctx.error("incremental", "give either 'param' (one query parameter) or 'params' (templates), not both")
    param: Optional[str] = _str(ctx, "incremental.param", section.get("param", "updated_since"))
    if "params" in section:
        params = _parse_cursor_params(ctx, section["params"])
        param = next((k for k, v in params.items() if v == "{cursor}" and "{" not in k), None)
    else:
        params = {param: "{cursor}"}
    return IncrementalSettings(
        enabled=bool(section.get("enabled", True)),
        cursor_field=_cursor_field(ctx, "incremental.cursor_field", section.get("cursor_field")),
        param=param,
        params=params,
        initial_value=None if section.get("initial_value") is None else str(section["initial_value"]),
        lag_seconds=_number(ctx, "incremental.lag", section.get("lag", 0)),
        value_format=fmt,
    )


_INDEXED_CURSOR_FIELD = re.compile(r"cursor_field\[(\d+)\]")


def _cursor_field(ctx: _Ctx, key: str, value: Any) -> Any:
    """A cursor field: a name, or a list of names compared as the first non-empty value."""
    if value is None or isinstance(value, str):
        return _str(ctx, key, value, allow_none=True)
    names = _str_list(ctx, key, value)
    if not names:
        raise ctx.error(key, "must name at least one field")
    if len(set(names)) != len(names):
        raise ctx.error(key, f"names a field twice: {list(names)}")
    return names[0] if len(names) == 1 else names


def _parse_cursor_params(ctx: _Ctx, value: Any) -> Dict[str, str]:
    """``incremental.params``: query parameter templates; one of them must carry ``{cursor}``,
    else the filter would never move on."""
    params = _mapping(ctx, "incremental.params", value)
    if not params:
        raise ctx.error("incremental.params", "must hold at least one query parameter, e.g. {updated_since: '{cursor}'}")
    out: Dict[str, str] = {}
    for name, template in params.items():
        key = f"incremental.params.{name}"
        if isinstance(template, bool) or not isinstance(template, (str, int, float)):
            raise ctx.error(key, f"must be a string template like \"{{cursor}}\", got {template!r}")
        for ph in _placeholders_in([str(name), str(template)]):
            if ph not in CURSOR_PLACEHOLDERS and not _INDEXED_CURSOR_FIELD.fullmatch(ph):
                raise ctx.error(key, f"unknown placeholder '{{{ph}}}': only {{cursor}}, {{cursor_field}} and "
                                     "{cursor_field[N]} (the N-th cursor field, from 0) are filled in")
        out[str(name)] = str(template)
    if not any("cursor" in _placeholders_in(t) for t in out.values()):
        raise ctx.error("incremental.params", "no parameter uses {cursor}: the filter would never move on",
                        hint="e.g. params: {filter: \"updated >= '{cursor}'\"}")
    return out


def _parse_deletes(ctx: _Ctx, value: Any) -> DeleteSettings:
    if value is False:
        return DeleteSettings(mode="ignore")
    section = _mapping(ctx, "deletes", value)
    _check_keys(ctx, "deletes", section, ("field", "value", "mode"))
    mode = section.get("mode", "delete")
    if mode not in ("delete", "mark", "ignore"):
        raise ctx.error("deletes.mode", f"must be delete, mark or ignore, got {mode!r}")
    return DeleteSettings(
        field=_str(ctx, "deletes.field", section.get("field", "deleted")),
        value=section.get("value", True),
        mode=mode,
    )


def _parse_retries(ctx: _Ctx, value: Any) -> RetrySettings:
    section = _mapping(ctx, "retries", value)
    allowed = ("attempts", "max_total_wait", "backoff_base", "backoff_max", "retry_statuses", "timeout")
    _check_keys(ctx, "retries", section, allowed)
    d = RetrySettings()
    statuses = section.get("retry_statuses", d.retry_statuses)
    if not isinstance(statuses, (list, tuple)) or not all(isinstance(s, int) and 400 <= s <= 599 for s in statuses):
        raise ctx.error("retries.retry_statuses", f"must be a list of HTTP status codes, got {statuses!r}")
    return RetrySettings(
        attempts=_number(ctx, "retries.attempts", section.get("attempts", d.attempts), minimum=1, integer=True),
        max_total_wait=_number(ctx, "retries.max_total_wait", section.get("max_total_wait", d.max_total_wait)),
        backoff_base=_number(ctx, "retries.backoff_base", section.get("backoff_base", d.backoff_base)),
        backoff_max=_number(ctx, "retries.backoff_max", section.get("backoff_max", d.backoff_max)),
        retry_statuses=tuple(statuses),
        timeout=_number(ctx, "retries.timeout", section.get("timeout", d.timeout), minimum=0.001),
    )


def _parse_performance(ctx: _Ctx, value: Any) -> PerformanceSettings:
    section = _mapping(ctx, "performance", value)
    _check_keys(ctx, "performance", section, ("concurrency", "prefetch_pages", "batch_rows", "duckdb_memory_limit",
                                              "processes"))
    d = PerformanceSettings()
    concurrency = _number(ctx, "performance.concurrency", section.get("concurrency", d.concurrency), minimum=1, integer=True)
    return PerformanceSettings(
        concurrency=concurrency,
        prefetch_pages=max(concurrency, _number(ctx, "performance.prefetch_pages", section.get("prefetch_pages", d.prefetch_pages), minimum=1, integer=True)),
        batch_rows=_number(ctx, "performance.batch_rows", section.get("batch_rows", d.batch_rows), minimum=1, integer=True),
        duckdb_memory_limit=_memory_size(ctx, "performance.duckdb_memory_limit",
                                         section.get("duckdb_memory_limit", d.duckdb_memory_limit)),
        processes=None if section.get("processes") is None else _number(
            ctx, "performance.processes", section["processes"], minimum=0, integer=True),
    )


def _memory_size(ctx: _Ctx, key: str, value: Any) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str) or not re.match(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", value, re.I):
        raise ctx.error(key, f"must be a size like '256MB' or '2GB' (or null), got {value!r}")
    return value.strip()


def _parse_pipeline(ctx: _Ctx, value: Any) -> PipelineSettings:
    section = _mapping(ctx, "pipeline", value)
    _check_keys(ctx, "pipeline", section, ("name", "dataset", "destination"))
    name = _str(ctx, "pipeline.name", section.get("name", "dbsync"))
    if not re.match(r"^[A-Za-z0-9_.-]+$", name):
        raise ctx.error("pipeline.name", f"may only hold letters, digits, '_', '-', '.', got {name!r}")
    return PipelineSettings(
        name=name,
        dataset=_str(ctx, "pipeline.dataset", section.get("dataset"), allow_none=True),
        destination=_str(ctx, "pipeline.destination", section.get("destination", "duckdb")),
    )
