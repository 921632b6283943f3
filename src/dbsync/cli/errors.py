"""Turn exceptions into one readable line and an exit code (a traceback only with --debug)."""

from __future__ import annotations

import sys
import traceback
from typing import List, Optional

import click
import typer

from dbsync.errors import DbsyncError


def run_app(app: typer.Typer, argv: Optional[List[str]] = None) -> int:
    """Run the Typer app and map errors to exit codes. Returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        app(args=args, standalone_mode=False)
        return 0
    except click.exceptions.Abort:
        print("dbsync: aborted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("dbsync: interrupted", file=sys.stderr)
        return 130
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except DbsyncError as exc:
        if debug:
            traceback.print_exc()
        print(f"dbsync: error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # an unexpected bug: still one line unless --debug
        if debug:
            traceback.print_exc()
        print(f"dbsync: internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)",
              file=sys.stderr)
        return 70
