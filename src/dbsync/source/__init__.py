"""The dlt source: catalog + config -> one resource per database table.

Imported lazily: page-parsing worker processes import modules of this package and must not pay
for (or depend on) dlt.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["dbsync_source", "SyncSession", "SOURCE_NAME"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("dbsync.source.source"), name)
    raise AttributeError(f"module 'dbsync.source' has no attribute {name!r}")
