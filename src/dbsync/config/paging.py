"""The ``paginator`` keys of a config: dlt's own paginators, dbsync's ``header_next_url``, and
the ``total`` key that tells an offset paginator where the listing's size is announced.

``total`` (on an offset paginator of a resource, or of ``client``)::

    paginator:
      type: offset
      limit: 100
      total_path: null                  # no total in the body
      total: {header: Total-Records}    # ...but in this response header (GET: the first page's)
      total: {header: Content-Range, method: HEAD}   # or one HEAD request before the first page

The header holds a count (``Total-Records: 260``, ``X-Total-Count: 260``) or an RFC 7233-style
range ``0-99/260`` (PostgREST's ``Content-Range``; ``*`` as the size is no total). With a total,
offset pages are planned and fetched concurrently; the rules of
:mod:`dbsync.source.completeness` keep an estimated total safe. dlt never sees ``total``: it
is taken out before dlt validates or builds the paginator.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, Callable, List, Mapping, Optional, Sequence

from dbsync.errors import ConfigError

TOTAL_KEY = "total"
TOTAL_KEYS = ("header", "method")
TOTAL_METHODS = ("GET", "HEAD")
HEADER_NEXT_URL_KEYS = ("type", "header")

ErrorFactory = Callable[..., ConfigError]  # (key, message, hint=None) -> ConfigError


@dataclass(frozen=True)
class TotalSource:
    """Where an offset listing announces its size: a response header, read from the first page's
    GET response or from a HEAD request sent before it (same path and params)."""

    header: str
    method: str = "GET"

    def describe(self) -> str:
        return f"header {self.header}" + (" (HEAD)" if self.method == "HEAD" else "")


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else f"; known keys: {', '.join(choices)}"


def _is_header_name(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and all(c.isalnum() or c in "-_" for c in value)


def paginator_type(paginator: Any) -> Optional[str]:
    if isinstance(paginator, str):
        return paginator
    if isinstance(paginator, Mapping):
        return str(paginator.get("type", "auto"))
    return None


def validate_paginator(error: ErrorFactory, key: str, paginator: Any, *, allow_total: bool = False) -> None:
    """Raise a ConfigError naming the key when dlt (or dbsync) cannot build the paginator."""
    if paginator is None:
        return
    from dlt.sources.rest_api.config_setup import create_paginator

    from dbsync.http.paginators import HEADER_NEXT_URL, register_dbsync_paginators

    register_dbsync_paginators()
    if isinstance(paginator, Mapping):
        if TOTAL_KEY in paginator:
            _validate_total(error, key, paginator, allow_total)
        if paginator_type(paginator) == HEADER_NEXT_URL:
            for k in paginator:
                if k not in HEADER_NEXT_URL_KEYS:
                    raise error(f"{key}.{k}", "unknown key" + _did_you_mean(k, HEADER_NEXT_URL_KEYS))
            if "header" in paginator and not _is_header_name(paginator["header"]):
                raise error(f"{key}.header", f"must be a response header name (letters, digits, '-', '_'), "
                                             f"got {paginator['header']!r}")
    try:
        create_paginator(without_total(paginator))
    except Exception as exc:  # dlt raises ValueError/TypeError with a usable message
        text = " ".join(str(exc).split())
        misspelt = re.search(r"unexpected keyword argument '([^']+)'", text)
        if misspelt and isinstance(paginator, Mapping):  # a key the paginator class does not take
            allowed = _paginator_keys(paginator)
            raise error(f"{key}.{misspelt.group(1)}", "unknown key" + _did_you_mean(misspelt.group(1), allowed)
                        + (f" (this paginator takes: {', '.join(allowed)})" if allowed else "")) from None
        raise error(key, f"invalid paginator: {text[:300]}") from None


def _paginator_keys(paginator: Mapping[str, Any]) -> List[str]:
    """The keys a paginator config may hold: its type, and its class's constructor arguments."""
    import inspect

    from dlt.sources.rest_api.config_setup import PAGINATOR_MAP

    cls = PAGINATOR_MAP.get(str(paginator.get("type")))
    if cls is None:
        return []
    names = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "args", "kwargs")]
    return ["type", *names]


def _validate_total(error: ErrorFactory, key: str, paginator: Mapping[str, Any], allow_total: bool) -> None:
    where = f"{key}.{TOTAL_KEY}"
    if not allow_total:
        raise error(where, "a total plans the pages of a table: it is read only on the paginator of "
                           "resources[].endpoint (or client)")
    if paginator_type(paginator) != "offset":
        raise error(where, f"only an offset paginator uses a total (it plans concurrent pages), this one is "
                           f"{paginator_type(paginator)!r}",
                    hint="other paginators check the listing's end against the known total headers anyway")
    spec = paginator[TOTAL_KEY]
    if not isinstance(spec, Mapping):
        raise error(where, f"must be a mapping like {{header: Total-Records, method: HEAD}}, got {spec!r}")
    for k in spec:
        if k not in TOTAL_KEYS:
            raise error(f"{where}.{k}", "unknown key" + _did_you_mean(str(k), TOTAL_KEYS))
    if "header" not in spec:
        raise error(f"{where}.header", "missing: name the response header holding the total "
                                       "(e.g. Total-Records, X-Total-Count, Content-Range)")
    if not _is_header_name(spec["header"]):
        raise error(f"{where}.header", f"must be a response header name (letters, digits, '-', '_'), "
                                       f"got {spec['header']!r}")
    method = spec.get("method", "GET")
    if not isinstance(method, str) or method.upper() not in TOTAL_METHODS:
        raise error(f"{where}.method", f"must be GET (the first page's response) or HEAD (a HEAD request "
                                       f"before it), got {method!r}")


def total_source(paginator: Any) -> Optional[TotalSource]:
    """The validated ``total`` of a paginator config, or None."""
    if not isinstance(paginator, Mapping) or not isinstance(paginator.get(TOTAL_KEY), Mapping):
        return None
    spec = paginator[TOTAL_KEY]
    return TotalSource(header=str(spec["header"]), method=str(spec.get("method", "GET")).upper())


def without_total(paginator: Any) -> Any:
    """The paginator config as dlt's ``create_paginator`` takes it (``total`` is dbsync's)."""
    if isinstance(paginator, Mapping) and TOTAL_KEY in paginator:
        return {k: v for k, v in paginator.items() if k != TOTAL_KEY}
    return paginator


def for_dlt_validation(paginator: Any) -> Any:
    """The paginator as dlt's TypedDict validation accepts it: without ``total``, and dbsync's own
    types (which dlt's typed configs do not list) as the instance dlt would build from them; an
    instance is one of the forms dlt's ``PaginatorConfig`` allows. Call after
    :func:`validate_paginator`."""
    from dbsync.http.paginators import HEADER_NEXT_URL

    paginator = without_total(paginator)
    if paginator_type(paginator) == HEADER_NEXT_URL:
        from dlt.sources.rest_api.config_setup import create_paginator

        return create_paginator(paginator)
    return paginator
