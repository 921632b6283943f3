"""Helpers of the reliability suite: row checksums, the destination compared with the server's
own data, the CLI run as a subprocess, and the secret search."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional
from urllib.parse import quote

from support import api_value, assert_destination_equals_source, db_value


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value.normalize()) if value == value.to_integral() else str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def row_checksum(row: Mapping[str, Any], types: Mapping[str, str], source: bool) -> str:
    """A hash of every value of a row, normalized so a source record and its destination row
    hash alike when (and only when) every value survived."""
    values = {}
    for name, api_type in sorted(types.items()):
        raw = row.get(name)
        value = api_value(raw, api_type) if source else db_value(raw, api_type)
        values[name] = _canonical(value)
    data = json.dumps(values, sort_keys=True, default=str, ensure_ascii=False).encode()
    return hashlib.sha256(data).hexdigest()


def compare_table(dest_rows: List[Mapping[str, Any]], source_rows: List[Mapping[str, Any]],
                  types: Mapping[str, str], key: str = "id") -> Dict[str, Any]:
    """Differences between destination and source, by checksum per row (empty lists: equal)."""
    dest: Dict[Any, str] = {}
    duplicates = []
    for row in dest_rows:
        if row[key] in dest:
            duplicates.append(row[key])
        dest[row[key]] = row_checksum(row, types, source=False)
    src = {r[key]: row_checksum(r, types, source=True) for r in source_rows}
    return {
        "missing": sorted(set(src) - set(dest))[:20],
        "unexpected": sorted(set(dest) - set(src))[:20],
        "different": sorted(k for k in src.keys() & dest.keys() if src[k] != dest[k])[:20],
        "duplicates": duplicates[:20],
        "rows": len(src),
    }


def assert_destination_equals_server(workspace, server, databases: Iterable[str], dataset: str = "synced",
                                     table_name=None, **options: Any) -> int:
    """Every table of every database: the same rows, every value equal, no duplicate keys
    (``support.assert_destination_equals_source``, the one check every syncing test uses).
    Returns the number of rows compared."""
    return assert_destination_equals_source(workspace, server, list(databases), dataset=dataset,
                                            table_name=table_name, **options)


DBSYNC = [sys.executable, "-m", "dbsync"]


def cli_env(secret: str, **extra: str) -> Dict[str, str]:
    env = dict(os.environ)
    env.update({"SOURCES__DBSYNC__API_KEY": secret, "RUNTIME__DLTHUB_TELEMETRY": "false"})
    env.pop("SOURCES__DBSYNC__BASE_URL", None)
    env.update(extra)
    return env


def start_cli(args: List[str], env: Mapping[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(DBSYNC + args, env=dict(env), cwd=str(cwd), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def run_cli(args: List[str], env: Mapping[str, str], cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(DBSYNC + args, env=dict(env), cwd=str(cwd), capture_output=True, text=True,
                          timeout=timeout)


class SecretWatch:
    """Everything a test printed or logged, and its files: where the key must not be."""

    def __init__(self, secret: str, root: Path):
        self.secret = secret
        self.root = root
        self.texts: List[str] = []

    def add(self, *texts: Optional[str]) -> None:
        self.texts.extend(t for t in texts if t)

    def find(self) -> List[str]:
        needles = {self.secret.encode(), quote(self.secret, safe="").encode()}
        hits = [f"output #{i}" for i, text in enumerate(self.texts) if any(n.decode() in text for n in needles)]
        for path in self.root.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                if any(n in data for n in needles):
                    hits.append(str(path.relative_to(self.root)))
        return hits

    @property
    def files_searched(self) -> int:
        return sum(1 for p in self.root.rglob("*") if p.is_file())
