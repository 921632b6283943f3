"""A bounded log of the API requests the server answered, for tests and demos to inspect.

It never holds an API key: query strings are stored with the ``api_key`` value replaced by
``***`` and the key itself only as a short fingerprint (enough to tell keys apart).
Admin requests are not logged (they are the test harness talking, not the client under test).
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Deque, Dict, List, Mapping, Optional

__all__ = ["RequestLogEntry", "RequestLog", "mask_query", "key_fingerprint"]

# Also the percent-encoded spellings of the name, which the server decodes to api_key too.
_KEY_IN_QUERY = re.compile(r"(^|&)(api(?:_|%5[fF])key=)[^&]*")


def mask_query(query: str) -> str:
    """The query string with every ``api_key`` value replaced by ``***``."""
    return _KEY_IN_QUERY.sub(r"\1\2***", query)


@functools.lru_cache(maxsize=1024)
def key_fingerprint(key: Optional[str]) -> Optional[str]:
    """First 12 hex digits of the key's SHA-256: tells keys apart without revealing them."""
    if key is None:
        return None
    return hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class RequestLogEntry:
    """One answered (or dropped) request. ``status`` is None when the connection was dropped;
    ``fault`` names the injected fault or limit (``status``, ``drop``, ``truncate``, ``slow``,
    ``rate_limit``) or is None. ``bytes`` counts the body sent. ``headers`` holds only the headers the server was told to log
    (``ServerSettings.log_headers``; never a credential header)."""

    time: float
    method: str
    path: str
    query: str
    status: Optional[int]
    fault: Optional[str]
    key_fingerprint: Optional[str]
    duration_ms: float
    # the request headers named by the server setting ``log_headers`` (lower-case names), if any
    headers: Optional[Dict[str, str]] = None
    bytes: int = 0  # body bytes sent (0 for HEAD, a 304 or a dropped connection): what a listing costs

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RequestLogEntry":
        return cls(**dict(data))


class RequestLog:
    """Thread-safe ring of the last ``maxlen`` entries, plus a running total."""

    def __init__(self, maxlen: int = 1_000_000):
        self._entries: Deque[RequestLogEntry] = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self.total = 0

    def append(self, entry: RequestLogEntry) -> None:
        with self._lock:
            self._entries.append(entry)
            self.total += 1

    def entries(self) -> List[RequestLogEntry]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
