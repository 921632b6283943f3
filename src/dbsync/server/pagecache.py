"""A small LRU of rendered page bodies, bounded by bytes.

Keys start with the table's version (a process-wide counter bumped by every change), so a
mutation makes old entries unreachable at once; they age out of the LRU. Rendering a page is
already cheap (one ``join`` of stored row bytes), the cache saves that join and the index
slicing for clients that re-read pages, as benchmarks and retries do.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Dict, Hashable, Optional

__all__ = ["PageCache"]


class PageCache:
    """LRU mapping key -> bytes holding at most ``max_bytes`` of values. Not locked: the store's
    lock covers it."""

    def __init__(self, max_bytes: int = 256 * 1024 * 1024):
        self.max_bytes = max_bytes
        self._items: "OrderedDict[Hashable, bytes]" = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Optional[bytes]:
        value = self._items.get(key)
        if value is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key: Hashable, value: bytes) -> None:
        if len(value) > self.max_bytes:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= len(old)
        self._items[key] = value
        self.bytes += len(value)
        while self.bytes > self.max_bytes:
            _, evicted = self._items.popitem(last=False)
            self.bytes -= len(evicted)

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0

    def stats(self) -> Dict[str, int]:
        return {"entries": len(self._items), "bytes": self.bytes, "hits": self.hits, "misses": self.misses,
                "max_bytes": self.max_bytes}
