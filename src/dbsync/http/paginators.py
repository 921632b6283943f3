"""Paginators dlt does not ship, added through dlt's own extension point (``register_paginator``).

- ``header_next_url``: the next page's full URL in a response header of its own, e.g. Kinto's
  ``Next-Page: https://host/v1/buckets/b/collections/c/records?_limit=100&_token=...``. dlt's
  ``header_link`` reads only RFC 8288 ``Link: <url>; rel="next"``; ``header_cursor`` takes a
  token, not a URL. Absolute and relative URLs are accepted (a relative one is resolved against
  the URL of the response that announced it, as HTTP resolves references); the URL's own query
  string replaces the request's params, as dlt's other next-URL paginators do.

Once registered, a config says ``paginator: {type: header_next_url, header: Next-Page}`` and dlt's
``create_paginator`` builds it like any of its own.
"""

from __future__ import annotations

import threading
from typing import Any, List, Optional
from urllib.parse import urljoin, urlparse

from dlt.sources.helpers.rest_client.paginators import BaseNextUrlPaginator
from requests import Response

HEADER_NEXT_URL = "header_next_url"
DEFAULT_NEXT_URL_HEADER = "Next-Page"

_lock = threading.Lock()
_registered = False


class HeaderNextUrlPaginator(BaseNextUrlPaginator):
    """The next page's URL is the whole value of one response header (no header: last page)."""

    def __init__(self, header: str = DEFAULT_NEXT_URL_HEADER) -> None:
        super().__init__()
        if not isinstance(header, str) or not header.strip():
            raise ValueError(f"'header' must be a response header name, got {header!r}")
        self.header = header.strip()

    def update_state(self, response: Response, data: Optional[List[Any]] = None) -> None:
        value = (response.headers.get(self.header) or "").strip()
        if value.startswith("<") and value.endswith(">"):  # some servers wrap it as in a Link header
            value = value[1:-1].strip()
        if not value:
            self._next_reference = None
            return
        if not urlparse(value).scheme and getattr(response, "url", None):
            value = urljoin(response.url, value)
        self._next_reference = value

    def __str__(self) -> str:
        # never the URL itself: it may hold a key the server echoed into it
        return f"{type(self).__name__}: header {self.header}"


def register_dbsync_paginators() -> None:
    """Make dbsync's paginator types known to dlt (idempotent, process-wide)."""
    global _registered
    if _registered:
        return
    with _lock:
        if _registered:
            return
        from dlt.sources.rest_api.config_setup import PAGINATOR_MAP, register_paginator

        if HEADER_NEXT_URL not in PAGINATOR_MAP:
            register_paginator(HEADER_NEXT_URL, HeaderNextUrlPaginator)
        _registered = True
