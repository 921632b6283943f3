"""Values as the API wraps them: the value rules of ``types:``/``fields:`` applied to a column.

Runs before typing, on the column's values only (a column without a rule costs nothing). A value
that does not unwrap (an object without the path, text that is not JSON) is never dropped nor
silently made null: the caller keeps it, as text, in the ``<field>__v_text`` variant column.
Scalars pass through a ``value`` rule untouched (Parse sends ``createdAt`` as a plain ISO string
and its other dates as ``{"__type": "Date", "iso": ...}``: one rule serves both); so do lists.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any, Dict, List, Mapping, Optional, Tuple

import orjson

from dbsync import jsonio
from dbsync.config.model import ValueRule
from dbsync.discovery.catalog import TableInfo

_MISSING = object()


def rules_for_table(table: TableInfo, type_rules: Mapping[str, ValueRule],
                    field_rules: Mapping[str, ValueRule]) -> Dict[str, ValueRule]:
    """Field name -> rule for one table: rules of the fields' API types, then ``fields:`` entries
    (``field`` for every table, ``table.field`` for a table or a glob of tables), which win."""
    rules: Dict[str, ValueRule] = {}
    for f in table.fields or ():
        if f.api_type is not None and f.api_type.strip().lower() in type_rules:
            rules[f.name] = type_rules[f.api_type.strip().lower()]
    for key, rule in field_rules.items():  # a field of every table
        if "." not in key:
            rules[key] = rule
    for key, rule in field_rules.items():  # a field of one table (or of a glob of tables)
        if "." in key:
            pattern, name = key.split(".", 1)
            if fnmatchcase(table.name, pattern):
                rules[name] = rule
    return rules


def unwrap_values(values: List[Any], rule: ValueRule) -> Tuple[List[Any], Optional[List[Optional[str]]], Dict[str, int]]:
    """(unwrapped values, the originals that did not unwrap as text or None, counts by reason)."""
    out: List[Any] = []
    bad: Optional[List[Optional[str]]] = None
    reasons: Dict[str, int] = {}
    for i, original in enumerate(values):
        v = original
        reason = None
        if rule.parse_json and isinstance(v, str):
            if not v.strip():
                v = None  # empty text: no JSON value (as "" is no date or number)
            else:
                try:
                    v = orjson.loads(v)
                except orjson.JSONDecodeError:
                    reason = "not JSON text"
        if reason is None and rule.value is not None and isinstance(v, dict):
            v = _at_path(v, rule.value)
            if v is _MISSING:
                reason = f"no '{rule.value}' inside"
        if reason is not None:
            if bad is None:
                bad = [None] * len(values)
            bad[i] = original if isinstance(original, str) else jsonio.dumps(original, default=str).decode()
            reasons[reason] = reasons.get(reason, 0) + 1
            v = None
        out.append(v)
    return out, bad, reasons


def _at_path(value: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(value, dict):
            if part not in value:
                return _MISSING
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value
