"""JSON in and out: orjson's speed, without losing integers beyond 64 bits.

orjson parses an integer outside [-2**63, 2**64) as a float, silently: 2**70 arrives as
1.1805916207174113e+21, and its last digits are gone. JSON itself has no such limit and APIs
written in Python, Ruby or JavaScript-with-BigInt do send such numbers. So a body that holds a
number that may not fit right after ``[``, ``:`` or ``,`` (20 or more digits, or a minus sign and
19 or more) is parsed by the standard library instead, which keeps every digit; all other bodies
take orjson's path. The scan maps every digit to ``0`` and looks for ``-`` and nineteen zeros or
for twenty zeros (C passes, under 1 ms per 400 KB page); only a body with such a run meets the
exact regex, which alone took 5 ms per page, more than orjson's whole parse (profiled in a
200k-row sync whose pages each hold a thousand 19-digit counters). Positive
19-digit integers (up to 9,999,999,999,999,999,999 < 2**64: snowflake ids, 64-bit counters) fit:
sending them to the standard library made such pages 2.5x slower to parse.

Serializing, orjson refuses such integers (TypeError); :func:`dumps` then falls back to the
standard library with the same compact output.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Optional, Union

import orjson

__all__ = ["JSONDecodeError", "dumps", "loads"]

JSONDecodeError = json.JSONDecodeError  # orjson.JSONDecodeError derives from it

_LONG_NUMBER = re.compile(rb"[\[:,]\s*(?:-\d{19}|\d{20})")
# every ASCII digit -> "0", "-" stays, any other byte -> "."
_DIGITS_AS_ZERO = bytes(ord("0") if 48 <= i <= 57 else ord("-") if i == 45 else ord(".") for i in range(256))


def _may_hold_a_long_number(raw: bytes) -> bool:
    """True where the exact regex matches; most bodies are ruled out by two substring searches
    (twenty digits in a row, or a minus and nineteen) that need no regex."""
    digits = raw.translate(_DIGITS_AS_ZERO)
    if b"0" * 20 not in digits and b"-" + b"0" * 19 not in digits:
        return False
    return _LONG_NUMBER.search(raw) is not None


def loads(data: Union[bytes, bytearray, memoryview, str]) -> Any:
    """Parse JSON; raises :data:`JSONDecodeError` (a ValueError) on invalid input."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    if not _may_hold_a_long_number(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # e.g. 1e400, which orjson refuses: let the standard library have the last word
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:  # a body cut inside a multi-byte character is no JSON either
        raise JSONDecodeError(f"invalid UTF-8 ({exc.reason})", "", exc.start) from None


def dumps(obj: Any, *, sort_keys: bool = False, default: Optional[Callable[[Any], Any]] = None) -> bytes:
    """Compact UTF-8 JSON, like orjson.dumps, also for integers beyond 64 bits. ``default``
    turns values JSON has no type for into ones it has (e.g. ``str``); without it they raise
    TypeError."""
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    try:
        return orjson.dumps(obj, default=default, option=option)
    except TypeError:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys,
                          default=default).encode()
