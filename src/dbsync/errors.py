"""One exception tree for dbsync.

Every error a user can meet is a ``DbsyncError``: its message is one readable line that names
what went wrong and where (database, table, page) and, where we know it, what to do next. The
CLI prints that line and exits with the error's ``exit_code``; a traceback only with ``--debug``.

Messages never hold a secret: anything built from a URL, a response or a lower-level exception
passes through :func:`dbsync.http.redaction.redact` first, and lower-level exceptions are not
chained (``__cause__``/``__context__`` are cleared) because dlt pickles exception chains into
its trace file.

::

    DbsyncError                       exit 1  (generic)
    ├── ConfigError                   exit 2  bad or missing configuration, before any request
    ├── ApiError                      exit 3  the API answered, but not with what we need
    │   ├── AuthError                 exit 4  401: wrong or missing key
    │   ├── PermissionDeniedError     exit 5  403: key lacks the grant for a database
    │   ├── NotFoundError             exit 6  404: unknown path, database or table
    │   ├── RetriesExhaustedError     exit 7  retriable failures (429/5xx/timeouts) outlasted the budget
    │   └── ResponseFormatError       exit 8  body is not JSON, no data at the selector, not a list...
    │       └── IncompleteReadError   exit 8  paging ended with fewer rows than the API's total
    ├── ApiUnreachableError           exit 9  connection refused, DNS, TLS: the server is not there
    ├── DataError                     exit 10 records that break the contract (missing primary key...)
    ├── PipelineBusyError             exit 11 another run holds the pipeline's lock
    ├── StepError                             a dlt step failed (the step is named in the message)
    │   ├── DestinationError          exit 12 the destination refused the load (dlt's load or sync step)
    │   ├── ExtractError              exit 14 dlt's extract step failed on something that is no API error
    │   └── NormalizeError            exit 15 dlt's normalize step failed
    └── DriftError                    exit 13 the destination differs from the source after the run
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

__all__ = [
    "Where",
    "DbsyncError",
    "ConfigError",
    "ApiError",
    "AuthError",
    "PermissionDeniedError",
    "NotFoundError",
    "RetriesExhaustedError",
    "ResponseFormatError",
    "IncompleteReadError",
    "ApiUnreachableError",
    "DataError",
    "PipelineBusyError",
    "StepError",
    "DestinationError",
    "DriftError",
    "ExtractError",
    "NormalizeError",
]


@dataclass(frozen=True)
class Where:
    """The place an error happened: which database, table and page (as far as known)."""

    database: Optional[str] = None
    table: Optional[str] = None
    page: Optional[str] = None  # e.g. "offset 300" or "page 4"
    path: Optional[str] = None  # request path without query string

    def describe(self) -> str:
        parts = []
        if self.database is not None:
            parts.append(f"database '{self.database}'")
        if self.table is not None:
            parts.append(f"table '{self.table}'")
        elif self.path is not None:  # discovery requests: the path says which list was read
            parts.append(f"path {self.path}")
        if self.page is not None:
            parts.append(self.page)
        return ", ".join(parts)


class DbsyncError(Exception):
    """Base of every error dbsync raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, where: Optional[Where] = None, hint: Optional[str] = None):
        self.message = message
        self.where = where or Where()
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The message users see: what, where, and what to do next, on one line."""
        text = self.message
        place = self.where.describe()
        if place:
            text = f"{place}: {text}"
        if self.hint:
            text = f"{text} ({self.hint})"
        return " ".join(text.split())

    def full_text(self) -> str:
        """What ``--debug`` prints: the one line, except for errors that keep a longer ``detail``."""
        return self.one_line()

    def with_where(self, where: Where) -> "DbsyncError":
        """Return a copy of this error that knows more about where it happened."""
        merged = Where(
            database=self.where.database or where.database,
            table=self.where.table or where.table,
            page=self.where.page or where.page,
            path=self.where.path or where.path,
        )
        clone = self.__class__.__new__(self.__class__)
        clone.__dict__.update(self.__dict__)
        DbsyncError.__init__(clone, self.message, where=merged, hint=self.hint)
        return clone

    def __reduce__(self):  # keep pickling (dlt's trace) working for subclasses with extra fields
        return (_rebuild_error, (self.__class__, self.__dict__.copy()))


def _rebuild_error(cls: type, state: dict) -> DbsyncError:
    err = cls.__new__(cls)
    err.__dict__.update(state)
    Exception.__init__(err, err.one_line())
    return err


class ConfigError(DbsyncError):
    """The configuration is wrong or incomplete; raised before any request is made."""

    exit_code = 2

    def __init__(self, message: str, *, key: Optional[str] = None, source: Optional[str] = None,
                 hint: Optional[str] = None):
        self.key = key
        self.source = source
        prefix = ""
        if source:
            prefix += f"{source}: "
        if key:
            prefix += f"config key '{key}': "
        super().__init__(prefix + message, hint=hint)


class ApiError(DbsyncError):
    """The API answered with something we cannot use."""

    exit_code = 3

    def __init__(self, message: str, *, status: Optional[int] = None, where: Optional[Where] = None,
                 hint: Optional[str] = None):
        self.status = status
        super().__init__(message, where=where, hint=hint)


class AuthError(ApiError):
    exit_code = 4


class PermissionDeniedError(ApiError):
    exit_code = 5


class NotFoundError(ApiError):
    exit_code = 6


class RetriesExhaustedError(ApiError):
    exit_code = 7


class ResponseFormatError(ApiError):
    exit_code = 8


class IncompleteReadError(ResponseFormatError):
    """Paging ended with fewer rows than the API announced: the paginator missed the next page."""


class ApiUnreachableError(DbsyncError):
    exit_code = 9


class DataError(DbsyncError):
    exit_code = 10


class PipelineBusyError(DbsyncError):
    exit_code = 11


class StepError(DbsyncError):
    """A dlt step failed (:mod:`dbsync.run.load_errors` decides which class, by the step).
    ``detail`` is the complete message (several lines, never cut), shown with ``--debug``; the
    one line holds its gist. ``original`` is the exception dlt raised (its traceback, dlt's
    frames included, is what ``--debug`` prints); it is not pickled."""

    def __init__(self, message: str, *, where: Optional[Where] = None, hint: Optional[str] = None,
                 detail: Optional[str] = None, original: Optional[BaseException] = None):
        self.detail = detail
        self.original = original
        super().__init__(message, where=where, hint=hint)

    def __reduce__(self):
        state = self.__dict__.copy()
        state["original"] = None
        return (_rebuild_error, (self.__class__, state))

    def full_text(self) -> str:
        if not self.detail:
            return self.one_line()
        place = self.where.describe()
        text = f"{place}: {self.detail}" if place else self.detail
        return f"{text}\n({self.hint})" if self.hint else text


class DestinationError(StepError):
    """The destination refused the load (dlt's load step, or its sync with the destination)."""

    exit_code = 12


class DriftError(DbsyncError):
    """The destination still differs from the source after the run healed what it could (its
    check names what differs); the next run reads those tables in full."""

    exit_code = 13


class ExtractError(StepError):
    """dlt's extract step failed on something that is no API error: a record dlt cannot take, a
    schema it refuses, a bug. Named apart from the destination's errors: no rerun fixes it, and
    ``--debug`` shows where it was raised."""

    exit_code = 14


class NormalizeError(StepError):
    """dlt's normalize step failed: the extracted data could not be turned into load files (names
    that collide after normalization, a value Arrow cannot cast)."""

    exit_code = 15
