"""Issue 6.6: a second `dbsync run` on the same pipeline while one is running refuses with a
clear message, and nothing is corrupted: the first run completes and its data is right."""

from __future__ import annotations

import time

import yaml

from dbsync import errors
from dbsync.server import FaultSettings
from reliability_helpers import assert_destination_equals_server, cli_env, run_cli, start_cli
from support import reference_config


def test_a_second_run_refuses_while_the_first_runs(make_server, workspace, secret, secret_watch):
    server = make_server(seed=51, databases=2, tables_per_database=1, rows_per_table=2000,
                         faults=FaultSettings(slow_rate=1.0, slow_seconds=0.05, fault_paths=("/v1/resource",)))
    config = reference_config(server.base_url, performance={"concurrency": 2})
    config["resources"][0]["endpoint"]["paginator"]["limit"] = 100
    config["pipeline"] = {"name": "busy", "dataset": "synced"}
    (workspace.root / "dbsync.yaml").write_text(yaml.safe_dump(config))
    args = ["run", "--no-progress", "--pipelines-dir", str(workspace.root / "pipelines"),
            "--destination", str(workspace.duckdb), "--dataset", "synced"]
    env = cli_env(secret)
    first = start_cli(args, env, workspace.root)
    deadline = time.monotonic() + 60
    while not any(r.path == "/v1/resource" for r in server.requests()):
        assert first.poll() is None and time.monotonic() < deadline, "the first run should be under way"
        time.sleep(0.05)
    second = run_cli(args, env, workspace.root, timeout=60)
    secret_watch.add(second.stdout, second.stderr)
    assert second.returncode == errors.PipelineBusyError.exit_code, second.stderr
    assert "already running" in second.stderr and "pid" in second.stderr
    assert first.poll() is None, "the refusal must not have waited for the first run"
    out, err = first.communicate(timeout=120)
    secret_watch.add(out, err)
    assert first.returncode == 0, err[-2000:]
    assert_destination_equals_server(workspace, server, ["acme", "globex"])
    again = run_cli(args, env, workspace.root)  # and the pipeline is free again afterwards
    secret_watch.add(again.stdout, again.stderr)
    assert again.returncode == 0
