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

MAX_PAGES_WITHOUT_PROGRESS = 3  # the same next-page request three times: the paginator is stuck


def select_data(doc: Any, selector: Optional[str], where: Where, *,
                mapping_items: bool = False) -> Tuple[List[Any], str]:
    """The list of records at ``selector`` (a key, dotted path or JSONPath). Returns the list and
    the selector actually used (detected when none is configured). ``mapping_items``: a mapping
    there (``{"name": {...}}``, JSON Schema ``properties``) is taken too, as its ``(key, value)``
    tuples (JSON has no tuples: callers tell them apart from listed items)."""
    if selector is None:
        from dlt.sources.helpers.rest_client.detector import find_response_page_data

        path, data = find_response_page_data(doc)
        selector = ".".join(path) if path else "$"
    else:
        data = _find(doc, selector)
    if data is _MISSING or data is None:
        keys = ", ".join(list(doc)[:8]) if isinstance(doc, dict) else type(doc).__name__
        raise ResponseFormatError(
            f"no data at data_selector '{selector}' (the response has: {keys})",
            where=where,
            hint="fix data_selector in the config",
        )
    if mapping_items and isinstance(data, dict):
        return list(data.items()), selector
    if not isinstance(data, list):
        raise ResponseFormatError(
            f"data at '{selector}' is a {type(data).__name__}, not a list of records",
            where=where,
            hint="point data_selector at the list of records",
        )
    return data, selector


_MISSING = object()
MISSING = _MISSING  # what find_path returns when the path finds nothing


def find_path(doc: Any, selector: str) -> Any:
    """The value at ``selector`` in ``doc``: a plain key, a dotted path (``schema.is_nullable``)
    or a JSONPath (``$.data[*].schema``), as dlt's ``data_selector`` takes them; ``MISSING``
    when it finds nothing. A key that holds a dot itself (``{"a.b": 1}``) is found as it is.
    Every key dbsync reads from an API's answer goes through here: data selectors, totals, and
    each key of the databases/tables/fields discovery config."""
    if selector in ("$", ""):
        return doc
    if isinstance(doc, dict) and selector in doc:
        return doc[selector]
    if all(c.isalnum() or c in "_.-" for c in selector):
        node = doc
        for part in selector.split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            else:
                return _MISSING
        return node
    from dlt.common import jsonpath

    values = jsonpath.find_values(selector, doc)
    if not values:
        return _MISSING
    return values[0] if len(values) == 1 else values


_find = find_path


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
