"""Speed and memory of dbsync against a plain rest_api_source pipeline and a hand-written ceiling.

Starts the reference server (its own process), then measures, in the same run and each in its
own process (so peak memory is its own):

- **baseline**: the original integration's config on dlt's ``rest_api_source`` (offset pages of
  ``--baseline-page-size``, merge on id), dlt's defaults, into DuckDB;
- **dbsync**: ``dbsync run`` with the reference config (pages of ``--page-size``), into DuckDB;
- **ceiling**: by hand, no dlt: fetch every page sequentially, orjson, Arrow, one DuckDB insert.

For each: rows/s, wall seconds, peak memory (RSS summed over the process and its children,
dbsync's page-converting worker processes included),
requests the server saw; then the ratios dbsync/baseline and dbsync/ceiling. Medians of
``--repeat`` runs (the baseline takes about 90 s at 200,000 rows, so it has its own
``--baseline-repeat``). Machines here are noisy: read the ratios, not one absolute time.

Scenarios (``--scenario``):

- ``full``: one table (the server's default table), ``--rows`` rows (default 200,000);
- ``multi``: ``--rows`` rows (default 1,000,000) over ``--databases`` databases (default 8);
- ``incremental``: a full dbsync run of ``multi``, then a second run with nothing changed;
- ``ratelimit``: a server limiting each key to ``--rate`` requests/s, with and without
  rate-limit headers, then with headers and ``--latency-ms``; sustained request rate and the
  share of 429 answers;
- ``latency``: the server answers every request ``--latency-ms`` (50) late, ``--latency-rows``
  (200,000) rows in one table. dbsync with its settings (pages of ``--page-size``,
  concurrency 8), the same dbsync run against a server without latency, the baseline on the
  first ``--latency-baseline-rows`` (20,000) rows only (one request at a time, pages of 100: the
  whole table would take many minutes), its rows/s on all rows estimated from that run
  (everything but its start-up scaled to all rows) and, in ``targets``, from its full run
  without latency plus one latency per request (it sends them one at a time); the ratio uses
  the faster estimate (conservative), the measured rows/s on the short run is printed too,
  then one dbsync run for each concurrency of ``--concurrencies`` (1,2,4,8,16);
- ``targets``: all of the above, checked against issue 5's and issue 15's targets (PASS/FAIL lines).

**The ideal under latency.** No client can beat either of two bounds, both measured or computed
in the same run:

- the *latency bound*: the run's requests as the server logged them, each answered
  ``latency`` late, with nothing else taking time: discovery one request after another (the
  database list, then the schema), the first page alone (its total plans the others), then the
  other pages ``concurrency`` at a time: ``latency x (discovery + 1 + ceil((pages - 1) /
  concurrency))``. dbsync's fixed start-up (interpreter, imports, pipeline set-up) and its load
  after the last answer are not requests: they are added to this bound as measured in the same
  run (``wall - span``, span = first request's arrival to the last answer in the server's log);
- the *work bound*: the same dbsync run against a server without latency (its CPU work on this
  machine; issue 15's 200,000-row target compares that one with the ceiling).

Both use the fastest of the repeated runs (noise only adds time), which makes the ideal strict.

``ideal = max(latency bound + start-up and load, work bound)``, and the target is dbsync's wall
time against it. The output also gives the latency bound against the span alone (start-up and
load excluded): that ratio is near 1 only where latency, not the client's work, is the
bottleneck (low concurrency; at concurrency 8 on two cores the work is).

Usage::

    .venv/bin/python bench/bench_sync.py --scenario full --repeat 3
    .venv/bin/python bench/bench_sync.py --scenario latency --repeat 3
    .venv/bin/python bench/bench_sync.py --scenario targets
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import requests

from dbsync.server import FaultSettings, ReferenceServer, ServerSettings

HERE = Path(__file__).resolve().parent
VARIANTS = HERE / "variants.py"


@dataclass
class Run:
    rows: int
    wall: float  # process start to exit
    inner: float  # inside the process
    peak_mb: float
    requests: int
    extra: Dict = field(default_factory=dict)
    pages: int = 0  # /v1/resource requests among ``requests``
    span: float = 0.0  # first request's arrival to the last answer, as the server logged them
    outside: float = 0.0  # wall - span: start-up before the first request, loading after the last
    before: float = 0.0  # process start to the first request's arrival (start-up)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall if self.wall else 0.0


@dataclass
class Summary:
    name: str
    runs: List[Run]

    def median(self, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.runs)

    @property
    def rows_per_s(self) -> float:
        return statistics.median(r.rows_per_s for r in self.runs)


def run_variant(variant: str, server: ReferenceServer, workdir: Path, args: List[str]) -> Run:
    """Run one contender in a child process; measure wall time, peak RSS and requests."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    env = dict(os.environ, SOURCES__DBSYNC__API_KEY=server.api_key, API_KEY=server.api_key,
               RUNTIME__DLTHUB_TELEMETRY="false")
    env.pop("SOURCES__DBSYNC__BASE_URL", None)
    server.clear_requests()
    started = time.perf_counter()
    started_epoch = time.time()
    proc = subprocess.Popen([sys.executable, str(VARIANTS), variant, "--base-url", server.base_url,
                             "--workdir", str(workdir), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    sampler = TreeRss(proc.pid)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{variant} failed ({proc.returncode}):\n{err[-3000:]}")
    doc = json.loads(out.strip().splitlines()[-1])
    peak = max(_peak_rss_mb(), sampler.peak_mb)
    extra = {}
    for line in err.splitlines():
        if line.startswith("{"):
            try:
                extra = json.loads(line)
            except ValueError:
                pass
    log = server.requests()
    span = before = 0.0
    if log:
        first = max(started_epoch, min(e["time"] - e["duration_ms"] / 1000 for e in log))
        span, before = max(e["time"] for e in log) - first, first - started_epoch
    return Run(rows=doc["rows"], wall=wall, inner=doc["seconds"], peak_mb=peak, requests=len(log),
               extra=extra, pages=sum(1 for e in log if e["path"] == "/v1/resource"), span=span,
               outside=max(0.0, wall - span), before=before)


class TreeRss(threading.Thread):
    """Peak of the summed RSS of a process and all its descendants (worker processes included),
    sampled every 20 ms from /proc."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_mb = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak_mb = max(self.peak_mb, _tree_rss_kb(self.pid) / 1024)
            self.stop.wait(0.02)


def _tree_rss_kb(root: int) -> int:
    children: Dict[int, List[int]] = {}
    rss: Dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/statm") as f:
                rss[int(entry)] = int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def _peak_rss_mb() -> float:
    """Peak RSS of the child that just ended (and of its own children). RUSAGE_CHILDREN's maxrss
    is the largest of all children so far, so each variant runs from a fresh measuring process
    (see measure()) whose only child is the variant."""
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def measure(variant: str, server_url: str, api_key: str, admin_key: str, workdir: Path, args: List[str]) -> Run:
    """Run the variant from a fresh Python process, so RUSAGE_CHILDREN covers it alone."""
    code = (
        "import json, sys; sys.path.insert(0, %r)\n"
        "from bench_sync import _measure_in_child\n"
        "print(json.dumps(_measure_in_child(*json.loads(sys.argv[1]))))\n" % str(HERE)
    )
    payload = json.dumps([variant, server_url, api_key, admin_key, str(workdir), args])
    out = subprocess.run([sys.executable, "-c", code, payload], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return Run(**json.loads(out.stdout.strip().splitlines()[-1]))


def _measure_in_child(variant: str, server_url: str, api_key: str, admin_key: str, workdir: str,
                      args: List[str]) -> Dict:
    server = _RemoteServer(server_url, api_key, admin_key)
    run = run_variant(variant, server, Path(workdir), args)  # type: ignore[arg-type]
    return run.__dict__


class _RemoteServer:
    """Just enough of the ReferenceServer handle for run_variant, over the admin API."""

    def __init__(self, base_url: str, api_key: str, admin_key: str):
        self.base_url, self.api_key, self.admin_key = base_url, api_key, admin_key

    def clear_requests(self) -> None:
        requests.delete(self.base_url + "/admin/requests", headers={"X-Admin-Key": self.admin_key}).raise_for_status()

    def requests(self) -> list:
        r = requests.get(self.base_url + "/admin/requests", headers={"X-Admin-Key": self.admin_key})
        r.raise_for_status()
        return r.json()["data"]


def warm(server: ReferenceServer, tables: List[str], page_sizes: List[int]) -> None:
    """Generate the tables and render their pages once, so no contender pays for that."""
    session = requests.Session()
    for spec in tables:
        database, table = spec.split(".")
        for size in page_sizes:
            for since in (None, "1970-01-01T00:00:00Z"):
                offset = 0
                while True:
                    params = {"api_key": server.api_key, "database": database, "table": table,
                              "offset": offset, "limit": size}
                    if since:
                        params["updated_since"] = since
                    doc = session.get(server.base_url + "/v1/resource", params=params).json()
                    offset += size
                    if offset >= doc["total"]:
                        break


def report(title: str, summaries: List[Summary]) -> None:
    print(f"\n## {title}")
    print(f"{'variant':<10} {'rows':>9} {'rows/s':>10} {'wall s':>8} {'peak MB':>8} {'requests':>9} runs")
    for s in summaries:
        print(f"{s.name:<10} {int(s.median('rows')):>9,} {s.rows_per_s:>10,.0f} {s.median('wall'):>8.2f} "
              f"{s.median('peak_mb'):>8.0f} {int(s.median('requests')):>9,} {len(s.runs)}")
    by = {s.name: s for s in summaries}
    if "dbsync" in by:
        d = by["dbsync"]
        for other in ("baseline", "ceiling"):
            if other in by:
                o = by[other]
                print(f"dbsync/{other}: rows/s x{d.rows_per_s / o.rows_per_s:.2f}, "
                      f"peak memory x{d.median('peak_mb') / o.median('peak_mb'):.2f}")


def scenario_runs(server: ReferenceServer, tmp: Path, tables: List[str], variants: Dict[str, List[str]],
                  repeats: Dict[str, int]) -> List[Summary]:
    """Round-robin: round r runs every variant once, so each median covers the same stretch of
    time (this machine has slow minutes: one variant's runs all in one of them would skew the
    ratios). A variant with fewer repeats (the slow baseline) runs in the middle rounds."""
    rounds = max(repeats.get(name, 1) for name in variants)
    runs: Dict[str, List[Run]] = {name: [] for name in variants}
    for r in range(rounds):
        for name, args in variants.items():
            count = repeats.get(name, 1)
            start = (rounds - count) // 2
            if start <= r < start + count:
                runs[name].append(measure(name, server.base_url, server.api_key, server.admin_key, tmp / name, args))
    return [Summary(name, runs[name]) for name in variants]


def full(args: argparse.Namespace, tmp: Path, include_baseline: bool = True) -> List[Summary]:
    settings = ServerSettings(seed=42, databases=1, tables_per_database=1, default_table_rows=args.rows)
    with ReferenceServer(settings, mode="process") as server:
        tables = ["acme.orders"]
        warm(server, tables, [args.page_size, args.baseline_page_size])
        variants = {"dbsync": ["--page-size", str(args.page_size), "--tables", "orders"],
                    "ceiling": ["--page-size", str(args.page_size), "--tables", *tables]}
        if include_baseline:
            variants = {"baseline": ["--page-size", str(args.baseline_page_size)], **variants}
        summaries = scenario_runs(server, tmp, tables, variants,
                                  {"baseline": args.baseline_repeat, "dbsync": args.repeat, "ceiling": args.repeat})
    report(f"full sync: {args.rows:,} rows, one table, dbsync pages of {args.page_size}, "
           f"baseline pages of {args.baseline_page_size}", summaries)
    return summaries


def multi_server(args: argparse.Namespace) -> ReferenceServer:
    per_table = args.multi_rows // args.databases
    return ReferenceServer(ServerSettings(seed=42, databases=args.databases, tables_per_database=1,
                                          rows_per_table=per_table), mode="process")


def multi(args: argparse.Namespace, tmp: Path) -> List[Summary]:
    with multi_server(args) as server:
        tables = [f"{d['id']}.orders" for d in server.databases()]
        warm(server, tables, [args.page_size])
        variants = {"dbsync": ["--page-size", str(args.page_size)],
                    "ceiling": ["--page-size", str(args.page_size), "--tables", *tables]}
        summaries = scenario_runs(server, tmp, tables, variants, {"dbsync": args.repeat, "ceiling": args.repeat})
    report(f"full sync: {args.multi_rows:,} rows over {args.databases} databases", summaries)
    return summaries


def incremental(args: argparse.Namespace, tmp: Path) -> Dict[str, Run]:
    """A full run, then the same run again with nothing changed (same workdir, same state)."""
    with multi_server(args) as server:
        tables = [f"{d['id']}.orders" for d in server.databases()]
        warm(server, tables, [args.page_size])
        # a throwaway dbsync run first: its page shapes (overlapping offset pages) are then
        # rendered and cached by the server, as in the other scenarios' median runs
        measure("dbsync", server.base_url, server.api_key, server.admin_key, tmp / "incremental-warm",
                ["--page-size", str(args.page_size)])
        workdir = tmp / "incremental"
        full_run = measure("dbsync", server.base_url, server.api_key, server.admin_key, workdir,
                           ["--page-size", str(args.page_size)])
        # a no-change run leaves the state as it was, so it repeats alike: medians of --repeat
        again = _median_run([_measure_again(server, workdir, args) for _ in range(args.repeat)])
        cli = _median_run([_measure_cli_again(server, workdir, args) for _ in range(args.repeat)])
    print(f"\n## incremental: second run with nothing changed, {args.multi_rows:,} rows, {len(tables)} tables")
    print(f"full run   {full_run.wall:.2f}s, {full_run.requests} requests")
    print(f"second run (median of {args.repeat}) {again.wall:.2f}s, {again.requests} requests, {again.rows} rows "
          f"(discovery: 1 + {len(tables)} schema requests)")
    print(f"second/full wall: x{again.wall / full_run.wall:.3f}")
    print(f"third run, as `dbsync run` on the command line (median of {args.repeat}): {cli.wall:.2f}s, "
          f"{cli.requests} requests, "
          f"third/full wall: x{cli.wall / full_run.wall:.3f}")
    return {"full": full_run, "again": again, "cli": cli, "tables": len(tables)}  # type: ignore[dict-item]


def _median_run(runs: List[Run]) -> Run:
    """The run of median wall time (one no-change run alone is at the mercy of a slow second)."""
    return sorted(runs, key=lambda r: r.wall)[len(runs) // 2]


def _measure_again(server: ReferenceServer, workdir: Path, args: argparse.Namespace) -> Run:
    """Like measure(), but keeps the workdir (the pipeline state of the first run)."""
    out, wall, requests_seen = _timed_rerun(server, [sys.executable, str(VARIANTS), "dbsync", "--base-url",
                                                     server.base_url, "--workdir", str(workdir),
                                                     "--page-size", str(args.page_size)])
    doc = json.loads(out.strip().splitlines()[-1])
    return Run(rows=doc["rows"], wall=wall, inner=doc["seconds"], peak_mb=0.0, requests=requests_seen)


def _measure_cli_again(server: ReferenceServer, workdir: Path, args: argparse.Namespace) -> Run:
    """The no-change run once more, through the `dbsync` CLI as a user runs it (same state)."""
    import yaml

    from dbsync.demo import demo_config_path

    config = yaml.safe_load(demo_config_path().read_text())
    config["client"]["base_url"] = server.base_url
    config["resources"][0]["endpoint"]["paginator"]["limit"] = args.page_size
    path = workdir / "dbsync.yaml"
    path.write_text(yaml.safe_dump(config))
    _, wall, requests_seen = _timed_rerun(server, [
        sys.executable, "-m", "dbsync", "run", "-c", str(path), "--no-progress",
        "--destination", str(workdir / "dbsync.duckdb"), "--dataset", "bench",
        "--pipeline-name", "bench_dbsync", "--pipelines-dir", str(workdir / "pipelines")])
    return Run(rows=0, wall=wall, inner=wall, peak_mb=0.0, requests=requests_seen)


def _timed_rerun(server: ReferenceServer, command: List[str]) -> Tuple[str, float, int]:
    """Run a sync command against the server with a clean request log: (stdout, wall s, requests)."""
    env = dict(os.environ, SOURCES__DBSYNC__API_KEY=server.api_key, RUNTIME__DLTHUB_TELEMETRY="false")
    server.clear_requests()
    started = time.perf_counter()
    out = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return out.stdout, wall, len(server.requests())


def ratelimit(args: argparse.Namespace, tmp: Path, latency_ms: Optional[float] = None) -> Dict[str, Dict[str, float]]:
    """Sustained request rate under a per-key limit, and the share of 429 answers; with
    ``latency_ms``, once more with rate-limit headers and every answer that much later."""
    results = {}
    cases = [(True, 0.0), (False, 0.0)] if latency_ms is None else [(True, latency_ms)]
    for headers, delay in cases:
        faults = FaultSettings(rate_limit_per_second=args.rate, rate_limit_burst=max(1, int(args.rate)),
                               rate_limit_headers=headers)
        rows = args.rate * args.rate_seconds * args.rate_page_size
        settings = ServerSettings(seed=42, databases=2, tables_per_database=2,
                                  rows_per_table=max(1, int(rows // 4)), faults=faults, latency_ms=delay)
        with ReferenceServer(settings, mode="process") as server:
            measure("dbsync", server.base_url, server.api_key, server.admin_key, tmp / "ratelimit",
                          ["--page-size", str(args.rate_page_size)])
            log = server.requests()
        label = "with rate-limit headers" if headers else "without headers (429 + Retry-After only)"
        if delay:
            label += f", {delay:g} ms latency"
        total = len(log)
        throttled = sum(1 for r in log if r.status == 429)
        ok = total - throttled
        # sustained: from the first to the last request the server saw (no process start-up)
        span = max(r.time for r in log) - min(r.time for r in log) if log else 0.0
        rate = (ok - 1) / span if span > 0 else 0.0
        results[label] = {"requests": total, "throttled": throttled, "ok_per_s": rate,
                          "share_429": throttled / total if total else 0.0}
        print(f"\n## rate limit {args.rate:g} req/s, {label}")
        print(f"{total} requests over {span:.1f}s, {throttled} answered 429 ({throttled / max(1, total):.1%}); "
              f"sustained {rate:.1f} successful requests/s = {rate / args.rate:.0%} of the limit")
    return results


def latency_bound(run: Run, latency: float, concurrency: int) -> float:
    """The least time a client with ``concurrency`` requests in flight needs for this run's
    requests when each answer takes ``latency``: discovery (the requests that are not pages:
    database list, schema) one after the other, then the first page alone (its total plans the
    others), then the remaining pages ``concurrency`` at a time. No client work at all."""
    discovery = run.requests - run.pages
    return latency * (discovery + 1 + math.ceil(max(0, run.pages - 1) / max(1, concurrency)))


def _median(runs: List[Run], attr: str) -> float:
    return statistics.median(getattr(r, attr) for r in runs)


def _warm_pages(server: ReferenceServer, rows: int, size: int, threads: int = 16) -> None:
    """Render the pages ``size`` apart once, many at a time (under latency one by one is slow)."""
    from concurrent.futures import ThreadPoolExecutor

    def get(offset: int) -> None:
        requests.get(server.base_url + "/v1/resource", params={"api_key": server.api_key, "offset": offset,
                                                               "limit": size}, timeout=120).raise_for_status()

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(get, range(0, rows + 1, size)))


def latency(args: argparse.Namespace, tmp: Path, baseline_full: Optional[Summary] = None) -> Dict[str, Any]:
    """dbsync against a server answering every request ``--latency-ms`` late, with the same run
    against a server without latency (its work bound), the baseline on the first
    ``--latency-baseline-rows`` rows, and rows/s for each concurrency of ``--concurrencies``."""
    delay = args.latency_ms / 1000.0
    base = dict(seed=42, databases=1, tables_per_database=1, default_table_rows=args.latency_rows)
    dbsync_args = ["--page-size", str(args.page_size), "--tables", "orders"]
    baseline_args = ["--page-size", str(args.baseline_page_size), "--max-offset", str(args.latency_baseline_rows)]
    slow_runs: List[Run] = []
    fast_runs: List[Run] = []
    baseline_runs: List[Run] = []
    sweep: Dict[int, Run] = {}
    with ReferenceServer(ServerSettings(latency_ms=args.latency_ms, **base), mode="process") as slow, \
            ReferenceServer(ServerSettings(**base), mode="process") as fast:
        def run(server: ReferenceServer, variant: str, name: str, extra: List[str]) -> Run:
            return measure(variant, server.base_url, server.api_key, server.admin_key, tmp / name, extra)

        # a throwaway run on each server first: every page dbsync asks for is rendered and cached
        run(slow, "dbsync", "latency-warm", dbsync_args)
        run(fast, "dbsync", "latency-warm", dbsync_args)
        if not args.no_baseline:
            _warm_pages(slow, args.latency_baseline_rows, args.baseline_page_size)
        for r in range(args.repeat):  # round-robin, the baseline once in the middle round
            slow_runs.append(run(slow, "dbsync", "latency-dbsync", dbsync_args))
            fast_runs.append(run(fast, "dbsync", "latency-dbsync0", dbsync_args))
            if r == args.repeat // 2 and not args.no_baseline:
                baseline_runs.append(run(slow, "baseline", "latency-baseline", baseline_args))
        for concurrency in args.concurrencies:
            sweep[concurrency] = run(slow, "dbsync", f"latency-c{concurrency}",
                                     dbsync_args + ["--concurrency", str(concurrency)])
    summaries = [Summary("dbsync", slow_runs), Summary("dbsync@0ms", fast_runs)]
    if baseline_runs:
        summaries.insert(0, Summary("baseline", baseline_runs))
    report(f"latency {args.latency_ms:g} ms: {args.latency_rows:,} rows, one table, dbsync pages of {args.page_size} "
           f"(concurrency {DEFAULT_CONCURRENCY}); dbsync@0ms: the same without latency; baseline: the first "
           f"{args.latency_baseline_rows:,} rows only, pages of {args.baseline_page_size}", summaries)
    # the fastest runs, not the medians: noise only ever adds time, so the ideal is the strictest
    work_bound = min(r.wall for r in fast_runs)
    outside = min(r.outside for r in slow_runs)

    def ideal(runs: List[Run], concurrency: int) -> Tuple[float, float]:
        bound = statistics.median(latency_bound(r, delay, concurrency) for r in runs)
        return bound, max(bound + outside, work_bound)

    bound, ideal_wall = ideal(slow_runs, DEFAULT_CONCURRENCY)
    wall, span = _median(slow_runs, "wall"), _median(slow_runs, "span")
    print(f"latency bound ({_median(slow_runs, 'requests'):.0f} requests, {_median(slow_runs, 'pages'):.0f} of "
          f"them pages, {DEFAULT_CONCURRENCY} at a time): {bound:.2f} s; dbsync's start-up and load (outside "
          f"its requests): {outside:.2f} s; the same run without latency (work bound): {work_bound:.2f} s")
    print(f"ideal wall = max(latency bound + start-up and load, work bound) = {ideal_wall:.2f} s; "
          f"dbsync {wall:.2f} s: dbsync/ideal x{ideal_wall / wall:.2f}")
    print(f"requests alone: first request to last answer {span:.2f} s against the latency bound {bound:.2f} s: "
          f"x{bound / span:.2f} (start-up and load excluded; below 1 where the client's work, not the latency, "
          f"is the bottleneck)")
    speedup = None
    if baseline_runs:
        b = baseline_runs[0]
        dbsync_rate = Summary("dbsync", slow_runs).rows_per_s
        scale = args.latency_rows / max(1, b.rows)
        # the baseline on all rows, from its short run: everything but its start-up grows with the
        # rows (one request at a time, dlt's per-row normalizer, INSERT statements)
        estimates = {f"its {b.rows:,}-row run scaled to all rows (start-up {b.before:.1f} s kept fixed)":
                     args.latency_rows / (b.before + (b.wall - b.before) * scale)}
        if baseline_full is not None:
            # its full run without latency in this same bench, plus one latency per request
            full_wall = baseline_full.median("wall")
            estimates[f"its {baseline_full.median('rows'):,.0f}-row run without latency ({full_wall:.0f} s) plus "
                      f"{baseline_full.median('requests'):,.0f} x {args.latency_ms:g} ms"] = \
                baseline_full.median("rows") / (full_wall + baseline_full.median("requests") * delay)
        label, estimate = max(estimates.items(), key=lambda item: item[1])  # the faster: conservative
        speedup = dbsync_rate / estimate
        for name, value in estimates.items():
            print(f"baseline on all {args.latency_rows:,} rows, estimated from {name}: {value:,.0f} rows/s")
        print(f"dbsync/baseline rows/s: x{speedup:.1f} against the faster estimate ({estimate:,.0f} rows/s); "
              f"against its measured {b.rows_per_s:,.0f} rows/s on {b.rows:,} rows: x{dbsync_rate / b.rows_per_s:.1f}")
    print(f"\n## latency {args.latency_ms:g} ms: rows/s by performance.concurrency (one run each)")
    print(f"{'concurrency':>11} {'rows/s':>9} {'wall s':>7} {'span s':>7} {'bound s':>8} {'ideal s':>8} "
          f"{'dbsync/ideal':>12} {'bound/span':>10}")
    for concurrency, r in sweep.items():
        c_bound, c_ideal = ideal([r], concurrency)
        print(f"{concurrency:>11} {r.rows_per_s:>9,.0f} {r.wall:>7.2f} {r.span:>7.2f} {c_bound:>8.2f} {c_ideal:>8.2f} "
              f"{c_ideal / r.wall:>12.2f} {c_bound / r.span:>10.2f}")
    return {"ratio": ideal_wall / wall, "speedup": speedup, "sweep": sweep}


DEFAULT_CONCURRENCY = 8  # performance.concurrency's default (dbsync.config.model.PerformanceSettings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=["full", "multi", "incremental", "ratelimit", "latency", "targets"],
                        default="full")
    parser.add_argument("--rows", type=int, default=200_000, help="rows for the full scenario")
    parser.add_argument("--multi-rows", type=int, default=1_000_000, help="rows for multi/incremental")
    parser.add_argument("--databases", type=int, default=8)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--baseline-page-size", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-repeat", type=int, default=1)
    parser.add_argument("--no-baseline", action="store_true", help="skip the slow baseline")
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--rate-seconds", type=float, default=30.0, help="how long the rate-limited sync should take")
    parser.add_argument("--rate-page-size", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=50.0, help="the latency scenario's per-request delay")
    parser.add_argument("--latency-rows", type=int, default=200_000)
    parser.add_argument("--latency-baseline-rows", type=int, default=20_000,
                        help="the baseline reads only this many rows under latency (all of them: ~8 minutes)")
    parser.add_argument("--concurrencies", type=lambda v: [int(x) for x in v.split(",")], default=[1, 2, 4, 8, 16])
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dbsync-bench-"))
    try:
        if args.scenario == "full":
            full(args, tmp, include_baseline=not args.no_baseline)
        elif args.scenario == "multi":
            multi(args, tmp)
        elif args.scenario == "incremental":
            incremental(args, tmp)
        elif args.scenario == "ratelimit":
            ratelimit(args, tmp)
            ratelimit(args, tmp, latency_ms=args.latency_ms)
        elif args.scenario == "latency":
            latency(args, tmp)
        else:
            targets(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def targets(args: argparse.Namespace, tmp: Path) -> None:
    """Issue 5's targets and issue 15's (stricter ratios, latency), as PASS/FAIL lines."""
    checks = []
    f = {s.name: s for s in full(args, tmp, include_baseline=not args.no_baseline)}
    if "baseline" in f:
        speed = f["dbsync"].rows_per_s / f["baseline"].rows_per_s
        memory = f["dbsync"].median("peak_mb") / f["baseline"].median("peak_mb")
        checks.append(("1. 200k: dbsync >= 25x baseline rows/s", speed >= 25, f"x{speed:.1f}"))
        checks.append(("1. 200k: dbsync peak memory <= 1/10 of baseline", memory <= 0.1, f"x{memory:.3f}"))
    ratio = f["dbsync"].rows_per_s / f["ceiling"].rows_per_s
    checks.append(("15.2 200k: dbsync >= 0.8x ceiling rows/s", ratio >= 0.8, f"x{ratio:.2f}"))
    m = {s.name: s for s in multi(args, tmp)}
    ratio = m["dbsync"].rows_per_s / m["ceiling"].rows_per_s
    checks.append(("15.2 1M/8 databases: dbsync >= 0.9x ceiling rows/s", ratio >= 0.9, f"x{ratio:.2f}"))
    growth = m["dbsync"].median("peak_mb") / f["dbsync"].median("peak_mb")
    checks.append(("15.2 1M peak memory <= 1.2x dbsync's at 200k", growth <= 1.2, f"x{growth:.2f}"))
    inc = incremental(args, tmp)
    again, tables = inc["again"], inc["tables"]
    expected = 1 + tables + tables  # database list + schemas + one records request per table
    checks.append(("3. no-change run: one records request per table plus discovery",
                   again.requests == expected and again.rows == 0, f"{again.requests} requests, {again.rows} rows"))
    # against the median full run of the multi scenario (one full run alone is noisy)
    full_wall = m["dbsync"].median("wall")
    share = again.wall / full_wall
    checks.append(("3. no-change run <= 1/10 of the full run's wall time (median)", share <= 0.1, f"x{share:.3f}"))
    share = inc["cli"].wall / full_wall
    checks.append(("15.3 no-change `dbsync run` CLI <= 0.07x the full run's wall time (median)", share <= 0.07,
                   f"x{share:.3f}"))
    for label, r in ratelimit(args, tmp).items():
        checks.append((f"4. rate limit ({label}): >= 90% of the limit", r["ok_per_s"] >= 0.9 * args.rate,
                       f"{r['ok_per_s'] / args.rate:.0%}"))
        checks.append((f"4. rate limit ({label}): 429 < 2% of requests", r["share_429"] < 0.02, f"{r['share_429']:.1%}"))
    lat = latency(args, tmp, f.get("baseline"))
    if lat["speedup"] is not None:
        checks.append((f"15.1 latency {args.latency_ms:g} ms: dbsync >= 50x baseline rows/s", lat["speedup"] >= 50,
                       f"x{lat['speedup']:.1f}"))
    checks.append((f"15.1 latency {args.latency_ms:g} ms: dbsync >= 0.8x the ideal for its settings",
                   lat["ratio"] >= 0.8, f"x{lat['ratio']:.2f}"))
    for label, r in ratelimit(args, tmp, latency_ms=args.latency_ms).items():
        checks.append((f"15.1 rate limit ({label}): >= 90% of the limit", r["ok_per_s"] >= 0.9 * args.rate,
                       f"{r['ok_per_s'] / args.rate:.0%}"))
    print("\n## targets")
    for name, ok, value in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {value}")


if __name__ == "__main__":
    main()
