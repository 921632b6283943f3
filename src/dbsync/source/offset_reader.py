"""Offset pages, fetched concurrently, that cannot silently skip a row.

Offset pagination has a known flaw: when a row before the current offset leaves the result (an
update moves it to the end of a cursor-ordered listing; a delete turns it into a tombstone at the
end), every later row shifts one place left and the row at the page boundary is never returned.
Its cursor is old, so the next incremental run would not fetch it either: it would be lost.

This reader makes that impossible in cursor order (``updated_since=...``, ordered by cursor then
primary key, where changed rows always move to the end):

1. **Overlapping pages.** Page *k* starts at ``k * (limit - 1)``: its first row is the previous
   page's last row. The duplicate is dropped, but its key is kept.
2. **Boundary check.** When both neighbours of a boundary have arrived (in any order, pages are
   fetched concurrently), the previous page's last row must be the next page's first row. If it
   is, no row can have fallen between them: rows only ever leave the listing towards its end.
3. **Gap fill.** If not, the gap is read again *by the cursor itself*: from
   ``updated_since = <cursor of the last row before the gap>``, page by page (overlapping and
   checked the same way), keeping rows strictly after that row up to and including the first row
   after the gap. A fill that is itself disturbed restarts from its last verified row; after
   ``MAX_FILL_RESTARTS`` the table fails (its cursor does not move, the next run retries).

Without a cursor (plain id order, no tombstones) pages do not overlap: such tables are re-read
completely on every run, so a row skipped once is read on the next run.

When the first page says how many rows there are (``total`` in the body at ``total_path``, or a
total header: :data:`dbsync.source.completeness.TOTAL_HEADERS`), every other page is known in
advance and fetched concurrently. Without a total, pages go one at a time until a short page. A
server that serves fewer rows than asked (a silent page-size cap) is noticed on the first page.

A total can be an estimate (a query planner's row count). It plans pages, it never ends the
table: when the last planned page comes back full, the next page is read too, until a page is
short; a short (or empty) page ends the planning early when the total was too high.
"""

from __future__ import annotations

import copy
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, Optional, Sequence, Set, Tuple, Union

from dbsync.config.paging import TotalSource
from dbsync.errors import DataError, ResponseFormatError
from dbsync.config.model import cursor_fields
from dbsync.source.completeness import PagingTally, header_total
from dbsync.source.incremental import cursor_value, parse_instant
from dbsync.source.readers import PageProcessor, PageRequest, PageResult, Reader, response_arrived

if TYPE_CHECKING:  # page-conversion workers import this module, not HTTP
    from dbsync.http.client import ApiClient

logger = logging.getLogger("dbsync.readers")

MAX_FILL_RESTARTS = 10
POOL_MIN_ROWS = 8_000  # tables this big have their pages converted in worker processes


@dataclass(frozen=True)
class RowKey:
    """A row's place in cursor order: (cursor, primary key). ``raw`` is the API's own cursor
    value, sent back as ``updated_since`` when a gap is filled."""

    cursor: Any
    pk: Tuple[Any, ...]
    raw: Any = field(compare=False, default=None)

    def sort_tuple(self) -> Tuple[Any, ...]:
        return (_orderable(self.cursor),) + tuple(_orderable(v) for v in self.pk)


def _orderable(value: Any) -> Tuple[int, Any]:
    """Mixed or missing values still compare: None first, then numbers, then text."""
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (1, value)
    if hasattr(value, "timestamp"):
        return (2, value.timestamp())
    return (3, str(value))


def key_gt(a: RowKey, b: RowKey) -> bool:
    return a.sort_tuple() > b.sort_tuple()


def row_key(record: Dict[str, Any], cursor_field: Union[None, str, Sequence[str]], pk: Sequence[str]) -> RowKey:
    raw = cursor_value(record, cursor_fields(cursor_field))
    instant = parse_instant(raw) if raw is not None else None
    return RowKey(instant if instant is not None else raw, tuple(record.get(k) for k in pk), raw)


@dataclass
class Fill:
    """Re-reading the rows between two pages whose boundary did not match."""

    lower: RowKey  # keep rows after this one...
    upper: Optional[RowKey]  # ...up to and including this one (None: to the end)
    since: Any  # the cursor value the fill pages start from
    offset: int = 0
    previous_last: Optional[RowKey] = None
    restarts: int = 0
    pages: int = 0


class OffsetReader(Reader):
    def __init__(self, client: ApiClient, processor: PageProcessor, *, paginator: Any,
                 cursor_params: Optional[Callable[[Any], Dict[str, Any]]] = None,
                 total: Optional[TotalSource] = None, **kwargs: Any):
        super().__init__(client, processor, **kwargs)
        # where the config says the total is (a header of the first page's GET, or of a HEAD
        # request before it); else total_path, else one of completeness.TOTAL_HEADERS
        self.total_source = total
        self.head_requests = 0
        self.offset_param: str = paginator.param_name
        self.limit_param: str = paginator.limit_param
        self.limit: int = int(paginator.limit)
        self.start: int = int(paginator.initial_value or 0)
        # the total's JSONPath as text: worker processes get it too (the fast path reads plain keys)
        self.total_path: Optional[str] = str(paginator.total_path) if paginator.total_path is not None else None
        self.pool: Any = None  # a dbsync.source.page_worker.ParsePool, set by the session
        self._table_spec: Any = None
        self.maximum_offset: Optional[int] = paginator.maximum_value
        # the incremental filter's params for a given cursor value (None: no cursor order)
        self.cursor_params = cursor_params
        self.next_offset = self.start
        self.end: Optional[int] = None  # rows in the listing, once the first page says
        self.first_issued = False
        self.first_done = False
        self.sequential = False  # no total in the response: page until a short page
        self.short_page_seen = False
        self.edges: Dict[int, Tuple[Optional[RowKey], Optional[RowKey]]] = {}  # offset -> first, last
        self.short_pages: Set[int] = set()  # offsets whose page came back short: the listing ended there
        self.fills: Deque[PageRequest] = deque()
        self.broken_boundaries = 0
        self.unrepaired = False  # a broken boundary could not be re-read: keep the cursor where it was
        self.fill_requests = 0
        self.reached = self.start  # the furthest position of the listing a page has covered
        self.pages_read = 0
        self.latest_total: Optional[Tuple[int, str]] = None
        self.tail: Optional[Tuple[int, bool]] = None  # the furthest page read: (offset, it was short)
        self.empty_page_seen = False

    # -- planning (under the scheduler's lock) ---------------------------------------------------
    @property
    def overlap(self) -> bool:
        """Pages overlap in cursor order, where a broken boundary can be repaired; without a
        cursor the table is read in full every run anyway, so pages do not pay for it."""
        return self.limit >= 2 and self.cursor_params is not None

    @property
    def step(self) -> int:
        return self.limit - 1 if self.overlap else self.limit

    @property
    def exhausted(self) -> bool:
        if self.stopped:
            return True
        if not self.first_done or self.fills or self.inflight:
            return False
        if self.sequential:
            return self.short_page_seen
        return not self._more_pages()

    def _more_pages(self) -> bool:
        assert self.end is not None
        # a page after the first must hold at least one row beyond the overlapping one
        return self.next_offset + (1 if self.overlap else 0) < self.end

    def next_request(self) -> Optional[PageRequest]:
        if self.stopped:
            return None
        if self.fills:
            return self._count(self.fills.popleft())
        if not self.first_issued:
            self.first_issued = True
            return self._issue(self.start)
        if not self.first_done:
            return None
        if self.sequential:
            if self.inflight or self.short_page_seen:
                return None
            return self._issue(self.next_offset)
        if not self._more_pages():
            return None
        return self._issue(self.next_offset)

    def _count(self, request: PageRequest) -> PageRequest:
        self.inflight += 1
        self.requests_made += 1
        return request

    def _issue(self, offset: int) -> PageRequest:
        self.next_offset = offset + self.step
        params = self.params()
        params[self.offset_param] = offset
        params[self.limit_param] = self.limit
        return self._count(PageRequest(self.path, params, self.method, copy.deepcopy(self.json),
                                       label=f"offset {offset}", offset=offset, limit=self.limit))

    def _fill_request(self, fill: Fill) -> PageRequest:
        params = self.params()
        if self.cursor_params is not None:
            params.update(self.cursor_params(fill.since))
        params[self.offset_param] = fill.offset
        params[self.limit_param] = self.limit
        self.fill_requests += 1
        return PageRequest(self.path, params, self.method, copy.deepcopy(self.json),
                           label=f"gap fill after {fill.lower.raw} (offset {fill.offset})", offset=fill.offset,
                           limit=self.limit, fill=fill)

    # -- fetching (worker thread) ----------------------------------------------------------------
    def fetch(self, request: PageRequest) -> PageResult:
        result = self._fetch(request)
        self._check_paging_honoured(request, result)
        return result

    def _check_paging_honoured(self, request: PageRequest, result: PageResult) -> None:
        """An API that ignores the paging parameters (other names than the config's
        ``offset_param``/``limit_param``) answers every offset with the same rows, or with all of
        them: paging on would never end. More records than the page asked for, or the very rows
        of the first page at a later offset, fail the table at once, saying why."""
        limit = request.limit or self.limit
        where = self.processor.at(request.label)
        hint = (f"check that this API pages by '{self.offset_param}' and '{self.limit_param}' (the paginator's "
                "offset_param and limit_param), or use the paginator it documents")
        if result.raw_count > limit:
            self.stopped = True
            raise ResponseFormatError(f"{result.raw_count} records came back for a page of at most {limit}: the API "
                                      "ignores the paging parameters", where=where, hint=hint)
        first = self.edges.get(self.start)
        if (request.fill is None and request.offset not in (None, self.start) and first is not None
                and result.raw_count == limit and result.last_key is not None and result.last_key == first[1]):
            self.stopped = True
            raise ResponseFormatError(f"offset {request.offset} returned the same rows as offset {self.start}: the "
                                      "API ignores the offset parameter", where=where, hint=hint)

    def _fetch(self, request: PageRequest) -> PageResult:
        drop_first = request.fill is None and self.overlap and request.offset != self.start
        pool = self.pool if self.pool is not None and self._worth_a_process and self.pool.ready else None
        if pool is None:
            head_total = self._head_total(request)
            page = self.get(request)
            if page.ignored:
                return self.ignored(page, request, first=self._is_first(request))
            result = fetch_records_to_result(self.processor, page.doc, request, drop_first=drop_first,
                                             fill=request.fill, total_path=self.total_path)
            result = _total_from_headers(result, page.headers, self.total_path, self.total_source)
            if result.total is None and head_total is not None:
                result.total, result.total_source = head_total
            return result
        from dbsync.source.page_worker import INVALID_JSON, PageJob

        fill = request.fill
        job = PageJob(label=request.label, offset=request.offset, limit=request.limit, drop_first=drop_first,
                      fill_lower=fill.lower if fill is not None else None,
                      fill_upper=fill.upper if fill is not None else None)
        spec = self._spec()

        def parse(content: bytes) -> Any:
            response_arrived()  # the worker's conversion needs no request slot
            outcome = pool.convert(spec, job, content)
            return self.client.INVALID if outcome == INVALID_JSON else outcome

        page = self.client.get_json(request.path, request.params, where=self.processor.at(request.label),
                                    method=request.method, json=request.json, ignore=self.response_actions,
                                    parse=parse, headers=self.headers)
        if page.ignored:
            return self.ignored(page, request, first=self._is_first(request))
        outcome = page.doc
        self.processor.converter.adopt_inferred(outcome.inferred)
        self.processor.converter.adopt_relaxed(outcome.relaxed)
        result = PageResult(request=request, table=outcome.table(), raw_count=outcome.raw_count, total=outcome.total,
                            cursor_max=outcome.cursor_max, boundary=outcome.boundary, deleted=outcome.deleted,
                            duplicates=outcome.duplicates, skipped_at_boundary=outcome.skipped,
                            first_key=outcome.first_key, last_key=outcome.last_key, no_cursor=outcome.no_cursor,
                            unfit_cursor=outcome.unfit_cursor, unfit_example=outcome.unfit_example,
                            cursor_first=outcome.cursor_first, cursor_sorted=outcome.cursor_sorted)
        return _total_from_headers(result, page.headers, self.total_path, self.total_source)

    def _is_first(self, request: PageRequest) -> bool:
        return request.fill is None and request.offset == self.start

    def _head_total(self, request: PageRequest) -> Optional[Tuple[int, str]]:
        """``total: {method: HEAD}``: before the first page, a HEAD request with the same path and
        params (the incremental filter included) reads the total from its headers. A server that
        refuses HEAD (405, 501) leaves the table to sequential pages, with a warning."""
        spec = self.total_source
        if spec is None or spec.method != "HEAD" or request.fill is not None or request.offset != self.start \
                or self.first_done:
            return None
        from dbsync.errors import ApiError

        where = self.processor.at(f"total (HEAD, offset {self.start})")
        self.head_requests += 1
        try:
            page = self.client.get_json(request.path, request.params, where=where, method="HEAD",
                                        ignore=self.response_actions, headers=self.headers)
        except ApiError as exc:
            if getattr(exc, "status", None) not in (405, 501):
                raise
            logger.warning("%s: the API refused the HEAD request for the total (HTTP %s); paging one page "
                           "at a time (set total.method: GET if the pages carry the header)",
                           where.describe(), exc.status)
            return None
        if page.ignored:  # a response action said to ignore it: the GET will say the same
            return None
        announced = header_total(page.headers, (spec.header,))
        if announced is None:
            logger.warning("%s: the HEAD response has no total in header %s; paging one page at a time",
                           where.describe(), spec.header)
            return None
        return announced[0], f"header {spec.header} of a HEAD request"

    @property
    def _worth_a_process(self) -> bool:
        """Big tables only: a table of a page or two is converted in-thread, and an incremental
        run with nothing to do never starts the worker processes at all."""
        return self.end is not None and (self.end - self.start) >= POOL_MIN_ROWS

    def _spec(self) -> Any:
        if self._table_spec is None:
            from dbsync.source.page_worker import TableSpec

            p, c = self.processor, self.processor.converter
            self._table_spec = TableSpec(
                key=f"{id(self)}", table=c.table, type_map=c.type_map, deletes=c.deletes, where=p.where,
                database_column=c.database_column, database_value=c.database_value, primary_key=p.primary_key,
                cursor_field=p.cursor_fields, data_selector=p.data_selector, total_path=self.total_path,
                skip_cursor=p.skip_cursor, skip_hashes=frozenset(p.skip_hashes), value_rules=c.value_rules,
                columns=c.columns or None)
        return self._table_spec

    # -- after each page (under the scheduler's lock) ----------------------------------------------
    def fetched(self, request: PageRequest, result: PageResult) -> None:
        super().fetched(request, result)
        if getattr(result, "ignored", False):
            self.first_done = self.sequential = self.short_page_seen = True
            return
        if request.fill is not None:
            self._fill_fetched(request.fill, result)
            return
        count = result.raw_count
        offset = request.offset or 0
        self.pages_read += 1
        self.reached = max(self.reached, offset + count)
        if self.tail is None or offset >= self.tail[0]:
            self.tail = (offset, count < (request.limit or self.limit))
        if result.total is not None:
            self.latest_total = (result.total, result.total_source or f"body '{self.total_path}'")
        if not self.first_done:
            self._first_fetched(offset, count, result)
        self.edges[offset] = (result.first_key, result.last_key)
        if count < (request.limit or self.limit):
            self.short_pages.add(offset)
        self._check(offset - self.step, offset)
        self._check(offset, offset + self.step)
        if self.sequential:
            if count < self.limit:
                self.short_page_seen = True
            elif self.maximum_offset is not None and self.next_offset >= self.maximum_offset:
                self.short_page_seen = True
            return
        assert self.end is not None
        if count == 0:
            # the listing ends before this offset: a total that said more was too high (or rows
            # went while we read); plan nothing past it
            self.empty_page_seen = True
            self.end = min(self.end, offset)
        if self.empty_page_seen or count < self.limit:
            return
        if result.total is not None and result.total > self.end:
            # rows were added while we read: fetch the new ones too
            self.end = result.total if self.maximum_offset is None else min(result.total, self.maximum_offset)
        if offset + count >= self.end and (self.maximum_offset is None or self.end < self.maximum_offset):
            # the last planned page is full: the total was an estimate (or rows were added), read on
            self.end = offset + count + 1
            if self.maximum_offset is not None:
                self.end = min(self.end, self.maximum_offset)

    def check_complete(self) -> Optional[str]:
        if self.stopped or not self.pages_read:
            return None
        capped = self.maximum_offset is not None and self.reached >= self.maximum_offset
        end_seen = self.tail is not None and self.tail[1]  # the furthest page was short: the listing ends there
        tally = PagingTally(pages=self.pages_read, received=self.reached - self.start, end_seen=end_seen or capped)
        if self.latest_total is not None and not capped:
            tally.total, tally.total_source = self.latest_total
        return tally.verdict(self.processor.where)

    def _first_fetched(self, offset: int, count: int, result: PageResult) -> None:
        self.first_done = True
        if self.pool is not None and result.total is not None and result.total - self.start >= POOL_MIN_ROWS:
            self.pool.start()  # spawns the workers; pages convert in-thread until they are ready
        if result.total is None:
            self.sequential = True
            return
        if 0 < count < self.limit and offset + count < result.total:
            # the server caps pages below our limit: plan with the size it really serves
            logger.info("%s: the API serves %d records per page (asked for %d)",
                        self.processor.where.describe(), count, self.limit)
            self.limit = count
            self.next_offset = offset + self.step
        self.end = result.total
        if self.maximum_offset is not None:
            self.end = min(self.end, self.maximum_offset)

    def _check(self, before: int, after: int) -> None:
        """Both pages around a boundary are here: the last row of one must start the other."""
        if not self.overlap or before not in self.edges or after not in self.edges:
            return
        last_before = self.edges[before][1]
        first_after = self.edges[after][0]
        if last_before is None or last_before == first_after:
            return
        if first_after is None and before in self.short_pages:
            # the listing ended inside the page before (a total that said more): nothing follows
            return
        self.broken_boundaries += 1
        if self.cursor_params is None or last_before.raw is None or not self.filtered:
            # no cursor order to re-read the gap in (no cursor, an empty one, or a first run read
            # without the cursor filter, in the API's own order): the cursor must not move, so
            # the next run reads these rows again
            self.unrepaired = True
            logger.warning("%s: rows moved while paging near offset %d; they are read again on the next run",
                           self.processor.where.describe(), after)
            return
        logger.info("%s: rows moved while paging near offset %d; reading that range again by cursor",
                    self.processor.where.describe(), after)
        fill = Fill(lower=last_before, upper=first_after, since=last_before.raw)
        self.fills.append(self._fill_request(fill))

    def _fill_fetched(self, fill: Fill, result: PageResult) -> None:
        fill.pages += 1
        first, last = result.first_key, result.last_key
        if fill.previous_last is not None and self.overlap and first != fill.previous_last:
            # the fill itself was disturbed: start again from its last verified row
            fill.restarts += 1
            if fill.restarts > MAX_FILL_RESTARTS:
                self.stopped = True
                raise DataError(
                    f"rows kept moving while re-reading a range {MAX_FILL_RESTARTS} times",
                    where=self.processor.at(result.request.label),
                    hint="the data changes faster than it can be paged; run again later",
                )
            fill.since, fill.offset, fill.lower = fill.previous_last.raw, 0, fill.previous_last
            fill.previous_last = None
            self.fills.append(self._fill_request(fill))
            return
        done = result.raw_count < self.limit or last is None or (fill.upper is not None and key_gt(last, fill.upper))
        if done:
            return
        # the next fill page starts with this page's last row: keep only rows after it
        fill.previous_last = fill.lower = last
        fill.offset += self.step
        self.fills.append(self._fill_request(fill))


def fetch_records_to_result(processor: PageProcessor, doc: Any, request: PageRequest, *, drop_first: bool,
                            fill: Optional[Fill], total_path: Optional[str]) -> PageResult:
    """A parsed response -> PageResult: pick the records, note where the page starts and ends in
    cursor order, drop the overlapping row (or keep only a gap's rows), convert. Runs in a fetch
    thread or in a worker process (dbsync.source.page_worker): the same code either way."""
    from dbsync.http.select import _MISSING, _find

    records = processor.select_doc(doc, request)
    raw_count = len(records)
    pk, cursor_field = processor.primary_key, processor.cursor_fields
    first = row_key(records[0], cursor_field, pk) if records and isinstance(records[0], dict) else None
    last = row_key(records[-1], cursor_field, pk) if records and isinstance(records[-1], dict) else None
    if fill is not None:
        records = [r for r in records if isinstance(r, dict) and _in_gap(row_key(r, cursor_field, pk), fill)]
    elif drop_first and records:
        records = records[1:]  # the previous page's last row
    result = processor.process_records(records, request, raw_count)
    total = _find(doc, total_path) if total_path else None
    try:
        result.total = None if total is None or total is _MISSING or isinstance(total, bool) else int(total)
    except (TypeError, ValueError):
        result.total = None
    if result.total is None:  # a total where APIs put one (meta.pagination.total, pageInfo.totalRows...)
        from dbsync.source.completeness import body_total

        announced = body_total(doc)
        if announced is not None:
            result.total, result.total_source = announced
    result.first_key, result.last_key = first, last
    return result


def _total_from_headers(result: PageResult, headers: Any, total_path: Optional[str],
                        configured: Optional[TotalSource] = None) -> PageResult:
    """The header the config names (``total: {header: ...}``) first; else the body's total;
    else one of the known total headers (X-Total-Count...)."""
    if configured is not None:
        announced = header_total(headers, (configured.header,))
        if announced is not None:
            result.total, result.total_source = announced
            return result
    if result.total is None:
        announced = header_total(headers)
        if announced is not None:
            result.total, result.total_source = announced
    elif total_path and not result.total_source:
        result.total_source = f"body '{total_path}'"
    return result


def _in_gap(key: RowKey, fill: Fill) -> bool:
    if not key_gt(key, fill.lower):
        return False
    return fill.upper is None or not key_gt(key, fill.upper)
