"""Readers: which page requests a table needs, and what to do with each response.

- :class:`dbsync.source.offset_reader.OffsetReader`: offset/limit pages, concurrent once the
  total is known, overlapping and checked so that rows moving during a sync are never skipped.
- :class:`SequentialReader`: any other dlt paginator (page number, next link, cursor...), one
  page after the other, exactly as dlt's own RESTClient would page.

Both share :class:`PageProcessor`, which turns a response into an Arrow table: pick the records,
drop rows already loaded at the cursor boundary, drop duplicate keys within the page, convert.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple, Union

import pyarrow as pa
import pyarrow.compute as pc

from dbsync import jsonio
from dbsync.errors import ResponseFormatError, Where
from dbsync.http.select import select_data
from dbsync.config.model import cursor_fields
from dbsync.source.completeness import PagingTally, body_total, header_total, requested_page_size
from dbsync.source.convert import TableConverter
from dbsync.source.incremental import compare_cursors, cursor_value

if TYPE_CHECKING:  # not imported at run time: page-conversion workers import this module, not HTTP
    import requests

    from dbsync.http.client import ApiClient, Page

logger = logging.getLogger("dbsync.readers")

_page_thread = threading.local()


def on_response(callback: Optional[Any]) -> None:
    """Set (or clear, with None) what :func:`response_arrived` calls in this thread: the page
    scheduler's note that the page this thread fetches no longer waits for the API."""
    _page_thread.arrived = callback


def response_arrived() -> None:
    """The body of this thread's page is in; what is left is parsing and conversion. Called by
    the readers once per page (later calls do nothing), so the scheduler can send the next
    request while this page converts."""
    callback = getattr(_page_thread, "arrived", None)
    if callback is not None:
        _page_thread.arrived = None
        callback()


@dataclass(frozen=True)
class PageRequest:
    path: str
    params: Dict[str, Any]
    method: str = "GET"
    json: Optional[Dict[str, Any]] = None
    label: str = "page 1"
    offset: Optional[int] = None
    limit: Optional[int] = None
    fill: Any = field(default=None, compare=False)  # a gap fill this page belongs to (offset reader)


@dataclass
class PageResult:
    request: PageRequest
    table: pa.Table
    raw_count: int  # records the API returned
    total: Optional[int] = None
    total_source: str = ""  # where the total was announced (e.g. "header X-Total-Count")
    cursor_max: Any = None  # the raw API value of the highest cursor on this page
    boundary: List[str] = field(default_factory=list)  # hashes of the rows at cursor_max
    deleted: int = 0
    duplicates: int = 0
    skipped_at_boundary: int = 0
    no_cursor: int = 0  # rows without a cursor value (every cursor field empty)
    unfit_cursor: int = 0  # rows whose cursor value does not fit the cursor column's type
    unfit_example: Any = None
    cursor_first: Any = None  # the first row's cursor, and whether the page is in cursor order
    cursor_sorted: bool = False
    has_next: bool = False  # sequential readers: the paginator says another page follows
    first_key: Any = None  # offset reader: where the page starts and ends in cursor order
    last_key: Any = None


def row_hash(record: Dict[str, Any]) -> str:
    """A stable fingerprint of a record's content (to recognise a row already loaded)."""
    data = jsonio.dumps(record, sort_keys=True, default=str)
    return hashlib.blake2b(data, digest_size=10).hexdigest()


class PageProcessor:
    """Response -> PageResult for one table. Thread-safe (no shared mutable state)."""

    def __init__(self, *, converter: TableConverter, data_selector: Optional[str], where: Where,
                 primary_key: Sequence[str], cursor_field: Union[None, str, Sequence[str]]):
        self.converter = converter
        self.data_selector = data_selector
        self.where = where
        self.primary_key = tuple(primary_key)
        self.cursor_fields = cursor_fields(cursor_field)  # several: the first non-empty value
        self.cursor_field = self.cursor_fields[0] if self.cursor_fields else None
        self.skip_cursor: Any = None  # rows at this cursor value whose hash is in skip_hashes
        self.skip_hashes: Set[str] = set()

    def at(self, label: str) -> Where:
        return Where(self.where.database, self.where.table, label, self.where.path)

    def empty(self, request: PageRequest) -> PageResult:
        """A page a response action told us to ignore: no records, and no further pages."""
        result = PageResult(request=request, table=self.converter.convert([], request.label), raw_count=0)
        result.ignored = True  # type: ignore[attr-defined]
        return result

    def select(self, page: Page, request: PageRequest) -> List[Any]:
        return self.select_doc(page.doc, request)

    def select_doc(self, doc: Any, request: PageRequest) -> List[Any]:
        records, _ = select_data(doc, self.data_selector, self.at(request.label))
        return records

    def process(self, page: Page, request: PageRequest) -> Tuple[PageResult, List[Any]]:
        records = self.select(page, request)
        result = self.process_records(records, request, len(records))
        return result, records

    def process_records(self, records: List[Any], request: PageRequest, raw_count: int) -> PageResult:
        """Drop rows already loaded at the cursor boundary and repeated keys, then convert."""
        skipped = 0
        if self.skip_hashes and self.cursor_fields:
            cfs, cv, hashes = self.cursor_fields, self.skip_cursor, self.skip_hashes
            kept = [r for r in records
                    if not (isinstance(r, dict) and cursor_value(r, cfs) == cv and row_hash(r) in hashes)]
            skipped = len(records) - len(kept)
            records = kept
        duplicates = 0
        if self.primary_key and len(records) > 1:
            records, duplicates = _dedupe_keep_last(records, self.primary_key)
            if duplicates:
                logger.warning("%s: %d record(s) repeat a primary key within the page; the last one is kept",
                               self.at(request.label).describe(), duplicates)
        table = self.converter.convert(records, request.label)
        result = PageResult(request=request, table=table, raw_count=raw_count, duplicates=duplicates,
                            skipped_at_boundary=skipped)
        if self.cursor_fields and table.num_rows:
            _cursor_boundary(result, table, records, self.cursor_fields)
        deleted_field = self.converter.deletes.field
        if self.converter.deletes.mode != "ignore" and deleted_field in table.column_names:
            result.deleted = int(pc.sum(pc.cast(pc.fill_null(table[deleted_field], False), pa.int64())).as_py() or 0)
        return result


def _dedupe_keep_last(records: List[Dict[str, Any]], pk: Tuple[str, ...]) -> Tuple[List[Dict[str, Any]], int]:
    if len(pk) == 1:
        key = pk[0]
        keys = [r.get(key) if isinstance(r, dict) else None for r in records]
    else:
        keys = [tuple(r.get(k) for k in pk) if isinstance(r, dict) else None for r in records]
    try:
        if len(set(keys)) == len(keys):
            return records, 0
    except TypeError:  # unhashable key values: leave them for the converter to report
        return records, 0
    last = {k: i for i, k in enumerate(keys)}
    kept = [r for i, r in enumerate(records) if last[keys[i]] == i]
    return kept, len(records) - len(kept)


def _cursor_boundary(result: PageResult, table: pa.Table, records: List[Dict[str, Any]],
                     fields: Tuple[str, ...]) -> None:
    """The page's highest cursor (the API's own value), the hashes of the rows at it, and the
    rows whose cursor is empty or did not fit the column's type (so cannot be compared)."""
    column = _cursor_column(table, fields)
    nulls = len(records) if column is None else column.null_count
    if nulls:
        for i in (range(len(records)) if column is None else
                  pc.indices_nonzero(pc.is_null(column)).to_pylist()):
            raw = cursor_value(records[i], fields)
            if raw is None:
                result.no_cursor += 1
            else:
                result.unfit_cursor += 1
                if result.unfit_example is None:
                    result.unfit_example = raw
    if column is None or nulls == len(column):
        return
    top = pc.max(column)
    at_top = pc.equal(column, top)
    indices = pc.indices_nonzero(pc.fill_null(at_top, False)).to_pylist()
    result.cursor_max = cursor_value(records[indices[0]], fields)
    result.boundary = [row_hash(records[i]) for i in indices]
    if not nulls:
        result.cursor_first = cursor_value(records[0], fields)
        result.cursor_sorted = len(column) < 2 or bool(pc.all(pc.greater_equal(column[1:], column[:-1])).as_py())


def _cursor_column(table: pa.Table, fields: Tuple[str, ...]) -> Optional[pa.Array]:
    """The cursor as one Arrow column: the first field's values, empty ones (null, or ``""`` in
    a text column) taken from the next field. None when no cursor field is in the page."""
    out: Optional[pa.Array] = None
    for name in fields:
        if name not in table.column_names:
            continue
        column = table[name].combine_chunks()
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            column = pc.if_else(pc.equal(column, ""), pa.scalar(None, column.type), column)
        if out is None:
            out = column
            continue
        if not out.null_count:
            break
        if column.type != out.type:
            try:
                column = column.cast(out.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                return _python_cursor_column(out, column)
        out = pc.coalesce(out, column)
    return out


def _python_cursor_column(first: pa.Array, other: pa.Array) -> pa.Array:
    """Cursor fields of types Arrow cannot coalesce: compared in Python by rank."""
    values = [a if a is not None else b for a, b in zip(first.to_pylist(), other.to_pylist())]
    import functools

    order = sorted((i for i, v in enumerate(values) if v is not None),
                   key=functools.cmp_to_key(lambda i, j: compare_cursors(values[i], values[j])))
    rank: List[Optional[int]] = [None] * len(values)
    for position, i in enumerate(order):
        if position and compare_cursors(values[order[position - 1]], values[i]) == 0:
            rank[i] = rank[order[position - 1]]
        else:
            rank[i] = position
    return pa.array(rank, pa.int64())


class Reader:
    """Plans the page requests of one table. Planning methods are called under the scheduler's
    lock; :meth:`fetch` runs in a worker thread."""

    def __init__(self, client: ApiClient, processor: PageProcessor, *, path: str, params: Dict[str, Any],
                 method: str = "GET", json: Optional[Dict[str, Any]] = None,
                 response_actions: Optional[Sequence[Dict[str, Any]]] = None,
                 headers: Optional[Mapping[str, str]] = None):
        self.client = client
        self.headers = dict(headers) if headers else None  # endpoint.headers: on every request
        self.processor = processor
        self.path = path
        self.base_params = dict(params)
        self.method = method
        self.json = json
        self.extra_params: Dict[str, Any] = {}
        self.filtered = False  # the cursor filter is on this run's requests
        self.response_actions = response_actions
        self.stopped = False
        self.inflight = 0
        self.requests_made = 0

    def configure(self, extra_params: Dict[str, Any], *, filtered: bool = True) -> None:
        """Set params for every request of this run (the incremental cursor); before the first.
        ``filtered`` False: a first run without the cursor filter (rows come in the API's order)."""
        self.extra_params = dict(extra_params)
        self.filtered = filtered

    def params(self) -> Dict[str, Any]:
        return {**self.base_params, **self.extra_params}

    def stop(self) -> None:
        self.stopped = True

    @property
    def exhausted(self) -> bool:
        raise NotImplementedError

    def next_request(self) -> Optional[PageRequest]:
        raise NotImplementedError

    def get(self, request: PageRequest) -> Page:
        page = self.client.get_json(request.path, request.params, where=self.processor.at(request.label),
                                    method=request.method, json=request.json, ignore=self.response_actions,
                                    headers=self.headers)
        response_arrived()
        return page

    def fetch(self, request: PageRequest) -> PageResult:
        page = self.get(request)
        if page.ignored:
            return self.ignored(page, request, first=True)
        result, _records = self.processor.process(page, request)
        result.total = self._read_total(page)
        return result

    def ignored(self, page: Page, request: PageRequest, *, first: bool) -> PageResult:
        """A response a response action ignores: an empty last page, except a 404 on the table's
        first page, which is the table's error (:meth:`ApiClient.first_page_missing`)."""
        if first:
            error = self.client.first_page_missing(page, request.path, self.processor.at(request.label))
            if error is not None:
                raise error
        return self.processor.empty(request)

    def _read_total(self, page: Page) -> Optional[int]:
        return None

    def fetched(self, request: PageRequest, result: PageResult) -> None:
        self.inflight -= 1

    def check_complete(self) -> Optional[str]:
        """After the last page: raise when rows the API announced are missing, return a warning
        when nothing proves the table complete (dbsync.source.completeness)."""
        return None

    def fetch_failed(self, request: PageRequest) -> None:
        self.inflight -= 1
        self.stopped = True


class SequentialReader(Reader):
    """One page after another, with any dlt paginator."""

    def __init__(self, client: ApiClient, processor: PageProcessor, *, paginator_cfg: Any, **kwargs: Any):
        super().__init__(client, processor, **kwargs)
        self.paginator_cfg = paginator_cfg
        self.paginator: Any = None
        self.request: Optional[requests.Request] = None
        self.number = 0
        self.more = True
        self.waiting = False
        self._seen: Dict[str, int] = {}
        self.tally = PagingTally()

    @property
    def exhausted(self) -> bool:
        return self.stopped or (not self.more and self.inflight == 0)

    def next_request(self) -> Optional[PageRequest]:
        if self.stopped or not self.more or self.waiting:
            return None
        if self.request is None:
            import requests

            from dbsync.http.paging import make_paginator

            self.paginator = make_paginator(self.paginator_cfg)
            self.request = requests.Request(method=self.method, url=self.path, params=self.params(),
                                            json=copy.deepcopy(self.json))
            if self.paginator is not None:
                self.paginator.init_request(self.request)
        self.number += 1
        self.waiting = True
        self.inflight += 1
        self.requests_made += 1
        r = self.request
        return PageRequest(r.url, dict(r.params or {}), r.method, copy.deepcopy(r.json), label=f"page {self.number}")

    def fetch(self, request: PageRequest) -> PageResult:
        """Fetch, convert, and move the paginator on. Only one request of a sequential reader is
        ever in flight, so the paginator is touched by one thread at a time."""
        where = self.processor.at(request.label)
        signature = f"{request.path}|{sorted(request.params.items())}|{request.json}"
        self._seen[signature] = self._seen.get(signature, 0) + 1
        if self._seen[signature] >= 3:
            raise ResponseFormatError("the paginator requested the same page again and again", where=where,
                                      hint="check the paginator settings (cursor path, next link)")
        page = self.get(request)
        if page.ignored:
            return self.ignored(page, request, first=self.number == 1)
        result, records = self.processor.process(page, request)
        if self.paginator is None:
            from dbsync.http.paging import _detect_paginator

            self.paginator = _detect_paginator(self.client, page, records)
            _refuse_single_page_fallback(self.paginator, where)
        try:
            self.paginator.update_state(page.response_for_paginator(), records)
            self.paginator.update_request(self.request)
        except (ValueError, KeyError, TypeError) as exc:
            from dbsync.http.redaction import redact

            raise ResponseFormatError(f"paginator could not read the response: {redact(exc)}", where=where,
                                      hint="check the paginator settings") from None
        result.has_next = bool(self.paginator.has_next_page)  # type: ignore[attr-defined]
        announced = _announced_total(self.paginator, page)
        if announced is not None:
            result.total, result.total_source = announced
        return result

    def fetched(self, request: PageRequest, result: PageResult) -> None:
        super().fetched(request, result)
        self.waiting = False
        self.more = bool(getattr(result, "has_next", False))
        if not getattr(result, "ignored", False):
            size = requested_page_size(request.params, request.path, self.paginator)
            total = (result.total, result.total_source) if result.total is not None else None
            self.tally.page(result.raw_count, page_size=size, total=total)

    def check_complete(self) -> Optional[str]:
        if self.stopped or self.tally.pages == 0:
            return None
        return self.tally.verdict(self.processor.where)


def _refuse_single_page_fallback(paginator: Any, where: Where) -> None:
    """No paginator configured, and none detected from the first page: dlt would read that page
    alone and call the table complete. A table of exactly one page says so itself
    (``paginator: single_page``); any other is a config to fix, not a silent first page."""
    from dlt.sources.helpers.rest_client.paginators import SinglePagePaginator

    if type(paginator) is SinglePagePaginator:
        from dbsync.errors import ConfigError

        error = ConfigError(
            "endpoint.paginator is not set and no paging was detected in the first page: only that page would "
            "be read", hint="set the paginator the API documents (offset, page_number, json_link, header_link, "
                            "cursor...), or paginator: single_page if the endpoint returns every record at once")
        raise error.with_where(where)


def _announced_total(paginator: Any, page: Page) -> Optional[Tuple[int, str]]:
    """The listing's size as the response announces it: an offset paginator's ``total_path``
    (rows; a page-number paginator's ``total_path`` counts pages, so it is not used), else a
    total header, else a total key of the body."""
    from dlt.sources.helpers.rest_client.paginators import OffsetPaginator

    if isinstance(paginator, OffsetPaginator) and paginator.total_path is not None:
        from dbsync.http.select import _find

        value = _find(page.doc, str(paginator.total_path))
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value, f"body '{paginator.total_path}'"
    return header_total(page.headers) or body_total(page.doc)


def is_concurrent_offset(paginator: Any, method: str) -> bool:
    """Offset pages can be fetched concurrently when they go in the query string of a GET."""
    from dlt.sources.helpers.rest_client.paginators import OffsetPaginator

    return (
        isinstance(paginator, OffsetPaginator)
        and method.upper() == "GET"
        and not paginator.param_body_path
        and not paginator.limit_body_path
        and paginator.has_more_path is None
    )

