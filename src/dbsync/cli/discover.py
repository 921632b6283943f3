"""``dbsync discover``: show the catalog (databases, tables, fields with types and nullability)."""

from __future__ import annotations

import json

import typer
from rich.table import Table
from typing_extensions import Annotated

from dbsync.cli.common import ConfigOption, DatabasesOption, DebugOption, TablesOption, console, get_config, setup_logging, split_list
from dbsync.discovery import discover_catalog
from dbsync.discovery.types import dlt_type_for, resolve_type_map
from dbsync.http.client import ApiClient


def discover(
    config: ConfigOption = None,
    databases: DatabasesOption = None,
    tables: TablesOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")] = False,
    debug: DebugOption = False,
) -> None:
    """List databases, tables and fields as the API describes them, with the dlt types they load as.

    Example:

        dbsync discover -c dbsync.yaml --databases acme --json
    """
    setup_logging(debug)
    cfg = get_config(config)
    client = ApiClient(cfg)
    try:
        catalog = discover_catalog(cfg, client, databases=split_list(databases), tables=split_list(tables))
    finally:
        client.close()
    type_map = resolve_type_map(cfg.types)
    if as_json:
        doc = catalog.to_dict()
        for db in doc["databases"]:
            for t in db["tables"]:
                for f in t["fields"] or []:
                    f["dlt_type"] = dlt_type_for(f["type"], type_map, f.get("format"))
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    if not catalog.databases:
        console.print("No databases or tables are configured for discovery (the config syncs its resources as they are).")
        return
    for db in catalog.databases:
        title = f"database [bold]{db.id}[/bold]" + (f" ({db.name})" if db.name and db.name != db.id else "")
        console.print(title + f": {len(db.tables)} tables")
        for t in db.tables:
            table = Table(title=f"{t.name}  pk={','.join(t.primary_key) or '-'}  cursor={t.cursor_field or '-'}",
                          title_justify="left", show_edge=False, header_style="bold")
            for col in ("field", "API type", "dlt type", "nullable"):
                table.add_column(col)
            for f in t.fields or []:
                dlt_type = dlt_type_for(f.api_type, type_map, f.format)
                api_type = (f.api_type or "-") + (f" ({f.format})" if f.format else "")
                table.add_row(f.name, api_type, dlt_type or "[yellow]inferred[/yellow]",
                              "?" if f.nullable is None else ("yes" if f.nullable else "no"))
            if t.fields is None:
                table.add_row("(fields not described by the API: types inferred from the data)", "", "", "")
            console.print(table)
        console.print()


def register(app: typer.Typer) -> None:
    app.command("discover")(discover)
