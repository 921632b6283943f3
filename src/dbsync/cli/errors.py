"""Turn exceptions into one readable line and an exit code (a traceback only with --debug)."""

from __future__ import annotations

import sys
import traceback
from typing import List, Optional

import click
import typer

from dbsync.errors import DbsyncError
from dbsync.http.redaction import redact


def run_app(app: typer.Typer, argv: Optional[List[str]] = None) -> int:
    """Run the Typer app and map errors to exit codes. Returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        # with standalone_mode=False click returns the code of typer.Exit instead of raising it
        code = app(args=args, standalone_mode=False)
        return code if isinstance(code, int) else 0
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
            print(redact(traceback.format_exc()), file=sys.stderr)
        print(f"dbsync: error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # an unexpected bug: still one line unless --debug
        if debug:
            print(redact(traceback.format_exc()), file=sys.stderr)
        print(redact(f"dbsync: internal error: {type(exc).__name__}: {_first_line(exc)} (rerun with --debug for details)"),
              file=sys.stderr)
        return 70


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else ""
