"""The ``dbsync`` Typer application and its entry point.

Each command lives in its own module with a ``register(app)`` function; this module only
assembles them and turns library errors into one line on stderr and an exit code.
"""

from __future__ import annotations

import gc
import importlib
import sys
from typing import List, Optional

# Importing the commands (dlt, pyarrow, DuckDB's client, requests, typer) allocates about a
# million objects and frees almost none: the garbage collector's passes over them find nothing
# and cost 0.1 s of every command (-X importtime, medians of 8: 0.93 s against 1.06 s). Frozen
# afterwards (gc.freeze), so no later collection walks them either.
_gc_was_enabled = gc.isenabled()
gc.disable()

import typer  # noqa: E402

app = typer.Typer(
    name="dbsync",
    help="Sync every table of every database behind a database API into a warehouse (built on dlt).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

COMMAND_MODULES = ["run", "check", "discover", "status", "verify", "serve", "demo"]

try:
    for _name in COMMAND_MODULES:
        importlib.import_module(f"dbsync.cli.{_name}").register(app)
finally:
    if _gc_was_enabled:
        gc.freeze()  # else the first collection after this walks every object the imports made
        gc.enable()


def main(argv: Optional[List[str]] = None) -> None:
    """Console-script entry point. Called with ``argv`` (from Python), it raises SystemExit as
    usual; as the process's own entry point it exits without the interpreter's slow teardown."""
    from dbsync.cli.errors import run_app

    if argv is None:  # this process is the dbsync command: what it forks must not outlive it
        from dbsync.parent_watch import end_forked_children_with_this_process

        end_forked_children_with_this_process()
    code = run_app(app, argv)
    if argv is None:
        from dbsync.runtime import exit_process

        exit_process(code)
    sys.exit(code)
