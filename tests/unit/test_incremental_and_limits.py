"""Cursor arithmetic, Retry-After parsing, backoff, and the adaptive limiter."""

from __future__ import annotations

import random

from dbsync.config.model import IncrementalSettings, RetrySettings
from dbsync.http.ratelimit import AdaptiveLimiter
from dbsync.http.redaction import redact, register_secret
from dbsync.http.retry import backoff_delay, parse_retry_after
from dbsync.source.incremental import CursorState, advance, compare_cursors


def test_request_value_uses_initial_value_then_the_cursor_minus_lag():
    settings = IncrementalSettings(initial_value="2000-01-01T00:00:00Z")
    assert CursorState().request_value(settings) == "2000-01-01T00:00:00Z"
    assert CursorState("2024-05-01T10:00:00Z").request_value(settings) == "2024-05-01T10:00:00Z"
    lagged = IncrementalSettings(lag_seconds=90)
    assert CursorState("2024-05-01T10:00:00Z").request_value(lagged) == "2024-05-01T09:58:30Z"
    epoch = IncrementalSettings(value_format="epoch_seconds")
    assert CursorState("1970-01-02T00:00:00Z").request_value(epoch) == "86400"


def test_advance_keeps_boundary_hashes_of_ties_and_never_goes_back():
    s = advance(CursorState(), "2024-01-01T00:00:00Z", ["a"])
    s = advance(s, "2024-01-01T00:00:00Z", ["b"])
    assert s.cursor == "2024-01-01T00:00:00Z" and s.boundary == ["a", "b"]
    assert advance(s, "2023-01-01T00:00:00Z", ["c"]) == s
    assert advance(s, None, []) == s
    assert advance(s, "2024-01-01T00:00:01Z", ["d"]).boundary == ["d"]
    assert compare_cursors("2024-01-01T01:00:00+01:00", "2024-01-01T00:00:00Z") == 0


def test_retry_after_seconds_and_http_dates():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert 9 <= parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) <= 11


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    settings = RetrySettings(backoff_base=1, backoff_max=8)
    rng = random.Random(1)
    delays = [backoff_delay(settings, n, rng) for n in range(1, 7)]
    for n, d in enumerate(delays, start=1):
        ceiling = min(8, 2 ** (n - 1))
        assert ceiling / 2 <= d <= ceiling
    assert len({round(d, 6) for d in delays}) == len(delays), "jittered"


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_limiter_pauses_everyone_on_retry_after_and_halves_concurrency():
    clock = FakeClock()
    limiter = AdaptiveLimiter(8, clock=clock)
    limiter.acquire()
    limiter.release(status=429, headers={}, retry_after=2.0)
    assert limiter.limit == 4 and limiter.paused_until == 2.0
    assert limiter._wait_needed(1.0) == 1.0
    clock.now = 2.5
    for _ in range(10):
        clock.now += 2.0  # the pace set after a 429 without rate headers spaces requests out
        limiter.acquire()
        limiter.release(status=200, headers={})
    assert limiter.limit > 4, "concurrency grows back after successes"


def test_limiter_stops_before_the_quota_runs_out():
    clock = FakeClock()
    limiter = AdaptiveLimiter(8, clock=clock)
    limiter.acquire()
    limiter.release(status=200, headers={"RateLimit-Remaining": "1", "RateLimit-Reset": "1"})
    limiter.acquire()
    assert limiter._wait_needed(0.0) > 0, "the last unit of quota is spent: wait for the reset"


def test_redaction_covers_plain_and_url_encoded_forms():
    register_secret("p@ss word/+=")
    assert redact("key=p@ss word/+=") == "key=***"
    assert redact("key=p%40ss%20word%2F%2B%3D") == "key=***"
    assert redact("key=p%40ss+word%2F%2B%3D") == "key=***"
