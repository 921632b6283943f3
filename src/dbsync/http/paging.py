"""Sequential paging with dlt's own paginators, and picking the records out of a response.

This is the general path: any paginator rest_api supports (offset, page_number, json_link,
header_link, cursor, header_cursor, single_page, auto-detection) works, one page after another.
Offset pages with a known total take the concurrent path in :mod:`dbsync.source.scheduler`.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Iterator, List, Optional, Tuple

import requests

from dbsync.errors import ResponseFormatError, Where
from dbsync.http.client import ApiClient, Page
from dbsync.http.select import select_data

MAX_PAGES_WITHOUT_PROGRESS = 3  # the same next-page request three times: the paginator is stuck


def make_paginator(paginator_cfg: Any) -> Any:
    """A fresh dlt paginator instance from config (paginators hold state). dbsync's own types
    (dbsync.http.paginators) are registered with dlt first; dbsync's ``total`` key is not dlt's."""
    from dlt.sources.rest_api.config_setup import create_paginator

    from dbsync.config.paging import without_total
    from dbsync.http.paginators import register_dbsync_paginators

    if paginator_cfg is None:
        return None
    register_dbsync_paginators()
    paginator_cfg = without_total(paginator_cfg)
    return create_paginator(copy.deepcopy(paginator_cfg) if isinstance(paginator_cfg, dict) else paginator_cfg)


def iter_pages(
    client: ApiClient,
    path: str,
    params: Optional[Dict[str, Any]],
    *,
    paginator_cfg: Any,
    data_selector: Optional[str],
    where: Where,
    method: str = "GET",
    json: Optional[Dict[str, Any]] = None,
    mapping_items: bool = False,
) -> Iterator[Tuple[List[Any], Page]]:
    """Yield (records, page) for every page, following the configured dlt paginator."""
    paginator = make_paginator(paginator_cfg)
    request = requests.Request(method=method, url=path, params=dict(params or {}), json=copy.deepcopy(json))
    if paginator is not None:
        paginator.init_request(request)
    number = 0
    seen_requests: Dict[str, int] = {}
    selector = data_selector
    while True:
        number += 1
        page_where = Where(where.database, where.table, f"page {number}", where.path)
        signature = f"{request.url}|{sorted((request.params or {}).items())}|{request.json}"
        seen_requests[signature] = seen_requests.get(signature, 0) + 1
        if seen_requests[signature] >= MAX_PAGES_WITHOUT_PROGRESS:
            raise ResponseFormatError(
                "the paginator requested the same page again and again",
                where=page_where,
                hint="check the paginator settings (cursor path, next link) in the config",
            )
        page = client.get_json(request.url, dict(request.params or {}), where=page_where,
                               method=request.method, json=request.json)
        records, selector = select_data(page.doc, selector, page_where, mapping_items=mapping_items)
        yield records, page
        if paginator is None:
            paginator = _detect_paginator(client, page, records)
        try:
            paginator.update_state(page.response_for_paginator(), records)
            paginator.update_request(request)
        except (ValueError, KeyError, TypeError) as exc:
            from dbsync.http.redaction import redact

            raise ResponseFormatError(f"paginator could not read the response: {redact(exc)}",
                                      where=page_where, hint="check the paginator settings") from None
        if not paginator.has_next_page:
            return


def _detect_paginator(client: ApiClient, page: Page, records: List[Any]) -> Any:
    from dlt.sources.helpers.rest_client.paginators import SinglePagePaginator

    try:
        return client.rest.detect_paginator(page.response_for_paginator(), records)
    except Exception:
        return SinglePagePaginator()
