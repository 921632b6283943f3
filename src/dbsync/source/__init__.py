"""The dlt source: catalog + config -> one resource per database table."""

from dbsync.source.source import SOURCE_NAME, SyncSession, dbsync_source

__all__ = ["dbsync_source", "SyncSession", "SOURCE_NAME"]
