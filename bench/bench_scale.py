"""Scale-out measurement: many small databases, 1..N workers, one PostgreSQL destination.

Starts the reference server (process mode: its own GIL) with ``--databases`` small databases and
a private PostgreSQL server (``tests/postgres_server.py``: Debian's binaries, unprivileged,
loopback), then for every rate limit and worker count runs W ``dbsync run --shard k/W``
processes at once (as W machines would), into a fresh dataset, and times

* the first, full sync of every database (wall clock, all workers done), and
* a second, incremental run with no changes (one request per table),

checking that every row arrived. The request count shows where a per-key API rate limit, not
the workers, bounds the run: requests / limit is a floor no number of workers goes under.

Usage::

    .venv/bin/python bench/bench_scale.py [--databases 200] [--tables 2] [--rows 50]
        [--workers 1,2,4] [--rate-limits none,50]

On the 2-core machine this takes about 10 minutes with the defaults.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from postgres_server import PostgresServer  # noqa: E402
from support import reference_config  # noqa: E402

from dbsync.server import FaultSettings, ReferenceServer, ServerSettings  # noqa: E402


@dataclass
class Measure:
    rate_limit: Optional[float]
    workers: int
    full_seconds: float
    incremental_seconds: float
    full_cpu: float
    incremental_cpu: float
    requests_full: int
    requests_incremental: int
    rows: int


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_workers(workers: int, folder: Path, dataset: str, env: dict) -> Tuple[float, float]:
    """Wall seconds until every worker is done, and the CPU seconds the workers used."""
    started, cpu = time.perf_counter(), children_cpu()
    procs = [subprocess.Popen([sys.executable, "-m", "dbsync", "run", "--no-progress", "--shard", f"{k}/{workers}",
                               "--destination", "postgres", "--dataset", dataset,
                               "--pipelines-dir", str(folder / f"worker{k}")],
                              cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k in range(1, workers + 1)]
    for k, proc in enumerate(procs, 1):
        out, err = proc.communicate(timeout=3600)
        if proc.returncode != 0:
            raise SystemExit(f"worker {k}/{workers} failed ({proc.returncode}): {err[-1500:]} {out[-1500:]}")
    return time.perf_counter() - started, children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--databases", type=int, default=200)
    parser.add_argument("--tables", type=int, default=2)
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--rate-limits", default="none,50", help="requests/s per API key; 'none' = unlimited")
    args = parser.parse_args()
    worker_counts = [int(w) for w in args.workers.split(",")]
    limits = [None if r == "none" else float(r) for r in args.rate_limits.split(",")]
    results: List[Measure] = []
    with PostgresServer() as pg:
        for limit in limits:
            faults = FaultSettings(rate_limit_per_second=limit, rate_limit_burst=10) if limit else FaultSettings()
            settings = ServerSettings(seed=1, databases=args.databases, tables_per_database=args.tables,
                                      rows_per_table=args.rows, faults=faults)
            with ReferenceServer(settings, mode="process") as server:
                for workers in worker_counts:
                    folder = Path(tempfile.mkdtemp(prefix="dbsync-scale-"))
                    (folder / "dbsync.yaml").write_text(yaml.safe_dump(reference_config(server.base_url)))
                    env = dict(os.environ, DESTINATION__POSTGRES__CREDENTIALS=pg.dsn,
                               SOURCES__DBSYNC__API_KEY=server.api_key, RUNTIME__DLTHUB_TELEMETRY="false")
                    dataset = f"scale_{'nolimit' if limit is None else int(limit)}_{workers}w"
                    server.clear_requests()
                    full, full_cpu = run_workers(workers, folder, dataset, env)
                    requests_full = len(server.requests())
                    server.clear_requests()
                    incremental, incr_cpu = run_workers(workers, folder, dataset, env)
                    requests_incr = len(server.requests())
                    rows = sum(int(pg.query(f'SELECT COUNT(*) FROM "{dataset}"."{t}"')[0][0]) for (t,) in pg.query(
                        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                        "AND table_name NOT LIKE '\\_dlt%%'", (dataset,)))
                    expected = args.databases * args.tables * args.rows
                    if rows != expected:
                        raise SystemExit(f"{dataset}: {rows} rows in PostgreSQL, expected {expected}")
                    m = Measure(limit, workers, full, incremental, full_cpu, incr_cpu, requests_full, requests_incr, rows)
                    results.append(m)
                    print(f"rate limit {limit or 'none'}, {workers} worker(s): full {full:.1f}s "
                          f"({requests_full} requests, workers' CPU {full_cpu:.0f}s), incremental {incremental:.1f}s "
                          f"({requests_incr} requests, CPU {incr_cpu:.0f}s)",
                          flush=True)
    print()
    print(f"{args.databases} databases x {args.tables} tables x {args.rows} rows, {os.cpu_count()} CPUs")
    print("| API rate limit | workers | full sync | speed-up | incremental | speed-up | workers' CPU (full / incr.) | requests (full / incr.) | floor = requests / limit |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for m in results:
        base = next(r for r in results if r.rate_limit == m.rate_limit and r.workers == worker_counts[0])
        floor = f"{m.requests_full / m.rate_limit:.0f}s / {m.requests_incremental / m.rate_limit:.0f}s" if m.rate_limit else "-"
        print(f"| {m.rate_limit or 'none'} req/s | {m.workers} | {m.full_seconds:.1f}s | "
              f"{base.full_seconds / m.full_seconds:.2f}x | {m.incremental_seconds:.1f}s | "
              f"{base.incremental_seconds / m.incremental_seconds:.2f}x | {m.full_cpu:.0f}s / {m.incremental_cpu:.0f}s | "
              f"{m.requests_full} / {m.requests_incremental} | {floor} |")


if __name__ == "__main__":
    main()
