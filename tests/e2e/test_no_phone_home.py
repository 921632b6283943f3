"""dbsync talks to the configured API and destination, nothing else (the README: no telemetry).

Every command runs as users run it, in a subprocess whose interpreter records, from its first
line (a ``sitecustomize`` audit hook), every DNS lookup and every connection it makes; the only
network target allowed is the reference server's loopback port. dlt's telemetry is on by default
and dlt reads that setting the first time anything asks it for a config value, so a default
applied late shows here as lookups of dlt's telemetry host."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import List, Optional, Tuple

import duckdb
import pytest
import yaml

import dbsync
from dbsync.dlt_defaults import DLT_DEFAULTS
from support import assert_same_rows, field_types, reference_config

AUDIT_HOOK = textwrap.dedent('''
    import os, sys
    _LOG = os.environ.get("DBSYNC_TEST_NET_LOG")
    if _LOG:
        _EVENTS = {"socket.getaddrinfo": 0, "socket.gethostbyname": 0, "socket.gethostbyname_ex": 0,
                   "socket.gethostbyaddr": 0, "socket.connect": 1, "socket.sendto": 1,
                   "socket.sendmsg": 1}

        def _net_audit(event, args, _open=open, _events=_EVENTS):
            index = _events.get(event)
            if index is None:
                return
            target = args[index] if event != "socket.getaddrinfo" else (args[0], args[1])
            with _open(_LOG, "a", encoding="utf-8") as log:
                log.write(f"{event}\\t{target!r}\\n")

        sys.addaudithook(_net_audit)
''')

# the variables dbsync sets itself: a test must see what a user without them gets
DBSYNC_DEFAULT_VARS = tuple(name for name, *_ in DLT_DEFAULTS)


@pytest.fixture
def audited(tmp_path):
    """Run Python in a subprocess with the network audit hook; returns (run, targets)."""
    hook_dir = tmp_path / "audit_hook"
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(AUDIT_HOOK)
    log = tmp_path / "network.log"
    src = str(Path(dbsync.__file__).resolve().parents[1])

    def run(args: List[str], cwd: Path, env: Optional[dict] = None, timeout: float = 240) -> subprocess.CompletedProcess:
        full_env = {k: v for k, v in os.environ.items() if k not in DBSYNC_DEFAULT_VARS}
        path = [str(hook_dir), src] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        full_env.update(PYTHONPATH=os.pathsep.join(path), DBSYNC_TEST_NET_LOG=str(log),
                        DLT_DATA_DIR=str(tmp_path / "dlt_data"))  # pipeline state stays in the test
        full_env.update(env or {})
        return subprocess.run([sys.executable, *args], cwd=cwd, env=full_env, capture_output=True,
                              text=True, timeout=timeout)

    def targets() -> List[Tuple[str, str]]:
        if not log.exists():
            return []
        return [tuple(line.split("\t", 1)) for line in log.read_text().splitlines()]

    return run, targets


def _foreign(targets: List[Tuple[str, str]], ports: List[int]) -> List[Tuple[str, str]]:
    """Targets other than the API's loopback ports and local (unix) sockets."""
    allowed = {repr(("127.0.0.1", port)) for port in ports}
    return [(event, target) for event, target in targets
            if target not in allowed and not target.startswith(("'/", "b'/", "''", "b''"))]


@pytest.fixture
def project(tmp_path, reference_server):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "dbsync.yaml").write_text(yaml.safe_dump(reference_config(reference_server.base_url)))
    return folder


def _key_env(server) -> dict:
    return {"SOURCES__DBSYNC__API_KEY": server.api_key}


def test_cli_commands_talk_only_to_the_api(audited, project, reference_server):
    run, targets = audited
    env = _key_env(reference_server)
    for args in (["run", "--no-progress", "-d", "acme", "-t", "orders,customers"],
                 ["check"], ["discover", "-d", "acme"], ["status"]):
        proc = run(["-m", "dbsync", *args], cwd=project, env=env)
        assert proc.returncode == 0, (args, proc.stderr)
    seen = targets()
    assert any(target == repr(("127.0.0.1", reference_server.port)) for _, target in seen), \
        "the audit hook recorded nothing: it is not installed"
    assert _foreign(seen, [reference_server.port]) == []
    with duckdb.connect(str(project / "dbsync_reference-warehouse.duckdb"), read_only=True) as con:
        for table in ("orders", "customers"):
            rel = con.sql(f"SELECT * FROM reference.acme__{table}")
            rows = [dict(zip(rel.columns, row)) for row in rel.fetchall()]
            assert_same_rows(rows, reference_server.records("acme", table),
                             field_types(reference_server.schema("acme"), table))


def test_demo_talks_only_to_its_own_server(audited, tmp_path):
    run, targets = audited
    proc = run(["-m", "dbsync", "demo", "--rows", "30", "--databases", "2", "--tables", "1",
                "--dir", str(tmp_path / "demo"), "--no-progress"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    port = int(re.search(r"http://127\.0\.0\.1:(\d+)", proc.stdout).group(1))
    assert _foreign(targets(), [port]) == []


LIBRARY_SCRIPT = textwrap.dedent('''
    import sys
    import dlt, yaml
    import dbsync

    config = yaml.safe_load(open("dbsync.yaml"))
    # a caller's own pipeline, made before dbsync is asked for anything: dlt reads its settings here
    pipeline = dlt.pipeline("own", destination=dlt.destinations.duckdb("mine.duckdb"), dataset_name="own",
                            pipelines_dir="pipelines")
    pipeline.run(dbsync.dbsync_source(config, databases=["acme"], tables=["orders"]))
    result = dbsync.run_sync(config, destination="lib.duckdb", pipelines_dir="pipelines",
                             databases=["globex"], tables=["orders"])
    sys.exit(result.exit_code())
''')


def test_library_use_talks_only_to_the_api(audited, project, reference_server):
    run, targets = audited
    (project / "lib.py").write_text(LIBRARY_SCRIPT)
    proc = run(["lib.py"], cwd=project, env=_key_env(reference_server))
    assert proc.returncode == 0, proc.stderr
    assert _foreign(targets(), [reference_server.port]) == []
    types = field_types(reference_server.schema("acme"), "orders")
    for path, dataset, database in (("mine.duckdb", "own", "acme"), ("lib.duckdb", "reference", "globex")):
        with duckdb.connect(str(project / path), read_only=True) as con:
            rel = con.sql(f"SELECT * FROM {dataset}.{database}__orders")
            rows = [dict(zip(rel.columns, row)) for row in rel.fetchall()]
        assert_same_rows(rows, reference_server.records(database, "orders"), types)


@pytest.mark.parametrize("where", ["environment", "config.toml"])
def test_a_users_explicit_telemetry_setting_wins(audited, project, reference_server, where):
    """Telemetry stays dlt's to switch on: dbsync's default applies only where the user set nothing
    (what the hook then sees is dlt's telemetry host being looked up)."""
    run, targets = audited
    env = _key_env(reference_server)
    if where == "environment":
        env["RUNTIME__DLTHUB_TELEMETRY"] = "true"
    else:
        (project / ".dlt").mkdir()
        (project / ".dlt" / "config.toml").write_text("[runtime]\ndlthub_telemetry = true\n")
    proc = run(["-m", "dbsync", "run", "--no-progress", "-d", "acme", "-t", "orders"], cwd=project, env=env)
    assert proc.returncode == 0, proc.stderr
    assert _foreign(targets(), [reference_server.port]) != []
