"""Retry a load that lost a race with another worker creating the same tables.

Partitions (see :mod:`dbsync.run.partition`) run in parallel into one dataset. Their first loads
all create the dataset and dlt's shared tables (``_dlt_loads``, ``_dlt_version``,
``_dlt_pipeline_state``; with ``layout: union`` the data tables too). dlt checks what exists,
then runs ``CREATE``; two workers doing that at once make PostgreSQL refuse one of them
("duplicate key value violates unique constraint pg_type_typname_nsp_index", "already exists").
Measured here: 4 workers starting together into an empty dataset, one failed every time.
Their first loads can also lock the shared tables in opposite orders: PostgreSQL then aborts one
with "deadlock detected" (seen once in about ten runs of the parallel-shard test) — the same
kind of loss, rolled back the same way.

The refused DDL ran in a transaction and was rolled back, and the load package is still
pending, so loading it again (after the winner committed) creates only what is still missing.
"""

from __future__ import annotations

import logging
import random
import re
import time
from typing import Any, Callable

logger = logging.getLogger("dbsync.run")

ATTEMPTS = 5
_RACE = re.compile(
    r"already exists|duplicate key value violates unique constraint \"pg_(type|namespace|class)_"
    r"|could not serialize access|tuple concurrently updated|deadlock detected",
    re.IGNORECASE)


def is_ddl_race(exc: BaseException) -> bool:
    """Whether a failed load step (anywhere in its exception chain) lost a concurrent CREATE."""
    seen = set()
    node: Any = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if _RACE.search(str(node)):
            return True
        inner = getattr(node, "exception", None)
        node = inner if isinstance(inner, BaseException) else (node.__cause__ or node.__context__)
    return False


def run_retrying_ddl_races(pipeline: Any, run: Callable[[], Any], *, attempts: int = ATTEMPTS) -> Any:
    """``run()`` (a ``pipeline.run``); if its load step lost a DDL race, ``pipeline.load()`` the
    pending package again, up to ``attempts`` times with a short random pause."""
    from dlt.pipeline.exceptions import PipelineStepFailed

    try:
        return run()
    except PipelineStepFailed as exc:
        if exc.step != "load" or not is_ddl_race(exc):
            raise
        last = exc
    for attempt in range(1, attempts):
        logger.info("another worker created the same tables at the same time; loading again (%d)", attempt)
        time.sleep(random.uniform(0.1, 0.5) * attempt)
        try:
            return pipeline.load()
        except PipelineStepFailed as exc:
            if exc.step != "load" or not is_ddl_race(exc):
                raise
            last = exc
    raise last
