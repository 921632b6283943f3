"""Timestamps as the API serves and accepts them.

Records carry ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds: ties are common on purpose) while
the server orders and filters on integer epoch microseconds, so ``updated_since`` compares
instants, never strings (``...+02:00`` and ``...Z`` mean what they say).
"""

from __future__ import annotations

import datetime as _dt
import time
from typing import Dict, Iterable, List, Optional

__all__ = ["MICROS", "format_timestamp", "format_timestamps", "format_date", "parse_instant", "now_seconds"]

MICROS = 1_000_000
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_ONE_MICRO = _dt.timedelta(microseconds=1)
_DAY_CACHE: Dict[int, str] = {}
_CLOCK: List[str] = [f"{h:02d}:{m:02d}:{s:02d}Z" for h in range(24) for m in range(60) for s in range(60)]


def format_date(epoch_seconds: int) -> str:
    """``YYYY-MM-DD`` of a UTC epoch second (cached per day: generation formats many)."""
    day = epoch_seconds // 86400
    text = _DAY_CACHE.get(day)
    if text is None:
        text = (_dt.date(1970, 1, 1) + _dt.timedelta(days=day)).isoformat()
        _DAY_CACHE[day] = text
    return text


def format_timestamp(epoch_seconds: int) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` of a UTC epoch second."""
    rem = epoch_seconds % 86400
    hours, rem = divmod(rem, 3600)
    minutes, seconds = divmod(rem, 60)
    return f"{format_date(epoch_seconds)}T{hours:02d}:{minutes:02d}:{seconds:02d}Z"


def format_timestamps(epoch_seconds: Iterable[int]) -> List[str]:
    """Format many timestamps at once: a day-string cache plus per-second suffixes, because
    generating a 200,000-row table formats 400,000 of them and strftime would dominate."""
    days: Dict[int, str] = {}
    out: List[str] = []
    append = out.append
    for seconds in epoch_seconds:
        day, rem = divmod(seconds, 86400)
        prefix = days.get(day)
        if prefix is None:
            prefix = days[day] = format_date(seconds) + "T"
        append(prefix + _CLOCK[rem])
    return out


def parse_instant(text: str) -> Optional[int]:
    """ISO 8601 date-time with ``Z`` or an offset (optional fractional seconds) to epoch microseconds.

    Returns None when unparseable or without a timezone: a naive time is ambiguous, and the API
    says so instead of guessing. A space where the offset's ``+`` belongs (an unencoded ``+`` in
    a query string decodes to a space) is read as ``+``.
    """
    text = text.strip()
    if len(text) > 19 and text[-6:-5] == " ":
        text = text[:-6] + "+" + text[-5:]
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    if len(text) < 16 or text[10] not in "Tt ":
        return None
    try:
        parsed = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return (parsed - _EPOCH) // _ONE_MICRO


def now_seconds() -> int:
    """Current UTC time, whole seconds."""
    return int(time.time())
