"""Issue 6.2: the sync process killed with SIGKILL at points spread over extract, normalize and
load (chosen with a seed); a plain rerun ends with the destination equal to the source, no
duplicate keys, and the state committed in the destination never past rows that are not there.

The killer is outside the process, as an operator's `kill -9` or an OOM killer would be. It
watches what the run does and strikes at the chosen point:

- extract: after the n-th records request reached the server;
- normalize: when dlt's extracted package appears in the pipeline folder;
- load: when the normalized package appears, or after its first jobs completed.
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path
from typing import Dict, List, Tuple

import yaml

from dbsync.server import FaultSettings
from reliability_helpers import assert_destination_equals_server, cli_env, run_cli, start_cli
from support import reference_config

PIPELINE = "crashes"
NEW_ROWS = 300  # per table and round: a few pages per table for the killer to hit
DATABASES = ["acme", "globex"]


def kill_points(seed: int, count: int) -> List[Tuple[str, float]]:
    """(phase, where in it) pairs, spread over the three phases."""
    rng = random.Random(seed)
    phases = ["extract", "normalize", "load"]
    points = [(phases[i % 3], rng.random()) for i in range(count)]
    rng.shuffle(points)
    return points


def pipeline_dir(root: Path) -> Path:
    return root / "pipelines" / PIPELINE


def packages(root: Path, stage: str) -> List[Path]:
    """dlt's load packages in a stage folder of the pipeline (extracted / normalized / loaded)."""
    base = pipeline_dir(root)
    folders = {"extracted": base / "normalize" / "extracted", "normalized": base / "load" / "normalized",
               "loaded": base / "load" / "loaded"}
    folder = folders[stage]
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.exists() else []


def completed_jobs(root: Path) -> int:
    return sum(1 for p in packages(root, "normalized") for _ in (p / "completed_jobs").glob("*")) if packages(
        root, "normalized") else 0


def wait_and_kill(proc, server, root: Path, phase: str, where: float, pages: int) -> str:
    """Kill the run at the point; returns what was actually hit (the run may finish first)."""
    deadline = time.monotonic() + 120
    extracted_before = len(packages(root, "extracted"))
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return "finished before the kill point"
        hit = None
        if phase == "extract":
            served = sum(1 for r in server.requests() if r.path == "/v1/resource")
            if served >= max(1, int(where * pages)):
                hit = f"extract after {served} pages"
        elif phase == "normalize":
            if len(packages(root, "extracted")) > extracted_before:
                time.sleep(where * 0.05)
                hit = "normalize (package extracted)"
        else:
            normalized = packages(root, "normalized")
            if normalized and (where < 0.5 or completed_jobs(root) > 0):
                time.sleep(where * 0.05)
                hit = "load (package normalized" + (", jobs completed)" if where >= 0.5 else ")")
        if hit:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return hit
        time.sleep(0.002)
    proc.kill()
    raise AssertionError(f"kill point {phase}/{where:.2f} never reached")


def committed_cursors(workspace) -> Dict[str, str]:
    """The cursors in the newest state dlt committed to the destination.

    Committed means what dlt itself restores from (``get_stored_state``): the state row of a load
    whose ``_dlt_loads`` row says it completed (status 0). The state row of a load killed half way
    is written already (its job can finish before the merge of a data table) but is not
    committed: dlt never restores it, and the rerun loads that package to its end first."""
    from dlt.pipeline.state_sync import decompress_state

    rows = workspace.query(
        "SELECT s.state FROM synced._dlt_pipeline_state AS s JOIN synced._dlt_loads AS l"
        " ON l.load_id = s._dlt_load_id WHERE l.status = 0 ORDER BY l.load_id DESC LIMIT 1")
    if not rows:
        return {}
    state = decompress_state(rows[0][0])
    resources = state.get("sources", {}).get("dbsync", {}).get("resources", {})
    return {name: r.get("cursor") for name, r in resources.items() if r.get("cursor")}


def assert_state_not_past_the_data(workspace, server) -> int:
    """What the committed state promises must be in the destination: every change of the source
    before the committed cursor (live rows with their values, deleted rows gone). Changes at or
    after it may not be there yet (timestamps tie at one second: a row can change again within
    the cursor's second); the rerun asks for them with `updated_since=<cursor>`."""
    from dbsync.source.incremental import compare_cursors
    from reliability_helpers import row_checksum
    from support import field_types

    checked = 0
    for resource, cursor in committed_cursors(workspace).items():
        db, table = resource.split("__")
        types = field_types(server.schema(db), table)
        dest = {r["id"]: row_checksum(r, types, source=False) for r in workspace.rows(resource)}
        for record in server.records(db, table, include_deleted=True):
            if compare_cursors(record["updated_at"], cursor) >= 0:
                continue
            if record.get("deleted"):
                assert record["id"] not in dest, f"{resource}: row {record['id']} deleted by {cursor} is still there"
            else:
                assert dest.get(record["id"]) == row_checksum(record, types, source=True), (
                    f"{resource}: state cursor {cursor} promises row {record['id']} as of {record['updated_at']}")
            checked += 1
    return checked


def mutate(server, rng: random.Random, templates: Dict[str, dict]) -> None:
    """A day of changes: inserts, updates and deletes in every table of both databases."""
    for db in DATABASES:
        for table, template in templates.items():
            live = [r["id"] for r in server.records(db, table)]
            for i in rng.sample(live, 10):
                field = "quantity" if table == "orders" else "email"
                value = rng.randint(1, 10_000) if table == "orders" else f"changed{rng.randint(1, 10**6)}@example.com"
                server.update(db, table, i, {field: value})
            for i in rng.sample(live, 3):
                server.delete(db, table, i)
            server.insert(db, table, [dict(template) for _ in range(NEW_ROWS)])
    # One more row per table in the next second of the server's clock: the cursor the run saves
    # is then past every change above, so the check after a kill covers all of them (changes in
    # the cursor's own second are legitimately not promised yet).
    time.sleep(1.02 - time.time() % 1)
    for db in DATABASES:
        for table, template in templates.items():
            server.insert(db, table, [dict(template)])


def record_template(server, table: str) -> dict:
    """A new record shaped like the table's own (without id and cursor, which the server sets)."""
    record = server.records("acme", table)[0]
    return {k: v for k, v in record.items() if k not in ("id", "updated_at")}


def test_sigkill_anywhere_then_a_plain_rerun_repairs_everything(make_server, workspace, secret_watch, secret, soak):
    rows = 3000 if soak else 1200
    server = make_server(seed=9, databases=2, tables_per_database=2, rows_per_table=rows,
                         faults=FaultSettings(slow_rate=1.0, slow_seconds=0.005, fault_paths=("/v1/resource",)))
    config = reference_config(server.base_url, performance={"concurrency": 4, "batch_rows": 400})
    config["resources"][0]["endpoint"]["paginator"]["limit"] = 100
    config["pipeline"] = {"name": PIPELINE, "dataset": "synced"}
    (workspace.root / "dbsync.yaml").write_text(yaml.safe_dump(config))
    env = cli_env(secret)
    args = ["run", "--no-progress", "--pipelines-dir", str(workspace.root / "pipelines"),
            "--destination", str(workspace.duckdb), "--dataset", "synced"]
    templates = {table: record_template(server, table) for table in ("orders", "customers")}
    rng = random.Random(1234)
    points = kill_points(seed=4321, count=18 if soak else 12)
    hits = []
    first = run_cli(args, env, workspace.root)
    secret_watch.add(first.stdout, first.stderr)
    assert first.returncode == 0, first.stderr[-2000:]
    for phase, where in points:
        mutate(server, rng, templates)
        server.clear_requests()
        pages = len(DATABASES) * len(templates) * (-(-(NEW_ROWS + 14) // 99))
        proc = start_cli(args, env, workspace.root)
        hit = wait_and_kill(proc, server, workspace.root, phase, where, pages)
        out, err = proc.communicate()
        secret_watch.add(out, err)
        hits.append(hit)
        if workspace.duckdb.exists():
            assert_state_not_past_the_data(workspace, server)
        rerun = run_cli(args, env, workspace.root)
        secret_watch.add(rerun.stdout, rerun.stderr)
        assert rerun.returncode == 0, f"rerun after {hit}: {rerun.stderr[-2000:]}"
        assert_destination_equals_server(workspace, server, DATABASES)
    killed = [h for h in hits if not h.startswith("finished")]
    phases = {h.split()[0] for h in killed}
    print(f"\nkill points: {len(killed)} of {len(hits)} hit: {hits}")
    assert len(killed) >= 10, hits
    assert phases == {"extract", "normalize", "load"}, hits


