"""Deciding, per request, whether to misbehave and how.

Two sources, consulted in this order when a request arrives (before any ``await``, so the
order is the arrival order):

1. the *fail-next* queue: exact, counted faults for tests ("the next 3 requests under
   ``/v1/resource`` answer 503 with Retry-After: 2");
2. the random faults of :class:`~dbsync.server.settings.FaultSettings`, drawn from a RNG
   seeded with ``FaultSettings.seed``: one draw picks the band (drop, error, 429, truncate,
   slow, or nothing) and a second picks the error status, for every request in
   ``fault_paths``. A sequential client therefore meets the same faults on every run.

``/health`` and ``/admin`` are never faulted.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Deque, Dict, List, Optional

from dbsync.server.settings import FAULT_KINDS, FaultSettings

__all__ = ["FaultDecision", "FailNext", "FaultInjector", "never_faulted"]


def never_faulted(path: str) -> bool:
    """Paths that must keep working whatever the fault settings say."""
    return path == "/health" or path == "/admin" or path.startswith("/admin/")


@dataclass(frozen=True)
class FaultDecision:
    """What to do to one request: ``kind`` is one of status/drop/truncate/slow."""

    kind: str
    status: Optional[int] = None
    retry_after: Optional[float] = None
    seconds: float = 0.0
    source: str = "random"  # "random" or "fail_next"


@dataclass
class FailNext:
    """A counted fault order (see :meth:`FaultInjector.fail_next`)."""

    count: int
    kind: str = "status"
    status: int = 503
    retry_after: Optional[float] = None
    path_prefix: str = "/v1/"
    seconds: Optional[float] = None

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


class FaultInjector:
    """Holds the fault settings, the seeded RNG and the fail-next queue (thread-safe)."""

    def __init__(self, settings: FaultSettings):
        self._lock = threading.Lock()
        self._queue: Deque[FailNext] = deque()
        self.configure(settings)

    def configure(self, settings: FaultSettings) -> None:
        """Replace the settings and restart the RNG from their seed (pending fail-next orders stay)."""
        with self._lock:
            self.settings = settings
            self._rng = random.Random(settings.seed)

    def fail_next(self, count: int, kind: str = "status", status: int = 503, retry_after: Optional[float] = None,
                  path_prefix: str = "/v1/", seconds: Optional[float] = None) -> FailNext:
        """Fault the next ``count`` requests whose path starts with ``path_prefix``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}, got {kind!r}")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"count must be a positive integer, got {count!r}")
        if kind == "status" and not (isinstance(status, int) and 400 <= status <= 599):
            raise ValueError(f"status must be an HTTP error status (400-599), got {status!r}")
        if retry_after is not None and retry_after < 0:
            raise ValueError("retry_after must be >= 0")
        if not isinstance(path_prefix, str) or not path_prefix.startswith("/") or never_faulted(path_prefix):
            raise ValueError(f"path_prefix {path_prefix!r} cannot be faulted (/health and /admin never are)")
        order = FailNext(count, kind, status, retry_after, path_prefix, seconds)
        with self._lock:
            self._queue.append(order)
        return order

    def pending(self) -> List[FailNext]:
        with self._lock:
            return [FailNext(**asdict(o)) for o in self._queue]

    def clear_pending(self) -> None:
        with self._lock:
            self._queue.clear()

    def decide(self, path: str) -> Optional[FaultDecision]:
        """The fault for a request arriving now on ``path``, or None."""
        if never_faulted(path):
            return None
        with self._lock:
            for order in self._queue:
                if path.startswith(order.path_prefix):
                    order.count -= 1
                    if order.count <= 0:
                        self._queue.remove(order)
                    seconds = order.seconds if order.seconds is not None else self.settings.slow_seconds
                    return FaultDecision(order.kind, order.status if order.kind == "status" else None,
                                         order.retry_after, seconds, "fail_next")
            s = self.settings
            if s.total_fault_rate() <= 0 or not path.startswith(s.fault_paths):
                return None
            roll = self._rng.random()
            pick = self._rng.random()  # always drawn: the sequence must not depend on outcomes
            edge = s.drop_rate
            if roll < edge:
                return FaultDecision("drop")
            edge += s.error_rate
            if roll < edge:
                statuses = s.error_statuses
                return FaultDecision("status", statuses[min(int(pick * len(statuses)), len(statuses) - 1)])
            edge += s.random_429_rate
            if roll < edge:
                return FaultDecision("status", 429, s.random_429_retry_after)
            edge += s.truncate_rate
            if roll < edge:
                return FaultDecision("truncate")
            edge += s.slow_rate
            if roll < edge:
                return FaultDecision("slow", seconds=s.slow_seconds)
            return None
