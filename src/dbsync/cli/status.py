"""``dbsync status``: what is in the destination, per table, and where each cursor stands."""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich.table import Table
from typing_extensions import Annotated

from dbsync.cli.common import ConfigOption, DebugOption, PipelineNameOption, PipelinesDirOption, console, setup_logging
from dbsync.cli.output import human_count
from dbsync.config import find_config_file, load_config
from dbsync.errors import ConfigError
from dbsync.status import sync_status


def status(
    config: ConfigOption = None,
    pipeline_name: PipelineNameOption = None,
    pipelines_dir: PipelinesDirOption = None,
    destination: Annotated[Optional[str], typer.Option("--destination", help="Count rows here instead of the last run's destination.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")] = False,
    debug: DebugOption = False,
) -> None:
    """Per table: rows in the destination, the incremental cursor, and when new data last arrived.

    Example:

        dbsync status -c dbsync.yaml
    """
    setup_logging(debug)
    name = pipeline_name
    if name is None:
        # the config only names the pipeline: status never needs its secrets
        try:
            path = find_config_file(config)
        except ConfigError:
            if config is not None:
                raise
            path = None  # no config here: the default pipeline name
        name = load_config(path, resolve_secrets=False).pipeline.name if path is not None else "dbsync"
    st = sync_status(name, pipelines_dir=pipelines_dir, destination=destination)
    if as_json:
        print(json.dumps({
            "pipeline": st.pipeline_name, "dataset": st.dataset_name, "destination": st.destination,
            "last_run": st.last_run, "last_run_ok": st.last_run_ok, "last_run_status": st.last_run_status,
            "tables": [t.__dict__ for t in st.tables],
        }, indent=2, default=str))
        return
    table = Table(title=f"pipeline {st.pipeline_name} -> {st.destination} dataset {st.dataset_name}",
                  title_justify="left", show_edge=False, header_style="bold")
    scans = any(t.last_key_scan for t in st.tables)
    for col, justify in (("resource", "left"), ("table", "left"), ("rows", "right"), ("cursor", "left"),
                         ("last change", "left")) + ((("last key scan", "left"),) if scans else ()) + (
                         ("last outcome", "left"), ("proof", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for t in st.tables:
        table.add_row(t.resource, t.table, human_count(t.rows), str(t.cursor) if t.cursor is not None else "-",
                      t.last_change or "-", *((t.last_key_scan or "-",) if scans else ()),
                      t.outcome or "-", t.proof or "-")
    console.print(table)
    for t in st.tables:
        if t.outcome in ("failed", "drift", "gone") or t.proof in ("drift", "unverified", "partial", "healed"):
            console.print(f"{t.outcome or t.proof} {t.resource}: {t.detail or '-'}", markup=False)
    if st.last_run:
        console.print(f"last run {st.last_run}: {st.last_run_status or ('ok' if st.last_run_ok else 'failed')}")


def register(app: typer.Typer) -> None:
    app.command("status")(status)
