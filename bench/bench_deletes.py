"""Cost of key-scan deletes (issue 14): a key scan against a full sync, and 10,000,000 keys.

Every contender is ``dbsync run --json`` as a user runs it, in its own process, measured from a
fresh measuring process (peak RSS summed over the process and its children, as in
bench/bench_sync.py). Requests and response bytes are the server's own count.

**Part ``cost``**: the reference server (its own process, ``tombstones=False``, one database
with one table of ``--rows`` rows, default 200,000). Contenders, round-robin, ``--repeat``
rounds (default 3), medians:

- ``full``: a first run into an empty destination, the demo config (``deletes`` by tombstones);
- ``full+keys``: the same first run with ``deletes: {detect: keys, keys: {params: {fields: id},
  limit: 1000}}`` (a first run's full read is a scan by itself: its keys are compared);
- ``no-change``: a second run, nothing changed, no scan (a copy of a prepared destination and
  state, so every round starts alike);
- ``scan``: a second run, nothing changed, a key scan due (``detect: keys``, every run).

It prints requests, response bytes, seconds and peak MB per contender and the ratios
scan/full, scan/no-change.

**Part ``keys``**: ``--keys`` keys (default 10,000,000) from bench/keyserver.py (ids computed on
the fly; every 1000th id is gone, ``id % 1000 == 7``). A real ``dbsync run`` over a few rows
(``--seed-rows``) creates the table, its dlt schema and state; then the destination's table is
filled up to ``--keys`` - 1 rows by SQL (``INSERT ... SELECT ... FROM range(...)``, the other
columns copied from row 1, so every seeded row counts as loaded by an earlier run); then the key
server serves all ``--keys`` ids minus the missing ones and ``dbsync run`` with ``detect: keys``
scans them (the incremental read brings one new row, the last id). Measured: seconds, requests,
bytes and peak RSS of that run, against the peak RSS of a normal ``--rows`` full sync of the
reference server measured in the same bench run (part ``cost``'s median ``full``, or one more
run when only part ``keys`` runs). Afterwards SQL checks that exactly the missing ids were
deleted and nothing else.

Usage::

    .venv/bin/python bench/bench_deletes.py                      # both parts: 200,000 rows, 10M keys
    .venv/bin/python bench/bench_deletes.py --part cost --repeat 5
    .venv/bin/python bench/bench_deletes.py --part keys --keys 1000000   # a quick run
    .venv/bin/python bench/bench_deletes.py --keys-limit 10000           # larger key pages

``--duckdb-memory-limit 512MB`` sets ``performance.duckdb_memory_limit`` of part keys' runs
(the yardstick, a normal run, keeps dbsync's default). ``--timeout`` bounds every dbsync run (seconds, default 3600). Until dbsync supports
``deletes.detect`` (``dbsync.source.key_scan``), only the contenders without a scan run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_sync import TreeRss, _peak_rss_mb  # noqa: E402
from keyserver import DATABASE, LISTENING, TABLE, KeyTable  # noqa: E402

DATASET = "bench"
PIPELINE = "bench_deletes"
SCAN_KEYS = {"params": {"fields": "id"}, "limit": 1000}


@dataclass
class Run:
    name: str
    wall: float
    peak_mb: float
    requests: int
    bytes: int
    result: Dict[str, Any] = field(default_factory=dict)  # dbsync run --json

    @property
    def deleted(self) -> Any:
        return self.result.get("deleted")


def median(runs: List[Run], attr: str) -> float:
    return statistics.median(getattr(r, attr) for r in runs)


# ---------------------------------------------------------------------------------------- running


def key_scans_supported() -> bool:
    """Whether this dbsync has ``deletes.detect`` (issue 14's key scan)."""
    try:
        import dbsync.source.key_scan  # noqa: F401
    except ImportError:
        return False
    return True


def write_config(path: Path, base_url: str, scan_keys: Optional[Dict[str, Any]],
                 duckdb_memory_limit: Optional[str] = None) -> Path:
    """The demo config pointed at ``base_url``; with ``scan_keys``, deletes by key scan; with
    ``duckdb_memory_limit``, that ``performance.duckdb_memory_limit`` instead of dbsync's default."""
    import yaml

    from dbsync.demo import demo_config_path

    config = yaml.safe_load(demo_config_path().read_text())
    config["client"]["base_url"] = base_url
    config["resources"][0]["endpoint"]["paginator"]["limit"] = 1000
    if scan_keys is not None:
        config["deletes"] = {**config["deletes"], "detect": "keys", "keys": scan_keys}
    if duckdb_memory_limit is not None:
        config["performance"] = {**(config.get("performance") or {}), "duckdb_memory_limit": duckdb_memory_limit}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def dbsync_command(config: Path, workdir: Path) -> List[str]:
    return [sys.executable, "-m", "dbsync", "run", "-c", str(config), "--json",
            "--destination", str(workdir / "dbsync.duckdb"), "--dataset", DATASET,
            "--pipeline-name", PIPELINE, "--pipelines-dir", str(workdir / "pipelines")]


def measure(command: List[str], timeout: float) -> Tuple[float, float, Dict[str, Any]]:
    """Run ``command`` from a fresh Python process (so RUSAGE_CHILDREN covers it alone):
    (wall seconds, peak MB of it and its children, its ``--json`` result)."""
    code = ("import json, sys; sys.path.insert(0, %r)\n"
            "from bench_deletes import _measure_in_child\n"
            "print(json.dumps(_measure_in_child(*json.loads(sys.argv[1]))))\n" % str(HERE))
    out = subprocess.run([sys.executable, "-c", code, json.dumps([command, timeout])], capture_output=True,
                         text=True, env=_env())
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    if doc["returncode"] != 0:
        raise SystemExit(f"{' '.join(command)} failed ({doc['returncode']}):\n{doc['stdout'][-2000:]}\n"
                         f"{doc['stderr'][-3000:]}")
    return doc["wall"], doc["peak_mb"], json.loads(doc["stdout"].strip().splitlines()[-1])


def _measure_in_child(command: List[str], timeout: float) -> Dict[str, Any]:
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = TreeRss(proc.pid)
    sampler.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err += f"\n(bench: stopped after the --timeout of {timeout:g} s)"
    wall = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    return {"wall": wall, "peak_mb": max(_peak_rss_mb(), sampler.peak_mb), "returncode": proc.returncode,
            "stdout": out, "stderr": err}


def _env() -> Dict[str, str]:
    from dbsync.server.settings import ServerSettings

    return dict(os.environ, SOURCES__DBSYNC__API_KEY=ServerSettings().full_access_key() or "",
                RUNTIME__DLTHUB_TELEMETRY="false")


def fresh_copy(source: Path, target: Path) -> Path:
    """A destination and pipeline state as ``source`` left them, in ``target``."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    return target


# ---------------------------------------------------------------------------------------- part cost


def part_cost(args: argparse.Namespace, tmp: Path, scans: bool) -> Dict[str, List[Run]]:
    from dbsync.server import ReferenceServer, ServerSettings

    settings = ServerSettings(seed=42, databases=1, tables_per_database=1, default_table_rows=args.rows,
                              tombstones=False)
    with ReferenceServer(settings, mode="process") as server:
        plain = write_config(tmp / "plain.yaml", server.base_url, None)
        keyed = write_config(tmp / "keys.yaml", server.base_url, {**SCAN_KEYS, "limit": args.keys_limit})

        def run(name: str, config: Path, workdir: Path) -> Run:
            server.clear_requests()
            wall, peak, result = measure(dbsync_command(config, workdir), args.timeout)
            log = server.requests()
            return Run(name, wall, peak, len(log), sum(e.bytes for e in log), result)

        # prepared states for the second runs; these first runs also render the server's pages
        prepared = {"no-change": (plain, tmp / "prep-plain")}
        if scans:
            prepared["scan"] = (keyed, tmp / "prep-keys")
        for config, workdir in prepared.values():
            run("warm", config, workdir)
        contenders: Dict[str, Tuple[Path, Optional[Path]]] = {"full": (plain, None)}
        if scans:
            contenders["full+keys"] = (keyed, None)
        contenders.update({name: (config, source) for name, (config, source) in prepared.items()})
        runs: Dict[str, List[Run]] = {name: [] for name in contenders}
        for r in range(args.repeat):  # round-robin: each median covers the same stretch of time
            for name, (config, source) in contenders.items():
                workdir = tmp / f"{name}-{r}"
                if source is None:
                    shutil.rmtree(workdir, ignore_errors=True)
                else:
                    fresh_copy(source, workdir)
                runs[name].append(run(name, config, workdir))
                shutil.rmtree(workdir, ignore_errors=True)
    report_cost(args, runs, scans)
    return runs


def report_cost(args: argparse.Namespace, runs: Dict[str, List[Run]], scans: bool) -> None:
    print(f"\n## key scan against a full sync: reference server, one table of {args.rows:,} rows, "
          f"tombstones off, key pages of {args.keys_limit} (fields=id); medians of {args.repeat}")
    print(f"{'contender':<10} {'requests':>9} {'MB sent':>9} {'seconds':>8} {'peak MB':>8} {'rows':>8} "
          f"{'deleted':>8}")
    for name, rs in runs.items():
        print(f"{name:<10} {int(median(rs, 'requests')):>9,} {median(rs, 'bytes') / 1e6:>9.2f} "
              f"{median(rs, 'wall'):>8.2f} {median(rs, 'peak_mb'):>8.0f} {rs[-1].result.get('rows', 0):>8,} "
              f"{str(rs[-1].deleted):>8}")
    if not scans:
        print("(no key scan contenders: this dbsync has no deletes.detect yet)")
        return
    for a, b in (("scan", "full"), ("scan", "no-change"), ("full+keys", "full")):
        ra, rb = runs[a], runs[b]
        print(f"{a}/{b}: requests x{median(ra, 'requests') / median(rb, 'requests'):.3f}, "
              f"bytes x{median(ra, 'bytes') / median(rb, 'bytes'):.3f}, "
              f"seconds x{median(ra, 'wall') / median(rb, 'wall'):.3f}, "
              f"peak memory x{median(ra, 'peak_mb') / median(rb, 'peak_mb'):.2f}")


# ---------------------------------------------------------------------------------------- part keys


class KeyServer:
    """bench/keyserver.py in its own process on an ephemeral 127.0.0.1 port, stopped by ``stop``."""

    def __init__(self, rows: int, missing_every: int = 0, missing_at: int = 7):
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "keyserver.py"), "--rows", str(rows), "--missing-every", str(missing_every),
             "--missing-at", str(missing_at)], stdout=subprocess.PIPE, text=True, env=_env())
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith(LISTENING):
            self.stop()
            raise SystemExit(f"the key server did not start: {line!r}")
        self.base_url = line[len(LISTENING):].strip()

    def stats(self, clear: bool = False) -> Dict[str, int]:
        import requests

        response = requests.request("DELETE" if clear else "GET", self.base_url + "/admin/stats", timeout=10)
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "KeyServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def destination_table() -> str:
    return f"{DATABASE}__{TABLE}"


def seed_destination(path: Path, first: int, last: int) -> float:
    """Rows ``first``..``last`` into the synced table by SQL, as the key server serves them
    (``name``, ``updated_at``); every other column copied from row 1 (load id, synced-at: an
    earlier run's). Returns the seconds it took."""
    import duckdb

    started = time.perf_counter()
    table = f'"{DATASET}"."{destination_table()}"'
    con = duckdb.connect(str(path))
    try:
        columns = [c for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
            "ORDER BY ordinal_position", [DATASET, destination_table()]).fetchall()]
        own = {"id": "r.i", "name": "'item ' || r.i::VARCHAR", "updated_at": "one.updated_at",
               "_dlt_id": "'seed' || r.i::VARCHAR"}
        select = ", ".join(own.get(c, f'one."{c}"') for c in columns)
        con.execute(f"INSERT INTO {table} SELECT {select} FROM range({first}, {last + 1}) r(i) "
                    f"CROSS JOIN (SELECT * FROM {table} WHERE id = 1) one")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return time.perf_counter() - started


def verify_destination(path: Path, table: KeyTable) -> Tuple[bool, str]:
    """Exactly the missing ids gone: the ids are distinct, within 1..rows, none of them a missing
    one, and as many as the live ones (so every live id is there)."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        count, distinct, gone, low, high = con.execute(
            f'SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE id % {table.every} = {table.at}), '
            f'min(id), max(id) FROM "{DATASET}"."{destination_table()}"').fetchone()
        names = {n for (n,) in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                                           [DATASET]).fetchall()}
        leftover = None
        keys_table = destination_table() + "__keys"
        if keys_table in names:
            leftover = con.execute(f'SELECT count(*) FROM "{DATASET}"."{keys_table}"').fetchone()[0]
        wrong = con.execute(f"SELECT count(*) FROM \"{DATASET}\".\"{destination_table()}\" "
                            f"WHERE name <> 'item ' || id::VARCHAR").fetchone()[0]
    finally:
        con.close()
    ok = (count == distinct == table.live and gone == 0 and low == 1 and high == table.rows and wrong == 0)
    detail = (f"{count:,} rows ({distinct:,} distinct ids, {low}..{high}), {gone} of the missing ids left, "
              f"{wrong} rows with other values, expected {table.live:,} = {table.rows:,} - "
              f"{table.missing_count():,} missing; {keys_table}: "
              f"{'absent' if leftover is None else f'{leftover:,} rows left'}")
    return ok, detail


def part_keys(args: argparse.Namespace, tmp: Path, full_peak_mb: Optional[float]) -> None:
    if full_peak_mb is None:
        full_peak_mb = one_full_sync_peak(args, tmp)
    workdir = tmp / "keys"
    shutil.rmtree(workdir, ignore_errors=True)
    seed_rows = args.seed_rows
    with KeyServer(seed_rows) as server:  # every id there: the first run loads them all
        config = write_config(tmp / "keyserver.yaml", server.base_url, {**SCAN_KEYS, "limit": args.keys_limit},
                              args.duckdb_memory_limit)
        seed_wall, _, first = measure(dbsync_command(config, workdir), args.timeout)
    assert first["rows"] == seed_rows, first
    seed_sql = seed_destination(workdir / "dbsync.duckdb", seed_rows + 1, args.keys - 1)
    table = KeyTable(args.keys, 1000, 7)
    with KeyServer(args.keys, 1000, 7) as server:
        config = write_config(tmp / "keyserver.yaml", server.base_url, {**SCAN_KEYS, "limit": args.keys_limit},
                              args.duckdb_memory_limit)
        server.stats(clear=True)
        wall, peak, result = measure(dbsync_command(config, workdir), args.timeout)
        stats = server.stats()
    ok, detail = verify_destination(workdir / "dbsync.duckdb", table)
    print(f"\n## {args.keys:,} keys: key scan of the key server (key pages of {args.keys_limit}, fields=id), "
          f"destination seeded with {args.keys - 1:,} rows, duckdb_memory_limit "
          f"{args.duckdb_memory_limit or 'default'}")
    print(f"seed: dbsync run of {seed_rows:,} rows {seed_wall:.1f}s, SQL insert of {args.keys - 1 - seed_rows:,} rows "
          f"{seed_sql:.1f}s")
    print(f"scan run: {wall:.1f}s, {stats['requests']:,} requests, {stats['bytes'] / 1e6:.1f} MB sent, "
          f"peak {peak:.0f} MB; dbsync: {result.get('rows')} rows, {result.get('deleted')} deleted "
          f"(expected {table.missing_count():,}), status {[t.get('status') for t in result.get('tables', [])]}")
    print(f"peak memory scan of {args.keys:,} keys / full sync of {args.rows:,} rows: "
          f"x{peak / full_peak_mb:.2f} ({peak:.0f} MB / {full_peak_mb:.0f} MB)")
    print(f"{'PASS' if ok else 'FAIL'} exactly the missing ids deleted: {detail}")
    if not ok:
        raise SystemExit(1)


def one_full_sync_peak(args: argparse.Namespace, tmp: Path) -> float:
    """The peak MB of a normal full sync of ``--rows`` rows (the yardstick of part keys)."""
    from dbsync.server import ReferenceServer, ServerSettings

    settings = ServerSettings(seed=42, databases=1, tables_per_database=1, default_table_rows=args.rows,
                              tombstones=False)
    with ReferenceServer(settings, mode="process") as server:
        config = write_config(tmp / "plain.yaml", server.base_url, None)
        peaks = [measure(dbsync_command(config, tmp / f"yardstick-{r}"), args.timeout)[1] for r in range(args.repeat)]
    print(f"\nfull sync of {args.rows:,} rows (the yardstick): peak {statistics.median(peaks):.0f} MB, "
          f"median of {len(peaks)}")
    return statistics.median(peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["cost", "keys", "all"], default="all")
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the reference server's table")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keys", type=int, default=10_000_000, help="keys of part keys")
    parser.add_argument("--seed-rows", type=int, default=1000, help="rows of part keys' first real run")
    parser.add_argument("--keys-limit", type=int, default=1000, help="page size of the key listing")
    parser.add_argument("--duckdb-memory-limit", help="performance.duckdb_memory_limit of part keys' "
                        "runs (default: dbsync's own, 256MB)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds any one dbsync run may take")
    args = parser.parse_args()
    if args.keys <= args.seed_rows + 1:
        parser.error("--keys must be larger than --seed-rows + 1")
    scans = key_scans_supported()
    tmp = Path(tempfile.mkdtemp(prefix="dbsync-bench-deletes-"))
    try:
        full_peak = None
        if args.part in ("cost", "all"):
            full_peak = median(part_cost(args, tmp, scans)["full"], "peak_mb")
        if args.part in ("keys", "all"):
            if not scans:
                raise SystemExit("part keys needs deletes.detect: keys (dbsync.source.key_scan), not in this dbsync")
            part_keys(args, tmp, full_peak)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
