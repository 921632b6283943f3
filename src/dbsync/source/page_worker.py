"""Parse and convert pages in worker processes, so a sync uses more than one core.

A sync is CPU-bound in the client: each page of 1,000 records costs about 5 ms of orjson parsing
and 8 ms of Arrow conversion, all under one GIL (measured: more fetch threads made it *slower*).
Worker processes take that work: the fetch threads send them the raw body and get an Arrow table
back (Arrow IPC, a copy of a few hundred KB), while the parent keeps HTTP, retries, ordering and
dlt. On two cores this made the fetch-and-convert part 1.5-1.8x faster.

The worker runs the very same code as the in-thread path (``PageProcessor``), so both produce
the same rows, values and types; only where it runs differs. Warnings it logs travel back with
the result and are logged by the parent.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

import pyarrow as pa

from dbsync.config.model import DeleteSettings, ValueRule
from dbsync.discovery.catalog import TableInfo
from dbsync.errors import DbsyncError, Where

logger = logging.getLogger("dbsync.workers")

INVALID_JSON = "invalid-json"  # the body did not parse: the caller retries the request


@dataclass(frozen=True)
class TableSpec:
    """Everything a worker needs to convert pages of one table (sent with every page)."""

    key: str
    table: TableInfo
    type_map: Mapping[str, str]
    deletes: DeleteSettings
    where: Where
    database_column: Optional[str]
    database_value: Optional[str]
    primary_key: Tuple[str, ...]
    cursor_field: Any  # a field name or a tuple of them
    data_selector: Optional[str]
    total_path: Optional[str]
    skip_cursor: Any = None
    skip_hashes: FrozenSet[str] = frozenset()
    value_rules: Mapping[str, ValueRule] = field(default_factory=dict)  # as TableConverter's
    columns: Any = None  # resources[].columns hints (TableConverter)


@dataclass(frozen=True)
class PageJob:
    label: str
    offset: Optional[int]
    limit: Optional[int]
    drop_first: bool = False
    fill_lower: Any = None  # RowKey: keep rows after it (gap fills)
    fill_upper: Any = None  # RowKey or None


@dataclass
class PageOutcome:
    ipc: bytes
    raw_count: int
    total: Optional[int]
    cursor_max: Any
    boundary: List[str]
    deleted: int
    duplicates: int
    skipped: int
    first_key: Any
    last_key: Any
    no_cursor: int = 0
    unfit_cursor: int = 0
    unfit_example: Any = None
    cursor_first: Any = None
    cursor_sorted: bool = False
    logs: List[Tuple[int, str]] = field(default_factory=list)
    inferred: Dict[str, Optional[str]] = field(default_factory=dict)
    relaxed: List[str] = field(default_factory=list)

    def table(self) -> pa.Table:
        return pa.ipc.open_stream(self.ipc).read_all()


# -- in the worker process -----------------------------------------------------------------------

_processors: Dict[str, Any] = {}
_captured: List[Tuple[int, str]] = []


class _Capture(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        _captured.append((record.levelno, record.getMessage()))


def _init_worker() -> None:
    import gc

    gc.freeze()
    gc.set_threshold(20_000, 50, 1_000)
    root = logging.getLogger("dbsync")
    root.handlers = [_Capture()]
    root.setLevel(logging.INFO)
    root.propagate = False


def _processor(spec: TableSpec) -> Any:
    processor = _processors.get(spec.key)
    if processor is None:
        from dbsync.source.convert import TableConverter
        from dbsync.source.readers import PageProcessor

        converter = TableConverter(spec.table, type_map=spec.type_map, deletes=spec.deletes, where=spec.where,
                                   database_column=spec.database_column, database_value=spec.database_value,
                                   primary_key=spec.primary_key, value_rules=spec.value_rules,
                                   columns=spec.columns)
        processor = PageProcessor(converter=converter, data_selector=spec.data_selector, where=spec.where,
                                  primary_key=spec.primary_key, cursor_field=spec.cursor_field)
        _processors[spec.key] = processor
    processor.skip_cursor = spec.skip_cursor
    processor.skip_hashes = set(spec.skip_hashes)
    return processor


def _import_converters() -> None:
    """What the first page needs (pyarrow, the converter; no HTTP): imported before the worker
    says it is ready, so no page waits behind the imports."""
    import importlib

    for module in ("dbsync.jsonio", "dbsync.source.convert", "dbsync.source.readers", "dbsync.source.offset_reader"):
        importlib.import_module(module)


def convert_page(spec: TableSpec, job: PageJob, body: bytes) -> Any:
    """Worker entry point: raw body -> PageOutcome (or INVALID_JSON)."""
    from dbsync import jsonio
    from dbsync.source.offset_reader import Fill, fetch_records_to_result
    from dbsync.source.readers import PageRequest

    del _captured[:]
    try:
        doc = jsonio.loads(body)
    except jsonio.JSONDecodeError:
        return INVALID_JSON
    processor = _processor(spec)
    request = PageRequest("", {}, label=job.label, offset=job.offset, limit=job.limit)
    fill = Fill(lower=job.fill_lower, upper=job.fill_upper, since=None) if job.fill_lower is not None else None
    result = fetch_records_to_result(processor, doc, request, drop_first=job.drop_first, fill=fill,
                                     total_path=spec.total_path)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, result.table.schema) as writer:
        writer.write_table(result.table)
    inferred = {name: plan.dlt_type for name, plan in processor.converter._inferred.items()}
    return PageOutcome(ipc=sink.getvalue().to_pybytes(), raw_count=result.raw_count, total=result.total,
                       cursor_max=result.cursor_max, boundary=result.boundary, deleted=result.deleted,
                       duplicates=result.duplicates, skipped=result.skipped_at_boundary,
                       first_key=result.first_key, last_key=result.last_key, no_cursor=result.no_cursor,
                       unfit_cursor=result.unfit_cursor, unfit_example=result.unfit_example,
                       cursor_first=result.cursor_first, cursor_sorted=result.cursor_sorted, logs=list(_captured),
                       inferred=inferred, relaxed=sorted(processor.converter.relaxed))


# -- the worker process's main loop --------------------------------------------------------------


def serve(stdin: Any = None, stdout: Any = None, parent: Optional[int] = None) -> None:
    """Read (spec, job, body) requests from stdin and write outcomes to stdout until EOF.

    The worker is a plain subprocess speaking length-prefixed pickles over its pipes, not a
    multiprocessing child: multiprocessing's spawn re-imports the caller's main script in every
    child (a library user's unguarded script would run its sync again), and fork would copy a
    process whose other threads may hold locks. ``parent``: the pid whose death ends the worker
    (:func:`dbsync.parent_watch.exit_with_parent`): end of file on stdin is not enough, any
    process forked from the parent while this worker ran holds a copy of the pipe's write end."""
    import pickle

    if parent is not None:
        from dbsync.parent_watch import exit_with_parent

        exit_with_parent(parent)
    _init_worker()
    reader = stdin or sys.stdin.buffer
    writer = stdout or sys.stdout.buffer
    _import_converters()
    writer.write(READY)  # the parent sends pages here from now on (until then: in-thread)
    writer.flush()
    while True:
        header = reader.read(8)
        if len(header) < 8:  # the parent closed the pipe (or died): done
            if stdin is None:  # the worker process: no interpreter teardown (0.1 s after pyarrow),
                os._exit(0)  # it has nothing left to flush or free
            return
        payload = reader.read(int.from_bytes(header, "little"))
        spec, job, body = pickle.loads(payload)
        try:
            reply: Any = convert_page(spec, job, body)
        except DbsyncError as exc:
            exc.__cause__ = exc.__context__ = None
            reply = exc
        except Exception as exc:  # a bug: report it in one line, keep serving
            reply = DbsyncError(f"page conversion failed in a worker process: {type(exc).__name__}: {exc}")
        data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        writer.write(len(data).to_bytes(8, "little"))
        writer.write(data)
        writer.flush()


# -- in the parent -------------------------------------------------------------------------------


class _Worker:
    """One worker subprocess and its pipes; used by one fetch thread at a time."""

    def __init__(self) -> None:
        import subprocess

        self.proc = subprocess.Popen(
            [sys.executable, "-c", f"from dbsync.source.page_worker import serve; serve(parent={os.getpid()})"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None,  # buffered: writes go out whole
        )
        self.ready = False  # its READY message was read

    def poll_ready(self) -> bool:
        """Whether the worker has finished its imports (non-blocking: its READY is waiting)."""
        if not self.ready and self.proc.stdout is not None:
            import select

            try:
                readable, _, _ = select.select([self.proc.stdout.fileno()], [], [], 0)
            except (OSError, ValueError):
                return False
            if readable:
                self._read_ready()
        return self.ready

    def _read_ready(self) -> None:
        assert self.proc.stdout is not None
        if _read_exactly(self.proc.stdout, len(READY)) != READY:
            raise EOFError("worker sent something else than READY")
        self.ready = True

    def call(self, spec: TableSpec, job: PageJob, body: bytes) -> Any:
        import pickle

        data = pickle.dumps((spec, job, body), protocol=pickle.HIGHEST_PROTOCOL)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            if not self.ready:  # a worker started mid-run (a replacement): wait for its imports
                self._read_ready()
            self.proc.stdin.write(len(data).to_bytes(8, "little"))
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
            header = _read_exactly(self.proc.stdout, 8)
            reply = pickle.loads(_read_exactly(self.proc.stdout, int.from_bytes(header, "little")))
        except (OSError, EOFError, pickle.UnpicklingError):
            reply = None
        if reply is None:
            self.close()
            raise DbsyncError("a page-conversion worker process died", hint="rerun; --debug shows more")
        return reply

    def hang_up(self) -> None:
        """Close the worker's stdin: it exits at once (see :func:`serve`)."""
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        self.hang_up()
        try:
            self.proc.wait(timeout=5)
        except Exception:
            self.proc.kill()
            self.proc.wait()


def _read_exactly(stream: Any, size: int) -> bytes:
    chunks = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            raise EOFError("worker pipe closed")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class ParsePool:
    """A few worker subprocesses, started on first use, shared by every table of a session."""

    def __init__(self, processes: int):
        self.processes = processes
        self._idle: List[_Worker] = []
        self._all: List[_Worker] = []
        self._cond = threading.Condition()
        self._started = False
        self._ready_at = 0.0
        self._all_ready = False
        self._said: set = set()

    def start(self) -> None:
        """Spawn the workers (non-blocking); they are 'ready' once their imports are done."""
        with self._cond:
            if self._started or self.processes <= 0:
                return
            self._started = True
            for _ in range(self.processes):
                worker = _Worker()
                self._all.append(worker)
                self._idle.append(worker)
            self._ready_at = time.monotonic() + MAX_WARM_UP_SECONDS

    @property
    def ready(self) -> bool:
        """Started, and every worker has done its imports (it says so on its pipe). Until then
        pages are converted in-thread rather than queueing behind the start-up. A worker that
        never says so is used anyway after MAX_WARM_UP_SECONDS, so that a broken one is found
        (and replaced or reported) rather than silently bypassed."""
        if not self._started:
            return False
        if self._all_ready:
            return True
        with self._cond:
            ready = all(worker.poll_ready() for worker in self._idle) and len(self._idle) == len(self._all)
        self._all_ready = ready or time.monotonic() >= self._ready_at
        return self._all_ready

    def convert(self, spec: TableSpec, job: PageJob, body: bytes) -> Any:
        """Convert in a worker, blocking the calling (fetch) thread until it is done."""
        with self._cond:
            while not self._idle:
                self._cond.wait()
            worker = self._idle.pop()
        try:
            if not worker.alive:
                worker = self._replace(worker)
            reply = worker.call(spec, job, body)
        finally:
            with self._cond:
                if worker.alive:
                    self._idle.append(worker)
                else:
                    self._all = [w for w in self._all if w is not worker]
                    replacement = _Worker()
                    self._all.append(replacement)
                    self._idle.append(replacement)
                self._cond.notify()
        if isinstance(reply, DbsyncError):
            raise reply
        if isinstance(reply, PageOutcome):
            self._relay(reply.logs)
        return reply

    def _replace(self, dead: _Worker) -> _Worker:
        fresh = _Worker()
        with self._cond:
            self._all = [w for w in self._all if w is not dead] + [fresh]
        return fresh

    def _relay(self, logs: Sequence[Tuple[int, str]]) -> None:
        for level, message in logs:
            if level >= logging.WARNING and message in self._said:
                continue  # announced once per run, like the in-thread path does
            self._said.add(message)
            logging.getLogger("dbsync.convert").log(level, "%s", message)

    def close(self) -> None:
        with self._cond:
            workers, self._all, self._idle = self._all, [], []
        for worker in workers:  # all of them first: they end side by side, not one after another
            worker.hang_up()
        for worker in workers:
            worker.close()


MAX_WARM_UP_SECONDS = 5.0
READY = b"\xffREADY\xff\n"  # a worker's first message, 8 bytes: as a length header it would be ~10**18
