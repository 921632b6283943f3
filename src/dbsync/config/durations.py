"""Durations as people write them in a config: ``90s``, ``10m``, ``1h``, ``1d``, ``1h30m``, or a
plain number of seconds. One parser, so every duration key reads the same way."""

from __future__ import annotations

import re
from typing import Any

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")


def parse_duration(value: Any) -> float:
    """Seconds in ``value``; ValueError (with a readable reason) for anything else."""
    if isinstance(value, bool):
        raise ValueError(f"must be a duration such as 10m, 1h or 30s, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            if not text or _PART.sub("", text):
                raise ValueError(f"must be a duration such as 10m, 1h or 30s (units: ms, s, m, h, d), "
                                 f"got {value!r}") from None
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
    else:
        raise ValueError(f"must be a duration such as 10m, 1h or 30s, got {type(value).__name__}")
    if seconds != seconds or seconds < 0:
        raise ValueError(f"must not be negative, got {value!r}")
    return seconds
