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
    ticket = limiter.acquire()
    limiter.release(ticket, status=429, headers={}, retry_after=2.0)
    assert limiter.limit == 4 and limiter.paused_until == 2.0
    assert limiter._wait_needed(1.0) == 1.0
    clock.now = 2.5
    for _ in range(10):
        clock.now += 2.0  # the pace learned from a 429 without rate headers spaces requests out
        limiter.release(limiter.acquire(), status=200, headers={})
    assert limiter.limit > 4, "concurrency grows back after successes"


def test_limiter_learns_a_pace_from_the_first_429_without_headers():
    clock = FakeClock()
    limiter = AdaptiveLimiter(8, clock=clock)
    for i in range(20):  # 20 requests accepted within the first second
        clock.now = i * 0.04
        limiter.release(limiter.acquire(), status=200, headers={})
    limiter.release(limiter.acquire(), status=429, headers={}, retry_after=1.0)
    assert abs(limiter.min_interval - 1 / 18) < 1e-9, "90% of the 20 requests/s that got through"


def test_limiter_models_the_servers_token_bucket_from_headers():
    clock = FakeClock()
    limiter = AdaptiveLimiter(8, clock=clock)
    first = limiter.acquire()
    second = limiter.acquire()
    third = limiter.acquire()  # three requests out before any answer
    bucket = {"RateLimit-Limit": "10", "RateLimit-Reset": "0.8"}
    limiter.release(second, status=200, headers={**bucket, "RateLimit-Remaining": "3"})
    assert limiter.remaining == 2.0, "3 left after the second, minus the third still out"
    # the first answer arrives late: older news, it does not overwrite the model
    limiter.release(first, status=200, headers={**bucket, "RateLimit-Remaining": "9"})
    assert limiter.remaining == 2.0
    limiter.acquire()
    limiter.acquire()
    assert limiter._wait_needed(0.0) > 0, "every token is spent: wait for the refill"
    clock.now = 0.2  # refill: (10 - 3) / 0.8 = 8.75 tokens/s, so 1.75 tokens by now
    assert limiter._wait_needed(clock.now) == 0.0
    limiter.release(third, status=429, headers={**bucket, "RateLimit-Remaining": "0"}, retry_after=1.0)
    assert limiter.paused_until == 1.2


def test_redaction_covers_plain_and_url_encoded_forms():
    register_secret("p@ss word/+=")
    assert redact("key=p@ss word/+=") == "key=***"
    assert redact("key=p%40ss%20word%2F%2B%3D") == "key=***"
    assert redact("key=p%40ss+word%2F%2B%3D") == "key=***"
