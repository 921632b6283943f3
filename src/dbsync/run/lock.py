"""One run per pipeline at a time."""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from dbsync.errors import PipelineBusyError


@contextmanager
def pipeline_lock(pipelines_dir: str, pipeline_name: str) -> Iterator[None]:
    """One run per pipeline at a time: a second run refuses instead of corrupting state."""
    Path(pipelines_dir).mkdir(parents=True, exist_ok=True)
    path = Path(pipelines_dir) / f".{pipeline_name}.dbsync.lock"
    handle = open(path, "a+")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise PipelineBusyError(
                f"pipeline '{pipeline_name}' is already running ({holder})",
                hint="wait for it to finish; two runs on one pipeline would corrupt its state",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}")
        handle.flush()
        yield
    finally:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        finally:
            handle.close()
