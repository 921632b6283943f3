"""Process mode, the command line, the handle's lifecycle and settings parsing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import requests
import typer
from typer.testing import CliRunner

from dbsync.cli.serve import build_settings, register
from dbsync.server import FaultSettings, ReferenceServer, ServerSettings
from dbsync.server.pagecache import PageCache
from dbsync.server.runner import LISTENING_PREFIX, check_loopback
from dbsync.server.settings import parse_api_key_option


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_process_mode_serves_and_stops_cleanly(server_factory):
    settings = ServerSettings(rows_per_table=15, seed=3, api_keys={"pk": None},
                              faults=FaultSettings(rate_limit_per_second=100))
    server = server_factory(settings, mode="process")
    pid = server.pid
    assert pid and pid != os.getpid() and not _gone(pid)
    response = requests.get(server.base_url + "/v1/resource", params={"api_key": "pk"}, timeout=10)
    assert response.status_code == 200 and response.json()["total"] == 15
    assert response.headers["ratelimit-limit"] == "10"  # settings crossed the process boundary
    thread_server = server_factory(settings)
    same = requests.get(thread_server.base_url + "/v1/resource", params={"api_key": "pk"}, timeout=10)
    assert same.content == response.content
    server.insert("acme", "orders", [{"id": 99}], raw=True)
    assert server.records("acme", "orders")[-1] == {"id": 99, "updated_at": server.records("acme", "orders")[-1][
        "updated_at"]}
    server.stop()
    assert _gone(pid)
    assert not server.running
    server.stop()  # idempotent
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{server.port}/health", timeout=2)


def test_thread_mode_context_manager_and_restart():
    with ReferenceServer(ServerSettings(rows_per_table=5)) as server:
        port = server.port
        assert requests.get(server.base_url + "/health", timeout=5).json() == {"status": "ok"}
    assert not server.running
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/health", timeout=2)
    server.stop()
    with pytest.raises(RuntimeError):
        server.records("acme", "orders")


def test_handle_rejects_unknown_mode():
    with pytest.raises(ValueError):
        ReferenceServer(mode="fork")


def _start_cli(*args: str) -> "tuple[subprocess.Popen, str]":
    process = subprocess.Popen([sys.executable, "-m", "dbsync.server", "--port", "0", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith(LISTENING_PREFIX), (line, process.stderr.read() if process.poll() is not None else "")
    return process, line.strip()[len(LISTENING_PREFIX):]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_starts_and_stops_on_signal(sig):
    process, url = _start_cli("--rows", "12", "--seed", "5", "--api-key", "k1", "--api-key", "k2=globex",
                              "--error-rate", "0", "--log-level", "warning")
    try:
        assert url.startswith("http://127.0.0.1:")
        assert requests.get(url + "/v1/resource", params={"api_key": "k1"}, timeout=10).json()["total"] == 12
        assert requests.get(url + "/v1/databases", params={"api_key": "k2"}, timeout=10).json()["total"] == 1
        assert requests.get(url + "/v1/resource", params={"api_key": "dbsync-demo-key"}, timeout=10
                            ).status_code == 401
        process.send_signal(sig)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


@pytest.mark.parametrize("args,message", [
    (["--host", "0.0.0.0"], "loopback"),
    (["--host", "192.168.1.10"], "loopback"),
    (["--host", "example.com"], "loopback"),
    (["--error-rate", "2"], "error_rate"),
    (["--retry-after-format", "soon"], "retry_after_format"),
    (["--api-key", "k="], "lists no database"),
    (["--latency-ms", "-5"], "latency_ms"),
])
def test_cli_refuses_bad_options(args, message):
    result = subprocess.run([sys.executable, "-m", "dbsync.server", "--port", "0", *args],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split())


def test_serve_command_registers_with_help_and_example():
    app = typer.Typer()
    register(app)

    @app.command()
    def other() -> None:  # a second command, as in the real CLI, so `serve` is a subcommand
        pass

    result = CliRunner().invoke(app, ["serve", "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "dbsync serve --port 8765" in text and "--rate-limit" in text and "--default-rows" in text


def test_build_settings_layers_options_over_json():
    base = ServerSettings(rows_per_table=7, faults=FaultSettings(error_rate=0.1, seed=4))
    import json

    settings = build_settings(settings_json=json.dumps(base.to_dict()), rows=9, drop_rate=0.2,
                              api_key=["a", "b=acme,globex"], rate_limit=5)
    assert settings.rows_per_table == 9 and settings.seed == 42
    assert settings.faults.error_rate == 0.1 and settings.faults.drop_rate == 0.2 and settings.faults.seed == 4
    assert settings.faults.rate_limit_per_second == 5
    assert settings.api_keys == {"a": None, "b": ["acme", "globex"]}
    assert ServerSettings.from_dict(settings.to_dict()) == settings


@pytest.mark.parametrize("kwargs", [
    {"databases": 0}, {"tables_per_database": 0}, {"rows_per_table": -1}, {"max_limit": 0}, {"api_keys": {}},
    {"admin_key": "dbsync-demo-key"}, {"admin_key": ""}, {"default_table_rows": -5},
])
def test_invalid_server_settings(kwargs):
    with pytest.raises(ValueError):
        ServerSettings(**kwargs)


def test_api_key_option_parsing():
    assert parse_api_key_option(["k", "l=acme", "m=acme, globex"]) == {
        "k": None, "l": ["acme"], "m": ["acme", "globex"]}
    with pytest.raises(ValueError):
        parse_api_key_option(["=acme"])


@pytest.mark.parametrize("host,ok", [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("localhost", True),
                                     ("0.0.0.0", False), ("10.1.2.3", False), ("::", False), ("host", False)])
def test_check_loopback(host, ok):
    if ok:
        assert check_loopback(host) == host
    else:
        with pytest.raises(ValueError):
            check_loopback(host)


def test_page_cache_is_a_bounded_lru():
    cache = PageCache(max_bytes=10)
    cache.put("a", b"1234")
    cache.put("b", b"1234")
    assert cache.get("a") == b"1234"  # "a" is now the most recent
    cache.put("c", b"1234")  # over 10 bytes: the least recent ("b") goes
    assert cache.get("b") is None and cache.get("a") and cache.get("c")
    cache.put("huge", b"x" * 11)  # larger than the cache: not kept
    assert cache.get("huge") is None and cache.bytes == 8
    assert cache.stats()["hits"] == 3 and cache.stats()["misses"] == 2


def test_ipv6_loopback():
    server = ReferenceServer(ServerSettings(rows_per_table=3), host="::1")
    try:
        server.start()
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    try:
        assert server.base_url == f"http://[::1]:{server.port}"
        assert requests.get(server.base_url + "/health", timeout=5).status_code == 200
        assert server.records("acme", "orders")[0]["id"] == 1
    finally:
        server.stop()
