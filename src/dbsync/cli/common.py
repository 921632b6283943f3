"""Options and helpers shared by the commands: config loading, selection lists, logging."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from typing_extensions import Annotated

from dbsync.config import load_config
from dbsync.config.model import SyncConfig

# results on stdout; when piped (scripts, CI logs) use a wide page so names are never cut.
# soft_wrap: a printed line is never broken by Rich (a "failed ..." line of 200+ characters
# stays one line to grep and copy); tables still fit the width.
console = Console(width=None if sys.stdout.isatty() else 200, soft_wrap=True)
err_console = Console(stderr=True)  # progress, warnings

ConfigOption = Annotated[
    Optional[Path],
    typer.Option("--config", "-c", help="Config file (YAML, TOML or JSON). Default: dbsync.yaml here, or $DBSYNC_CONFIG."),
]
DatabasesOption = Annotated[
    Optional[List[str]],
    typer.Option("--databases", "-d", help="Only these databases (ids or glob patterns; repeat or comma-separate)."),
]
TablesOption = Annotated[
    Optional[List[str]],
    typer.Option("--tables", "-t", help="Only these tables (names or glob patterns; repeat or comma-separate)."),
]
PipelineNameOption = Annotated[
    Optional[str], typer.Option("--pipeline-name", help="dlt pipeline name (default: pipeline.name in the config).")
]
PipelinesDirOption = Annotated[
    Optional[str], typer.Option("--pipelines-dir", help=(
        "Where dlt keeps pipeline state. Default: dlt's pipelines folder, $DLT_DATA_DIR/pipelines when "
        "DLT_DATA_DIR is set, else /var/dlt/pipelines when run as root, else ~/.dlt/pipelines "
        "($XDG_DATA_HOME/dlt/pipelines if that is set and ~/.dlt does not exist; <tmp>/dlt/pipelines "
        "without a writable home); inside a dlt workspace, the workspace's data folder."))
]
DebugOption = Annotated[bool, typer.Option("--debug", help="Verbose logs and full tracebacks.")]


def split_list(values: Optional[List[str]]) -> Optional[List[str]]:
    """``-d a,b -d c`` -> ``[a, b, c]``."""
    if not values:
        return None
    out = [part.strip() for v in values for part in v.split(",") if part.strip()]
    return out or None


def setup_logging(debug: bool = False) -> None:
    """WARNING and up from dbsync (retries, new fields, type changes) on stderr, one line each;
    everything with --debug. Secrets are scrubbed from every record (see http.redaction)."""
    from dbsync.http.redaction import install_log_redaction

    install_log_redaction()
    level = logging.DEBUG if debug else logging.WARNING
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s" if debug else "dbsync: %(levelname)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("dbsync").setLevel(level)
    import os

    # dlt configures its own logger from RUNTIME__LOG_LEVEL when a pipeline starts. Its ERROR
    # records repeat, with a traceback, what dbsync then reports as its one line (a failed load
    # job), so without --debug only CRITICAL ones pass
    os.environ["RUNTIME__LOG_LEVEL"] = "DEBUG" if debug else "CRITICAL"
    logging.getLogger("dlt").setLevel(logging.DEBUG if debug else logging.CRITICAL)


def get_config(path: Optional[Path]) -> SyncConfig:
    return load_config(path)
