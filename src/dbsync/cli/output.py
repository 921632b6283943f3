"""Rendering results for people (rich tables) and machines (JSON)."""

from __future__ import annotations

from typing import List, Optional

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dbsync.pipeline import SyncResult


def human_count(n: Optional[int]) -> str:
    return "-" if n is None else f"{n:,}"


def human_seconds(s: float) -> str:
    if s < 60:
        return f"{s:.1f}s"
    m, sec = divmod(int(s), 60)
    return f"{m}m{sec:02d}s"


def summary_table(result: SyncResult, title: str = "Sync summary") -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, header_style="bold")
    for col, justify in (("source", "left"), ("destination table", "left"), ("mode", "left"), ("rows", "right"),
                         ("deleted", "right"), ("pages", "right"), ("time", "right"), ("status", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for rep in sorted(result.report.tables.values(), key=lambda r: (str(r.database), r.table)):
        status = Text("ok", style="green") if rep.status == "ok" else Text(rep.status, style="red bold")
        source = f"{rep.database}.{rep.table}" if rep.database else rep.table
        table.add_row(source, rep.table_name, "incr" if rep.mode == "incremental" else rep.mode,
                      human_count(rep.rows), human_count(rep.deleted), human_count(rep.pages),
                      human_seconds(rep.seconds), status)
    return table


def summary_footer(result: SyncResult) -> List[str]:
    rep = result.report
    rate = rep.rows / result.seconds if result.seconds > 0 else 0.0
    lines = [
        f"{len(rep.tables)} tables, {human_count(rep.rows)} rows upserted, {human_count(rep.deleted)} deleted "
        f"in {human_seconds(result.seconds)} ({rate:,.0f} rows/s)",
        f"{human_count(result.stats.requests)} requests, {human_count(result.stats.total_retries)} retries"
        + (" (" + ", ".join(f"{k}: {v}" for k, v in sorted(result.stats.retries.items())) + ")"
           if result.stats.retries else ""),
        f"destination {result.destination}, dataset {result.dataset_name}, pipeline {result.pipeline_name}",
    ]
    for table in rep.tables.values():
        for warning in table.warnings:
            lines.append(f"[yellow]warning[/yellow] {escape(warning)}")
    for failed in rep.failed:
        lines.append(f"[red]failed[/red] {failed.error.one_line() if failed.error else failed.table}")
    return lines
