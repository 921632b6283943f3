"""Turn exceptions into one readable line and an exit code (a traceback only with --debug)."""

from __future__ import annotations

import sys
import traceback
from typing import List, Optional

import click
import typer

from dbsync.errors import DbsyncError
from dbsync.http.redaction import redact

try:  # Typer >= 0.17 vendors click: its parser raises these, not click's own
    from typer._click import exceptions as _typer_click
except ImportError:  # pragma: no cover - an older Typer on plain click
    _typer_click = click.exceptions  # type: ignore[assignment]

USAGE_ERRORS = tuple({click.exceptions.UsageError, _typer_click.UsageError})
CLICK_ERRORS = tuple({click.exceptions.ClickException, _typer_click.ClickException})
ABORTS = tuple({click.exceptions.Abort, typer.Abort, getattr(_typer_click, "Abort", typer.Abort)})
EXITS = tuple({click.exceptions.Exit, typer.Exit, getattr(_typer_click, "Exit", typer.Exit)})
NO_ARGS = tuple(getattr(m, "NoArgsIsHelpError") for m in {click.exceptions, _typer_click}
                if hasattr(m, "NoArgsIsHelpError"))
USAGE_EXIT = 2  # click's code for a usage error (also ConfigError's: the user typed something wrong)


def run_app(app: typer.Typer, argv: Optional[List[str]] = None) -> int:
    """Run the Typer app and map errors to exit codes. Returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        # with standalone_mode=False click returns the code of typer.Exit instead of raising it
        code = app(args=args, standalone_mode=False)
        return code if isinstance(code, int) else 0
    except ABORTS:
        print("dbsync: aborted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("dbsync: interrupted", file=sys.stderr)
        return 130
    except EXITS as exc:
        return exc.exit_code
    except NO_ARGS as exc:  # `dbsync` alone: the help, as a usage error
        exc.show()
        return USAGE_EXIT
    except USAGE_ERRORS as exc:  # unknown option or command, missing or bad value: one line, exit 2
        print(redact(f"dbsync: error: {_usage_line(exc)}"), file=sys.stderr)
        return USAGE_EXIT
    except CLICK_ERRORS as exc:
        print(redact(f"dbsync: error: {' '.join(exc.format_message().split())}"), file=sys.stderr)
        return exc.exit_code
    except DbsyncError as exc:
        if debug:  # the traceback (where dlt raised it, when a dlt step failed), then the complete message
            original = getattr(exc, "original", None)
            if isinstance(original, BaseException):
                print(redact("".join(traceback.format_exception(original))), file=sys.stderr)
            print(redact(traceback.format_exc()), file=sys.stderr)
            print(f"dbsync: error: {exc.full_text()}", file=sys.stderr)
        else:
            print(f"dbsync: error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # an unexpected bug: still one line unless --debug
        if debug:
            print(redact(traceback.format_exc()), file=sys.stderr)
        print(redact(f"dbsync: internal error: {type(exc).__name__}: {_first_line(exc)} (rerun with --debug for details)"),
              file=sys.stderr)
        return 70


def _usage_line(exc: BaseException) -> str:
    """``No such option: --bogus (see `dbsync run --help`)``: the message and where to look."""
    message = " ".join(exc.format_message().split())  # type: ignore[attr-defined]
    ctx = getattr(exc, "ctx", None)
    names = []
    while ctx is not None and ctx.parent is not None:  # the root's name is python's, not ours
        names.append(ctx.info_name)
        ctx = ctx.parent
    command = " ".join(["dbsync", *reversed([n for n in names if n])])
    return f"{message} (usage: see `{command} --help`)"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else ""
