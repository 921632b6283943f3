"""Issue 6.3: inserts, updates and deletes made while pages are being read (offset pages shift
when rows move or vanish; timestamps tie at one-second resolution). After the next incremental
run the destination equals the source. (tests/integration/test_paging_consistency.py proves,
with a control run, that without the overlapping pages rows would be lost.)"""

from __future__ import annotations

import random
import threading
import time

from dbsync.server import FaultSettings
from reliability_helpers import assert_destination_equals_server
from support import reference_config

DATABASES = ["acme", "globex"]


class Churn(threading.Thread):
    """Changes the server's data the whole time a sync runs, from a seeded random stream."""

    def __init__(self, server, seed: int):
        super().__init__(daemon=True)
        self.server = server
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.counts = {"insert": 0, "update": 0, "delete": 0}
        self.templates = {t: self._template(t) for t in ("orders", "customers")}

    def _template(self, table):
        record = self.server.records("acme", table)[0]
        return {k: v for k, v in record.items() if k not in ("id", "updated_at")}

    def run(self) -> None:
        while not self.stop.is_set():
            db = self.rng.choice(DATABASES)
            table = self.rng.choice(list(self.templates))
            action = self.rng.choices(["update", "delete", "insert"], weights=[6, 2, 2])[0]
            if action == "insert":
                self.server.insert(db, table, [dict(self.templates[table]) for _ in range(self.rng.randint(1, 5))])
            else:
                live = self.server.records(db, table)
                target = self.rng.choice(live[: max(1, len(live) // 3)])["id"]  # early rows: shifts everything after
                if action == "update":
                    field = "quantity" if table == "orders" else "email"
                    value = self.rng.randint(1, 9999) if table == "orders" else f"c{self.rng.randint(1, 10**6)}@x.io"
                    self.server.update(db, table, target, {field: value})
                else:
                    self.server.delete(db, table, target)
            self.counts[action] += 1
            time.sleep(self.rng.uniform(0.0, 0.02))


def test_changes_while_paging_are_all_in_the_destination_after_the_next_run(make_server, workspace, secret_watch,
                                                                           soak):
    rows = 4000 if soak else 1500
    server = make_server(seed=13, databases=2, tables_per_database=2, rows_per_table=rows,
                         faults=FaultSettings(slow_rate=1.0, slow_seconds=0.02, fault_paths=("/v1/resource",)))
    config = reference_config(server.base_url, performance={"concurrency": 4})
    config["resources"][0]["endpoint"]["paginator"]["limit"] = 100
    churn = Churn(server, seed=99)
    churn.start()
    try:
        first = workspace.sync(config)  # a full sync while the data moves under it
        second = workspace.sync(config)  # an incremental one, still moving
    finally:
        churn.stop.set()
        churn.join()
    assert first.ok and second.ok
    final = workspace.sync(config)  # the next incremental run, data at rest
    assert final.ok
    if any(t.mode == "full" for t in final.report.tables.values()):
        # rows shifted under every unfiltered read so far, so no cursor could be saved and this
        # run read the table whole again; an unfiltered listing has no tombstones: the next
        # (filtered, from the first unfiltered run's start) run reads the deletes
        final = workspace.sync(config)
        assert final.ok and all(t.mode == "incremental" for t in final.report.tables.values())
    compared = assert_destination_equals_server(workspace, server, DATABASES)
    gap_fills = sum(t.gap_fills for r in (first, second) for t in r.report.tables.values())
    print(f"\nchanges during sync: {churn.counts} while paging; {gap_fills} gap-fill pages; "
          f"{compared} rows equal after the next run")
    assert sum(churn.counts.values()) >= 30, churn.counts
