"""Read a config file (YAML, TOML or JSON) into a mapping, with errors that point at the line."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import yaml

from dbsync.config.model import SyncConfig
from dbsync.config.parse import parse_config
from dbsync.errors import ConfigError

DEFAULT_CONFIG_NAMES = ("dbsync.yaml", "dbsync.yml", "dbsync.toml", "dbsync.json")
CONFIG_ENV = "DBSYNC_CONFIG"


def find_config_file(path: Optional[Union[str, Path]] = None) -> Path:
    """The config file to use: the given path, ``$DBSYNC_CONFIG``, or ``dbsync.yaml`` (etc.) here."""
    if path is None and os.environ.get(CONFIG_ENV):
        path = os.environ[CONFIG_ENV]
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}", hint="pass --config PATH to an existing file")
        return p
    for name in DEFAULT_CONFIG_NAMES:
        if Path(name).is_file():
            return Path(name)
    raise ConfigError(
        "no config file: none of " + ", ".join(DEFAULT_CONFIG_NAMES) + " in the current folder",
        hint="pass --config PATH, set DBSYNC_CONFIG, or see examples/ for a starting point",
    )


def read_config_file(path: Union[str, Path]) -> Mapping[str, Any]:
    """Parse the file by its extension; YAML when unknown (JSON is valid YAML too)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.__class__.__name__}: {exc}") from None
    suffix = p.suffix.lower()
    try:
        if suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            data = yaml.safe_load(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", source=str(p)) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", source=str(p)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"invalid YAML{where}: {problem}", source=str(p)) from None
    if data is None:
        raise ConfigError("the config file is empty", source=str(p))
    if not isinstance(data, Mapping):
        raise ConfigError(f"the config must be a mapping of keys, got {type(data).__name__}", source=str(p))
    return data


def load_config(path: Optional[Union[str, Path]] = None, *, resolve_secrets: bool = True) -> SyncConfig:
    """Find, read and validate a config file. Secrets come from dlt secrets, never the file."""
    p = find_config_file(path)
    return parse_config(read_config_file(p), source_name=str(p), from_file=True, resolve_secrets=resolve_secrets)
