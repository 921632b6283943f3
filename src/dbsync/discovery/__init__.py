"""Discovery: which databases and tables exist, and the types of their fields."""

from typing import Any

__all__ = ["Catalog", "DatabaseInfo", "TableInfo", "FieldInfo", "discover_catalog"]

# imported on first use (PEP 562): a page-converting worker process needs the catalog's classes,
# not the HTTP stack behind discover_catalog (requests: a third of its start-up)
_HOMES = {"Catalog": "catalog", "DatabaseInfo": "catalog", "FieldInfo": "catalog", "TableInfo": "catalog",
          "discover_catalog": "discover"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
