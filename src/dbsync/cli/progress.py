"""Live progress while syncing: rows fetched out of the totals the API announced, with an ETA."""

from __future__ import annotations

from typing import Dict, Optional

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from dbsync.source.report import TableReport


class SyncProgress:
    """A progress bar over all tables; totals grow as each table's first page announces its size."""

    def __init__(self, console: Console, enabled: bool = True):
        self.enabled = enabled and console.is_terminal
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self.task: Optional[int] = None
        self.tables: Dict[str, TableReport] = {}

    def __enter__(self) -> "SyncProgress":
        if self.enabled:
            self.progress.start()
            self.task = self.progress.add_task("syncing", total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.progress.stop()

    def __call__(self, report: TableReport) -> None:
        if not self.enabled or self.task is None:
            return
        self.tables[report.resource_name] = report
        done = sum(t.fetched for t in self.tables.values())
        known = [t for t in self.tables.values() if t.total is not None]
        total = sum(max(t.total or 0, t.fetched) for t in known) or None
        finished = sum(1 for t in self.tables.values() if t.finished or t.error)
        label = report.source
        self.progress.update(self.task, completed=done, total=total,
                             description=f"{finished} tables done · {label}")
