"""Did paging read the whole table? Totals, page sizes, and the verdict at the end of a table.

A paginator decides when a table ends, and a paginator that does not find the API's next-page
signal (a ``header_link`` paginator on an API that announces the next page in another header)
stops after page 1 as if the table ended there. Two general facts catch that:

- **A total.** Where the API says how many rows the listing holds (the offset paginator's
  ``total_path`` in the body, one of :data:`TOTAL_BODY_KEYS`, or one of :data:`TOTAL_HEADERS`)
  and fewer rows arrived, the table fails (:class:`~dbsync.errors.IncompleteReadError`). The
  total compared is the one announced *last* (rows deleted while paging lower it), for the
  request as sent (an incremental run's filter included). Only a reader that saw the listing
  end by itself (offset pages: a page shorter than asked, or empty) may end below the total:
  then the total was an estimate, which is logged, not an error.
- **A full last page.** Without a total, a last page holding as many records as a page can hold
  is suspicious: a warning naming the table (log, run summary, ``TableReport.warnings``). A
  page's size is known from the request (the paginator's ``limit``, or a page-size parameter
  the user set, one of :data:`PAGE_SIZE_PARAMS`, in the params or the next-page URL), else from
  the largest page before it (needs two pages or more). A table of exactly a multiple of the
  page size ends like this too; the warning says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence, Tuple
from urllib.parse import parse_qsl, urlsplit

from dbsync.errors import IncompleteReadError, Where

logger = logging.getLogger("dbsync.readers")

# Response headers that announce the size of a listing (compared case-insensitively).
TOTAL_HEADERS: Tuple[str, ...] = (
    "X-Total-Count", "X-Total", "Total-Records", "X-Total-Records", "Total-Count", "X-Pagination-Total-Count",
)
# Body keys that announce it: at the top level or under one of TOTAL_BODY_PARENTS.
TOTAL_BODY_KEYS: Tuple[str, ...] = (
    "total", "total_count", "totalCount", "total_items", "totalItems", "total_records", "totalRecords",
    "total_results", "totalResults", "totalRows", "total_rows", "totalSize", "total_size", "totalElements",
)
# Where APIs nest them (dotted: a parent inside a parent): Strapi's meta.pagination.total,
# NocoDB's pageInfo.totalRows, JSON:API's meta.page.total. Not 'page' alone: there 'total' often counts pages.
TOTAL_BODY_PARENTS: Tuple[str, ...] = ("meta", "pagination", "pageInfo", "page_info", "paging", "meta.pagination",
                                       "meta.page", "meta.paging")
# Request parameters that set the page size, compared lower-case without '_', '-', '$', '[', ']'
# (so per_page, perPage, page[size], $top, _size... all match).
PAGE_SIZE_PARAMS: Tuple[str, ...] = ("limit", "perpage", "pagesize", "size", "pagelimit", "top", "maxresults")


def _count_value(value: Any) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def header_total(headers: Optional[Mapping[str, str]], names: Sequence[str] = TOTAL_HEADERS
                 ) -> Optional[Tuple[int, str]]:
    """(total, 'header X-Total-Count') from the first of ``names`` present. A value is a count
    (``260``) or a range with the listing's size after the slash (``0-99/260``, ``*/260``,
    ``items 0-99/260``: PostgREST's ``Content-Range``; ``0-99/*`` is no total)."""
    if not headers:
        return None
    lowered = {str(k).lower(): v for k, v in headers.items()}
    for name in names:
        raw = lowered.get(name.lower())
        value = _count_value(raw)
        if value is None and isinstance(raw, str) and "/" in raw:
            value = _count_value(raw.rsplit("/", 1)[1])
        if value is not None:
            return value, f"header {name}"
    return None


def body_total(doc: Any) -> Optional[Tuple[int, str]]:
    """(total, "body 'total'") from the first of :data:`TOTAL_BODY_KEYS` in the document."""
    if not isinstance(doc, dict):
        return None
    for parent in ("",) + TOTAL_BODY_PARENTS:
        node: Any = doc
        for part in parent.split(".") if parent else ():
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            continue
        for key in TOTAL_BODY_KEYS:
            if key in node:
                value = _count_value(node[key])
                if value is not None:
                    return value, f"body '{parent + '.' if parent else ''}{key}'"
    return None


def _normal(name: str) -> str:
    return "".join(c for c in name.lower() if c not in "_-$[]")


def requested_page_size(params: Optional[Mapping[str, Any]], url: str, paginator: Any) -> Optional[Tuple[int, str]]:
    """The page size the request asked for: (size, how it is known), or None."""
    limit = getattr(paginator, "limit", None)
    if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
        return limit, f"the paginator's limit {limit}"
    query = dict(parse_qsl(urlsplit(url).query)) if "?" in url else {}
    query.update(params or {})
    for name, value in query.items():
        if _normal(str(name)) in PAGE_SIZE_PARAMS:
            size = _count_value(value)
            if size:
                return size, f"{name}={size}"
    return None


@dataclass
class PagingTally:
    """What the pages of one table said, in order; :meth:`verdict` at the end."""

    pages: int = 0
    received: int = 0  # rows of the listing read (sequential: records returned; offset: furthest position)
    last_count: int = 0
    largest_before_last: int = 0
    last_page_size: Optional[Tuple[int, str]] = None  # what the last request asked for
    total: Optional[int] = None  # the total announced last
    total_source: str = ""
    end_seen: bool = False  # the reader saw the listing end by itself (a short or empty offset page)

    def page(self, count: int, *, page_size: Optional[Tuple[int, str]] = None,
             total: Optional[Tuple[int, str]] = None) -> None:
        if self.pages:
            self.largest_before_last = max(self.largest_before_last, self.last_count)
        self.pages += 1
        self.received += count
        self.last_count = count
        self.last_page_size = page_size
        if total is not None:
            self.total, self.total_source = total

    def full_last_page(self) -> Optional[str]:
        """How the last page is known to be full, or None."""
        if not self.last_count:
            return None
        if self.last_page_size is not None:
            size, how = self.last_page_size
            return f"{self.last_count} records, {how}" if self.last_count >= size else None
        if self.pages >= 2 and self.last_count >= self.largest_before_last:
            return f"{self.last_count} records, as many as the largest page before it"
        return None

    def verdict(self, where: Where) -> Optional[str]:
        """Raise when rows the total announced are missing; return a warning for a full last
        page nothing proves complete; None when the table is read completely."""
        if self.total is not None and self.received < self.total:
            if self.end_seen:
                logger.info("%s: the API announced %d rows (%s) but the listing ended after %d: an estimate, "
                            "or rows removed while reading", where.describe(), self.total, self.total_source,
                            self.received)
                return None
            raise IncompleteReadError(
                f"{self.received} of the {self.total} rows the API announced ({self.total_source}) arrived: "
                f"the paginator found no next page after page {self.pages}",
                where=where,
                hint="the API announces its next page somewhere the paginator does not read; check the "
                     "paginator settings (header_link reads the Link header)",
            )
        if self.total is not None or self.end_seen:
            return None
        full = self.full_last_page()
        if full is None:
            return None
        text = (f"page {self.pages} came back full ({full}) but the paginator found no next page: rows may be "
                f"missing (check the paginator settings; a table of exactly a multiple of the page size also "
                f"ends like this)")
        message = f"{where.describe()}: {text}"
        logger.warning("%s", message)
        return message
