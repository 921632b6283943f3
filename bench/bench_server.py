"""Benchmark the reference server: how fast can a plain sequential client read the default table?

Starts the server in process mode (its own GIL) with the default table at ``--rows`` rows,
then a plain ``requests.Session`` client pages through ``/v1/resource`` (``--page-size`` rows
per page, parsed with orjson) ``--repeat`` times. The first pass is cold (the table is generated
on first use and no page is cached yet); the median of the others is the warm figure.

As a same-run baseline, the same client reads the very same page bodies from a trivial static
file server (Python's ``http.server`` over HTTP/1.1 in a child process), so the server/baseline
ratio says how much the reference server costs over just moving the bytes. A last line reads
the pages with ``http.client`` without parsing them: the server's own ceiling, far above what
the parsing client can take.

Usage::

    .venv/bin/python bench/bench_server.py [--rows 200000] [--repeat 5] [--page-size 1000]

Target: at least 100,000 rows/s warm.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, List, Optional

import orjson
import requests

from dbsync.server import ReferenceServer, ServerSettings

TARGET_ROWS_PER_SECOND = 100_000

_STATIC_SERVER = r"""
import functools, http.server, sys
class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=sys.argv[1]))
print(server.server_address[1], flush=True)
server.serve_forever()
"""


@dataclass
class Pass:
    seconds: float
    rows: int
    pages: int
    bytes: int

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds

    @property
    def mb_per_second(self) -> float:
        return self.bytes / self.seconds / 1e6


def read_table(session: requests.Session, url_for_page: Callable[[int], str], total_pages: Optional[int],
               keep: Optional[List[bytes]] = None) -> Pass:
    """Fetch pages until an empty one (or ``total_pages``); parse each body with orjson."""
    rows = pages = size = 0
    started = time.perf_counter()
    page = 0
    while total_pages is None or page < total_pages:
        response = session.get(url_for_page(page))
        response.raise_for_status()
        body = response.content
        count = len(orjson.loads(body)["data"])  # parsed and dropped: a reader, not a loader
        if not count:
            break
        if keep is not None:
            keep.append(body)
        rows += count
        pages += 1
        size += len(body)
        page += 1
        if total_pages is None and count < PAGE_SIZE:
            break
    return Pass(time.perf_counter() - started, rows, pages, size)


PAGE_SIZE = 1000


def read_raw(port: int, path_prefix: str, page_size: int, pages: int) -> Pass:
    """The server's own ceiling: the same pages over http.client, bytes read but not parsed."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    size = 0
    started = time.perf_counter()
    try:
        for page in range(pages):
            connection.request("GET", path_prefix + str(page * page_size))
            size += len(connection.getresponse().read())
    finally:
        connection.close()
    return Pass(time.perf_counter() - started, pages * page_size, pages, size)


def describe(label: str, result: Pass) -> str:
    return (f"{label:<28} {result.rows_per_second:>10,.0f} rows/s {result.pages_per_second:>8,.1f} pages/s "
            f"{result.mb_per_second:>7,.1f} MB/s  ({result.rows:,} rows, {result.pages} pages, {result.seconds:.2f} s)")


def median_pass(passes: List[Pass]) -> Pass:
    ordered = sorted(passes, key=lambda p: p.rows_per_second)
    return ordered[len(ordered) // 2] if len(ordered) % 2 else min(
        ordered[len(ordered) // 2 - 1:len(ordered) // 2 + 1], key=lambda p: abs(
            p.rows_per_second - statistics.median(q.rows_per_second for q in ordered)))


def main(argv: Optional[List[str]] = None) -> int:
    global PAGE_SIZE
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the default table (default 200000)")
    parser.add_argument("--repeat", type=int, default=5, help="passes over the table (default 5; first is cold)")
    parser.add_argument("--page-size", type=int, default=1000, help="rows per page (default 1000, the max)")
    args = parser.parse_args(argv)
    PAGE_SIZE = args.page_size
    if args.repeat < 2:
        parser.error("--repeat must be at least 2 (one cold pass, at least one warm)")

    settings = ServerSettings(default_table_rows=args.rows, rows_per_table=100, databases=1)
    print(f"reference server, process mode, default table {args.rows:,} rows, pages of {args.page_size}, "
          f"{args.repeat} passes; {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    bodies: List[bytes] = []
    with ReferenceServer(settings, mode="process") as server, requests.Session() as session:
        base = f"{server.base_url}/v1/resource?api_key={server.api_key}&limit={args.page_size}&offset="
        passes = []
        for index in range(args.repeat):
            result = read_table(session, lambda page: base + str(page * args.page_size), None,
                                bodies if index == 0 else None)
            passes.append(result)
            print(describe("cold pass" if index == 0 else f"warm pass {index}", result))
        raw = read_raw(server.port, f"/v1/resource?api_key={server.api_key}&limit={args.page_size}&offset=",
                       args.page_size, len(bodies))
    cold, warm = passes[0], median_pass(passes[1:])

    with tempfile.TemporaryDirectory(prefix="dbsync-bench-") as folder:
        for index, body in enumerate(bodies):
            with open(os.path.join(folder, f"{index}.json"), "wb") as handle:
                handle.write(body)
        static = subprocess.Popen([sys.executable, "-c", _STATIC_SERVER, folder], stdout=subprocess.PIPE, text=True)
        try:
            assert static.stdout is not None
            port = int(static.stdout.readline())
            with requests.Session() as session:
                url = f"http://127.0.0.1:{port}/"
                baseline_passes = [read_table(session, lambda page: f"{url}{page}.json", len(bodies))
                                   for _ in range(max(2, args.repeat - 1))]
        finally:
            static.terminate()
            static.wait(5)
    baseline = median_pass(baseline_passes)

    print()
    print(describe("cold (first pass)", cold))
    print(describe("warm (median)", warm))
    print(describe("baseline static (median)", baseline))
    print(describe("server, raw bytes, no parse", raw))
    print(f"warm / target ({TARGET_ROWS_PER_SECOND:,} rows/s): {warm.rows_per_second / TARGET_ROWS_PER_SECOND:.2f}x")
    print(f"warm / baseline static server: {warm.rows_per_second / baseline.rows_per_second:.2f}x")
    ok = warm.rows_per_second >= TARGET_ROWS_PER_SECOND
    print("PASS" if ok else "FAIL", f"(warm {warm.rows_per_second:,.0f} rows/s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
