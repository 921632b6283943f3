"""``dbsync run``: sync the selected databases and tables into the destination."""

from __future__ import annotations

from typing import Optional

import typer
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
from dbsync.cli.output import summary_footer, summary_table
from dbsync.cli.progress import SyncProgress
from dbsync.partition import Shard, run_partitioned
from dbsync.pipeline import run_sync


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
    debug: DebugOption = False,
) -> None:
    """Sync every selected table of every selected database (incremental after the first run).

    Example:

        dbsync run -c dbsync.yaml --databases acme,globex --destination ./warehouse.duckdb

        dbsync run -c dbsync.yaml --shard 2/8 --destination postgres   # worker 2 of 8
    """
    setup_logging(debug)
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
    console.print(summary_table(result))
    for line in summary_footer(result):
        console.print(line)
    if partitions is not None:
        for part in partitions.partitions:
            if part.error is not None:
                console.print(f"[red]failed[/red] partition {part.database}: {part.error.one_line()}")
        if not partitions.partitions:
            console.print(f"no databases in shard {parsed_shard}" if parsed_shard else "no databases selected")
    code = partitions.exit_code() if partitions is not None else result.exit_code()
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
