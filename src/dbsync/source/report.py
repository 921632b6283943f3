"""What a run did, table by table: the data behind the summary table and the exit code."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from dbsync.errors import DbsyncError


@dataclass
class TableReport:
    resource_name: str
    table_name: str
    database: Optional[str]
    table: str
    mode: str = "full"  # full | incremental
    rows: int = 0  # rows handed to dlt (loaded once the run's load completes)
    deleted: int = 0
    fetched: int = 0  # rows (tombstones included) fetched so far: the progress bar's count
    pages: int = 0
    requests: int = 0
    duplicates: int = 0
    gap_fills: int = 0  # pages read again because rows moved while paging
    total: Optional[int] = None  # rows the API announced, when it says
    warnings: List[str] = field(default_factory=list)  # e.g. a full last page the paginator ended on
    cursor_before: Any = None
    cursor_after: Any = None
    cursor_fields: tuple = ()  # the table's cursor (several: the first non-empty value)
    no_cursor: int = 0  # rows that arrived without a cursor value (every cursor field empty)
    unfit_cursor: int = 0  # rows whose cursor value does not fit the cursor column's type
    cursor_kept: bool = False  # rows may be missing from this run: the cursor was not moved
    # deletes found by listing keys (deletes.detect: keys / full_read): "complete", "incomplete",
    # "not due" (every: not yet), None when the table is not scanned; deleted counts them too
    scan: Optional[str] = None
    scan_keys: int = 0  # keys listed by a complete scan
    scan_pages: int = 0  # pages of the key listing (counted in requests as well)
    scan_problem: Optional[str] = None  # why the scan is incomplete (nothing deleted)
    scan_pending: int = 0  # rows missed by a scan of pages that do not overlap: removed when the next misses them too
    scan_missing: int = 0  # keys the scan listed that the destination has no live row for
    scan_id: Optional[str] = None  # the scan whose keys were kept to check the missing ones again
    seconds: float = 0.0
    error: Optional[DbsyncError] = None
    started: Optional[float] = None
    finished: bool = False
    database_name: Optional[str] = None  # set when the API names the database apart from its id
    # the proof of sync (dbsync.reconcile): what the source holds, as far as this run knows it
    source_count: Any = None  # a dbsync.reconcile.probe.SourceCount
    count_problem: Optional[str] = None  # why the source's count is not known
    from_initial: bool = False  # read from incremental.initial_value: older rows are left out on purpose
    count_untrusted: bool = False  # the source's count disagreed with a full read: not asked again
    check: Any = None  # a dbsync.reconcile.check.TableCheck, after the load
    table_id: Optional[str] = None  # set when the API addresses the table by an id apart from its name

    @property
    def source(self) -> str:
        """The table as people know it, with the API's ids where they differ:
        ``crm.customers (p2ofizxd.mhcsag29)``."""
        db = self.database if self.database_name is None else self.database_name
        name = f"{db}.{self.table}" if db else self.table
        if self.database_name is None and self.table_id is None:
            return name
        ids = f"{self.database}.{self.table_id or self.table}" if self.database else str(self.table_id)
        return f"{name} ({ids})"

    @property
    def status(self) -> str:
        """ok, failed, drift (the destination differs from the source), healed (it differed and
        was read again), not run."""
        if self.error is not None:
            return "failed"
        if not self.finished:
            return "not run"
        if self.check is not None and self.check.status in ("drift", "healed"):
            return self.check.status
        return "ok"


@dataclass
class RunReport:
    tables: Dict[str, TableReport] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    gone: List[Any] = field(default_factory=list)  # dbsync.reconcile.gone.GoneTable: tables no longer in the source
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, report: TableReport) -> TableReport:
        with self._lock:
            self.tables[report.resource_name] = report
        return report

    @property
    def failed(self) -> List[TableReport]:
        return [t for t in self.tables.values() if t.error is not None]

    @property
    def drifted(self) -> List[TableReport]:
        """Tables whose destination still differs from the source after the run."""
        return [t for t in self.tables.values() if t.error is None and t.status == "drift"]

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables.values())

    @property
    def deleted(self) -> int:
        return sum(t.deleted for t in self.tables.values())
