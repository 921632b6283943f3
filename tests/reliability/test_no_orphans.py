"""Issue 12.8: a ``dbsync run`` killed with SIGKILL leaves no process behind.

A big table has its pages converted in worker processes; with ``NORMALIZE__WORKERS`` above 1,
dlt also forks a normalize pool, whose processes hold copies of the workers' pipes, so the
workers never saw end of file and, like the pool, waited forever. The test kills the run while
those processes exist, waits (bounded) for every one of them to be gone, then checks that a
plain rerun repairs the destination (equal to the source by key and values)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest
import yaml

from dbsync.source.offset_reader import POOL_MIN_ROWS
from support import assert_same_rows, field_types, reference_config

ROWS = 2 * POOL_MIN_ROWS  # per table: big enough for the worker processes
WAIT_SECONDS = 30  # an upper bound for the processes to go, not a timing assertion


def _stat(pid: int) -> Optional[Tuple[int, str, int]]:
    """(parent pid, state, start time) of a live process, None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), fields[0], int(fields[19])


def _children(pid: int) -> Dict[int, Tuple[int, str]]:
    """pid -> (start time, command line) of the processes whose parent is ``pid``."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat and stat[0] == pid:
                try:
                    cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    continue
                found[int(entry)] = (stat[2], cmd)
    return found


def _alive(processes: Dict[int, Tuple[int, str]]) -> List[int]:
    """The processes still running (same pid and start time, not a zombie)."""
    alive = []
    for pid, (started, _) in processes.items():
        stat = _stat(pid)
        if stat and stat[2] == started and stat[1] != "Z":
            alive.append(pid)
    return alive


def _kill_point_reached(children: Dict[int, Tuple[int, str]], forked_pool: bool) -> bool:
    workers = [c for _, c in children.values() if "dbsync.source.page_worker" in c]
    forked = [c for _, c in children.values() if "page_worker" not in c and "dbsync run" in c]
    return bool(workers) and (bool(forked) or not forked_pool)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("forked_pool", [False, True], ids=["page-workers", "with-dlt-normalize-pool"])
def test_sigkill_of_a_run_leaves_no_process_behind(make_server, workspace, forked_pool):
    server = make_server(databases=1, tables_per_database=2, rows_per_table=ROWS)
    config = workspace.root / "dbsync.yaml"
    config.write_text(yaml.safe_dump(reference_config(server.base_url)))
    args = [sys.executable, "-m", "dbsync", "run", "--no-progress", "-c", str(config),
            "--pipelines-dir", str(workspace.pipelines), "--destination", str(workspace.duckdb),
            "--dataset", "synced"]
    env = dict(os.environ)
    if forked_pool:
        env["NORMALIZE__WORKERS"] = "2"
    proc = subprocess.Popen(args, cwd=workspace.root, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    seen: Dict[int, Tuple[int, str]] = {}
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            children = _children(proc.pid)
            seen.update(children)
            if _kill_point_reached(children, forked_pool):
                break
            time.sleep(0.002)
        assert proc.poll() is None, "the run finished before its helper processes could be seen"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        workers = {p: v for p, v in seen.items() if "page_worker" in v[1]}
        assert workers, "no page-converting worker process was started"
        deadline = time.monotonic() + WAIT_SECONDS
        while _alive(seen) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = {pid: seen[pid][1][:80] for pid in _alive(seen)}
        assert left == {}, f"processes left running after the run was killed: {left}"
    finally:
        for pid in _alive(seen):  # never leave them to the next test
            os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()

    rerun = subprocess.run(args, cwd=workspace.root, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    for table in server.schema("acme")["tables"]:
        name = table["name"]
        assert_same_rows(workspace.rows(f"acme__{name}"), server.records("acme", name),
                         field_types(server.schema("acme"), name))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkill_of_the_demo_leaves_no_server_behind(workspace):
    """The demo's reference server runs in a child process: killed with the demo, it goes too."""
    args = [sys.executable, "-m", "dbsync", "demo", "--rows", str(ROWS), "--databases", "2", "--tables", "1",
            "--dir", str(workspace.root / "demo"), "--no-progress"]
    proc = subprocess.Popen(args, cwd=workspace.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen: Dict[int, Tuple[int, str]] = {}
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            children = _children(proc.pid)
            seen.update(children)
            if any("dbsync.server" in c for _, c in children.values()) and _kill_point_reached(children, False):
                break
            time.sleep(0.002)
        assert proc.poll() is None, "the demo finished before its server and workers could be seen"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + WAIT_SECONDS
        while _alive(seen) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = {pid: seen[pid][1][:80] for pid in _alive(seen)}
        assert left == {}, f"processes left running after the demo was killed: {left}"
    finally:
        for pid in _alive(seen):
            os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
