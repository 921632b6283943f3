"""How many rows the source holds: one small request for the listing's total.

An incremental run reads only what changed, so its pages say nothing about the table's size
(their total, where there is one, counts the filtered rows). To compare the destination with the
source, the run asks once more: the table's own records request **without the cursor filter**,
as small as the paging allows (``limit=1`` for offset paginators, a page-size parameter of 1
where the params have one, else the first page as it is), and reads the total the answer
announces (:func:`announced_total`).

The request is planned by :class:`CountReader`, a one-request reader the page scheduler fetches
beside the table's first page, so it costs no wall time on a run that reads anything, and one
request per table on a run with no changes. A run that read the table unfiltered (a first run, a
reload, a table without cursor) has the total from its own first page and needs no probe.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

import pyarrow as pa

from dbsync.source.completeness import PAGE_SIZE_PARAMS, _normal, body_total, header_total
from dbsync.source.readers import PageRequest, PageResult, Reader

__all__ = ["SourceCount", "CountReader", "announced_total"]


@dataclass(frozen=True)
class SourceCount:
    """The rows the source's listing holds, how that is known, and when it was asked."""

    rows: int
    how: str  # e.g. "header X-Total-Count", "body 'meta.pagination.total'", "key listing"
    at: float  # epoch seconds of the answer


def announced_total(page: Any, *, total_path: Optional[str] = None, header: Optional[str] = None,
                    only: bool = False) -> Optional[Tuple[int, str]]:
    """(total, where it was announced) from a response: the header the config names, the
    paginator's ``total_path``, a known total header, a known total key of the body (nested ones
    included: :func:`dbsync.source.completeness.body_total`). ``only``: just the named ones."""
    if header:
        found = header_total(page.headers, (header,))
        if found is not None:
            return found
    if total_path and page.doc is not None:
        from dbsync.http.select import _MISSING, _find

        value = _find(page.doc, total_path)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if value is not _MISSING and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value, f"body '{total_path}'"
    if only:
        return None
    return header_total(page.headers) or body_total(page.doc)


_EMPTY = pa.table({})


class CountReader(Reader):
    """One request for the total of ``records``' listing without the incremental filter."""

    def __init__(self, records: Reader, configured: Optional[Any] = None, path: Optional[str] = None,
                 params: Optional[Dict[str, Any]] = None):
        super().__init__(records.client, records.processor, path=records.path, params=records.base_params,
                         method=records.method, json=records.json, response_actions=records.response_actions,
                         headers=records.headers)
        self.records = records
        # verify.count (a dbsync.config.model.CountRequest), with its path and params filled for the table
        self.configured = configured
        self.count_path = path
        self.count_params = dict(params or {})
        self.issued = False
        self.count: Optional[SourceCount] = None
        self.problem: Optional[str] = None  # why no count came back

    @property
    def exhausted(self) -> bool:
        return self.stopped or (self.issued and self.inflight == 0)

    def next_request(self) -> Optional[PageRequest]:
        if self.stopped or self.issued:
            return None
        self.issued = True
        self.inflight += 1
        self.requests_made += 1
        return self.request()

    def request(self) -> PageRequest:
        """The records request of the first page, unfiltered and as small as paging allows; or
        the request ``verify.count`` describes."""
        if self.configured is not None:
            if self.count_path is not None:
                return PageRequest(self.count_path, {k: v for k, v in self.count_params.items() if v is not None},
                                   self.configured.method, label="count")
            base = self._smallest_page()
            params = {**base.params, **self.count_params}  # a param set to null is left out
            return PageRequest(base.path, {k: v for k, v in params.items() if v is not None},
                               self.configured.method, base.json, label="count")
        return self._smallest_page()

    def _smallest_page(self) -> PageRequest:
        from dbsync.source.offset_reader import OffsetReader

        records = self.records
        params: Dict[str, Any] = dict(records.base_params)
        method = records.method
        if isinstance(records, OffsetReader):
            params[records.offset_param] = records.start
            params[records.limit_param] = 1
            if records.total_source is not None and records.total_source.method == "HEAD":
                method = "HEAD"
            return PageRequest(records.path, params, method, copy.deepcopy(records.json), label="count", offset=0,
                               limit=1)
        path = records.path
        paginator_cfg = getattr(records, "paginator_cfg", None)
        if paginator_cfg is not None:
            import requests

            from dbsync.http.paging import make_paginator

            paginator = make_paginator(paginator_cfg)
            request = requests.Request(method=method, url=path, params=params, json=copy.deepcopy(records.json))
            if paginator is not None:
                paginator.init_request(request)
                limit_param = getattr(paginator, "limit_param", None)
                if limit_param:
                    request.params[limit_param] = 1
            path, params = request.url, dict(request.params or {})
        for name in list(params):
            if _normal(str(name)) in PAGE_SIZE_PARAMS:
                params[name] = 1
        return PageRequest(path, params, method, copy.deepcopy(records.json), label="count")

    def fetch(self, request: PageRequest) -> PageResult:
        page = self.client.get_json(request.path, request.params, where=self.processor.at("count of all rows"),
                                    method=request.method, json=request.json, ignore=self.response_actions,
                                    headers=self.headers)
        from dbsync.source.readers import response_arrived

        response_arrived()
        result = PageResult(request=request, table=_EMPTY, raw_count=0)
        if page.ignored:
            self.problem = "the API answered the count request with a response the config ignores"
            return result
        if self.configured is not None:
            found = announced_total(page, total_path=self.configured.total_path, header=self.configured.header,
                                    only=True)
        else:
            found = announced_total(page, total_path=self._total_path(), header=self._header())
        if found is None:
            self.problem = NO_TOTAL if self.configured is None else (
                f"the count request's answer has no total in {self.configured.header or self.configured.total_path} "
                "(verify.count)")
            return result
        result.total, result.total_source = found
        self.count = SourceCount(found[0], found[1], time.time())
        return result

    def _total_path(self) -> Optional[str]:
        path = getattr(self.records, "total_path", None)
        if path is None:
            cfg = getattr(self.records, "paginator_cfg", None)
            if isinstance(cfg, dict) and cfg.get("type") == "offset":
                path = cfg.get("total_path", "total")
        return str(path) if path else None

    def _header(self) -> Optional[str]:
        spec = getattr(self.records, "total_source", None)
        return spec.header if spec is not None else None

    def count_now(self) -> Optional[SourceCount]:
        """Ask again, now, outside the scheduler (a second look when the counts differ)."""
        self.count, self.problem = None, None
        self.fetch(self.request())
        return self.count


NO_TOTAL = "the API announces no total"
ESTIMATE = "the API's total is an estimate"
WITH_DELETED = "the API's total counts deleted rows (its unfiltered listing holds tombstones)"


def total_estimate(records: Reader) -> Optional[str]:
    """Why an unfiltered read's total cannot count the table: the listing ended elsewhere than
    the total said (a query planner's estimate), so the probe's total would not either."""
    found = records_total(records)
    if found is None:
        return None
    total, how = found
    tail = getattr(records, "tail", None)
    if tail is not None:  # offset pages: the furthest page read, and whether it was short
        read = getattr(records, "reached", 0) - getattr(records, "start", 0)
        if (tail[1] and read != total) or read > total:
            return f"{ESTIMATE} ({how} said {total:,}, the listing held {read:,})"
        return None
    tally = getattr(records, "tally", None)
    if tally is not None and tally.received > total:
        return f"{ESTIMATE} ({how} said {total:,}, the listing held {tally.received:,})"
    return None


def planned_count_problem(saved: Any) -> Optional[str]:
    """What an earlier unfiltered read of the table learnt about its total (kept in the table's
    state): none at all, or an estimate. A probe would learn no more: it is not sent."""
    memory = (saved or {}).get("count") if isinstance(saved, dict) else None
    if memory == "none":
        return NO_TOTAL
    if memory == "estimate":
        return f"{ESTIMATE} (an earlier full read found it so)"
    if memory == "with_deleted":
        return WITH_DELETED
    return None


def count_memory(report: Any) -> Optional[str]:
    """What to remember of this run's unfiltered read: "none", "estimate" or "exact"."""
    problem = report.count_problem or ""
    if report.mode == "incremental" or report.mode == "initial":
        return None
    if problem == NO_TOTAL:
        return "none"
    if problem.startswith(ESTIMATE):
        return "estimate"
    if report.source_count is not None and report.deleted:
        return "with_deleted"
    return "exact" if report.source_count is not None else None


def records_total(records: Reader) -> Optional[Tuple[int, str]]:
    """The total the pages of an unfiltered read announced (the last one), if any."""
    latest = getattr(records, "latest_total", None)
    if latest is not None:
        return latest
    tally = getattr(records, "tally", None)
    if tally is not None and tally.total is not None:
        return tally.total, tally.total_source
    return None


def read_source_count(scheduler: Any, probe: CountReader, records: Reader, report: Any) -> None:
    """After a table's pages, note what the source holds on its report (``source_count``, or
    ``count_problem`` saying why it is not known): the unfiltered read's own total, else the
    probe's answer (fetched beside the table's first page)."""
    from dbsync.errors import DbsyncError

    if report.count_untrusted:
        return  # the source's count disagreed with a full read before: the problem is said
    if not records.filtered and probe.configured is None:
        found = records_total(records)
        maximum = getattr(records, "maximum_offset", None)
        estimate = total_estimate(records)
        if maximum is not None and found is not None and found[0] > maximum:
            report.count_problem = f"the paginator's maximum_offset ({maximum}) stops the read before the end"
        elif estimate is not None:
            report.count_problem = estimate
        elif found is not None and report.deleted:
            # the listing holds tombstones (soft-deleted rows the API lists): its total counts
            # them too, and exactly these are not live rows
            report.source_count = SourceCount(found[0] - report.deleted, f"{found[1]} less {report.deleted:,} "
                                              "deleted row(s) it listed", report.started or time.time())
        elif found is not None:
            report.source_count = SourceCount(found[0], found[1], report.started or time.time())
        else:
            report.count_problem = NO_TOTAL
        return
    if not probe.issued and probe.stopped:
        return  # not asked: a key listing counts the table this run, or counts are off
    try:
        scheduler.next_page(probe)
    except DbsyncError as exc:
        report.count_problem = f"the count request failed: {exc.one_line()}"
        return
    finally:
        report.requests += probe.requests_made
    report.source_count, report.count_problem = probe.count, probe.problem
