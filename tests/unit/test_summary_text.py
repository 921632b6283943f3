"""The run summary as printed: messages holding brackets (``cursor_field: [a, b]``, ``include
['*']``) must reach the terminal as written, not be eaten as rich markup."""

from __future__ import annotations

from rich.console import Console

from dbsync.cli.output import summary_footer
from dbsync.errors import NotFoundError, Where
from dbsync.http.client import RequestStats
from dbsync.run.sync import SyncResult
from dbsync.source.report import RunReport, TableReport


def _printed(result: SyncResult) -> str:
    console = Console(record=True, width=400, color_system=None)
    for line in summary_footer(result):
        console.print(line)
    return console.export_text()


def test_warnings_and_errors_with_brackets_are_printed_as_written():
    report = RunReport()
    quiet = report.add(TableReport("acme__orders", "acme__orders", "acme", "orders", cursor_fields=("updatedAt",),
                                   no_cursor=3, finished=True))
    assert quiet.no_cursor == 3
    failed = report.add(TableReport("acme__items", "acme__items", "acme", "items"))
    failed.error = NotFoundError("no table matches include ['it*'] [x]", where=Where(database="acme"))
    text = _printed(SyncResult(report=report, stats=RequestStats(), pipeline_name="p", dataset_name="d",
                               destination="duckdb:/tmp/w.duckdb", seconds=1.0, load_ids=[]))
    assert "e.g. cursor_field: [updatedAt, created_at]" in text
    assert "include ['it*'] [x]" in text
