"""Per-table cursor state: where the last run stopped, and what to ask for next.

The state of each table lives in dlt's resource state, so it is committed together with the
data it describes: a run that fails or is killed before its load completes leaves the cursor
where it was, and the rerun fetches those rows again (merge on the primary key makes that safe).

The API filters with ``>=`` on the cursor, so the rows *at* the last cursor value come back on the
next run. We remember their content hashes and drop them if unchanged: a run with no changes
loads nothing. (With a lag window, rows inside the window are merged again instead.)

A table without a saved cursor is read whole, without the filter: many APIs leave ``updated_at``
empty until a row is first edited, and such rows never match ``>=``. A cursor of several fields
(``[updated_at, created_at]``) takes each row's first non-empty value (:func:`cursor_value`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from dbsync.config.model import IncrementalSettings, cursor_fields

MAX_BOUNDARY_HASHES = 10_000  # rows sharing one cursor value that we remember


@dataclass
class CursorState:
    cursor: Any = None  # the API's own value of the highest cursor loaded
    boundary: List[str] = field(default_factory=list)
    # a run read without the filter could not re-read rows that shifted: no cursor was saved,
    # and the one saved later must not pass this (that run's start), or changes and deletes
    # made since would never be read
    floor: Any = None

    @classmethod
    def from_state(cls, state: Optional[Dict[str, Any]]) -> "CursorState":
        state = state or {}
        return cls(cursor=state.get("cursor"), boundary=list(state.get("boundary") or []),
                   floor=state.get("floor"))

    def request_value(self, settings: IncrementalSettings) -> Optional[str]:
        """The value of the filter param for this run: the cursor minus the lag, else the
        configured ``initial_value``; None (no filter: read the table whole) without either."""
        value: Any = self.cursor if self.cursor is not None else settings.initial_value
        if value is None:
            return None
        if self.cursor is not None and settings.lag_seconds:
            value = _minus(value, settings.lag_seconds, settings.value_format)
        return format_cursor(value, settings.value_format)

    def skip_boundary(self, settings: IncrementalSettings) -> bool:
        return self.cursor is not None and not settings.lag_seconds and bool(self.boundary)


def request_params(settings: IncrementalSettings, value: Optional[str],
                   cursor_field: Union[str, Sequence[str]]) -> Dict[str, str]:
    """The query parameters of ``incremental.params`` for one table and run: ``{cursor}``,
    ``{cursor_field}`` (the first cursor field) and ``{cursor_field[N]}`` (the N-th, from 0)
    filled in, in names and values. ``value`` None (a first run): only the parameters without
    ``{cursor}`` (a sort by the cursor, say), no filter."""
    fields = cursor_fields(cursor_field)
    params = settings.params
    if value is None:
        params = {k: v for k, v in params.items() if "{cursor}" not in k and "{cursor}" not in v}
        value = ""

    def fill(template: str) -> str:
        template = INDEXED_FIELD.sub(lambda m: fields[int(m.group(1))], template)
        return template.replace("{cursor_field}", fields[0]).replace("{cursor}", value)

    return {fill(name): fill(template) for name, template in params.items()}


INDEXED_FIELD = re.compile(r"\{cursor_field\[(\d+)\]\}")


def field_indexes(settings: IncrementalSettings) -> List[int]:
    """The N of every ``{cursor_field[N]}`` the params use (a table's cursor needs that many)."""
    return [int(m.group(1)) for t in list(settings.params) + list(settings.params.values())
            for m in INDEXED_FIELD.finditer(t)]


def is_empty(value: Any) -> bool:
    """No cursor value: missing, null, or the empty string some APIs send for an unset date."""
    return value is None or value == ""


def cursor_value(record: Mapping[str, Any], fields: Sequence[str]) -> Any:
    """A record's cursor: the value of its first cursor field that is not empty (None: none is)."""
    for name in fields:
        value = record.get(name)
        if not is_empty(value):
            return value
    return None


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
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # already an epoch number in the configured unit: sent as a whole number (floor, so a
        # fraction never moves the filter past a row)
        return str(math.floor(value))
    instant = parse_instant(value)
    if instant is None:
        return str(value)
    seconds = instant.timestamp()
    return str(math.floor(seconds)) if value_format == "epoch_seconds" else str(math.floor(seconds * 1000))


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


def _minus(value: Any, seconds: float, value_format: str = "iso") -> Any:
    """``value`` moved ``seconds`` back, in its own unit: an epoch number in milliseconds
    (``value_format: epoch_millis``) moves by ``seconds * 1000``."""
    instant = parse_instant(value)
    if instant is not None:
        if isinstance(value, str):
            return format_like(instant - timedelta(seconds=seconds), value)
        return format_iso(instant - timedelta(seconds=seconds))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        step = seconds * 1000 if value_format == "epoch_millis" else seconds
        moved = value - step
        return math.floor(moved) if isinstance(value, int) else moved
    if isinstance(value, str) and value_format != "iso":
        try:  # an epoch number the API wrote as text
            return _minus(float(value), seconds, value_format)
        except ValueError:
            return value
    return value


SETTLE_SECONDS = 120  # margin between the API's Date header and the clock stamping its rows


def in_cursor_order(pages: Sequence[Any]) -> bool:
    """Pages of a run read without the filter came in cursor order (the API sorted them, e.g.
    by a ``sort`` parameter): ``pages`` are (position, first cursor, highest cursor, sorted)."""
    previous: Any = None
    for _, first, highest, ordered in sorted(pages, key=lambda p: p[0]):
        if not ordered or (previous is not None and compare_cursors(first, previous) < 0):
            return False
        previous = highest
    return True


def lower(a: Any, b: Any) -> Any:
    """The lower of two cursor values (None: the other)."""
    if a is None or b is None:
        return b if a is None else a
    return a if compare_cursors(a, b) <= 0 else b


def settle_cursor(cursor: Any, started: Optional[datetime], value_format: str) -> Any:
    """The cursor a run read *without* the filter may save: no later than the run's start.

    Such a run reads in the API's own order (by id, say), not by cursor. A row changed while
    other pages were read is stamped "now" and may sort below a row changed later on a page read
    later: from that higher cursor the next run would miss the first change. Every change made
    during the run is stamped after its start, so the next run starts there instead (minus a
    margin for the distance between the HTTP server's and the database's clocks); the rows it
    reads again are merged. ``started``: the server's Date at the run's first response (None:
    the cursor as it is). A cursor that is no timestamp has no such bound and stays as it is."""
    if started is None or cursor is None:
        return cursor
    limit = started - timedelta(seconds=SETTLE_SECONDS)
    if isinstance(cursor, (int, float)) and not isinstance(cursor, bool):
        if value_format == "iso":
            return cursor  # a number of no known unit (a version counter, say)
        scale = 1000 if value_format == "epoch_millis" else 1
        bound = math.floor(limit.timestamp() * scale)
        return cursor if cursor <= bound else bound
    instant = parse_instant(cursor)
    if instant is None or instant <= limit:
        return cursor
    return format_like(limit, cursor) if isinstance(cursor, str) else limit

