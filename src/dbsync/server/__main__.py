"""``python -m dbsync.server``: the same command and options as ``dbsync serve``."""

from __future__ import annotations

from typing import List, Optional

import typer

from dbsync.cli.serve import HELP, serve


def main(argv: Optional[List[str]] = None) -> None:
    """Run the one-command app built from the ``dbsync serve`` definition."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False,
                      context_settings={"help_option_names": ["-h", "--help"]})
    app.command(help=HELP)(serve)
    app(args=argv, prog_name="python -m dbsync.server")


if __name__ == "__main__":
    main()
