"""When to retry, and how long to wait: exponential backoff with jitter, and Retry-After."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass
from typing import Optional

from dbsync.config.model import RetrySettings


@dataclass(frozen=True)
class RetryDecision:
    delay: float
    reason: str


def backoff_delay(settings: RetrySettings, attempt: int, rng: random.Random = random._inst) -> float:  # type: ignore[attr-defined]
    """Delay before retry number ``attempt`` (1-based): base * 2**(attempt-1), capped, with
    "equal jitter" (half fixed, half random) so many clients do not retry in lockstep."""
    ceiling = min(settings.backoff_max, settings.backoff_base * (2 ** (attempt - 1)))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date. None if absent
    or unreadable (the caller then falls back to backoff)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)
