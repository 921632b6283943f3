"""Process-level tuning for long syncs: garbage collector and memory allocators.

A sync parses hundreds of thousands of JSON objects in worker threads and hands big Arrow
buffers around. Python's and glibc's defaults are tuned for other programs; these settings were
chosen by measurement (bench/bench_sync.py, issue 5) and are applied only while run_sync runs.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator, Optional


@contextmanager
def tuned_runtime() -> Iterator[None]:
    """Python and allocator settings that keep a long sync fast and its memory flat.

    - Fewer garbage-collector passes: every page parsed from JSON allocates tens of thousands of
      dicts and lists; with Python's default thresholds a full collection, which walks every
      tracked object (dlt, pyarrow, all pages in flight), runs every few pages. Measured here it
      halved orjson's throughput with 8 fetch threads. Freezing what exists (imports) and
      collecting less often restores it.
    - Memory that does not creep: with 8 threads glibc hands out up to 8 malloc arenas per core
      and fragments them, and Arrow's mimalloc pool keeps freed pages; at 1,000,000 rows that
      grew the process by ~250 MB. Two arenas and Arrow's system pool keep it flat.

    The garbage-collector settings come back afterwards; the allocator choices stay (they only
    affect new allocations).
    """
    import gc

    _limit_malloc_arenas(2)
    _use_system_arrow_pool()
    previous = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(20_000, 50, 1_000)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()


def _libc() -> Any:
    global _LIBC
    if _LIBC is None:
        try:
            import ctypes

            _LIBC = ctypes.CDLL("libc.so.6")
            _LIBC.malloc_trim  # noqa: B018 - glibc only
        except (OSError, AttributeError):
            _LIBC = False
    return _LIBC


_LIBC: Any = None


def release_free_memory() -> None:
    """Hand memory that malloc keeps free inside its heaps back to the system (glibc only).

    Parsing pages frees as much as it allocates, but glibc keeps the holes: over 1,000,000 rows
    that grew the process by ~80 MB. The page scheduler calls this every few dozen pages
    (about 20 ms each time)."""
    libc = _libc()
    if libc:
        libc.malloc_trim(0)


def _limit_malloc_arenas(count: int) -> None:
    libc = _libc()
    if not libc:
        return
    try:
        libc.mallopt(-8, count)  # M_ARENA_MAX
        # a fixed mmap threshold: page bodies (hundreds of KB) are mapped and unmapped whole;
        # glibc's default raises the threshold after the first free, after which such buffers
        # come from the heap and fragment it (RSS grew ~140 MB over 1,000,000 rows)
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def _use_system_arrow_pool() -> None:
    import pyarrow as pa

    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return  # the user chose one
    try:
        pa.set_memory_pool(pa.system_memory_pool())
    except Exception:  # pragma: no cover - every pyarrow build has the system pool
        pass


COMMAND_PROCESS = False  # set by the dbsync command's entry point: this process runs one command and ends
_SQLALCHEMY_COMPAT = "dlt.common.libs.sql_alchemy_compat"


def urls_without_sqlalchemy(destination: Optional[str]) -> bool:
    """Let dlt render credentials with its own URL class instead of importing SQLAlchemy.

    At the end of every load dlt prints its destination (``Load.get_step_info`` ->
    ``str(credentials)``), which renders the credentials as an SQLAlchemy URL: where SQLAlchemy
    is installed (the dagster extra brings it) that import is 0.16 s of every run, a tenth of a
    run with nothing to sync, for a string. dlt ships a port of that URL class for installs
    without SQLAlchemy (``dlt.common.libs.sql_alchemy_shims``); this makes dlt use it, as it does
    on a plain dbsync install. Only in the dbsync command's own process (a library caller may
    use dlt's ``sqlalchemy`` destination, which needs the real URL, later in the same process),
    never for that destination, and only if nothing imported SQLAlchemy's URL yet. True if done."""
    import sys

    if not COMMAND_PROCESS or "sqlalchemy" in (destination or "").lower():
        return False
    if _SQLALCHEMY_COMPAT in sys.modules or "sqlalchemy" in sys.modules:
        return False
    try:
        from dlt.common.libs import sql_alchemy_shims
    except ImportError:  # another dlt layout: nothing to do
        return False
    sys.modules[_SQLALCHEMY_COMPAT] = sql_alchemy_shims
    return True


def exit_process(code: int) -> None:
    """End the process now, skipping the interpreter's teardown.

    Python's finalization frees every module and object one by one: after importing dlt,
    pyarrow and DuckDB that takes 0.3-0.45 s here (measured: a bare ``import dlt, duckdb,
    pyarrow`` process, 0.96 s wall against 0.70 s of work), a fifth of a run with nothing to sync.
    Everything a normal exit does for the program runs first: atexit handlers (multiprocessing's,
    servers this process started), logging's shutdown (also an atexit handler), and flushing
    stdout and stderr. Only for the console entry point: library callers keep normal exits.
    """
    import atexit
    import sys

    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # a closed pipe: nothing more can be said
                pass
        os._exit(code)
