"""Picking records and values out of a decoded API response: data selectors, dotted paths and
JSONPath, as dlt's ``data_selector`` takes them.

Its own module, free of HTTP imports, because the page-conversion worker processes
(:mod:`dbsync.source.page_worker`) need it: without ``requests`` and ``urllib3`` a worker is
ready about 0.2 s sooner, which is pages converted in-thread at the start of every big table.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

from dbsync.errors import ResponseFormatError, Where


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
