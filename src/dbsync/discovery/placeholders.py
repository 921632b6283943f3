"""Fill ``{database}``, ``{table}`` (ids) and ``{database_name}``, ``{table_name}`` (names) into
paths, params, bodies and resource names.

Paths get the value percent-encoded (a database id with a slash or space must not change the
path); params and bodies get it as is (requests encodes query strings itself).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional
from urllib.parse import quote


def _fill_str(text: str, values: Mapping[str, Optional[str]], encode: bool) -> str:
    for name, value in values.items():
        token = "{" + name + "}"
        if token in text and value is not None:
            text = text.replace(token, quote(value, safe="") if encode else value)
    return text


def fill_path(path: str, values: Mapping[str, Optional[str]]) -> str:
    return _fill_str(path, values, encode=True)


def fill_params(params: Any, values: Mapping[str, Optional[str]]) -> Any:
    """Recursively fill placeholders in a params/json structure (a new structure is returned)."""
    if isinstance(params, str):
        return _fill_str(params, values, encode=False)
    if isinstance(params, Mapping):
        return {k: fill_params(v, values) for k, v in params.items()}
    if isinstance(params, list):
        return [fill_params(v, values) for v in params]
    return params


def fill_name(template: str, values: Mapping[str, Optional[str]]) -> str:
    return _fill_str(template, {k: v for k, v in values.items() if v is not None}, encode=False)


def as_dict(value: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    return dict(value or {})


def name_values(database: Optional[str], database_name: Optional[str], table: Optional[str],
                table_name: Optional[str]) -> Dict[str, Optional[str]]:
    """The placeholder values of one (database, table): ``{database}``/``{table}`` the ids the API
    addresses them by, ``{database_name}``/``{table_name}`` the names people know (the id when
    the API gives no separate name)."""
    return {
        "database": database,
        "database_name": database if database_name is None else database_name,
        "table": table,
        "table_name": table if table_name is None else table_name,
    }
