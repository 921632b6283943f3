"""Simulate partitioned runs over many workers, with the API's rate limit, from measured costs.

The costs per database come from ``bench/bench_scale.py`` on one worker (CPU-bound: dlt's
extract/normalize/load and state round trips per partition, about 1 s for a first sync of
two small tables and 0.3 s for an incremental run). Each worker runs the databases of its
shard (the real sha256 assignment, so uneven shards count) one after another; every database
makes ``requests_per_database`` API requests (its schema, one page per table) that all workers
draw from one token bucket (the limit is per API key), plus two list requests per worker.

A worker is one core (or one pod); the simulation answers how run time falls with workers and
where the rate limit, not the workers, becomes the bound: at ``requests / limit`` seconds.

Usage::

    .venv/bin/python bench/simulate_scale.py [--databases 200] [--cost 1.04] [--requests-per-database 3]
        [--workers 1,2,4,8,16,32] [--rate-limits none,50,10] [--burst 10]
"""

from __future__ import annotations

import argparse
import heapq
from typing import List, Optional

from dbsync.run.partition import shard_of


class TokenBucket:
    """The server's limiter: ``rate`` tokens per second, at most ``burst`` saved up."""

    def __init__(self, rate: Optional[float], burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.at = float(burst), 0.0

    def take(self, now: float) -> float:
        """When a request wanting to go at ``now`` is served (requests are taken in time order)."""
        if self.rate is None:
            return now
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return now
        wait = (1 - self.tokens) / self.rate
        self.tokens, self.at = 0.0, now + wait
        return now + wait


def simulate(databases: int, workers: int, cost: float, requests: int, rate: Optional[float], burst: int,
             startup: float) -> float:
    ids = [f"db_{i:04d}" for i in range(databases)]
    queues: List[List[str]] = [[d for d in ids if shard_of(d, workers) == k] for k in range(1, workers + 1)]
    bucket = TokenBucket(rate, burst)
    # events: (time the worker wants its next request, worker, database index, requests left)
    events = []
    for w, queue in enumerate(queues):
        if queue:
            heapq.heappush(events, (startup, w, -1, 2))  # two list requests per worker first
    finish = 0.0
    while events:
        now, w, index, left = heapq.heappop(events)
        served = bucket.take(now)
        if left > 1:
            heapq.heappush(events, (served, w, index, left - 1))
            continue
        # this database's (or the listing's) requests are done: its CPU time, then the next one
        done = served + (cost if index >= 0 else 0.0)
        finish = max(finish, done)
        if index + 1 < len(queues[w]):
            heapq.heappush(events, (done, w, index + 1, requests))
    return finish


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--databases", type=int, default=200)
    parser.add_argument("--cost", type=float, default=1.04, help="seconds per database on one worker (measured)")
    parser.add_argument("--requests-per-database", type=int, default=3)
    parser.add_argument("--startup", type=float, default=3.0, help="seconds for a worker to start and list")
    parser.add_argument("--workers", default="1,2,4,8,16,32")
    parser.add_argument("--rate-limits", default="none,50,10")
    parser.add_argument("--burst", type=int, default=10)
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    limits = [None if r == "none" else float(r) for r in args.rate_limits.split(",")]
    requests = args.databases * args.requests_per_database
    print(f"{args.databases} databases, {args.cost:.2f} s and {args.requests_per_database} requests each")
    print("| workers | " + " | ".join(f"limit {r or 'none'} req/s" for r in limits) + " |")
    print("| --- | " + " | ".join("---" for _ in limits) + " |")
    for w in workers:
        cells = []
        for rate in limits:
            t = simulate(args.databases, w, args.cost, args.requests_per_database, rate, args.burst, args.startup)
            floor = (requests + 2 * w) / rate if rate else 0.0
            cells.append(f"{t:.0f} s" + (" (limit-bound)" if rate and t < floor * 1.15 else ""))
        print(f"| {w} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
