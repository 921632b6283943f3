"""Issue 6.1: a bad night changes nothing. 20% of answers are 5xx or 429 with Retry-After, 2%
are dropped connections, 1% truncated bodies, some are slow: the sync completes and the
destination equals the server's data, every value, by a checksum per row."""

from __future__ import annotations

from dbsync.server import FaultSettings
from reliability_helpers import assert_destination_equals_server
from support import reference_config

# 20% of answers fail: 18% with a 5xx, 2% with a 429 (Retry-After: 0; longer pauses are tested in
# tests/integration/test_retries_and_errors.py)
STORM = dict(error_rate=0.18, random_429_rate=0.02, random_429_retry_after=0.0, drop_rate=0.02,
             truncate_rate=0.01, slow_rate=0.03, slow_seconds=0.3)
RETRIES = {"attempts": 12, "backoff_base": 0.02, "backoff_max": 0.3, "max_total_wait": 60}


def test_the_sync_survives_a_fault_storm_and_the_destination_equals_the_source(make_server, workspace,
                                                                             secret_watch, soak):
    rows = 6000 if soak else 1500
    server = make_server(seed=5, databases=3, tables_per_database=2, rows_per_table=rows,
                         faults=FaultSettings(seed=17, **STORM))
    config = reference_config(server.base_url, retries=RETRIES)
    config["resources"][0]["endpoint"]["paginator"]["limit"] = 40  # ~250 requests: every fault kind occurs
    server.clear_requests()

    result = workspace.sync(config)

    assert result.ok, [t.error.one_line() for t in result.failed if t.error]
    log = server.requests()
    faults = [r for r in log if r.fault in ("status", "drop", "truncate", "slow")]
    by_kind = {k: sum(1 for r in faults if r.fault == k) for k in ("status", "drop", "truncate", "slow")}
    assert len(faults) >= 0.15 * len(log), "the storm must really have happened"
    assert by_kind["drop"] and by_kind["truncate"] and by_kind["status"]
    # every failed answer was retried, and the summary says why
    retried = sum(result.stats.retries.values())
    assert retried == by_kind["status"] + by_kind["drop"] + by_kind["truncate"]
    kinds = set(result.stats.retries)
    assert {"connection dropped", "truncated body"} <= kinds
    assert kinds & {"HTTP 500", "HTTP 502", "HTTP 503", "HTTP 504"} and "HTTP 429" in kinds
    compared = assert_destination_equals_server(workspace, server, ["acme", "globex", "initech"])
    assert compared == 3 * 2 * rows
    print(f"\nfault storm: {len(log)} requests, faults injected {by_kind} "
          f"(429s {sum(1 for r in faults if r.status == 429)}), retries {dict(result.stats.retries)}, "
          f"{compared} rows compared by checksum, 0 differences")
    # the next run, still in the storm, finds nothing to do and changes nothing
    again = workspace.sync(config)
    assert again.ok and again.report.rows == 0
    assert_destination_equals_server(workspace, server, ["acme", "globex", "initech"])
