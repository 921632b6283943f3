"""The demo: start the bundled reference server, sync all of it into DuckDB, change a few rows,
sync again incrementally, and stop the server. Library side of ``dbsync demo``."""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable, Iterator, List, Optional

from dbsync.config import parse_config, read_config_file
from dbsync.config.model import SyncConfig
from dbsync.run.sync import SyncResult, run_sync

DEMO_CONFIG = "demo_config.yaml"


def demo_config_path() -> Path:
    return Path(str(resources.files("dbsync").joinpath(DEMO_CONFIG)))


@contextmanager
def _env(**values: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@dataclass
class DemoResult:
    full: SyncResult
    incremental: Optional[SyncResult]
    duckdb_path: Path
    base_url: str
    changes: List[str]


def run_demo(workdir: Path, *, rows: int = 5000, databases: int = 3, tables: int = 3, incremental: bool = True,
             on_server: Optional[Callable[[str], None]] = None,
             progress_factory: Optional[Callable[[], object]] = None) -> DemoResult:
    """Everything the demo does, returning both runs' results (the CLI prints them)."""
    from dbsync.server import ReferenceServer, ServerSettings

    workdir.mkdir(parents=True, exist_ok=True)
    duckdb_path = workdir / "warehouse.duckdb"
    pipelines_dir = workdir / "pipelines"
    settings = ServerSettings(seed=42, databases=databases, tables_per_database=tables, rows_per_table=rows)
    with ReferenceServer(settings, mode="process") as server:
        if on_server:
            on_server(server.base_url)
        with _env(SOURCES__DBSYNC__API_KEY=server.api_key, SOURCES__DBSYNC__BASE_URL=server.base_url):
            config: SyncConfig = parse_config(read_config_file(demo_config_path()), source_name=DEMO_CONFIG,
                                              from_file=True)
            common = dict(destination=str(duckdb_path), pipelines_dir=str(pipelines_dir),
                          pipeline_name="dbsync_demo", dataset="demo", full_refresh=False)
            full = _run(config, common, progress_factory, full_refresh=True)
            changes: List[str] = []
            second = None
            if incremental:
                changes = _make_changes(server)
                second = _run(config, common, progress_factory, full_refresh=False)
        return DemoResult(full, second, duckdb_path, server.base_url, changes)


def _run(config: SyncConfig, common: dict, progress_factory: Optional[Callable[[], object]],
         full_refresh: bool) -> SyncResult:
    kwargs = dict(common, full_refresh=full_refresh)
    if progress_factory is None:
        return run_sync(config, **kwargs)
    with progress_factory() as progress:  # type: ignore[attr-defined]
        return run_sync(config, progress=progress, **kwargs)


def _make_changes(server: object) -> List[str]:
    """A few inserts, updates and deletes, as a day of use would make."""
    srv = server  # the ReferenceServer handle
    first, second = "acme", "globex"
    new_ids = srv.insert(first, "orders", [  # type: ignore[attr-defined]
        {"customer_name": "Demo Customer", "email": None, "quantity": 3, "unit_price": "19.9900",
         "discount": None, "is_paid": False, "order_date": "2026-11-25", "created_at": "2026-11-25T09:00:00Z",
         "tags": ["demo"], "shipping": {"carrier": "DHL"}, "big_counter": 9007199254740993},
    ])
    srv.update(first, "orders", 1, {"quantity": 99, "is_paid": True})  # type: ignore[attr-defined]
    srv.update(second, "orders", 2, {"email": "changed@example.com"})  # type: ignore[attr-defined]
    srv.delete(second, "orders", 3)  # type: ignore[attr-defined]
    return [
        f"inserted {first}.orders id {new_ids[0]}",
        f"updated {first}.orders id 1 and {second}.orders id 2",
        f"deleted {second}.orders id 3",
    ]
