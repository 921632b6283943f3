"""A failed dlt step (extract, normalize, load, sync) as one error naming the step, decided in one place.

Two things are decided here, by the error's class and nothing else:

- *what the user reads*: the destination's own message (the deepest cause: DuckDB's "Conversion
  Error: ...", PostgreSQL's "column ... is of type ..."), on one line, long quoted values
  shortened; the complete text, never cut, is kept as ``detail`` for ``--debug``;
- *whether a rerun can help*: only when dlt marks the failure transient (a lost connection, a
  locked file, a job queued for retry). A terminal failure (a type, schema or SQL error) comes
  back on every rerun until its cause is fixed, so the hint says that instead of "rerun".
"""

from __future__ import annotations

import re
from typing import List, Optional

from dbsync.errors import DestinationError, StepError
from dbsync.http.redaction import redact

LINE_LIMIT = 400  # characters of the destination's message on the one-line error
QUOTED_LIMIT = 100  # a quoted value longer than this (a record's value, not a path) is shortened
QUOTED_KEPT = 40

_QUOTED = re.compile(r"""(['"])([^'"\n]{%d,})\1""" % (QUOTED_LIMIT + 1))


STEP_WORDS = {"extract": "reading the API's records into dlt", "normalize": "turning the records into load files"}


def destination_error(step: str, exc: BaseException) -> StepError:
    """The error for a dlt step that failed with ``exc`` (``PipelineStepFailed.exception``): the
    class and exit code by the step (extract 14, normalize 15, load and the rest 12), the step
    named in the message, the original exception kept for ``--debug``'s traceback."""
    from dbsync.errors import ExtractError, NormalizeError

    cause = root_cause(exc)
    table = _job_table(exc)
    what = f"the {step} step failed" + (f" ({STEP_WORDS[step]})" if step in STEP_WORDS else "") + (
        f" on table {table}" if table else "")
    said = f"{type(cause).__name__}: {one_line(redact(str(cause)))}"
    kind = {"extract": ExtractError, "normalize": NormalizeError}.get(step, DestinationError)
    if kind is not DestinationError:
        hint = ("not an API or destination error: --debug shows where it was raised (dlt's frames included); "
                "a rerun repeats it until its cause is fixed")
    elif rerun_can_help(exc):
        hint = "the destination failure looks temporary: rerun to retry; --debug shows the full error"
    else:
        hint = ("a rerun repeats this error until its cause is fixed in the destination or the config; "
                "--debug shows the full error")
    detail = redact(f"{what}: {type(exc).__name__}: {exc}")
    if cause is not exc:
        detail += redact(f"\ncaused by {type(cause).__name__}: {cause}")
    return kind(f"{what}: {said}", hint=hint, detail=detail, original=exc)


def rerun_can_help(exc: BaseException) -> bool:
    """True when the failure is transient by dlt's classes (``TransientException``: lost
    connections, locks, jobs queued for retry) or a plain network error; the outermost marked
    exception decides, as it does for dlt's own retry of load jobs."""
    from dlt.common.exceptions import TerminalException, TransientException

    for node in _chain(exc):
        if isinstance(node, TransientException):
            return True
        if isinstance(node, TerminalException):
            return False
        if isinstance(node, (ConnectionError, TimeoutError)):
            return True
    return False


def root_cause(exc: BaseException) -> BaseException:
    """The deepest exception the destination raised: dlt's wrappers keep it as
    ``client_exception`` (failed load jobs), ``inner_exc`` (connections) or ``__cause__``."""
    return _chain(exc)[-1]


def one_line(text: str, limit: int = LINE_LIMIT) -> str:
    """The first line of ``text``, long quoted values shortened, cut at ``limit`` with "…"."""
    line = " ".join(text.strip().split("\n")[0].split())
    line = _QUOTED.sub(lambda m: f"{m.group(1)}{m.group(2)[:QUOTED_KEPT]}…{m.group(1)} "
                                 f"({len(m.group(2))} chars)", line)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _chain(exc: BaseException) -> List[BaseException]:
    out: List[BaseException] = []
    node: Optional[BaseException] = exc
    while node is not None and all(node is not seen for seen in out):
        out.append(node)
        nxt = None
        for attr in ("client_exception", "inner_exc", "inner_exception", "job_exception"):
            candidate = getattr(node, attr, None)
            if isinstance(candidate, BaseException):
                nxt = candidate
                break
        node = nxt if nxt is not None else node.__cause__
    return out


def _job_table(exc: BaseException) -> Optional[str]:
    """The destination table of a failed load job (its job id is ``<table>.<file id>.<format>``)."""
    for node in _chain(exc):
        job_id = getattr(node, "job_id", None)
        if isinstance(job_id, str) and "." in job_id:
            return job_id.split(".", 1)[0]
    return None
