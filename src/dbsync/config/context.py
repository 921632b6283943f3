"""The small typed readers every config section is read with, and the error context they share.

Each section module reads its part of the mapping through these (``_mapping``, ``_str``, ``_number``,
``_str_list``, ``_check_keys``), so every problem is a ``ConfigError`` naming the full config key
(``retries.attempts``, ``tables.discover.field.name``) and the file it came from, and an unknown key
suggests the closest known one. ``_validate_paginator`` is here because three sections take one.
"""

from __future__ import annotations

import difflib
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Tuple

from dbsync.config.paging import validate_paginator
from dbsync.errors import ConfigError


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


def _bool(ctx: _Ctx, key: str, value: Any) -> Any:
    """true/false (None passes: the key was not given)."""
    if value is None or isinstance(value, bool):
        return value
    raise ctx.error(key, f"must be true or false, got {value!r}")


def _str_list(ctx: _Ctx, key: str, value: Any) -> Tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise ctx.error(key, f"must be a list of strings, got {value!r}")
    return tuple(value)


def _validate_paginator(ctx: _Ctx, key: str, paginator: Any, *, allow_total: bool = False) -> None:
    """dlt's paginators, dbsync's own (``header_next_url``) and ``total`` (dbsync.config.paging)."""
    validate_paginator(ctx.error, key, paginator, allow_total=allow_total)
