"""The CLI's stdout console never breaks a printed line: a table's "failed ..." line is one line
however long its message (found when a database name two letters longer pushed a 429 message
past the 200 columns of a piped run, and the hint went to a second line)."""

from __future__ import annotations

from dbsync.cli.common import console


def test_a_long_failed_line_stays_one_line_when_piped():
    message = "failed database 'globex', table 'orders', offset 0: " + "gave up after 1 attempt " * 20 + "(raise it)"
    with console.capture() as captured:
        console.print(f"[red]failed[/red] {message}")
    out = captured.get()
    assert out.count("\n") == 1 and out.rstrip("\n").endswith("(raise it)"), out
