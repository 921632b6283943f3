"""Fault injection, rate limits and the request log."""

from __future__ import annotations

import email.utils
import time

import orjson
import pytest
import requests

from dbsync.server import AdminError, FaultSettings, ServerSettings
from dbsync.server.ratelimit import RateLimiter
from dbsync.server.requestlog import key_fingerprint, mask_query

KEY = "dbsync-demo-key"


def _server(server_factory, make_api, **faults):
    server = server_factory(ServerSettings(rows_per_table=30, faults=FaultSettings(**faults)))
    return server, make_api(server)


def _statuses(api, n, path="/v1/resource", **params):
    return [api.get(path, limit=5, **params).status_code for _ in range(n)]


# ---------------------------------------------------------------------------- rate limit

@pytest.mark.parametrize("fmt", ["seconds", "http-date"])
def test_rate_limit_with_retry_after_and_headers(server_factory, make_api, fmt):
    server, api = _server(server_factory, make_api, rate_limit_per_second=0.5, rate_limit_burst=3,
                          retry_after_format=fmt)
    answers = [api.get("/v1/resource", limit=1) for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["ratelimit-limit"] for r in answers] == ["3"] * 4
    assert [r.headers["ratelimit-remaining"] for r in answers] == ["2", "1", "0", "0"]
    assert 1 <= int(answers[2].headers["ratelimit-reset"]) <= 6
    limited = answers[3]
    assert limited.json()["error"]["code"] == "rate_limited"
    assert KEY not in limited.text
    retry_after = limited.headers["retry-after"]
    if fmt == "seconds":
        assert retry_after == "2"  # one token at 0.5/s, rounded up
    else:
        when = email.utils.parsedate_to_datetime(retry_after).timestamp()
        assert retry_after.endswith("GMT") and time.time() + 1 <= when <= time.time() + 4
    assert "retry-after" not in answers[0].headers
    # buckets are per key: another full-access key is not limited by the first one's use
    assert api.get("/v1/resource", api_key="dbsync-limited-key", limit=1).status_code == 200
    log = server.requests()
    assert [e.fault for e in log][:4] == [None, None, None, "rate_limit"]


def test_rate_limit_refills(server_factory, make_api):
    """One token a second: two requests in a row meet an empty bucket (they would need to be a
    second apart, which no machine is slow enough for), and after more than a second it has
    refilled (sleeping longer is always safe; the exact refill is test_token_bucket_with_a_fake_clock's)."""
    server, api = _server(server_factory, make_api, rate_limit_per_second=1, rate_limit_burst=1)
    assert _statuses(api, 2) == [200, 429]
    time.sleep(1.2)
    assert _statuses(api, 1) == [200]


def test_rate_limit_headers_can_be_off(server_factory, make_api):
    server, api = _server(server_factory, make_api, rate_limit_per_second=100, rate_limit_headers=False)
    response = api.get("/v1/databases")
    assert response.status_code == 200 and "ratelimit-limit" not in response.headers
    plain, plain_api = _server(server_factory, make_api)
    assert "ratelimit-limit" not in plain_api.get("/v1/databases").headers  # no limit configured


def test_rate_limit_does_not_apply_to_health_admin_or_bad_keys(server_factory, make_api):
    server, api = _server(server_factory, make_api, rate_limit_per_second=0.01, rate_limit_burst=1)
    assert _statuses(api, 3, "/health") == [200] * 3
    assert _statuses(api, 3, api_key="bad") == [401] * 3
    for _ in range(3):
        server.stats()
    assert _statuses(api, 2) == [200, 429]


def test_token_bucket_with_a_fake_clock():
    now = [100.0]
    limiter = RateLimiter(2.0, 4, clock=lambda: now[0])
    decisions = [limiter.check("k") for _ in range(5)]
    assert [d.allowed for d in decisions] == [True] * 4 + [False]
    assert [d.remaining for d in decisions] == [3, 2, 1, 0, 0]
    assert decisions[4].retry_after == pytest.approx(0.5)
    assert decisions[3].reset_seconds == 2
    now[0] += 0.5
    assert limiter.check("k").allowed and not limiter.check("k").allowed
    assert limiter.check("other").allowed


# ---------------------------------------------------------------------------- random faults

def test_error_rate_uses_the_configured_statuses(server_factory, make_api):
    server, api = _server(server_factory, make_api, error_rate=1.0, error_statuses=(502, 503))
    responses = [api.get("/v1/resource") for _ in range(20)]
    assert {r.status_code for r in responses} == {502, 503}
    assert {r.json()["error"]["code"] for r in responses} == {"bad_gateway", "service_unavailable"}
    assert all(KEY not in r.text for r in responses)
    assert api.get("/health", api_key=None).status_code == 200  # never faulted
    assert server.records("acme", "orders")  # nor is the admin API
    assert {e.fault for e in server.requests() if e.path == "/v1/resource"} == {"status"}


def test_random_faults_are_deterministic_per_seed(server_factory, make_api):
    runs = []
    for _ in range(2):
        server, api = _server(server_factory, make_api, seed=7, error_rate=0.3, random_429_rate=0.2)
        runs.append(_statuses(api, 40))
    assert runs[0] == runs[1]
    assert {200, 429} <= set(runs[0]) and set(runs[0]) - {200, 429} <= {500, 502, 503, 504}
    assert 8 <= runs[0].count(200) <= 32
    _, other = _server(server_factory, make_api, seed=8, error_rate=0.3, random_429_rate=0.2)
    assert _statuses(other, 40) != runs[0]


def test_random_429_has_retry_after(server_factory, make_api):
    _, api = _server(server_factory, make_api, random_429_rate=1.0, random_429_retry_after=3)
    response = api.get("/v1/resource")
    assert response.status_code == 429 and response.headers["retry-after"] == "3"
    assert response.json()["error"]["code"] == "rate_limited"


def test_slow(server_factory, make_api):
    _, api = _server(server_factory, make_api, slow_rate=1.0, slow_seconds=0.3)
    started = time.perf_counter()
    response = api.get("/v1/resource", limit=3)
    assert time.perf_counter() - started >= 0.3
    assert response.status_code == 200 and len(response.json()["data"]) == 3
    with pytest.raises(requests.Timeout):
        api.get("/v1/resource", timeout=0.1)


def test_drop_closes_the_connection(server_factory, make_api):
    server, api = _server(server_factory, make_api, drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        api.get("/v1/resource")
    assert api.get("/health", api_key=None).status_code == 200
    entry = server.requests()[0]
    assert (entry.status, entry.fault) == (None, "drop")


def test_truncate_gives_invalid_json_with_a_correct_length(server_factory, make_api):
    _, api = _server(server_factory, make_api, truncate_rate=1.0)
    response = api.get("/v1/resource", limit=10)
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content) > 0
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(response.content)
    with pytest.raises(ValueError):
        response.json()


def test_fault_paths_limit_where_faults_apply(server_factory, make_api):
    _, api = _server(server_factory, make_api, error_rate=1.0, fault_paths=["/v1/resource"])
    assert api.get("/v1/databases").status_code == 200
    assert api.get("/v1/databases/acme/schema").status_code == 200
    assert api.get("/v1/resource").status_code >= 500


@pytest.mark.parametrize("echo", [False, True])
@pytest.mark.parametrize("case", ["wrong-key", "bad-param", "injected", "not-found"])
def test_echo_key_in_errors(server_factory, make_api, echo, case):
    server, api = _server(server_factory, make_api, echo_key_in_errors=echo)
    if case == "wrong-key":
        response, sent = api.get("/v1/resource", api_key="sk-live-SECRET"), "sk-live-SECRET"
    elif case == "bad-param":
        response, sent = api.get("/v1/resource", limit=0), KEY
    elif case == "not-found":
        response, sent = api.get("/v1/resource", database="acme", table="nope"), KEY
    else:
        server.fail_next(1, status=500)
        response, sent = api.get("/v1/resource"), KEY
    assert response.status_code >= 400
    assert (sent in response.json()["error"]["message"]) is echo


def test_set_faults_at_runtime(server_factory, make_api):
    server, api = _server(server_factory, make_api)
    assert _statuses(api, 2) == [200, 200]
    server.set_faults(FaultSettings(error_rate=1.0, error_statuses=(504,)))
    assert server.faults().error_statuses == (504,)
    assert _statuses(api, 2) == [504, 504]
    server.set_faults(FaultSettings())
    assert _statuses(api, 2) == [200, 200]
    for body in ({"error_rate": 5}, {"no_such_fault": 1}, [1, 2]):
        with pytest.raises(AdminError) as info:
            server._admin("PUT", "/admin/faults", body)
        assert info.value.status == 400 and "fault" in info.value.message
    assert _statuses(api, 1) == [200]  # a refused update changes nothing
    server.set_faults(FaultSettings(error_rate=1.0))
    server.reset()  # back to the startup faults
    assert _statuses(api, 1) == [200]


@pytest.mark.parametrize("bad", [
    {"error_rate": 1.5}, {"error_rate": 0.6, "drop_rate": 0.6}, {"retry_after_format": "minutes"},
    {"rate_limit_per_second": 0}, {"rate_limit_burst": 0}, {"error_statuses": (200,)}, {"bogus": 1},
])
def test_invalid_fault_settings(bad):
    with pytest.raises((ValueError, TypeError)):
        FaultSettings.from_dict(bad)


# ---------------------------------------------------------------------------- fail next

def test_fail_next_status_with_retry_after(server_factory, make_api):
    server, api = _server(server_factory, make_api)
    server.fail_next(2, status=503, retry_after=2)
    responses = [api.get("/v1/resource") for _ in range(3)]
    assert [r.status_code for r in responses] == [503, 503, 200]
    assert responses[0].headers["retry-after"] == "2"
    assert responses[0].json()["error"]["code"] == "service_unavailable"
    server.fail_next(1, status=429)
    response = api.get("/v1/resource")
    assert response.status_code == 429 and "retry-after" not in response.headers


@pytest.mark.parametrize("kind", ["drop", "truncate", "slow"])
def test_fail_next_kinds(server_factory, make_api, kind):
    server, api = _server(server_factory, make_api, slow_seconds=0.25)
    server.fail_next(1, kind=kind)
    started = time.perf_counter()
    if kind == "drop":
        with pytest.raises(requests.ConnectionError):
            api.get("/v1/resource")
    else:
        response = api.get("/v1/resource")
        assert response.status_code == 200
        if kind == "truncate":
            with pytest.raises(orjson.JSONDecodeError):
                orjson.loads(response.content)
        else:
            assert time.perf_counter() - started >= 0.25 and response.json()["total"] == 30
    after = api.get("/v1/resource")
    assert after.status_code == 200 and after.json()["total"] == 30
    assert [e.fault for e in server.requests()] == [kind, None]


def test_fail_next_respects_its_path_prefix_and_order(server_factory, make_api):
    server, api = _server(server_factory, make_api)
    server.fail_next(1, status=500, path_prefix="/v1/databases")
    server.fail_next(1, status=502)
    assert api.get("/v1/resource").status_code == 502  # the second order matches first here
    assert api.get("/health", api_key=None).status_code == 200
    assert api.get("/v1/resource").status_code == 200
    assert api.get("/v1/databases").status_code == 500
    assert api.get("/v1/databases").status_code == 200


def test_clear_fail_next_drops_pending_orders(server_factory, make_api):
    server, api = _server(server_factory, make_api)
    server.fail_next(5, status=500)
    assert api.get("/v1/resource").status_code == 500
    server.clear_fail_next()
    assert api.get("/v1/resource").status_code == 200


@pytest.mark.parametrize("args,message", [
    ({"count": 0}, "count"), ({"count": 1, "kind": "explode"}, "kind"), ({"count": 1, "status": 200}, "status"),
    ({"count": 1, "path_prefix": "/admin/"}, "cannot be faulted"), ({"count": 1, "path_prefix": "/health"}, "cannot"),
])
def test_fail_next_validation(server_factory, make_api, args, message):
    server, _ = _server(server_factory, make_api)
    with pytest.raises(AdminError) as info:
        server.fail_next(**args)
    assert info.value.status == 400 and message in info.value.message


# ---------------------------------------------------------------------------- request log

def test_request_log_masks_the_key(server_factory, make_api):
    server, api = _server(server_factory, make_api)
    api.get("/v1/resource", limit=2, offset=4)
    api.get("/v1/resource", api_key="my-secret-key", limit=1)
    api.get("/health", api_key=None)
    server.insert("acme", "orders", [])  # admin calls are not logged
    log = server.requests()
    assert [(e.method, e.path, e.status) for e in log] == [
        ("GET", "/v1/resource", 200), ("GET", "/v1/resource", 401), ("GET", "/health", 200)]
    assert log[0].query == "limit=2&offset=4&api_key=***"
    assert log[1].query == "limit=1&api_key=***"
    assert log[0].key_fingerprint == key_fingerprint(KEY) != log[1].key_fingerprint
    assert log[2].key_fingerprint is None and log[2].query == ""
    assert all(e.time > 1e9 and e.duration_ms >= 0 for e in log)
    dumped = repr(log) + str([e.to_dict() for e in log])
    assert KEY not in dumped and "my-secret-key" not in dumped
    stats = server.stats()
    assert stats["requests_total"] == 3 and stats["by_status"] == {"200": 2, "401": 1}
    server.clear_requests()
    assert server.requests() == []


@pytest.mark.parametrize("query,masked", [
    ("api_key=abc", "api_key=***"),
    ("a=1&api_key=abc&b=2", "a=1&api_key=***&b=2"),
    ("api_key=a&api_key=b", "api_key=***&api_key=***"),
    ("my_api_key=abc", "my_api_key=abc"),
    ("api%5Fkey=abc&x=1", "api%5Fkey=***&x=1"),
    ("", ""),
])
def test_mask_query(query, masked):
    assert mask_query(query) == masked
