"""``dbsync run``: sync the selected databases and tables into the destination."""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich.markup import escape
from typing_extensions import Annotated

from dbsync.cli.common import (
    ConfigOption,
    DatabasesOption,
    DebugOption,
    PipelineNameOption,
    PipelinesDirOption,
    TablesOption,
    console,
    err_console,
    get_config,
    setup_logging,
    split_list,
)
from dbsync.cli.output import error_dict, result_dict, summary_footer, summary_table
from dbsync.errors import DbsyncError
from dbsync.cli.progress import SyncProgress
from dbsync.run.partition import Shard, run_partitioned
from dbsync.run.sync import run_sync


def run(
    config: ConfigOption = None,
    databases: DatabasesOption = None,
    tables: TablesOption = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Drop the selected tables and their cursors, then sync everything again.")] = False,
    destination: Annotated[Optional[str], typer.Option("--destination", help="dlt destination name (duckdb, postgres, ...) or a path to a .duckdb file (default: ./<pipeline>-warehouse.duckdb in the current folder).")] = None,
    dataset: Annotated[Optional[str], typer.Option("--dataset", help="Dataset (schema) name in the destination.")] = None,
    pipeline_name: PipelineNameOption = None,
    pipelines_dir: PipelinesDirOption = None,
    partitioned: Annotated[bool, typer.Option("--partitioned", help="One pipeline (own state) per database, named <pipeline>__<database>, so several workers can sync different databases into one destination at once.")] = False,
    shard: Annotated[Optional[str], typer.Option("--shard", help="Only shard K of N (e.g. 2/8; stable: a hash of the database id). Implies --partitioned.")] = None,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run's result as JSON on stdout (per table: status, rows, deletes, requests, warnings, error; requests, retries, destination), for orchestrators; no progress bar. A run that cannot start prints {\"ok\": false, \"error\": ...}. The exit code is the same as without it.")] = False,
    debug: DebugOption = False,
) -> None:
    """Sync every selected table of every selected database (incremental after the first run).

    Example:

        dbsync run -c dbsync.yaml --databases acme,globex --destination ./warehouse.duckdb

        dbsync run -c dbsync.yaml --shard 2/8 --destination postgres   # worker 2 of 8

        dbsync run --json | jq '.tables[] | select(.status != "ok")'
    """
    setup_logging(debug)
    try:
        _run(config, databases, tables, full_refresh, destination, dataset, pipeline_name, pipelines_dir,
             partitioned, shard, no_progress or as_json, as_json)
    except DbsyncError as exc:
        if as_json:  # stdout stays JSON; the one line still goes to stderr
            print(json.dumps({"ok": False, "exit_code": exc.exit_code, "error": error_dict(exc)}))
        raise


def _run(config: Optional[str], databases: Optional[str], tables: Optional[str], full_refresh: bool,
         destination: Optional[str], dataset: Optional[str], pipeline_name: Optional[str],
         pipelines_dir: Optional[str], partitioned: bool, shard: Optional[str], no_progress: bool,
         as_json: bool) -> None:
    parsed_shard = Shard.parse(shard) if shard is not None else None
    cfg = get_config(config)
    with SyncProgress(err_console, enabled=not no_progress) as progress:
        kwargs = dict(destination=destination, dataset=dataset, pipeline_name=pipeline_name,
                      pipelines_dir=pipelines_dir, databases=split_list(databases), tables=split_list(tables),
                      full_refresh=full_refresh, progress=progress)
        if partitioned or parsed_shard is not None:
            partitions = run_partitioned(cfg, shard=parsed_shard, **kwargs)  # type: ignore[arg-type]
            result = partitions.combined()
        else:
            partitions = None
            result = run_sync(cfg, **kwargs)  # type: ignore[arg-type]
    code = partitions.exit_code() if partitions is not None else result.exit_code()
    if as_json:
        doc = result_dict(result)
        doc["exit_code"] = code
        if partitions is not None:
            doc["ok"] = doc["ok"] and code == 0
            doc["partitions"] = [{"database": p.database, "error": error_dict(p.error) if p.error else None}
                                 for p in partitions.partitions]
        print(json.dumps(doc, ensure_ascii=False))
        if code:
            raise typer.Exit(code)
        return
    console.print(summary_table(result))
    for line in summary_footer(result):
        console.print(line)
    if partitions is not None:
        for part in partitions.partitions:
            if part.error is not None:
                console.print(f"[red]failed[/red] partition {escape(str(part.database))}: {escape(part.error.one_line())}")
        if not partitions.partitions:
            console.print(f"no databases in shard {parsed_shard}" if parsed_shard else "no databases selected")
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
