"""``dbsync discover``: show the catalog (databases, tables, fields with types and nullability)."""

from __future__ import annotations

import json
from typing import Dict, List, Optional, Tuple

import typer
from rich.table import Table
from typing_extensions import Annotated

from dbsync.cli.common import ConfigOption, DatabasesOption, DebugOption, TablesOption, console, get_config, setup_logging, split_list
from dbsync.config.model import SyncConfig
from dbsync.discovery import Catalog, discover_catalog
from dbsync.discovery.catalog import TableInfo
from dbsync.discovery.types import dlt_type_for, resolve_type_map
from dbsync.errors import DbsyncError
from dbsync.http.client import ApiClient

Keys = Tuple[Tuple[str, ...], Optional[str]]  # (primary key, cursor field)


def discover(
    config: ConfigOption = None,
    databases: DatabasesOption = None,
    tables: TablesOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")] = False,
    debug: DebugOption = False,
) -> None:
    """List databases, tables and fields as the API describes them, with the dlt types they load as,
    and each table's primary key and cursor as a run uses them (from discovery, else the config's
    resource_defaults/resources primary_key and incremental.cursor_field).

    Always asks the API afresh: the discovery cache of `dbsync run` (discovery.cache, ETags) is
    neither read nor written.

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
    keys, plain = effective_keys(cfg, catalog)
    if as_json:
        doc = catalog.to_dict()
        for db, db_doc in zip(catalog.databases, doc["databases"]):
            for table, t in zip(db.tables, db_doc["tables"]):
                pk, cursor = keys.get((db.id, table.name), (table.primary_key, table.cursor_field))
                t["primary_key"], t["cursor_field"] = list(pk), cursor
                for f in t["fields"] or []:
                    f["dlt_type"] = dlt_type_for(f["type"], type_map, f.get("format"))
        if plain:
            doc["resources"] = [{"name": n, "primary_key": list(pk), "cursor_field": c} for n, (pk, c) in plain]
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    if not catalog.databases:
        console.print("No databases or tables are configured for discovery (the config syncs its resources as they are).")
        for name, (pk, cursor) in plain:
            console.print(f"resource [bold]{name}[/bold]  {_keys_text(pk, cursor)}")
        return
    for db in catalog.databases:
        count = f"{len(db.tables)} table" + ("" if len(db.tables) == 1 else "s")
        if db.id is None:  # no databases section: the tables are the account's own
            console.print(count)
        else:
            title = f"database [bold]{db.id}[/bold]" + (f" ({db.name})" if db.name and db.name != db.id else "")
            console.print(f"{title}: {count}")
        for t in db.tables:
            pk, cursor = keys.get((db.id, t.name), (t.primary_key, t.cursor_field))
            table = Table(title=f"{t.label}  {_keys_text(pk, cursor)}",
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


def _keys_text(pk: Tuple[str, ...], cursor: Optional[str]) -> str:
    return f"pk={','.join(pk) or '-'}  cursor={cursor or '-'}"


def effective_keys(config: SyncConfig, catalog: Catalog) -> Tuple[Dict[Tuple[Optional[str], str], Keys],
                                                                   List[Tuple[str, Keys]]]:
    """Each discovered table's primary key and cursor as a run would use them, and the same for
    the resources that do not expand per table. Taken from the run's own job planning, so
    discover never says something the run does not do; where planning refuses the config (it
    reports that itself at run time), the same precedence is applied here directly."""
    from dbsync.source.jobs import build_jobs

    try:
        jobs = build_jobs(config, catalog)  # warns, as a run would, of a cursor the table lacks
    except DbsyncError:
        jobs = []
    keys: Dict[Tuple[Optional[str], str], Keys] = {}
    plain: List[Tuple[str, Keys]] = []
    known = {(d.id, t.name) for d in catalog.databases for t in d.tables}
    for job in jobs:
        pair = (tuple(job.primary_key), job.cursor_field)
        if (job.database, job.table.name) in known:
            keys.setdefault((job.database, job.table.name), pair)
        else:
            plain.append((job.resource_name, pair))
    for db in catalog.databases:
        for t in db.tables:
            keys.setdefault((db.id, t.name), _fallback_keys(config, t))
    return keys, plain


def _fallback_keys(config: SyncConfig, table: TableInfo) -> Keys:
    default_pk = config.rest_api.get("resource_defaults", {}).get("primary_key")
    pk = table.primary_key or ((default_pk,) if isinstance(default_pk, str) else tuple(default_pk or ()))
    cursor = (table.cursor_field or config.incremental.cursor_field) if config.incremental.enabled else None
    return tuple(pk), cursor


def register(app: typer.Typer) -> None:
    app.command("discover")(discover)
