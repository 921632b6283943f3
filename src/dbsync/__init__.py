"""dbsync: sync every table of every database behind a database API into a warehouse, on dlt.

Library first; the ``dbsync`` command line is a thin layer over these functions::

    import dbsync
    config = dbsync.load_config("dbsync.yaml")       # or dbsync.parse_config({...rest_api dict...})
    result = dbsync.run_sync(config, destination="warehouse.duckdb")
    source = dbsync.dbsync_source(config)             # or use the dlt source in your own pipeline
"""

from dbsync.check import DatabaseCheck, check_connection
from dbsync.config import SyncConfig, load_config, parse_config
from dbsync.discovery import Catalog, DatabaseInfo, FieldInfo, TableInfo, discover_catalog
from dbsync.errors import (
    ApiError,
    ApiUnreachableError,
    AuthError,
    ConfigError,
    DataError,
    DbsyncError,
    DestinationError,
    NotFoundError,
    PermissionDeniedError,
    PipelineBusyError,
    ResponseFormatError,
    RetriesExhaustedError,
)
from dbsync.pipeline import SyncResult, run_sync
from dbsync.source import dbsync_source
from dbsync.status import sync_status

__version__ = "0.1.0"

__all__ = [
    "SyncConfig",
    "load_config",
    "parse_config",
    "dbsync_source",
    "run_sync",
    "SyncResult",
    "discover_catalog",
    "Catalog",
    "DatabaseInfo",
    "TableInfo",
    "FieldInfo",
    "check_connection",
    "DatabaseCheck",
    "sync_status",
    "DbsyncError",
    "ConfigError",
    "ApiError",
    "AuthError",
    "PermissionDeniedError",
    "NotFoundError",
    "RetriesExhaustedError",
    "ResponseFormatError",
    "ApiUnreachableError",
    "DataError",
    "PipelineBusyError",
    "DestinationError",
    "__version__",
]
