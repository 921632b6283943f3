"""Retries (429/5xx, drops, truncated bodies, Retry-After) and clear errors for what cannot be
retried (wrong key, missing grant, bad path, server down) against the reference server."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from dbsync import errors
from dbsync.server import ServerSettings
from support import assert_destination_equals_source, reference_config

FAST_RETRIES = {"attempts": 4, "backoff_base": 0.01, "backoff_max": 0.05}


@pytest.fixture
def server(server_factory, monkeypatch):
    srv = server_factory(ServerSettings(seed=3, databases=2, tables_per_database=1, rows_per_table=300))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", srv.api_key)
    return srv


def config_for(server, **overrides):
    config = reference_config(server.base_url, retries=FAST_RETRIES, **overrides)
    config["resources"][0]["endpoint"]["paginator"]["limit"] = 100
    return config


@pytest.mark.parametrize(
    "kind, status, reason_in_log",
    [
        ("status", 500, "HTTP 500"),
        ("status", 502, "HTTP 502"),
        ("status", 503, "HTTP 503"),
        ("status", 504, "HTTP 504"),
        ("status", 429, "HTTP 429"),
        ("drop", None, "connection dropped"),
        ("truncate", None, "truncated or invalid JSON"),
    ],
)
def test_transient_failures_are_retried_and_logged(server, workspace, caplog, kind, status, reason_in_log):
    server.fail_next(2, kind=kind, status=status or 503, path_prefix="/v1/resource")
    with caplog.at_level(logging.WARNING, logger="dbsync"):
        result = workspace.sync(config_for(server))
    assert result.ok
    assert result.report.rows == 2 * 300
    retries = [r for r in caplog.records if r.name == "dbsync.http" and "retry" in r.getMessage()]
    assert len(retries) == 2
    assert all(reason_in_log in r.getMessage() for r in retries)
    assert "database '" in retries[0].getMessage() and "offset" in retries[0].getMessage()
    assert result.stats.total_retries == 2
    assert assert_destination_equals_source(workspace, server) == 2 * 300


def test_retry_after_is_honoured(server, workspace):
    server.fail_next(1, kind="status", status=429, retry_after=1.0, path_prefix="/v1/resource")
    started = time.monotonic()
    result = workspace.sync(config_for(server), databases=["acme"])
    assert result.ok
    assert time.monotonic() - started >= 1.0
    assert result.stats.retries == {"HTTP 429": 1}
    assert_destination_equals_source(workspace, server, ["acme"])


def test_exhausted_retries_name_the_table_and_page_and_keep_other_tables(server, workspace):
    # acme's table fails every attempt; globex's table is untouched
    server.fail_next(4, kind="status", status=503, path_prefix="/v1/resource")
    # one request at a time and nothing fetched ahead: acme's first page takes all four faults
    # (with prefetch, globex's first page would be sent while acme's waits to retry)
    config = config_for(server, performance={"concurrency": 1, "prefetch_pages": 1})
    result = workspace.sync(config)
    assert not result.ok
    failed = result.failed
    assert len(failed) == 1
    message = failed[0].error.one_line()
    assert isinstance(failed[0].error, errors.RetriesExhaustedError)
    assert "database 'acme'" in message and "table 'orders'" in message and "offset 0" in message
    assert "4 attempts" in message
    assert result.exit_code() == errors.RetriesExhaustedError.exit_code
    loaded = {t.resource_name: t.rows for t in result.report.tables.values()}
    assert loaded["globex__orders"] == 300
    # the table that succeeded equals the source; the failed one wrote nothing
    assert_destination_equals_source(workspace, server, ["globex"])
    assert workspace.tables() == ["globex__orders"]


@pytest.mark.parametrize(
    "make_config, error_type, words",
    [
        (lambda s: config_for(s), errors.AuthError, ["401", "API key"]),
        (lambda s: config_for(s, databases={"list": ["acme", "nope"]}), errors.NotFoundError, ["nope", "404"]),
    ],
    ids=["wrong-key", "unknown-database"],
)
def test_errors_that_are_not_retried(server, workspace, monkeypatch, make_config, error_type, words):
    if error_type is errors.AuthError:
        monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", "not-the-key")
    server.clear_requests()
    with pytest.raises(error_type) as info:
        workspace.sync(make_config(server))
    message = info.value.one_line()
    for word in words:
        assert word in message
    assert "\n" not in message
    assert len(server.requests()) <= 3, "a 401/404 is not retried"


def test_missing_grant_names_the_database(server, workspace, monkeypatch):
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", "dbsync-limited-key")
    config = config_for(server, databases={"list": ["acme", "globex"]})
    with pytest.raises(errors.PermissionDeniedError) as info:
        workspace.sync(config)
    assert "database 'globex'" in info.value.one_line() and "403" in info.value.one_line()


def test_unknown_records_path_is_a_clear_404(server, workspace):
    config = config_for(server)
    config["resources"][0]["endpoint"]["path"] = "/v1/nope"
    result = workspace.sync(config)
    assert not result.ok
    error = result.failed[0].error
    assert isinstance(error, errors.NotFoundError)
    assert "/v1/nope" in error.one_line() and "table 'orders'" in error.one_line()
    assert not workspace.duckdb.exists() or workspace.tables() == [], "every table failed: nothing is written"


def test_response_actions_ignore_a_404_only_past_the_first_page_unless_its_body_matches(server, workspace):
    """An action ignoring 404 by status ends page-number paging past the last page; on a table's
    first page the table is not there (a wrong path, a name of another case): the table's error.
    An action that also matches the body says the user knows that answer: an empty table."""
    config = config_for(server)
    config["resources"][0]["endpoint"]["path"] = "/v1/nope"
    config["resources"][0]["endpoint"]["response_actions"] = [{"status_code": 404, "action": "ignore"}]
    result = workspace.sync(config)
    assert not result.ok and result.exit_code() == 6
    assert "not for the table's first page" in result.failed[0].error.one_line()
    config["resources"][0]["endpoint"]["response_actions"] = [{"status_code": 404, "content": "not_found",
                                                               "action": "ignore"}]
    result = workspace.sync(config)
    assert result.ok and result.report.rows == 0
    assert not workspace.duckdb.exists() or workspace.tables() == [], "an ignored status loads nothing"


def test_server_down_fails_fast_with_a_clear_message(workspace, monkeypatch, caplog):
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", "whatever-key")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = reference_config(f"http://127.0.0.1:{port}", retries=dict(FAST_RETRIES, attempts=8))
    caplog.set_level(logging.WARNING, logger="dbsync.http")
    with pytest.raises(errors.ApiUnreachableError) as info:
        workspace.sync(config)
    # fast: a refused connection is tried REFUSED_ATTEMPTS times, not retries.attempts (counted, not timed)
    from dbsync.http.client import REFUSED_ATTEMPTS

    retried = [r for r in caplog.records if "connection refused; retry" in r.getMessage()]
    assert len(retried) == REFUSED_ATTEMPTS - 1, [r.getMessage() for r in retried]
    assert "cannot connect" in info.value.one_line() and str(port) in info.value.one_line()
