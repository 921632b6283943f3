"""Everything one running server knows, in one object shared by the API, admin API and app."""

from __future__ import annotations

import threading
import time
from typing import Optional

from dbsync.server.faults import FaultInjector
from dbsync.server.ratelimit import RateLimiter
from dbsync.server.requestlog import RequestLog
from dbsync.server.settings import FaultSettings, ServerSettings
from dbsync.server.store import Store

__all__ = ["ServerState"]


class ServerState:
    """Settings, data, faults, rate limiter and request log of one server."""

    def __init__(self, settings: ServerSettings, *, log_size: int = 1_000_000):
        self.settings = settings
        self.startup_faults = settings.faults
        self.store = Store(settings)
        self.faults = FaultInjector(settings.faults)
        self.log = RequestLog(log_size)
        self.limiter: Optional[RateLimiter] = None
        self.started_at = time.time()
        self._lock = threading.Lock()
        self._configure_limiter(settings.faults)

    @property
    def fault_settings(self) -> FaultSettings:
        return self.faults.settings

    def _configure_limiter(self, faults: FaultSettings) -> None:
        self.limiter = (None if faults.rate_limit_per_second is None
                        else RateLimiter(faults.rate_limit_per_second, faults.rate_limit_burst))

    def set_faults(self, faults: FaultSettings) -> None:
        """Apply new fault settings now: RNG restarted from their seed, rate buckets refilled."""
        with self._lock:
            self.faults.configure(faults)
            self._configure_limiter(faults)

    def reset(self) -> None:
        """Back to the state at startup: seeded data, startup faults, no pending fail-next
        orders, full rate buckets. The request log is kept (clear it separately)."""
        with self._lock:
            self.store.reset()
            self.faults.clear_pending()
            self.faults.configure(self.startup_faults)
            self._configure_limiter(self.startup_faults)
