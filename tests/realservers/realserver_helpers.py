"""Helpers for the real-server tests: the examples' configs and scripts, what dbsync sent on the
wire, and the CLI as users run it."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, List, Optional
from urllib.parse import parse_qs, urlsplit

import yaml

from realserver_procs import EXAMPLES


def load_example_module(relative: str) -> ModuleType:
    """A helper script from examples/ (the tests build their data with the examples' own scripts)."""
    path = EXAMPLES / relative
    spec = importlib.util.spec_from_file_location(f"example_{path.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def example_config(name: str) -> Dict[str, Any]:
    """examples/<name>/dbsync.yaml as a dict (tests point it at their server with the env var)."""
    return yaml.safe_load((EXAMPLES / name / "dbsync.yaml").read_text())


@dataclass
class SentRequest:
    method: str
    url: str
    headers: Dict[str, str]

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> Dict[str, List[str]]:
        return parse_qs(urlsplit(self.url).query, keep_blank_values=True)

    def param(self, name: str) -> Optional[str]:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Recorder:
    sent: List[SentRequest] = field(default_factory=list)

    def clear(self) -> None:
        self.sent.clear()

    def to(self, path: str) -> List[SentRequest]:
        return [r for r in self.sent if r.path == path]

    def at(self, base_url: str) -> List[SentRequest]:
        """The requests to one server (dlt may send its own, e.g. telemetry, in the same process)."""
        return [r for r in self.sent if r.url.startswith(base_url + "/")]


def run_cli(*args: str, env: Dict[str, Optional[str]], cwd: Path) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, RUNTIME__DLTHUB_TELEMETRY="false")
    for key, value in env.items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    return subprocess.run([sys.executable, "-m", "dbsync", *args], env=full_env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)
