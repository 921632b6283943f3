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


def assert_verify_finds_a_row_removed_by_hand(example: str, folder: Path, env: Dict[str, Optional[str]],
                                              dataset: str, table: str, key: str, cursor: str) -> None:
    """The proof of sync from the outside, with the example's config as a user runs it: a sync,
    `dbsync verify` (exit 0), one row of ``table`` deleted from the destination by hand,
    `dbsync verify` again (exit 13, naming the table), then a plain `dbsync run` restores it
    (healed) and `dbsync verify` is content again. The row removed is one of the oldest by
    ``cursor``: a row the next incremental read would fetch anyway is only "behind", not lost."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    config_path = EXAMPLES / example / "dbsync.yaml"
    warehouse = folder / "warehouse.duckdb"
    common = ["-c", str(config_path), "--pipelines-dir", str(folder / "pipelines"), "--destination", str(warehouse)]
    first = run_cli("run", *common, "--no-progress", env=env, cwd=folder)
    assert first.returncode == 0, first.stdout + first.stderr
    equal = run_cli("verify", *common, "--keys", env=env, cwd=folder)
    assert equal.returncode == 0, equal.stdout + equal.stderr
    with duckdb.connect(str(warehouse)) as con:
        victim = con.execute(f'SELECT "{key}" FROM {dataset}."{table}" ORDER BY "{cursor}", "{key}" LIMIT 1 OFFSET 3'
                             ).fetchone()[0]
        con.execute(f'DELETE FROM {dataset}."{table}" WHERE "{key}" = ?', [victim])
    differs = run_cli("verify", *common, "--keys", env=env, cwd=folder)
    assert differs.returncode == 13, differs.stdout + differs.stderr
    assert "1 row(s) of the source are missing from the destination" in differs.stdout or \
        "1 key(s) the source lists are missing" in differs.stdout, differs.stdout
    assert str(victim) in differs.stdout, differs.stdout  # an example of the missing keys
    healed = run_cli("run", *common, "--no-progress", env=env, cwd=folder)
    assert healed.returncode == 0, healed.stdout + healed.stderr
    assert "healed" in healed.stdout, healed.stdout
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(f'SELECT COUNT(*) FROM {dataset}."{table}" WHERE "{key}" = ?', [victim]).fetchone()[0] == 1
    again = run_cli("verify", *common, "--keys", env=env, cwd=folder)
    assert again.returncode == 0, again.stdout + again.stderr
