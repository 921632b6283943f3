"""The contenders of bench/bench_sync.py, each run in its own process (so peak memory is its own).

    python bench/variants.py baseline --base-url URL --workdir DIR [--page-size 100] [--max-offset N]
    python bench/variants.py dbsync   --base-url URL --workdir DIR [--page-size 1000] [--databases ...]
    python bench/variants.py ceiling  --base-url URL --workdir DIR [--page-size 1000] [--tables db.table ...]

The API key comes from SOURCES__DBSYNC__API_KEY (and API_KEY for the baseline, which reads it the
way the original integration did: dlt.secrets["api_key"]). Each prints one JSON line:
{"rows": ..., "seconds": ...} measured inside the process, from before the first import of dlt.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

STARTED = time.perf_counter()


def baseline(args: argparse.Namespace) -> int:
    """The original integration: dlt's rest_api_source with the original config, dlt defaults."""
    import dlt
    from dlt.sources.rest_api import rest_api_source

    source = rest_api_source({
        "client": {"base_url": args.base_url,
                   "auth": {"type": "api_key", "name": "api_key", "api_key": dlt.secrets["api_key"],
                            "location": "query"}},
        "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
        "resources": [{"name": "database_resource",
                       "endpoint": {"path": "/v1/resource", "data_selector": "data",
                                    "paginator": {"type": "offset", "limit": args.page_size,
                                                  # only the first rows (the latency scenario:
                                                  # the whole table would take many minutes)
                                                  **({"maximum_offset": args.max_offset} if args.max_offset else {})}}}],
    })
    pipeline = dlt.pipeline("bench_baseline", destination=dlt.destinations.duckdb(os.path.join(args.workdir, "baseline.duckdb")),
                            dataset_name="rest_api_data", pipelines_dir=os.path.join(args.workdir, "pipelines"))
    info = pipeline.run(source)
    info.raise_on_failed_jobs()
    with pipeline.sql_client() as client:
        return int(client.execute_sql("SELECT COUNT(*) FROM database_resource")[0][0])


def dbsync_variant(args: argparse.Namespace) -> int:
    """dbsync with the reference server's config (pages of --page-size), into DuckDB."""
    import yaml

    from dbsync.demo import demo_config_path
    from dbsync.run.sync import run_sync

    config = yaml.safe_load(demo_config_path().read_text())
    config["client"]["base_url"] = args.base_url
    config["resources"][0]["endpoint"]["paginator"]["limit"] = args.page_size
    if args.concurrency:
        config["performance"] = {"concurrency": args.concurrency}
    if args.no_proof:  # the proof of sync off (bench_reconcile.py measures what it costs)
        config["verify"] = False
    result = run_sync(config, destination=os.path.join(args.workdir, "dbsync.duckdb"), dataset="bench",
                      pipeline_name="bench_dbsync", pipelines_dir=os.path.join(args.workdir, "pipelines"),
                      databases=args.databases or None, tables=args.tables or None)
    if result.failed:
        raise SystemExit(f"dbsync failed: {[t.error.one_line() for t in result.failed if t.error]}")
    print(json.dumps({"report": {k: [t.rows, t.requests] for k, t in result.report.tables.items()},
                      "retries": dict(result.stats.retries)}), file=sys.stderr)
    return result.report.rows


def ceiling(args: argparse.Namespace) -> int:
    """By hand, no dlt: fetch every page, parse with orjson, build Arrow, one DuckDB insert."""
    import duckdb
    import orjson
    import pyarrow as pa
    import requests

    key = os.environ["SOURCES__DBSYNC__API_KEY"]
    session = requests.Session()
    tables = []
    for spec in args.tables:
        database, table = spec.split(".")
        offset = 0
        while True:
            response = session.get(args.base_url + "/v1/resource", params={
                "api_key": key, "database": database, "table": table, "offset": offset, "limit": args.page_size})
            response.raise_for_status()
            doc = orjson.loads(response.content)
            if doc["data"]:
                tables.append(pa.Table.from_pylist(doc["data"]))
            offset += args.page_size
            if offset >= doc["total"]:
                break
    data = pa.concat_tables(tables, promote_options="permissive")
    con = duckdb.connect(os.path.join(args.workdir, "ceiling.duckdb"))
    con.register("page_data", data)
    con.execute("CREATE OR REPLACE TABLE ceiling AS SELECT * FROM page_data")
    rows = con.execute("SELECT COUNT(*) FROM ceiling").fetchone()[0]
    con.close()
    return int(rows)


VARIANTS = {"baseline": baseline, "dbsync": dbsync_variant, "ceiling": ceiling}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("variant", choices=sorted(VARIANTS))
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=0)
    parser.add_argument("--max-offset", type=int, default=0, help="baseline: read only the first N rows")
    parser.add_argument("--databases", nargs="*", default=[])
    parser.add_argument("--tables", nargs="*", default=[])
    parser.add_argument("--no-proof", action="store_true", help="dbsync: verify: false (no counts compared)")
    args = parser.parse_args()
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")
    rows = VARIANTS[args.variant](args)
    print(json.dumps({"rows": rows, "seconds": time.perf_counter() - STARTED}), flush=True)
    # every contender ends the way the dbsync CLI does: atexit handlers and flushes, then no
    # interpreter teardown (0.3-0.45 s after importing dlt; see dbsync.runtime.exit_process)
    from dbsync.runtime import exit_process

    exit_process(0)


if __name__ == "__main__":
    main()
