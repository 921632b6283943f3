"""The API key never leaks: run the CLI down every path where dlt's own rest_api leaks a
query-string key, then search everything printed and every file written for it.

dlt's known leak paths, each forced here:
1. ``response_actions`` configured: rest_api falls back to plain ``raise_for_status``, whose
   message holds the full URL;
2. urllib3 connection errors: their text holds the URL with the query string;
3. DEBUG logging: urllib3 logs every request line with its query string.
Plus: a server that echoes the key in its error bodies, dropped connections and truncated bodies.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from dbsync.server import FaultSettings, ServerSettings
from support import DuckDBDataset, assert_destination_equals_source, reference_config

DBSYNC = [sys.executable, "-m", "dbsync"]


def run_cli(args, env, cwd):
    return subprocess.run(DBSYNC + args, env=env, cwd=cwd, capture_output=True, text=True, timeout=240)


def find_secret(root: Path, secret: str, texts):
    """Every place the secret (raw or URL-encoded) appears: printed text and files under root."""
    needles = {secret.encode(), quote(secret, safe="").encode()}
    hits = [f"output #{i}" for i, text in enumerate(texts) if any(n.decode() in text for n in needles)]
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits.extend(str(path) for n in needles if n in data)
    return hits


@pytest.fixture
def secret():
    return f"sk-dbsync-{uuid.uuid4().hex}"


@pytest.fixture
def leaky_server(server_factory, secret):
    settings = ServerSettings(seed=11, databases=2, tables_per_database=1, rows_per_table=250,
                              api_keys={secret: None})
    return server_factory(settings)


def write_config(tmp_path: Path, config) -> Path:
    path = tmp_path / "dbsync.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def cli_env(secret):
    env = dict(os.environ)
    env["SOURCES__DBSYNC__API_KEY"] = secret
    env["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    env.pop("SOURCES__DBSYNC__BASE_URL", None)
    return env


def base_args(tmp_path):
    return ["run", "--debug", "--no-progress", "--pipelines-dir", str(tmp_path / "pipelines"),
            "--destination", str(tmp_path / "warehouse.duckdb"), "-c", str(tmp_path / "dbsync.yaml")]


FAST = {"attempts": 3, "backoff_base": 0.01, "backoff_max": 0.02}


def scenario_debug_logs_successful_run(server, tmp_path):
    return reference_config(server.base_url, retries=FAST), 0


def scenario_response_actions_and_exhausted_5xx(server, tmp_path):
    config = reference_config(server.base_url, retries=FAST)
    config["resources"][0]["endpoint"]["response_actions"] = [{"status_code": 404, "action": "ignore"}]
    server.fail_next(1000, kind="status", status=500, path_prefix="/v1/resource")
    return config, "nonzero"


def scenario_connection_refused(server, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return reference_config(f"http://127.0.0.1:{port}", retries=FAST), "nonzero"


def scenario_server_echoes_key_in_errors(server, tmp_path):
    server.set_faults(FaultSettings(echo_key_in_errors=True))
    server.fail_next(1000, kind="status", status=404, path_prefix="/v1/resource")
    return reference_config(server.base_url, retries=FAST), "nonzero"


def scenario_drops_and_truncations(server, tmp_path):
    server.set_faults(FaultSettings(seed=5, drop_rate=0.2, truncate_rate=0.2))
    return reference_config(server.base_url, retries={"attempts": 12, "backoff_base": 0.01, "backoff_max": 0.02}), 0


@pytest.mark.parametrize("scenario", [
    scenario_debug_logs_successful_run,
    scenario_response_actions_and_exhausted_5xx,
    scenario_connection_refused,
    scenario_server_echoes_key_in_errors,
    scenario_drops_and_truncations,
], ids=lambda f: f.__name__.replace("scenario_", ""))
def test_the_key_is_in_no_output_and_no_file(leaky_server, tmp_path, secret, scenario):
    config, expected = scenario(leaky_server, tmp_path)
    write_config(tmp_path, config)
    env = cli_env(secret)
    outputs = []
    proc = run_cli(base_args(tmp_path), env, tmp_path)
    outputs += [proc.stdout, proc.stderr]
    warehouse = tmp_path / "warehouse.duckdb"
    if expected == 0:
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert assert_destination_equals_source(warehouse, leaky_server, dataset="reference") == 2 * 250
    else:
        assert proc.returncode != 0
        assert "error" in (proc.stdout + proc.stderr).lower()
        assert DuckDBDataset(warehouse, "reference").tables() == [], "every table failed: nothing of them is written"
    # the other commands, with --debug too
    for args in (["status", "--debug", "--pipelines-dir", str(tmp_path / "pipelines"), "-c", str(tmp_path / "dbsync.yaml")],
                 ["check", "--debug", "-c", str(tmp_path / "dbsync.yaml")],
                 ["discover", "--debug", "--json", "-c", str(tmp_path / "dbsync.yaml")]):
        extra = run_cli(args, env, tmp_path)
        outputs += [extra.stdout, extra.stderr]
    assert any(outputs), "the commands printed something to search"
    assert (tmp_path / "pipelines").exists() or expected != 0
    hits = find_secret(tmp_path, secret, outputs)
    assert hits == [], f"the API key was written to: {hits}"
    # the search can find it: the key is in the environment we passed, proving the needle is right
    assert find_secret(tmp_path, secret, [env["SOURCES__DBSYNC__API_KEY"]]) == ["output #0"]
