"""One gate in front of every request: how many may be in flight, and when the next may start.

Rate limits belong to the API key, not to a table, so this gate is shared by every database and
table of a run. It adapts in three ways:

- **Retry-After**: a 429 (or a 503 with Retry-After) pauses *all* requests until the time it
  names, not only the one that got it.
- **Rate-limit headers** (``RateLimit-Limit/-Remaining/-Reset`` or the ``X-RateLimit-*`` forms):
  when the server says what is left, the gate models its token bucket — the tokens the last
  answer reported, minus every request sent after that one, plus the refill since — and waits
  for a token instead of spending requests on 429s.
- **Learned pace** when the server says nothing: the first 429 shows the rate the server
  accepts (the successes of the second before it); requests are then paced at 90% of that and
  sped up by 2% for every second without a 429. Each 429 also halves the requests in flight;
  successes add them back.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Deque, Mapping, Optional

PACE_START = 0.9  # of the rate seen before a 429
PACE_STEP = 1.02  # faster each clean second
RATE_WINDOW = 1.0  # seconds of successes that estimate the accepted rate
MIN_RATE_SAMPLE = 5  # successes needed in that window to estimate from it
MAX_INTERVAL = 2.0  # never pace slower than one request every two seconds


@dataclass(frozen=True)
class Ticket:
    """A permit to send one request; its sequence number orders it among all requests sent."""

    seq: int


class AdaptiveLimiter:
    def __init__(self, max_concurrency: int, *, clock=time.monotonic):
        self.max_concurrency = max(1, int(max_concurrency))
        self.limit = self.max_concurrency
        self.inflight = 0
        self.paused_until = 0.0
        self.throttled = 0
        self._clock = clock
        self._cond = threading.Condition()
        self._sent = 0  # sequence number of the last request sent
        self._successes_since_change = 0
        self._ok_times: Deque[float] = deque(maxlen=4096)
        # the server's token bucket, as its headers describe it
        self._bucket_size: Optional[float] = None
        self._refill_rate: Optional[float] = None  # tokens per second
        self._tokens = 0.0  # tokens at _tokens_time, requests up to _tokens_seq counted
        self._tokens_time = 0.0
        self._tokens_seq = -1
        # learned pace, without headers
        self.min_interval = 0.0
        self._next_start = 0.0
        self._last_speedup = 0.0

    @property
    def remaining(self) -> Optional[float]:
        """Tokens the server should have now, by the model (None: no rate-limit headers seen)."""
        if self._tokens_seq < 0:
            return None
        return self._available(self._clock())

    # -- acquiring -------------------------------------------------------------------------------
    def acquire(self) -> Ticket:
        """Block until a request may start."""
        with self._cond:
            while True:
                now = self._clock()
                wait = self._wait_needed(now)
                if wait <= 0:
                    self.inflight += 1
                    self._sent += 1
                    if self.min_interval > 0:
                        self._next_start = max(now, self._next_start) + self.min_interval
                    return Ticket(self._sent)
                self._cond.wait(timeout=min(wait, 0.25))

    def _wait_needed(self, now: float) -> float:
        if self.inflight >= self.limit:
            return 0.25  # woken by a release
        if now < self.paused_until:
            return self.paused_until - now
        if self._tokens_seq >= 0:
            available = self._available(now)
            if available < 1.0:
                if not self._refill_rate:
                    return 0.1
                return (1.0 - available) / self._refill_rate
        elif self.min_interval > 0 and now < self._next_start:
            return self._next_start - now
        return 0.0

    def _available(self, now: float) -> float:
        tokens = self._tokens + (self._refill_rate or 0.0) * (now - self._tokens_time)
        if self._bucket_size is not None:
            tokens = min(self._bucket_size, tokens)
        return tokens - (self._sent - self._tokens_seq)

    # -- releasing -------------------------------------------------------------------------------
    def release(self, ticket: Optional[Ticket] = None, *, status: Optional[int],
                headers: Optional[Mapping[str, str]] = None, retry_after: Optional[float] = None) -> None:
        """Record how a request ended: its status (None for a network error) and headers."""
        with self._cond:
            now = self._clock()
            self.inflight = max(0, self.inflight - 1)
            if headers is not None and ticket is not None:
                self._read_rate_headers(headers, ticket, now)
            if status == 429 or (status == 503 and retry_after is not None):
                self._on_throttle(now, retry_after, ticket)
            elif status is not None and status < 400:
                self._on_success(now)
            self._cond.notify_all()

    def _read_rate_headers(self, headers: Mapping[str, str], ticket: Ticket, now: float) -> None:
        remaining = _header_float(headers, "ratelimit-remaining", "x-ratelimit-remaining")
        if remaining is None or ticket.seq <= self._tokens_seq:
            return  # no headers, or older news than what the model already holds
        size = _header_float(headers, "ratelimit-limit", "x-ratelimit-limit")
        reset = _header_float(headers, "ratelimit-reset", "x-ratelimit-reset")
        if reset is not None and reset > 10_000_000:  # an epoch timestamp, not a delta
            reset = max(0.0, reset - time.time())
        if size is not None:
            self._bucket_size = size
            if reset and reset > 0 and size > remaining:
                self._refill_rate = (size - remaining) / reset  # seconds until the bucket is full
        if self._refill_rate is None and reset:
            self._refill_rate = max(1.0, remaining) / reset
        # the answer counted this request and every earlier one; later ones are spent by _available
        self._tokens = remaining
        self._tokens_time = now
        self._tokens_seq = ticket.seq

    def _on_success(self, now: float) -> None:
        self._ok_times.append(now)
        self._successes_since_change += 1
        if self.limit < self.max_concurrency and self._successes_since_change >= self.limit:
            self.limit += 1
            self._successes_since_change = 0
        if self.min_interval > 0 and now - self._last_speedup >= 1.0:
            self.min_interval /= PACE_STEP
            self._last_speedup = now

    def _on_throttle(self, now: float, retry_after: Optional[float], ticket: Optional[Ticket]) -> None:
        self.throttled += 1
        self.limit = max(1, self.limit // 2)
        self._successes_since_change = 0
        if retry_after is not None:
            self.paused_until = max(self.paused_until, now + retry_after)
        if self._tokens_seq >= 0:
            if ticket is not None and ticket.seq > self._tokens_seq:
                self._tokens, self._tokens_time, self._tokens_seq = 0.0, now, ticket.seq
            return
        # no headers to go by: pace at 90% of the rate that got through just before. Right after
        # a pause too few requests got through to tell; then only slow down a little.
        recent = sum(1 for t in self._ok_times if now - t <= RATE_WINDOW)
        if recent >= MIN_RATE_SAMPLE:
            interval = 1.0 / (recent / RATE_WINDOW * PACE_START)
            self.min_interval = max(interval, self.min_interval * PACE_STEP) if self.min_interval else interval
        elif self.min_interval:
            self.min_interval = min(MAX_INTERVAL, self.min_interval * 1.25)
        self._last_speedup = now + (retry_after or 0.0)

    def pause(self, seconds: float) -> None:
        """Hold every request for ``seconds``."""
        with self._cond:
            self.paused_until = max(self.paused_until, self._clock() + seconds)


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
