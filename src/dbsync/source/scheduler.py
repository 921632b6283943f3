"""Fetch pages of many tables concurrently, hand them to dlt in order, with bounded memory.

dlt pulls items from resources one at a time in its main thread. If each table fetched its own
pages when asked, only one request would ever be in flight. Instead every table has a *reader*
that knows which page requests it can issue now, and one scheduler runs those requests on a
shared thread pool:

- the table dlt is currently reading gets its window of requests first (offset pages with a
  known total are independent, so up to ``concurrency`` of them run at once, the gate in
  front of every request: dbsync.http.ratelimit);
- spare capacity prefetches the next pages of other tables, so many small tables do not wait
  for one another; the first page of each table is usually ready before dlt asks for it;
- at most ``prefetch_pages`` fetched-but-unread pages are held (memory does not grow with the
  data); the table being read may always issue one request, so the bound cannot deadlock.

Parsing and Arrow conversion run in the worker threads, after the HTTP wait; the consumer only
concatenates Arrow tables. A thread converting a page (or waiting for a worker process to) holds
no request slot, and a page waiting for the consumer holds no thread: the pool has room for
``concurrency`` requests *and* the conversions behind them, and the table being read may hold
more than ``concurrency`` finished pages, so requests never wait for dlt while the prefetch budget
lasts (measured at 50 ms latency: the queue capped at ``concurrency`` left requests idle whenever
the consumer fell behind). A table's pages still waiting for the API stay at ``concurrency``
(a page counts until its body is in: :func:`dbsync.source.readers.response_arrived`); a total
that announces too many pages costs at most :func:`current_table_window` requests past the end.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Deque, Dict, List, Optional

from dbsync.runtime import release_free_memory
from dbsync.source.readers import PageRequest, PageResult, Reader, on_response, response_arrived

logger = logging.getLogger("dbsync.scheduler")

CONVERSION_THREADS = 4  # pool threads beyond `concurrency`: pages converting after their request
TRIM_EVERY_PAGES = 64  # give freed heap memory back to the system this often (see runtime.py)


def current_table_window(concurrency: int, prefetch_pages: int) -> int:
    """Pages the table being read may have queued: requests waiting for the API (at most
    ``concurrency``), pages converting and pages done and waiting for dlt, leaving ``concurrency``
    of the budget for other tables' prefetch. Also the most requests a total that announces too
    many pages can cost past the real end (24 with the defaults)."""
    return max(concurrency, prefetch_pages - concurrency)


class PageScheduler:
    def __init__(self, concurrency: int, prefetch_pages: int):
        self.concurrency = max(1, concurrency)
        self.prefetch_pages = max(self.concurrency, prefetch_pages)
        self._window = current_table_window(self.concurrency, self.prefetch_pages)
        self._pool: Optional[ThreadPoolExecutor] = None
        self._readers: List[Reader] = []
        self._queues: Dict[int, Deque[Future]] = {}
        self._unfinished: Dict[int, int] = {}  # per reader: pages submitted whose response is not in yet
        self._held = 0  # pages submitted and not yet handed to a consumer
        self._cond = threading.Condition()
        self._current: Optional[Reader] = None
        self._started = False
        self._closed = False
        self._before_start: Optional[Callable[[], None]] = None
        self._consumed = 0

    def add_reader(self, reader: Reader) -> None:
        self._readers.append(reader)
        self._queues[id(reader)] = deque()
        self._unfinished[id(reader)] = 0

    def on_start(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once, when the first table is read (inside dlt's extract step, where
        the pipeline state is available to load each table's cursor)."""
        self._before_start = callback

    def start(self) -> None:
        """Start now (load the cursors, plan the scans) rather than at the first page: a table's
        generator reads what the start decided before asking for its first page."""
        with self._cond:
            self._ensure_started()

    def _ensure_started(self) -> None:
        if self._started:
            return
        if self._before_start is not None:
            self._before_start()
        # requests in flight are capped by the client's limiter, not by this pool: the extra
        # threads convert pages whose request is done
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency + CONVERSION_THREADS,
                                        thread_name_prefix="dbsync-fetch")
        self._started = True

    # -- consumer side (dlt's thread) -------------------------------------------------------------
    def next_page(self, reader: Reader) -> Optional[PageResult]:
        """The reader's next page in order, or None when it has no more. Raises its fetch error."""
        with self._cond:
            self._ensure_started()
            self._current = reader
            queue = self._queues[id(reader)]
            while True:
                if self._closed:
                    return None
                self._pump()
                if queue:
                    future = queue.popleft()
                    break
                if reader.exhausted:
                    return None
                self._cond.wait(timeout=0.05)
        try:
            result = future.result()
        finally:
            with self._cond:
                self._held -= 1
                self._pump()
        self._consumed += 1
        if self._consumed % TRIM_EVERY_PAGES == 0:
            release_free_memory()
        return result

    def abandon(self, reader: Reader) -> None:
        """Stop a reader after an error: cancel what it queued and free its memory budget."""
        with self._cond:
            reader.stop()
            queue = self._queues[id(reader)]
            while queue:
                future = queue.popleft()
                future.cancel()
                self._held -= 1
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            for reader in self._readers:
                reader.stop()
            for queue in self._queues.values():
                while queue:
                    queue.popleft().cancel()
            self._cond.notify_all()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    # -- submitting (under the lock) -------------------------------------------------------------
    def _pump(self) -> None:
        if not self._started or self._closed:
            return
        current = self._current
        if current is not None and not current.exhausted:
            queue = self._queues[id(current)]
            while len(queue) < self._window and self._unfinished[id(current)] < self.concurrency:
                forced = not queue  # the table being read may always have one request out
                if not forced and self._held >= self.prefetch_pages:
                    break
                request = current.next_request()
                if request is None:
                    break
                self._submit(current, request)
        # spare capacity: the next tables, in order, one request per table per pass
        if self._held >= self.prefetch_pages:
            return
        start = self._readers.index(current) + 1 if current in self._readers else 0
        order = self._readers[start:] + self._readers[:start]
        progressed = True
        while progressed and self._held < self.prefetch_pages:
            progressed = False
            for reader in order:
                if reader is current or reader.exhausted:
                    continue
                if len(self._queues[id(reader)]) >= self.concurrency:
                    continue
                request = reader.next_request()
                if request is None:
                    continue
                self._submit(reader, request)
                progressed = True
                if self._held >= self.prefetch_pages:
                    return

    def _response_in(self, reader: Reader) -> None:
        """A page of ``reader`` no longer waits for the API: its next request may go."""
        with self._cond:
            self._unfinished[id(reader)] -= 1
            self._pump()
            self._cond.notify_all()

    def _submit(self, reader: Reader, request: PageRequest) -> None:
        assert self._pool is not None
        self._held += 1
        self._unfinished[id(reader)] += 1
        future = self._pool.submit(self._run, reader, request)
        self._queues[id(reader)].append(future)

    def _run(self, reader: Reader, request: PageRequest) -> PageResult:
        """Worker thread: fetch and convert one page, then let the reader plan further pages."""
        on_response(lambda: self._response_in(reader))
        try:
            result = reader.fetch(request)
        except BaseException:
            response_arrived()  # once per page: does nothing if the reader said so already
            with self._cond:
                reader.fetch_failed(request)
                self._cond.notify_all()
            raise
        response_arrived()
        with self._cond:
            try:
                reader.fetched(request, result)  # may plan more pages, or raise (e.g. a gap that never settles)
            except BaseException:
                reader.stop()
                raise
            finally:
                self._pump()
                self._cond.notify_all()
        return result
