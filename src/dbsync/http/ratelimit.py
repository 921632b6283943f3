"""One gate in front of every request: how many may be in flight, and when the next may start.

Rate limits belong to the API key, not to a table, so this gate is shared by every database and
table of a run. It adapts in three ways:

- **Retry-After**: a 429 (or 503) that says when to come back pauses *all* requests until then,
  not only the one that got it.
- **Rate-limit headers** (``RateLimit-Remaining``/``RateLimit-Reset``, or the ``X-RateLimit-*``
  forms): when the server tells us what is left, we stop before hitting zero, counting requests
  already in flight, and wait for the reset.
- **AIMD** when the server says nothing: each 429 halves the number of requests in flight and
  sets a pace from the rate that was getting through; every clean second adds a little back.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Deque, Mapping, Optional


class AdaptiveLimiter:
    def __init__(self, max_concurrency: int, *, clock=time.monotonic, sleep=time.sleep):
        self.max_concurrency = max(1, int(max_concurrency))
        self.limit = self.max_concurrency
        self.inflight = 0
        self.paused_until = 0.0
        self.min_interval = 0.0  # seconds between request starts; 0 = no pacing
        self.next_start = 0.0
        self.remaining: Optional[int] = None
        self.reset_at = 0.0
        self._successes_since_change = 0
        self._last_increase = 0.0
        self._starts: Deque[float] = deque(maxlen=512)
        self._ok_times: Deque[float] = deque(maxlen=512)
        self._cond = threading.Condition()
        self._clock = clock
        self._sleep = sleep
        self.throttled = 0

    # -- acquiring -------------------------------------------------------------------------------
    def acquire(self) -> None:
        """Block until a request may start."""
        with self._cond:
            while True:
                now = self._clock()
                wait = self._wait_needed(now)
                if wait <= 0:
                    self.inflight += 1
                    if self.remaining is not None:
                        self.remaining -= 1
                    if self.min_interval > 0:
                        self.next_start = max(now, self.next_start) + self.min_interval
                    self._starts.append(now)
                    return
                self._cond.wait(timeout=min(wait, 0.5) if wait != float("inf") else 0.5)

    def _wait_needed(self, now: float) -> float:
        if self.inflight >= self.limit:
            return float("inf")
        if now < self.paused_until:
            return self.paused_until - now
        if self.remaining is not None and self.remaining <= 0 and now < self.reset_at:
            return self.reset_at - now
        if self.min_interval > 0 and now < self.next_start:
            return self.next_start - now
        return 0.0

    # -- releasing -------------------------------------------------------------------------------
    def release(self, *, status: Optional[int], headers: Optional[Mapping[str, str]] = None,
                retry_after: Optional[float] = None) -> None:
        """Record how a request ended: its status (None for a network error) and headers."""
        with self._cond:
            now = self._clock()
            self.inflight = max(0, self.inflight - 1)
            if headers is not None:
                self._read_rate_headers(headers, now)
            if status == 429 or (status == 503 and retry_after is not None):
                self._on_throttle(now, retry_after)
            elif status is not None and status < 400:
                self._on_success(now)
            self._cond.notify_all()

    def _read_rate_headers(self, headers: Mapping[str, str], now: float) -> None:
        remaining = _header_int(headers, "ratelimit-remaining", "x-ratelimit-remaining")
        if remaining is None:
            return
        reset = _header_float(headers, "ratelimit-reset", "x-ratelimit-reset")
        if reset is not None and reset > 10_000_000:  # an epoch timestamp, not a delta
            reset = max(0.0, reset - time.time())
        # requests still in flight were counted by the server after this answer, or will be:
        # count them as spent (conservative, so we stop before the server has to say 429)
        self.remaining = remaining - self.inflight
        self.reset_at = now + (reset if reset is not None else 1.0)

    def _on_success(self, now: float) -> None:
        self._ok_times.append(now)
        self._successes_since_change += 1
        if self.limit < self.max_concurrency and self._successes_since_change >= self.limit:
            self.limit += 1
            self._successes_since_change = 0
        if self.min_interval > 0 and now - self._last_increase >= 1.0:
            # probe upwards: 5% faster each clean second
            self.min_interval *= 0.95
            if self.min_interval < 0.001:
                self.min_interval = 0.0
            self._last_increase = now

    def _on_throttle(self, now: float, retry_after: Optional[float]) -> None:
        self.throttled += 1
        self.limit = max(1, self.limit // 2)
        self._successes_since_change = 0
        self._last_increase = now
        if retry_after is not None:
            self.paused_until = max(self.paused_until, now + retry_after)
        if self.remaining is None:
            # no headers to go by: pace at 90% of what got through over the last two seconds
            recent = [t for t in self._ok_times if now - t <= 2.0]
            rate = max(1.0, len(recent) / 2.0) * 0.9
            interval = 1.0 / rate
            self.min_interval = max(self.min_interval * 1.25, interval) if self.min_interval else interval

    def pause(self, seconds: float) -> None:
        """Hold every request for ``seconds`` (used for Retry-After on errors other than 429)."""
        with self._cond:
            self.paused_until = max(self.paused_until, self._clock() + seconds)


def _header_int(headers: Mapping[str, str], *names: str) -> Optional[int]:
    value = _header_float(headers, *names)
    return None if value is None else int(value)


def _header_float(headers: Mapping[str, str], *names: str) -> Optional[float]:
    if not hasattr(headers, "lower_items"):  # not requests' case-insensitive dict
        headers = {k.lower(): v for k, v in headers.items()}
    for name in names:
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            return float(str(raw).split(",")[0].split(";")[0].strip())
        except ValueError:
            continue
    return None
