"""``dbsync demo``: the reference server, synced into DuckDB, twice (full, then incremental)."""

from __future__ import annotations

from pathlib import Path

import typer
from typing_extensions import Annotated

from dbsync.cli.common import DebugOption, console, err_console, setup_logging
from dbsync.cli.output import summary_footer, summary_table
from dbsync.cli.progress import SyncProgress
from dbsync.demo import run_demo


def demo(
    workdir: Annotated[Path, typer.Option("--dir", help="Where the DuckDB file and pipeline state go.")] = Path(".dbsync-demo"),
    rows: Annotated[int, typer.Option("--rows", help="Rows per table on the demo server.")] = 5000,
    databases: Annotated[int, typer.Option("--databases", help="Databases on the demo server.")] = 3,
    tables: Annotated[int, typer.Option("--tables", help="Tables per database.")] = 3,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
    debug: DebugOption = False,
) -> None:
    """Start the bundled reference server, sync all of it into a local DuckDB file, change a few
    rows, sync again incrementally, print both summaries, stop the server.

    Example:

        dbsync demo --rows 20000
    """
    setup_logging(debug)
    console.print("[bold]dbsync demo[/bold]: reference server -> DuckDB")
    result = run_demo(
        workdir, rows=rows, databases=databases, tables=tables,
        on_server=lambda url: console.print(f"reference server running at {url} ({databases} databases x {tables} tables x {rows:,} rows)"),
        progress_factory=lambda: SyncProgress(err_console, enabled=not no_progress),
    )
    console.print()
    console.print(summary_table(result.full, title="Run 1: full sync"))
    for line in summary_footer(result.full):
        console.print("  " + line)
    if result.incremental is not None:
        console.print()
        console.print("Changes made on the server: " + "; ".join(result.changes))
        console.print(summary_table(result.incremental, title="Run 2: incremental sync"))
        for line in summary_footer(result.incremental):
            console.print("  " + line)
    console.print()
    console.print(f"Data is in [bold]{result.duckdb_path}[/bold] (dataset 'demo'); server stopped. Try:")
    console.print(f"  {_this_python()} -c \"import duckdb; print(duckdb.connect('{result.duckdb_path}').sql('select id, customer_name, quantity, unit_price from demo.acme__orders order by id limit 5'))\"",
                  soft_wrap=True, highlight=False)  # one line to copy, however narrow the terminal
    code = result.full.exit_code() or (result.incremental.exit_code() if result.incremental else 0)
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def _this_python() -> str:
    """The interpreter running dbsync (it has duckdb), as short as it can be said from here:
    ``.venv/bin/python`` after scripts/demo, where a bare ``python`` may lack duckdb."""
    import os
    import sys

    relative = os.path.relpath(sys.executable)
    return relative if not relative.startswith("..") else sys.executable
