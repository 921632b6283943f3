"""Configuration: the rest_api source format, extended with databases, tables and sync options."""

from typing import Any

__all__ = ["SyncConfig", "parse_config", "load_config", "find_config_file", "read_config_file"]

# imported on first use (PEP 562): a page-converting worker process needs the model's classes,
# not the parser and the file readers (YAML, dlt's rest_api helpers)
_HOMES = {"SyncConfig": "model", "parse_config": "parse", "load_config": "files", "find_config_file": "files",
          "read_config_file": "files"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
