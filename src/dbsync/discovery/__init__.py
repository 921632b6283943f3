"""Discovery: which databases and tables exist, and the types of their fields."""

from dbsync.lazy import lazy_exports

__all__ = ["Catalog", "DatabaseInfo", "TableInfo", "FieldInfo", "discover_catalog"]

# imported on first use: a page-converting worker process needs the catalog's classes, not the
# HTTP stack behind discover_catalog
__getattr__ = lazy_exports(__name__, {"Catalog": "catalog", "DatabaseInfo": "catalog", "FieldInfo": "catalog",
                                      "TableInfo": "catalog", "discover_catalog": "discover"})
