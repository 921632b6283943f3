"""The ``types:`` and ``fields:`` sections: how API type names map to dlt types, and how values
the API wraps (a date inside an object, JSON sent as text) are unwrapped before typing.

``types: {Date: timestamp}`` maps a name; ``types: {Date: {type: timestamp, value: iso}}`` also
unwraps every field of that API type. ``fields: {payload: {parse_json: true}}`` (any table) or
``fields: {"orders.payload": {...}}`` (a table, or a glob of tables, before the first dot) does the
same for named fields, whether or not the API's schema describes them.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

from dbsync.config.context import _check_keys, _did_you_mean, _mapping, _str
from dbsync.config.model import ValueRule

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

RULE_KEYS = ("type", "value", "parse_json")


def parse_types(ctx: Any, value: Any) -> Tuple[Dict[str, str], Dict[str, ValueRule]]:
    """``types:`` -> (API type name -> dlt type, API type name -> value rule); names lower-cased."""
    section = _mapping(ctx, "types", value)
    types: Dict[str, str] = {}
    rules: Dict[str, ValueRule] = {}
    for api_type, entry in section.items():
        key = f"types.{api_type}"
        if isinstance(entry, dict):
            rule = parse_rule(ctx, key, entry)
            if rule.type is not None:
                types[str(api_type).lower()] = rule.type
            if rule.value is not None or rule.parse_json:
                rules[str(api_type).lower()] = rule
            continue
        if entry not in DLT_DATA_TYPES:
            raise ctx.error(key, f"{entry!r} is not a dlt data type" + _did_you_mean(str(entry), DLT_DATA_TYPES),
                            hint="give a dlt data type, or {type: ..., value: <path>, parse_json: true}")
        types[str(api_type).lower()] = entry
    return types, rules


def parse_fields(ctx: Any, value: Any) -> Dict[str, ValueRule]:
    """``fields:`` -> "field" or "table.field" -> value rule."""
    section = _mapping(ctx, "fields", value)
    rules: Dict[str, ValueRule] = {}
    for name, entry in section.items():
        key = f"fields.{name}"
        if not isinstance(name, str) or not name or name.startswith(".") or name.endswith("."):
            raise ctx.error(key, "must name a field, or a table and a field as 'table.field'")
        if not isinstance(entry, dict):
            raise ctx.error(key, f"must be a mapping such as {{type: timestamp, value: iso}}, got {entry!r}")
        rule = parse_rule(ctx, key, entry)
        if rule == ValueRule():
            raise ctx.error(key, "says nothing: give type, value or parse_json")
        rules[name] = rule
    return rules


def parse_rule(ctx: Any, key: str, entry: Dict[str, Any]) -> ValueRule:
    _check_keys(ctx, key, entry, RULE_KEYS)
    dlt_type = entry.get("type")
    if dlt_type is not None and dlt_type not in DLT_DATA_TYPES:
        raise ctx.error(f"{key}.type", f"{dlt_type!r} is not a dlt data type" + _did_you_mean(str(dlt_type), DLT_DATA_TYPES))
    path = _str(ctx, f"{key}.value", entry.get("value"), allow_none=True)
    if path is not None and any(not part for part in path.split(".")):
        raise ctx.error(f"{key}.value", f"must be a dotted path such as 'iso' or 'location.lat', got {path!r}")
    parse_json = entry.get("parse_json", False)
    if not isinstance(parse_json, bool):
        raise ctx.error(f"{key}.parse_json", f"must be true or false, got {parse_json!r}")
    return ValueRule(type=dlt_type, value=path, parse_json=parse_json)
