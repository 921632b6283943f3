"""``dbsync verify``: is the destination equal to the source? Checked without loading anything."""

from __future__ import annotations

import json
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from typing_extensions import Annotated

from dbsync.cli.common import (
    ConfigOption,
    DatabasesOption,
    DebugOption,
    PipelineNameOption,
    PipelinesDirOption,
    TablesOption,
    console,
    get_config,
    setup_logging,
    split_list,
)
from dbsync.cli.output import human_count, summary_footer, summary_table
from dbsync.reconcile.verify import VerifyResult, verify_sync


def verify(
    config: ConfigOption = None,
    databases: DatabasesOption = None,
    tables: TablesOption = None,
    keys: Annotated[bool, typer.Option("--keys", help="List every key of every table and compare (tables with a key listing, deletes.detect: keys, are compared anyway).")] = False,
    sample: Annotated[Optional[int], typer.Option("--sample", min=0, help="Rows per table read again from random pages and compared value by value (default: verify.sample in the config, 0).")] = None,
    repair: Annotated[bool, typer.Option("--repair", help="Read the tables that differ again, in full, keys compared; then verify again.")] = False,
    destination: Annotated[Optional[str], typer.Option("--destination", help="Compare with this destination instead of the last run's.")] = None,
    dataset: Annotated[Optional[str], typer.Option("--dataset", help="Dataset (schema) name in the destination.")] = None,
    pipeline_name: PipelineNameOption = None,
    pipelines_dir: PipelinesDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="The result as JSON on stdout (per table: status, counts and how each was known, keys missing and extra, sampled values that differ, what could not be checked). The exit code is the same.")] = False,
    debug: DebugOption = False,
) -> None:
    """Compare the destination of a pipeline that has run with the source, table by table:
    counts, keys, sampled values. Exit 0 when everything it could check is equal (it says what it
    could not check), 13 when a table differs.

    Example:

        dbsync verify -c dbsync.yaml

        dbsync verify --keys --sample 100 -t orders

        dbsync verify --repair     # read the tables that differ again, then verify again
    """
    setup_logging(debug)
    cfg = get_config(config)
    kwargs = dict(destination=destination, dataset=dataset, pipeline_name=pipeline_name, pipelines_dir=pipelines_dir,
                  databases=split_list(databases), tables=split_list(tables))
    result = verify_sync(cfg, keys=keys, sample=sample, **kwargs)  # type: ignore[arg-type]
    repaired = None
    if repair and result.differing:
        from dbsync.run.sync import run_sync

        if not as_json:
            _print(result, title="Verify (before repair)")
        repaired = run_sync(cfg, repair=[t.resource_name for t in result.differing], **kwargs)  # type: ignore[arg-type]
        if not as_json:
            console.print(summary_table(repaired, title="Repair"))
            for line in summary_footer(repaired):
                console.print(line)
        result = verify_sync(cfg, keys=keys, sample=sample, **kwargs)  # type: ignore[arg-type]
    code = result.exit_code()
    if as_json:
        doc = {"ok": result.ok and code == 0, "exit_code": code, "pipeline": result.pipeline_name,
               "dataset": result.dataset_name, "destination": result.destination, "requests": result.requests,
               "seconds": round(result.seconds, 3), "tables": [t.as_dict() for t in result.tables]}
        if repaired is not None:
            doc["repaired"] = [t.resource_name for t in repaired.report.tables.values()]
        print(json.dumps(doc, default=str))
    else:
        _print(result)
    if code:
        raise typer.Exit(code)


def _print(result: VerifyResult, title: str = "Verify") -> None:
    table = Table(title=f"{title}: {result.destination}, dataset {result.dataset_name}", title_justify="left",
                  show_edge=False, header_style="bold")
    for col, justify in (("source", "left"), ("destination table", "left"), ("source rows", "right"),
                         ("destination rows", "right"), ("keys missing/extra", "right"), ("values differ", "right"),
                         ("status", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for t in result.tables:
        style = {"equal": "green", "behind": "yellow", "unverified": "yellow"}.get(t.status, "red bold")
        keys = "-" if t.missing_keys is None else f"{t.missing_keys:,}/{t.extra_keys or 0:,}"
        values = "-" if t.sampled is None else f"{t.values_differ or 0:,} of {t.sampled:,}"
        table.add_row(t.source, t.table_name, human_count(t.source_rows), human_count(t.destination_rows), keys,
                      values, Text(t.status, style=style))
    console.print(table)
    for t in result.tables:
        for difference in t.differences:
            console.print(f"[red]differs[/red] {escape(t.source)}: {escape(difference)}" if t.status == "differs"
                          else f"[yellow]behind[/yellow] {escape(t.source)}: {escape(difference)} ({_behind(t)})")
        for label, examples in t.examples.items():
            console.print(f"  {label} keys, e.g.: {escape(', '.join(str(e) for e in examples))}")
        for example in t.value_examples:
            console.print(f"  {escape(example)}")
        for reason in t.not_checked:
            console.print(f"[yellow]not checked[/yellow] {escape(t.source)}: {escape(reason)}")
    counts: List[str] = []
    for status in ("equal", "behind", "differs", "unverified"):
        n = sum(1 for t in result.tables if t.status == status)
        if n:
            counts.append(f"{n} {status}")
    how = {t.source_how for t in result.tables if t.source_how} | {t.keys_how for t in result.tables if t.keys_how}
    console.print(f"{len(result.tables)} tables: {', '.join(counts) or 'nothing checked'}; "
                  f"{human_count(result.requests)} requests in {result.seconds:.1f}s"
                  + (f"; counts and keys from: {', '.join(sorted(how))}" if how else ""))


def _behind(t: object) -> str:
    """Why a table that differs is only behind: changes since the last run, deletes on their way."""
    parts = []
    if getattr(t, "changed_since", None):
        parts.append(f"{t.changed_since:,} row(s) changed in the source since the last run")  # type: ignore[attr-defined]
    if getattr(t, "pending_deletes", 0):
        parts.append(f"{t.pending_deletes:,} delete(s) wait for the next key scan to confirm them")  # type: ignore[attr-defined]
    return "; ".join(parts) + ": `dbsync run` brings them"


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)
