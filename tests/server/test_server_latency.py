"""``latency_ms``: every API answer comes that long after its request, and requests in flight at
the same time wait side by side (the server does not answer them one after another)."""

from __future__ import annotations

import threading
import time

import orjson
import pytest
import requests

from dbsync.cli.serve import build_settings
from dbsync.server import FaultSettings, ServerSettings

LATENCY_MS = 300


def _get(server, path="/v1/resource", **params):
    params.setdefault("api_key", server.api_key)
    return requests.get(server.base_url + path, params=params, timeout=30)


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_every_api_answer_waits_the_latency(server_factory, mode):
    server = server_factory(ServerSettings(rows_per_table=20, latency_ms=LATENCY_MS), mode=mode)
    for path, params in (("/v1/resource", {"limit": 5}), ("/v1/databases", {}),
                         ("/v1/databases/acme/schema", {}), ("/v1/nope", {})):
        started = time.perf_counter()
        response = _get(server, path, **params)
        assert time.perf_counter() - started >= LATENCY_MS / 1000, path
        assert response.status_code == (404 if path == "/v1/nope" else 200)
    assert len(orjson.loads(_get(server, limit=5).content)["data"]) == 5  # the answer itself is unchanged
    log = server.requests()
    assert log and all(entry.duration_ms >= LATENCY_MS for entry in log)


def test_faults_are_answered_after_the_latency_too(server_factory):
    server = server_factory(ServerSettings(rows_per_table=20, latency_ms=LATENCY_MS))
    server.fail_next(1, status=503, retry_after=0)
    started = time.perf_counter()
    assert _get(server, limit=1).status_code == 503
    assert time.perf_counter() - started >= LATENCY_MS / 1000
    limited = server_factory(ServerSettings(rows_per_table=20, latency_ms=LATENCY_MS,
                                            faults=FaultSettings(rate_limit_per_second=0.01, rate_limit_burst=1)))
    assert [_get(limited, limit=1).status_code for _ in range(2)] == [200, 429]
    assert all(entry.duration_ms >= LATENCY_MS for entry in limited.requests())


def test_concurrent_requests_wait_side_by_side(server_factory):
    """Six requests sent at once: the server's log shows them all in progress at one moment,
    so the delay of one did not hold up the others."""
    server = server_factory(ServerSettings(rows_per_table=200, latency_ms=LATENCY_MS))
    count = 6
    barrier = threading.Barrier(count)
    statuses = []

    def one(offset: int) -> None:
        with requests.Session() as session:
            barrier.wait()
            statuses.append(session.get(server.base_url + "/v1/resource", timeout=30, params={
                "api_key": server.api_key, "offset": offset, "limit": 10}).status_code)

    threads = [threading.Thread(target=one, args=(i * 10,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * count
    log = [entry for entry in server.requests() if entry.path == "/v1/resource"]
    assert len(log) == count
    # each entry is written when the answer was sent; its duration reaches back to its arrival
    arrived = [entry.time - entry.duration_ms / 1000 for entry in log]
    answered = [entry.time for entry in log]
    assert max(arrived) < min(answered), "the requests were answered one after another"


def test_health_and_admin_do_not_wait(server_factory):
    # a latency no busy machine comes near: /health answering under it did not wait it
    long_latency = 30_000
    server = server_factory(ServerSettings(rows_per_table=20, latency_ms=long_latency))
    assert _get(server, "/health").status_code == 200
    server.requests()  # the admin API answers too
    health = [entry for entry in server.requests() if entry.path == "/health"]
    assert len(health) == 1 and health[0].duration_ms < long_latency


def test_cli_latency_option():
    from test_server_process import _start_cli

    process, url = _start_cli("--rows", "5", "--latency-ms", str(LATENCY_MS))
    try:
        started = time.perf_counter()
        assert requests.get(url + "/v1/resource", params={"api_key": "dbsync-demo-key"}, timeout=30).json()["total"] == 5
        assert time.perf_counter() - started >= LATENCY_MS / 1000
    finally:
        process.terminate()
        process.wait(10)
        process.stdout.close()
        process.stderr.close()


def test_latency_option_and_its_validation():
    assert build_settings(latency_ms=50).latency_ms == 50
    assert ServerSettings.from_dict(ServerSettings(latency_ms=12.5).to_dict()).latency_ms == 12.5
    for bad in (-1, float("nan"), True, "50"):
        with pytest.raises(ValueError, match="latency_ms"):
            ServerSettings(latency_ms=bad)
