"""Configuration: the rest_api source format, extended with databases, tables and sync options."""

from dbsync.config.files import find_config_file, load_config, read_config_file
from dbsync.config.model import SyncConfig
from dbsync.config.parse import parse_config

__all__ = ["SyncConfig", "parse_config", "load_config", "find_config_file", "read_config_file"]
