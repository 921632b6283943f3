"""dbsync: sync every table of every database behind a database API into a warehouse, on dlt.

Library first; the ``dbsync`` command line is a thin layer over these functions::

    import dbsync
    config = dbsync.load_config("dbsync.yaml")       # or dbsync.parse_config({...rest_api dict...})
    result = dbsync.run_sync(config, destination="warehouse.duckdb")
    source = dbsync.dbsync_source(config)             # or use the dlt source in your own pipeline

Names are imported on first use: ``import dbsync`` stays cheap (the reference server and the CLI
start without loading dlt until they need it).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "SyncConfig": "dbsync.config",
    "load_config": "dbsync.config",
    "parse_config": "dbsync.config",
    "dbsync_source": "dbsync.source",
    "run_sync": "dbsync.run.sync",
    "after_load": "dbsync.run.after_load",
    "prove_sync": "dbsync.run.sync",
    "SyncResult": "dbsync.run.sync",
    "discover_catalog": "dbsync.discovery",
    "Catalog": "dbsync.discovery",
    "DatabaseInfo": "dbsync.discovery",
    "TableInfo": "dbsync.discovery",
    "FieldInfo": "dbsync.discovery",
    "check_connection": "dbsync.check",
    "DatabaseCheck": "dbsync.check",
    "sync_status": "dbsync.status",
    "verify_sync": "dbsync.reconcile.verify",
    "VerifyResult": "dbsync.reconcile.verify",
    "DbsyncError": "dbsync.errors",
    "ConfigError": "dbsync.errors",
    "ApiError": "dbsync.errors",
    "AuthError": "dbsync.errors",
    "PermissionDeniedError": "dbsync.errors",
    "NotFoundError": "dbsync.errors",
    "RetriesExhaustedError": "dbsync.errors",
    "ResponseFormatError": "dbsync.errors",
    "ApiUnreachableError": "dbsync.errors",
    "DataError": "dbsync.errors",
    "PipelineBusyError": "dbsync.errors",
    "DestinationError": "dbsync.errors",
    "DriftError": "dbsync.errors",
    "ExtractError": "dbsync.errors",
    "NormalizeError": "dbsync.errors",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dbsync' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(__all__)
