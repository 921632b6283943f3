"""``dbsync check``: reach the API, validate the key, and each database's grant."""

from __future__ import annotations

import typer
from rich.table import Table

from dbsync.check import check_connection
from dbsync.cli.common import ConfigOption, DatabasesOption, DebugOption, console, get_config, setup_logging, split_list


def check(config: ConfigOption = None, databases: DatabasesOption = None, debug: DebugOption = False) -> None:
    """Check the connection: the API answers, the key is accepted, every database is readable.

    Exits 0 when everything is readable, with the first problem's exit code otherwise.

    Example:

        dbsync check -c dbsync.yaml
    """
    setup_logging(debug)
    cfg = get_config(config)
    results = check_connection(cfg, databases=split_list(databases))
    table = Table(show_edge=False, header_style="bold")
    for col in ("database", "status", "tables", "detail"):
        table.add_column(col)
    for r in results:
        status = "[green]ok[/green]" if r.ok else f"[red]{r.status}[/red]"
        table.add_row(r.database or "-", status, str(r.tables) if r.ok else "-",
                      r.error.one_line() if r.error else "")
    console.print(table)
    failed = [r for r in results if not r.ok]
    console.print(f"{len(results) - len(failed)} of {len(results)} databases readable at {cfg.client['base_url']}")
    if failed:
        raise typer.Exit(failed[0].error.exit_code if failed[0].error else 1)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
