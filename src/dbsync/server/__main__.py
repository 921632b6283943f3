"""``python -m dbsync.server``: the same command and options as ``dbsync serve``."""

from __future__ import annotations

from typing import List, Optional

import typer

from dbsync.cli.serve import HELP, serve


def main(argv: Optional[List[str]] = None) -> None:
    """Run the one-command app built from the ``dbsync serve`` definition."""
    from dbsync.server.runner import exit_with_parent_from_env

    exit_with_parent_from_env()
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False,
                      context_settings={"help_option_names": ["-h", "--help"]})
    app.command(help=HELP)(serve)
    app(args=argv, prog_name="python -m dbsync.server")


if __name__ == "__main__":
    main()
