"""Validators on the discovery answers: an ``ETag`` derived from the body, and ``304 Not
Modified`` (no body) when the client's ``If-None-Match`` names it.

The tag is a hash of the exact body, so it changes exactly when the answer would: a field
added through the admin API, a table created, a row count moved. Clients that cache discovery
(dbsync's ``discovery`` cache) can be tested against it, request by request.
"""

from __future__ import annotations

import hashlib
from typing import Iterable, List, Tuple

Headers = List[Tuple[bytes, bytes]]


def etag_of(body: bytes) -> bytes:
    return b'"' + hashlib.sha256(body).hexdigest()[:24].encode() + b'"'


def _matches(if_none_match: bytes, etag: bytes) -> bool:
    """RFC 9110 weak comparison: any listed tag (``W/`` ignored) or ``*``."""
    tags = [t.strip() for t in if_none_match.split(b",")]
    return any(t == b"*" or (t[2:] if t.startswith(b"W/") else t) == etag for t in tags)


def conditional_status(body: bytes, request_headers: Iterable[Tuple[bytes, bytes]], headers: Headers) -> int:
    """The status for a 200 ``body``: adds its ``ETag`` to ``headers``; 304 (send no body) when
    the request's ``If-None-Match`` matches it."""
    etag = etag_of(body)
    headers.append((b"etag", etag))
    for name, value in request_headers:
        if name == b"if-none-match" and _matches(value, etag):
            return 304
    return 200
