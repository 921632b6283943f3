"""Rendering results for people (rich tables) and machines (JSON)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dbsync.errors import DbsyncError
from dbsync.run.sync import SyncResult


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
        style = {"ok": "green", "healed": "yellow"}.get(rep.status, "red bold")
        status = Text(rep.status, style=style)
        source = rep.source
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
    scan_line = key_scan_line(result)
    if scan_line:
        lines.append(scan_line)
    proof = proof_line(result)
    if proof:
        lines.append(proof)
    for table in rep.tables.values():
        for warning in table.warnings:
            lines.append(f"[yellow]warning[/yellow] {escape(warning)}")
    for failed in rep.failed:
        lines.append(f"[red]failed[/red] {escape(failed.error.one_line() if failed.error else failed.table)}")
    for gone in rep.gone:
        lines.append(f"[yellow]gone[/yellow] {escape(gone.describe())}")
    for line in proof_details(result):
        lines.append(escape(line).replace("drift ", "[red]drift[/red] ", 1).replace("healed ", "[yellow]healed[/yellow] ", 1))
    lines.extend(f"[yellow]warning[/yellow] {escape(w)}" for w in cursor_warnings(result))  # [a, b]: not markup
    return lines


def proof_line(result: SyncResult) -> Optional[str]:
    """How many tables the run proved equal to their source, healed, found different, or could
    not prove (dbsync.reconcile), on one line; None when nothing was checked."""
    checks = [t.check for t in result.report.tables.values() if t.check is not None]
    if not checks:
        return None
    counts: Dict[str, int] = {}
    for check in checks:
        counts[check.status] = counts.get(check.status, 0) + 1
    order = ("verified", "healed", "drift", "partial", "unverified")
    words = {"verified": "equal to the source", "healed": "healed (read again, now equal)",
             "drift": "DIFFERENT from the source", "partial": "partial by initial_value", "unverified": "not proven"}
    parts = [f"{counts[s]} {words[s]}" for s in order if counts.get(s)]
    return "proof: " + ", ".join(parts)


def proof_details(result: SyncResult) -> List[str]:
    """One line per table the proof did not simply verify: what differed, what was healed, what
    could not be proven and why."""
    out = []
    for rep in sorted(result.report.tables.values(), key=lambda r: (str(r.database), r.table)):
        check = rep.check
        if check is None or check.status == "verified":
            continue
        out.append(f"{check.status} {rep.source}: {check.describe()}")
    return out


def key_scan_line(result: SyncResult) -> Optional[str]:
    """What the scans for deletes did (deletes.detect: keys / full_read), or None without any."""
    scanned = [t for t in result.report.tables.values() if t.scan is not None]
    if not scanned:
        return None
    complete = [t for t in scanned if t.scan == "complete"]
    parts = [f"{len(complete)} table(s) scanned for deletes ({human_count(sum(t.scan_keys for t in complete))} keys)"]
    pending = sum(t.scan_pending for t in scanned)
    if pending:
        parts.append(f"{human_count(pending)} row(s) not listed once, removed if the next scan misses them too "
                     "(pages that do not overlap)")
    incomplete = sum(1 for t in scanned if t.scan == "incomplete")
    if incomplete:
        parts.append(f"{incomplete} incomplete (nothing deleted there): deletes not checked in {incomplete} table(s)")
    not_due = sum(1 for t in scanned if t.scan == "not due")
    if not_due:
        parts.append(f"{not_due} not due yet (deletes.every)")
    return "; ".join(parts)


def cursor_warnings(result: SyncResult) -> List[str]:
    """What an incremental run will not see again: rows without a cursor value, cursor values
    that do not fit the cursor column, a cursor held back because rows may be missing."""
    out: List[str] = []
    for rep in sorted(result.report.tables.values(), key=lambda r: (str(r.database), r.table)):
        source = rep.source
        fields = ", ".join(rep.cursor_fields)
        if rep.no_cursor:
            out.append(f"{source}: {human_count(rep.no_cursor)} row(s) arrived with no value in cursor field "
                       f"{fields}; incremental runs see them again only if the filter matches an empty cursor "
                       f"(or after --full-refresh): give a fallback, e.g. cursor_field: [{rep.cursor_fields[0]}, "
                       f"created_at], with a filter that covers it")
        if rep.unfit_cursor and rep.error is None:
            out.append(f"{source}: {human_count(rep.unfit_cursor)} value(s) of cursor field {fields} do not fit its "
                       f"column type (kept in the __v_text column) and are not compared; map the type under 'types:'")
        if rep.cursor_kept:
            out.append(f"{source}: rows moved while paging and could not be re-read; the cursor was not moved, "
                       f"so the next run reads them again")
    return out


def error_dict(error: DbsyncError) -> Dict[str, Any]:
    """An error as orchestrators read it: kind, exit code, where, the one line (never a secret:
    messages are redacted when the error is made)."""
    return {"type": type(error).__name__, "exit_code": error.exit_code, "message": error.one_line(),
            "database": error.where.database, "table": error.where.table, "page": error.where.page}


def result_dict(result: SyncResult) -> Dict[str, Any]:
    """``dbsync run --json``: the run's result, per table, for orchestrators (stable keys)."""
    tables = []
    for rep in sorted(result.report.tables.values(), key=lambda r: (str(r.database), r.table)):
        tables.append({
            "database": rep.database, "table": rep.table, "destination_table": rep.table_name,
            "status": rep.status, "mode": rep.mode, "rows": rep.rows, "deleted": rep.deleted,
            "pages": rep.pages, "requests": rep.requests, "total": rep.total, "gap_fills": rep.gap_fills,
            "duplicates": rep.duplicates, "no_cursor": rep.no_cursor, "unfit_cursor": rep.unfit_cursor,
            "cursor_fields": list(rep.cursor_fields), "cursor_before": _plain(rep.cursor_before),
            "cursor_after": _plain(rep.cursor_after), "seconds": round(rep.seconds, 3),
            "warnings": list(rep.warnings), "error": error_dict(rep.error) if rep.error is not None else None,
            "key_scan": None if rep.scan is None else {"status": rep.scan, "keys": rep.scan_keys,
                                                       "pages": rep.scan_pages, "problem": rep.scan_problem,
                                                       "pending": rep.scan_pending, "missing": rep.scan_missing},
            "check": rep.check.as_dict() if rep.check is not None else None,
        })
    stats = result.stats
    return {
        "ok": result.ok, "exit_code": result.exit_code(),
        "pipeline": result.pipeline_name, "dataset": result.dataset_name, "destination": result.destination,
        "seconds": round(result.seconds, 3), "rows": result.report.rows, "deleted": result.report.deleted,
        "requests": stats.requests, "bytes_received": stats.bytes_received,
        "retries": {"total": stats.total_retries, "by_reason": dict(sorted(stats.retries.items()))},
        "load_ids": list(result.load_ids), "tables": tables, "warnings": run_warnings(result),
        "gone": [gone.as_dict() for gone in result.report.gone],
    }


def run_warnings(result: SyncResult) -> List[str]:
    """Every warning of the run: each table's own (prefixed with the table where it does not
    name it), what the proof of sync could not prove or found different, and the cursor
    warnings."""
    out: List[str] = []
    for rep in sorted(result.report.tables.values(), key=lambda r: (str(r.database), r.table)):
        for warning in rep.warnings:
            out.append(warning if rep.source in warning or rep.table in warning else f"{rep.source}: {warning}")
    out.extend(proof_details(result))
    out.extend(gone.describe() for gone in result.report.gone)
    out.extend(cursor_warnings(result))
    return out


def _plain(value: Any) -> Any:
    """A cursor value as JSON holds it (the API's own value; anything else as text)."""
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)
