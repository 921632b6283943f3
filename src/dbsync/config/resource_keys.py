"""Which of dlt rest_api's keys dbsync honours, and which it refuses (with what to use instead).

The config accepts rest_api's own shape (``client``, ``resources``, ``resource_defaults``), so
every key of dlt's ``ClientConfig``, ``EndpointResource`` and ``Endpoint`` is a key a user may
write. dbsync builds its own requests and dlt resources, so a key it does not wire through would
be accepted and silently ignored: the worst kind of bug. This table is the one place that says,
for every such key, ``HONOURED`` (and where) or refused (a one-line ConfigError naming the key and
what to use instead, before any request). The README's configuration reference lists the same.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

HONOURED = None  # the value of a key in the tables below that dbsync wires through

# resources[] (and resource_defaults): key -> None (honoured) or what to use instead
RESOURCE_KEYS: Dict[str, Optional[str]] = {
    "name": HONOURED,  # a template with {database}/{table}: the resource and destination table name
    "endpoint": HONOURED,  # see ENDPOINT_KEYS
    "primary_key": HONOURED,  # the merge key, unless discovery names the table's own
    "write_disposition": HONOURED,  # append, replace, merge (strategy delete-insert only)
    "columns": HONOURED,  # column hints: data_type, nullable, precision, scale (typed in Arrow too)
    "max_table_nesting": HONOURED,  # 0 only: nested objects and arrays are JSON columns
    "selected": HONOURED,  # true only (every resource is synced)
    "table_name": "not supported: name the destination table with the resource's 'name' (a template with {database} "
                  "and {table})",
    "merge_key": "not supported: dbsync merges on the primary key (primary_key, or the key discovery finds)",
    "parent_table_name": "not supported: dbsync creates no nested tables (nested data is kept in JSON columns)",
    "nested_hints": "not supported: dbsync creates no nested tables (nested data is kept in JSON columns)",
    "include_from_parent": "not supported: dbsync has no child resources; it expands one resource over every "
                           "database and table with {database}/{table}",
    "processing_steps": "not supported (no callables in a config); transform after loading",
    "parallelized": "not supported: dbsync fetches every table's pages concurrently itself; set performance.concurrency",
    "schema_contract": "not supported: dbsync evolves the schema itself (new fields become columns, "
                       "values that do not fit go to <name>__v_text)",
    "table_format": "not supported: dbsync loads native tables of the destination",
    "file_format": "not supported: dbsync loads Parquet",
    "references": "not supported: dbsync writes no table references",
}

# resources[].endpoint
ENDPOINT_KEYS: Dict[str, Optional[str]] = {
    "path": HONOURED,
    "method": HONOURED,  # GET or POST
    "params": HONOURED,
    "json": HONOURED,
    "headers": HONOURED,  # with {database}/{table}, on every request of the table (HEAD and gap fills too)
    "paginator": HONOURED,
    "data_selector": HONOURED,
    "response_actions": HONOURED,  # action: ignore
    "data": "not supported: send a request body with endpoint.json",
    "auth": "not supported: give the credentials once, in client.auth",
    "incremental": "not supported: use dbsync's top-level 'incremental' section (per-table cursors)",
}

# client
CLIENT_KEYS: Dict[str, Optional[str]] = {
    "base_url": HONOURED,
    "headers": HONOURED,
    "auth": HONOURED,
    "paginator": HONOURED,
    "session": "not supported: dbsync makes its own HTTP session (no proxies from a config); remove client.session",
}

# resources[].columns.<name>: the column hint keys dbsync applies (types the Arrow column too)
COLUMN_HINT_KEYS = ("data_type", "nullable", "precision", "scale")
COLUMN_DATA_TYPES = ("text", "double", "bool", "timestamp", "bigint", "json", "decimal", "date", "time")
MERGE_STRATEGIES = ("delete-insert",)

ErrorFactory = Callable[..., Exception]


def refusal(table: Mapping[str, Optional[str]], key: str, value: Any) -> Optional[str]:
    """What to say about ``key`` set to ``value`` (None: it is honoured)."""
    if key == "max_table_nesting":
        return None if value == 0 else "must be 0: dbsync keeps nested objects and arrays as JSON columns"
    if key == "selected":
        return None if value is True else ("must be true: every resource is synced; leave tables out with "
                                           "tables.exclude or pick them with -t")
    return table.get(key)


def check_keys(error: ErrorFactory, prefix: str, section: Mapping[str, Any],
               table: Mapping[str, Optional[str]], *, own: Optional[Mapping[str, Any]] = None,
               defaults_prefix: Optional[str] = None) -> None:
    """Raise for the first refused key of ``section`` (unknown keys are checked elsewhere).
    ``section`` may be a resource merged with ``resource_defaults``: a refused key that is not
    among the resource's ``own`` keys is named under ``defaults_prefix``."""
    for key, value in section.items():
        message = refusal(table, key, value)
        if message is None:
            continue
        where = prefix
        if own is not None and defaults_prefix is not None and key not in own:
            where = defaults_prefix
        raise error(f"{where}.{key}", message)


def check_write_disposition(error: ErrorFactory, key: str, value: Any) -> None:
    """``{disposition: merge, strategy: ...}``: dbsync's merge is dlt's delete-insert (with
    hard deletes and dedup on the fetch time); other strategies would be dropped silently."""
    if not isinstance(value, Mapping):
        return
    for k in value:
        if k not in ("disposition", "strategy"):
            raise error(f"{key}.{k}", "not supported: give write_disposition as append, replace or merge")
    strategy = value.get("strategy")
    if strategy is None:
        return
    if value.get("disposition") != "merge" or strategy not in MERGE_STRATEGIES:
        raise error(f"{key}.strategy", f"not supported: {strategy!r}; dbsync merges with delete-insert "
                                       "(leave out strategy, or use write_disposition: merge)")


def parse_columns(error: ErrorFactory, key: str, value: Any) -> Dict[str, Dict[str, Any]]:
    """``resources[].columns``: a mapping of column name -> hint, or a list of hints with
    ``name``; returned as a new mapping of validated hints."""
    if value is None:
        return {}
    items: List[Tuple[str, Any, str]] = []
    if isinstance(value, Mapping):
        items = [(str(name), hint, f"{key}.{name}") for name, hint in value.items()]
    elif isinstance(value, list):
        for i, hint in enumerate(value):
            if not isinstance(hint, Mapping) or not isinstance(hint.get("name"), str) or not hint["name"]:
                raise error(f"{key}[{i}]", "must be a mapping with a 'name'")
            items.append((hint["name"], {k: v for k, v in hint.items() if k != "name"}, f"{key}[{i}]"))
    else:
        raise error(key, f"must be a mapping of column name -> hint (data_type, nullable, precision, scale), "
                         f"got {type(value).__name__}")
    out: Dict[str, Dict[str, Any]] = {}
    for name, hint, where in items:
        if not isinstance(hint, Mapping):
            raise error(where, f"must be a mapping of hints ({', '.join(COLUMN_HINT_KEYS)})")
        for k in hint:
            if k not in COLUMN_HINT_KEYS:
                raise error(f"{where}.{k}", f"not supported: dbsync applies the column hints "
                                            f"{', '.join(COLUMN_HINT_KEYS)}")
        data_type = hint.get("data_type")
        if data_type is not None and data_type not in COLUMN_DATA_TYPES:
            raise error(f"{where}.data_type", f"must be one of {', '.join(COLUMN_DATA_TYPES)}, got {data_type!r}")
        if "nullable" in hint and not isinstance(hint["nullable"], bool):
            raise error(f"{where}.nullable", f"must be true or false, got {hint['nullable']!r}")
        for k in ("precision", "scale"):
            v = hint.get(k)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                raise error(f"{where}.{k}", f"must be a whole number >= 0, got {v!r}")
        if (hint.get("precision") is not None or hint.get("scale") is not None) and data_type != "decimal":
            raise error(where, "precision and scale need data_type: decimal")
        if data_type == "decimal" and hint.get("precision") is not None:
            if not 1 <= hint["precision"] <= 76:
                raise error(f"{where}.precision", f"must be between 1 and 76, got {hint['precision']}")
            if hint.get("scale") is not None and hint["scale"] > hint["precision"]:
                raise error(f"{where}.scale", f"must not exceed precision ({hint['precision']})")
        out[name] = {k: hint[k] for k in COLUMN_HINT_KEYS if k in hint}
    return out


def parse_endpoint_headers(error: ErrorFactory, key: str, value: Any) -> Optional[Dict[str, str]]:
    """``resources[].endpoint.headers``: header name -> value (text; numbers become text)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise error(key, f"must be a mapping of header name -> value, got {type(value).__name__}")
    out: Dict[str, str] = {}
    for name, v in value.items():
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            raise error(f"{key}.{name}", f"must be a text value, got {v!r}")
        out[str(name)] = str(v)
    return out
