"""Helpers shared by the tests: configs for the reference server, running syncs, reading DuckDB,
and comparing the destination with the server's own data, value by value."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import duckdb
import yaml

from dbsync.demo import demo_config_path
from dbsync.pipeline import SyncResult, run_sync


def reference_config(base_url: str, **overrides: Any) -> Dict[str, Any]:
    """The bundled reference config as a dict, pointed at ``base_url``; overrides replace
    top-level sections (``None`` removes one)."""
    config = yaml.safe_load(demo_config_path().read_text())
    config["client"]["base_url"] = base_url
    for key, value in overrides.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = copy.deepcopy(value)
    return config


ORIGINAL_CONFIG: Dict[str, Any] = {
    "client": {"base_url": None, "auth": {"type": "api_key", "name": "api_key", "location": "query"}},
    "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
    "resources": [{"name": "database_resource",
                   "endpoint": {"path": "/v1/resource", "data_selector": "data",
                                "paginator": {"type": "offset", "limit": 100}}}],
}


def original_config(base_url: str, api_key: Optional[str] = None) -> Dict[str, Any]:
    config = copy.deepcopy(ORIGINAL_CONFIG)
    config["client"]["base_url"] = base_url
    if api_key is not None:
        config["client"]["auth"]["api_key"] = api_key
    return config


@dataclass
class Workspace:
    root: Path

    @property
    def duckdb(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def pipelines(self) -> Path:
        return self.root / "pipelines"

    def sync(self, config: Any, **kwargs: Any) -> SyncResult:
        kwargs.setdefault("destination", str(self.duckdb))
        kwargs.setdefault("pipelines_dir", str(self.pipelines))
        kwargs.setdefault("pipeline_name", "test_pipeline")
        kwargs.setdefault("dataset", "synced")
        return run_sync(config, **kwargs)

    def query(self, sql: str) -> List[tuple]:
        with duckdb.connect(str(self.duckdb), read_only=True) as con:
            return con.sql(sql).fetchall()

    def rows(self, table: str, dataset: str = "synced", order_by: str = "id") -> List[Dict[str, Any]]:
        with duckdb.connect(str(self.duckdb), read_only=True) as con:
            rel = con.sql(f'SELECT * FROM "{dataset}"."{table}" ORDER BY {order_by}')
            names = rel.columns
            return [dict(zip(names, row)) for row in rel.fetchall()]

    def columns(self, table: str, dataset: str = "synced") -> Dict[str, tuple]:
        """name -> (DuckDB type, nullable)"""
        with duckdb.connect(str(self.duckdb), read_only=True) as con:
            rows = con.execute(
                "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position", [dataset, table]).fetchall()
        return {name: (dtype, nullable == "YES") for name, dtype, nullable in rows}

    def tables(self, dataset: str = "synced") -> List[str]:
        with duckdb.connect(str(self.duckdb), read_only=True) as con:
            rows = con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
                               "ORDER BY table_name", [dataset]).fetchall()
        return [r[0] for r in rows if not r[0].startswith("_dlt")]


def api_value(value: Any, api_type: Optional[str]) -> Any:
    """A value as the API sent it, turned into what the destination should hold."""
    if value is None:
        return None
    if api_type == "decimal":
        return Decimal(str(value))
    if api_type == "datetime":
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
    if api_type == "date":
        return date.fromisoformat(value)
    if api_type in ("json", "array"):
        return value
    if api_type == "number":
        return float(value)
    return value


def db_value(value: Any, api_type: Optional[str]) -> Any:
    if value is None:
        return None
    if api_type in ("json", "array"):
        return json.loads(value) if isinstance(value, str) else value
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc)
    return value


def field_types(schema: Mapping[str, Any], table: str) -> Dict[str, str]:
    for t in schema["tables"]:
        if t["name"] == table:
            return {f["name"]: f["type"] for f in t["fields"]}
    raise KeyError(table)


def assert_same_rows(dest_rows: List[Dict[str, Any]], source_rows: List[Dict[str, Any]],
                     types: Mapping[str, str], key: str = "id") -> None:
    """Every source row is in the destination with every value equal, and nothing else is."""
    dest = {r[key]: r for r in dest_rows}
    src = {r[key]: r for r in source_rows}
    missing = sorted(set(src) - set(dest))[:10]
    extra = sorted(set(dest) - set(src))[:10]
    assert not missing and not extra, f"missing keys {missing}, unexpected keys {extra}"
    for k, source in src.items():
        row = dest[k]
        for name, api_type in types.items():
            expected = api_value(source.get(name), api_type)
            actual = db_value(row.get(name), api_type)
            assert actual == expected, f"{key}={k} field {name}: destination {actual!r} != source {expected!r}"
