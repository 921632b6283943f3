"""Discovery: which databases and tables exist, and the types of their fields."""

from dbsync.discovery.catalog import Catalog, DatabaseInfo, FieldInfo, TableInfo
from dbsync.discovery.discover import discover_catalog

__all__ = ["Catalog", "DatabaseInfo", "TableInfo", "FieldInfo", "discover_catalog"]
