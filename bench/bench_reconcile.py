"""What the proof of sync costs: full and no-change runs with it and without it, in turns.

Every run compares each table's source count with the destination's (dbsync.reconcile). A full
run reads the count off its own first page and asks the destination one COUNT query per batch of
tables; a no-change run asks the source once more per table (the records request unfiltered, one
row). This script measures both against the same runs with ``verify: false``, on one reference
server (its own process), alternating the two so that a slow minute hits both alike:

- **full**: ``--rows`` rows (default 1,000,000) over ``--databases`` databases (default 8),
  ``--repeat`` runs each (default 5): median wall with the proof / without (target <= 1.05);
- **no change**: the same state run again: requests per table with and without the proof
  (target: at most one more per table), and the median wall ratio.

Usage::

    .venv/bin/python bench/bench_reconcile.py                 # 1,000,000 rows, 8 databases, 5 runs each
    .venv/bin/python bench/bench_reconcile.py --rows 200000 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_sync import VARIANTS, Run, _timed_rerun, measure, warm  # noqa: E402

from dbsync.server import ServerSettings  # noqa: E402
from dbsync.server.handle import ReferenceServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--databases", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args()
    settings = ServerSettings(seed=42, databases=args.databases, tables_per_database=1,
                              rows_per_table=args.rows // args.databases)
    with tempfile.TemporaryDirectory(prefix="dbsync-bench-reconcile-") as tmp, \
            ReferenceServer(settings, mode="process") as server:
        tables = [f"{d['id']}.orders" for d in server.databases()]
        warm(server, tables, [args.page_size])
        flags = {"proof": [], "no proof": ["--no-proof"]}
        full: Dict[str, List[Run]] = {name: [] for name in flags}
        for _ in range(args.repeat):
            for name, extra in flags.items():  # in turns: a noisy minute hits both
                run = measure("dbsync", server.base_url, server.api_key, server.admin_key,
                              Path(tmp) / name.replace(" ", "_"), ["--page-size", str(args.page_size), *extra])
                full[name].append(run)
        quiet: Dict[str, List[Run]] = {name: [] for name in flags}
        for _ in range(args.repeat):
            for name, extra in flags.items():  # the same state again: nothing changed
                _, wall, seen = _timed_rerun(server, [sys.executable, str(VARIANTS), "dbsync", "--base-url",
                                                      server.base_url, "--workdir", str(Path(tmp) / name.replace(" ", "_")),
                                                      "--page-size", str(args.page_size), *extra])
                quiet[name].append(Run(rows=0, wall=wall, inner=wall, peak_mb=0.0, requests=seen))
    n = len(tables)

    def median(runs: List[Run], attr: str = "wall") -> float:
        return statistics.median(getattr(r, attr) for r in runs)

    print(f"## the proof of sync: {args.rows:,} rows over {n} tables, medians of {args.repeat} runs each, in turns")
    for name in flags:
        print(f"full run {name:9s}: {median(full[name]):6.2f}s wall, {median(full[name], 'requests'):.0f} requests")
    ratio = median(full["proof"]) / median(full["no proof"])
    print(f"full run, proof / no proof: x{ratio:.3f}  (target <= 1.05: {'PASS' if ratio <= 1.05 else 'FAIL'})")
    for name in flags:
        print(f"no-change run {name:9s}: {median(quiet[name]):6.2f}s wall, "
              f"{median(quiet[name], 'requests'):.0f} requests ({median(quiet[name], 'requests') / n:.1f} per table)")
    extra = (median(quiet["proof"], "requests") - median(quiet["no proof"], "requests")) / n
    print(f"no-change run, proof / no proof: x{median(quiet['proof']) / median(quiet['no proof']):.3f} wall, "
          f"{extra:+.1f} requests per table (target <= 1: {'PASS' if extra <= 1 else 'FAIL'})")


if __name__ == "__main__":
    main()
