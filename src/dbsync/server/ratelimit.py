"""Per-API-key token buckets: the rate limit a real API would impose.

Each key gets ``burst`` tokens, refilled at ``rate`` per second; a request takes one. When the
bucket is empty the caller learns how long until the next token (for ``Retry-After``) and
how long until the bucket is full again (for ``RateLimit-Reset``).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable, Dict, Tuple

__all__ = ["RateDecision", "RateLimiter"]


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int            # bucket size (RateLimit-Limit)
    remaining: int        # whole tokens left after this request (RateLimit-Remaining)
    reset_seconds: int    # seconds until the bucket is full again, rounded up (RateLimit-Reset)
    retry_after: float    # seconds until one token is available (0 when allowed)


class RateLimiter:
    """Token buckets keyed by API key."""

    def __init__(self, rate_per_second: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate = float(rate_per_second)
        self.burst = int(burst)
        self._clock = clock
        self._buckets: Dict[str, Tuple[float, float]] = {}  # key -> (tokens, last refill time)
        self._lock = threading.Lock()

    def check(self, key: str) -> RateDecision:
        """Take a token for ``key`` if there is one."""
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
            retry_after = 0.0 if allowed else (1.0 - tokens) / self.rate
            reset = math.ceil(max(0.0, self.burst - tokens) / self.rate - 1e-9)
            return RateDecision(allowed, self.burst, int(tokens), reset, retry_after)
