"""Per-table cursor state: where the last run stopped, and what to ask for next.

The state of each table lives in dlt's resource state, so it is committed together with the
data it describes: a run that fails or is killed before its load completes leaves the cursor
where it was, and the rerun fetches those rows again (merge on the primary key makes that safe).

The API filters with ``>=`` on the cursor, so the rows *at* the last cursor value come back on the
next run. We remember their content hashes and drop them if unchanged: a run with no changes
loads nothing. (With a lag window, rows inside the window are merged again instead.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional

from dbsync.config.model import IncrementalSettings

MAX_BOUNDARY_HASHES = 10_000  # rows sharing one cursor value that we remember


@dataclass
class CursorState:
    cursor: Any = None  # the API's own value of the highest cursor loaded
    boundary: List[str] = field(default_factory=list)

    @classmethod
    def from_state(cls, state: Optional[Dict[str, Any]]) -> "CursorState":
        state = state or {}
        return cls(cursor=state.get("cursor"), boundary=list(state.get("boundary") or []))

    def request_value(self, settings: IncrementalSettings) -> str:
        """The value of the filter param for this run: the cursor minus the lag, or the start."""
        value: Any = self.cursor if self.cursor is not None else settings.initial_value
        if self.cursor is not None and settings.lag_seconds:
            value = _minus(value, settings.lag_seconds)
        return format_cursor(value, settings.value_format)

    def skip_boundary(self, settings: IncrementalSettings) -> bool:
        return self.cursor is not None and not settings.lag_seconds and bool(self.boundary)


def request_params(settings: IncrementalSettings, value: str, cursor_field: str) -> Dict[str, str]:
    """The query parameters of ``incremental.params`` for one table and run: ``{cursor}`` and
    ``{cursor_field}`` filled in, in names and values."""
    def fill(template: str) -> str:
        return template.replace("{cursor_field}", cursor_field).replace("{cursor}", value)

    return {fill(name): fill(template) for name, template in settings.params.items()}


def advance(current: CursorState, cursor_max: Any, boundary: List[str]) -> CursorState:
    """The state after a run whose highest cursor was ``cursor_max`` (None: no rows)."""
    if cursor_max is None:
        return current
    if current.cursor is not None and compare_cursors(cursor_max, current.cursor) < 0:
        return current
    if current.cursor is not None and compare_cursors(cursor_max, current.cursor) == 0:
        boundary = list(dict.fromkeys(current.boundary + boundary))
    return CursorState(cursor=cursor_max, boundary=boundary[-MAX_BOUNDARY_HASHES:])


def parse_instant(value: Any) -> Optional[datetime]:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return None


def compare_cursors(a: Any, b: Any) -> int:
    """Compare cursor values as instants when they are timestamps, else as they are."""
    ia, ib = parse_instant(a), parse_instant(b)
    if ia is not None and ib is not None:
        return (ia > ib) - (ia < ib)
    try:
        return (a > b) - (a < b)
    except TypeError:
        return (str(a) > str(b)) - (str(a) < str(b))


def format_iso(instant: datetime) -> str:
    instant = instant.astimezone(timezone.utc)
    text = instant.strftime("%Y-%m-%dT%H:%M:%S")
    if instant.microsecond:
        text += f".{instant.microsecond:06d}"
    return text + "Z"


def format_cursor(value: Any, value_format: str) -> str:
    if value_format == "iso":
        return value if isinstance(value, str) else (format_iso(value) if isinstance(value, datetime) else str(value))
    instant = parse_instant(value)
    if instant is None:
        return str(value)
    seconds = instant.timestamp()
    return str(int(seconds)) if value_format == "epoch_seconds" else str(int(seconds * 1000))


def format_like(instant: datetime, example: str) -> str:
    """``instant`` written the way the API wrote ``example``: the same date/time separator,
    fractional digits and zone suffix. APIs that compare cursors as text (PocketBase's
    ``2024-01-02 03:04:05.678Z``, SQLite text columns) need the very same shape back."""
    match = _ISO_SHAPE.match(example)
    if match is None:
        return format_iso(instant)
    sep, fraction, zone = match.group(1), match.group(2) or "", match.group(3) or ""
    instant = instant.astimezone(timezone.utc)
    text = instant.strftime(f"%Y-%m-%d{sep}%H:%M:%S")
    if fraction:
        digits = len(fraction) - 1
        text += "." + f"{instant.microsecond:06d}"[:digits].ljust(digits, "0")
    elif instant.microsecond:
        text += f".{instant.microsecond:06d}"
    if zone in ("Z", ""):
        return text + zone
    return text + "+00:00"


_ISO_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ])\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")


def _minus(value: Any, seconds: float) -> Any:
    instant = parse_instant(value)
    if instant is not None:
        if isinstance(value, str):
            return format_like(instant - timedelta(seconds=seconds), value)
        return format_iso(instant - timedelta(seconds=seconds))
    if isinstance(value, (int, float)):
        return value - seconds
    return value
