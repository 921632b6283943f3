"""Helpers shared by the tests: configs for the reference server, running syncs, reading DuckDB,
and comparing the destination with the server's own data, value by value."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

import duckdb
import yaml

from dbsync.demo import demo_config_path
from dbsync.config.model import PerformanceSettings
from dbsync.run.sync import SyncResult, run_sync
from dbsync.source.scheduler import current_table_window


# the most requests a total that announces too many pages may cost past the real end, with the
# default performance settings (pages the table being read may have queued)
PAST_THE_END = current_table_window(PerformanceSettings().concurrency, PerformanceSettings().prefetch_pages)


def most_in_flight(entries: Iterable[Any], after: float) -> int:
    """The most requests the server was answering at one moment, from its request log (each
    entry's end time and duration): for each request, those still running ``after`` seconds
    past its start (half the answer time: a request that ends just as the next starts does not
    count as in flight beside it)."""
    spans = sorted((e.time - e.duration_ms / 1000.0, e.time) for e in entries)
    most = 0
    for start, _ in spans:
        most = max(most, sum(1 for s, end in spans if s <= start + after < end))
    return most


def query_params(entry: Any) -> Dict[str, str]:
    """A request log entry's query string as a dict."""
    from urllib.parse import parse_qsl

    return dict(parse_qsl(entry.query, keep_blank_values=True))


def is_count_request(entry: Any, limit_param: str = "limit", cursor_param: str = "updated_since") -> bool:
    """The proof of sync's one request for a table's count (dbsync.reconcile.probe): the
    table's records request without the cursor filter, for a page of one row."""
    params = query_params(entry)
    return params.get(limit_param) == "1" and cursor_param not in params


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


def same_value(actual: Any, expected: Any) -> bool:
    """Equal, and of the same kind: ``True`` is not ``1``, ``1.0`` is not ``1`` (a boolean or an
    integer stored as a number is a value in a shape the user did not ask for). Recurses into JSON."""
    if isinstance(actual, dict) and isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(same_value(actual[k], expected[k]) for k in expected)
    if isinstance(actual, list) and isinstance(expected, list):
        return len(actual) == len(expected) and all(same_value(a, e) for a, e in zip(actual, expected))
    if isinstance(actual, bool) != isinstance(expected, bool):
        return False
    if isinstance(actual, float) != isinstance(expected, float) and not (
            isinstance(actual, Decimal) or isinstance(expected, Decimal)):
        return False
    return actual == expected


def assert_same_rows(dest_rows: List[Dict[str, Any]], source_rows: List[Dict[str, Any]],
                     types: Mapping[str, str], key: str = "id", *, where: str = "",
                     unchecked: Optional[Mapping[Any, Iterable[str]]] = None) -> None:
    """Every source row is in the destination with every value equal, and nothing else is: no
    missing key, no extra key, no key twice. ``unchecked`` maps a key to fields whose value is
    deliberately not compared (the row itself still must be there)."""
    prefix = f"{where}: " if where else ""
    dest: Dict[Any, Dict[str, Any]] = {}
    duplicates = []
    for r in dest_rows:
        if r[key] in dest:
            duplicates.append(r[key])
        dest[r[key]] = r
    src = {r[key]: r for r in source_rows}
    missing = sorted(set(src) - set(dest))[:10]
    extra = sorted(set(dest) - set(src))[:10]
    assert not missing and not extra and not duplicates, (
        f"{prefix}missing keys {missing}, unexpected keys {extra}, duplicate keys {sorted(duplicates)[:10]} "
        f"({len(src)} source rows, {len(dest_rows)} destination rows)")
    unchecked = unchecked or {}
    for k, source in src.items():
        row = dest[k]
        skip = set(unchecked.get(k, ()))
        for name, api_type in types.items():
            if name in skip:
                continue
            expected = api_value(source.get(name), api_type)
            actual = db_value(row.get(name), api_type)
            assert same_value(actual, expected), (
                f"{prefix}{key}={k} field {name}: destination {actual!r} != source {expected!r}")


class DuckDBDataset:
    """One dataset of a DuckDB file, read the way ``PgDataset`` reads PostgreSQL: ``rows``/``tables``."""

    def __init__(self, path: Path, dataset: str):
        self.path = Path(path)
        self.dataset = dataset

    def rows(self, table: str, order_by: str = "id") -> List[Dict[str, Any]]:
        with duckdb.connect(str(self.path), read_only=True) as con:
            rel = con.sql(f'SELECT * FROM "{self.dataset}"."{table}" ORDER BY {order_by}')
            names = rel.columns
            return [dict(zip(names, row)) for row in rel.fetchall()]

    def tables(self) -> List[str]:
        if not self.path.exists():
            return []
        with duckdb.connect(str(self.path), read_only=True) as con:
            rows = con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
                               "ORDER BY table_name", [self.dataset]).fetchall()
        return [r[0] for r in rows if not r[0].startswith("_dlt")]


def _dataset_of(destination: Any, dataset: Optional[str]) -> Any:
    """Something with ``rows(table, order_by=)`` and ``tables()``: a Workspace (its DuckDB file),
    a DuckDB file path, a ``PgDataset`` or a ``DuckDBDataset``."""
    if isinstance(destination, Workspace):
        return DuckDBDataset(destination.duckdb, dataset or "synced")
    if isinstance(destination, (str, Path)):
        return DuckDBDataset(Path(destination), dataset or "synced")
    if dataset is not None and getattr(destination, "dataset", dataset) != dataset:
        return type(destination)(destination.server, dataset)  # a PgDataset of another dataset
    return destination


# what a config without discovery (ORIGINAL_CONFIG) holds for the orders' fields: dlt infers the
# types from the JSON values, so decimals and dates stay the strings the API sent
INFERRED_ORDERS: Dict[str, str] = {"unit_price": "string", "order_date": "string"}


def assert_destination_equals_source(destination: Any, server: Any, databases: Optional[Iterable[str]] = None,
                                     tables: Optional[Iterable[str]] = None, *, layout: str = "per_database",
                                     dataset: Optional[str] = None, deletes: str = "remove",
                                     deleted_field: str = "deleted", key: str = "id",
                                     table_name: Optional[Callable[[str, str], str]] = None,
                                     types: Optional[Mapping[str, str]] = None, missing_ok: bool = False,
                                     history: bool = False,
                                     deleted_keys: Optional[Mapping[Tuple[str, str], Iterable[Any]]] = None,
                                     unchecked: Optional[Mapping[Tuple[str, str, Any], Iterable[str]]] = None) -> int:
    """The destination holds exactly the reference server's data for the synced tables, by key
    and values: every live source row present with every declared field equal, no extra rows, no
    key twice; deleted rows gone (``deletes="remove"``) or kept with ``deleted_field`` true and a
    tombstone in the source (``deletes="mark"``).

    ``destination``: a ``Workspace``, a DuckDB file path (with ``dataset``) or a ``PgDataset``.
    ``databases``/``tables``: what was synced (default every database / every table of its schema).
    ``layout``: "per_database" (table ``{db}__{table}``) or "union" (table ``{table}``, rows told
    apart by ``_dbsync_database``); ``table_name(db, table)`` overrides the name. ``types``
    overrides declared API types per field (a config without discovery: types inferred).
    ``missing_ok``: a table absent from the destination is skipped (a run that failed a table
    writes nothing of it); otherwise it is an error. ``unchecked`` maps (db, table, key) to fields
    whose values are deliberately not compared. ``history``: history tables, compared by their
    current versions (``_dbsync_valid_to`` NULL). ``deleted_keys``: with ``deletes="mark"`` on a
    server without tombstones, the keys deleted per (db, table): exactly those must be marked. Returns the number of source rows compared;
    comparing nothing at all is an error (a check that cannot fail)."""
    if layout not in ("per_database", "union"):
        raise ValueError(f"layout must be per_database or union, not {layout!r}")
    if deletes not in ("remove", "mark"):
        raise ValueError(f"deletes must be remove or mark, not {deletes!r}")
    target = _dataset_of(destination, dataset)
    present = set(target.tables())
    wanted = list(databases) if databases is not None else [d["id"] for d in server.databases()]
    compared_rows = compared_tables = 0
    union_rows: Dict[str, List[Dict[str, Any]]] = {}
    for db in wanted:
        schema = server.schema(db)
        names = list(tables) if tables is not None else [t["name"] for t in schema["tables"]]
        for table in names:
            dest_table = table_name(db, table) if table_name else (table if layout == "union" else f"{db}__{table}")
            where = f"{db}.{table} -> {dest_table}"
            if dest_table not in present:
                assert missing_ok, f"{where}: table missing from the destination (tables there: {sorted(present)})"
                continue
            if layout == "union":
                if dest_table not in union_rows:
                    union_rows[dest_table] = target.rows(dest_table, order_by=f"_dbsync_database, {key}")
                dest_rows = [r for r in union_rows[dest_table] if r["_dbsync_database"] == db]
            else:
                dest_rows = target.rows(dest_table, order_by=key)
            if history:
                dest_rows = [r for r in dest_rows if r["_dbsync_valid_to"] is None]
            field_map = dict(field_types(schema, table))
            field_map.update(types or {})
            source = server.records(db, table, include_deleted=deletes == "mark")
            if deletes == "mark":
                tombstones = {r[key] for r in source if r.get("deleted")}
                if deleted_keys is not None:
                    tombstones = set(deleted_keys.get((db, table), ()))
                source = [r for r in source if not r.get("deleted")]
                marked = [r for r in dest_rows if r.get(deleted_field) is True]
                dest_rows = [r for r in dest_rows if r.get(deleted_field) is not True]
                not_deleted = sorted({r[key] for r in marked} - tombstones)[:10]
                assert not not_deleted, f"{where}: rows marked deleted that the source has not deleted: {not_deleted}"
                assert len({r[key] for r in marked}) == len(marked), f"{where}: a deleted row marked twice"
            table_unchecked = {k: fields for (d, t, k), fields in (unchecked or {}).items() if (d, t) == (db, table)}
            assert_same_rows(dest_rows, source, field_map, key, where=where, unchecked=table_unchecked)
            compared_rows += len(source)
            compared_tables += 1
    for dest_table, rows in union_rows.items():
        strangers = sorted({r["_dbsync_database"] for r in rows} - set(wanted))
        assert not strangers, f"{dest_table}: rows of databases that were not compared: {strangers}"
    assert compared_tables or missing_ok, "nothing was compared: no database or table selected"
    return compared_rows


def count_worker_pages(monkeypatch: Any, min_rows: int) -> List[str]:
    """Send every table of at least ``min_rows`` rows through the page-converting worker
    processes, at once (no warm-up), and return the list that collects the label of every page
    they convert: a test asserts it is not empty, so the fast path really ran."""
    from dbsync.source import offset_reader, page_worker

    monkeypatch.setattr(offset_reader, "POOL_MIN_ROWS", min_rows)
    monkeypatch.setattr(page_worker, "MAX_WARM_UP_SECONDS", 0.0)
    calls: List[str] = []
    original = page_worker.ParsePool.convert

    def counting(self: Any, spec: Any, job: Any, body: Any) -> Any:
        calls.append(job.label)
        return original(self, spec, job, body)

    monkeypatch.setattr(page_worker.ParsePool, "convert", counting)
    return calls


def config_error_line(config: Dict[str, Any], source_name: str = "dbsync.yaml") -> str:
    """The one-line ConfigError a config gets, checked for what every config error must be: one
    line, naming the file, and the config dict left as it was."""
    import pytest

    from dbsync.config import parse_config
    from dbsync.errors import ConfigError

    before = copy.deepcopy(config)
    with pytest.raises(ConfigError) as info:
        parse_config(config, source_name=source_name)
    message = info.value.one_line()
    assert config == before, "parse_config changed the config dict in place"
    assert "\n" not in message
    assert message.startswith(f"{source_name}: "), message
    return message
