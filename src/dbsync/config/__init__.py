"""Configuration: the rest_api source format, extended with databases, tables and sync options."""

from dbsync.lazy import lazy_exports

__all__ = ["SyncConfig", "parse_config", "load_config", "find_config_file", "read_config_file"]

# imported on first use: a page-converting worker process needs the model's classes, not the
# parser and the file readers (YAML, dlt's rest_api helpers)
__getattr__ = lazy_exports(__name__, {"SyncConfig": "model", "parse_config": "parse", "load_config": "files",
                                      "find_config_file": "files", "read_config_file": "files"})
