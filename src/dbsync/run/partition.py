"""Partitioned runs: every database synced as its own unit, with its own pipeline state.

One pipeline for hundreds of databases serves one machine. To spread the work over N workers
(processes, machines, an orchestrator's pods) that write into one destination, each database
becomes a *partition* with

* its own dlt pipeline name, ``<pipeline>__<database>`` (deterministic: any worker, any day),
  so local state, the run lock and the state row in ``_dlt_pipeline_state`` are its own;
* its own dlt source/schema name, the same string: dlt keeps schemas by name in
  ``_dlt_version`` and resource state under ``sources.<schema name>``, so two partitions that
  shared the schema name ``dbsync`` would restore each other's schema and cursors.

A shard (``--shard 2/8``) is a stable subset of the partitions: a database belongs to shard
``sha256(id) mod N + 1``, the same on every machine and run (Python's ``hash()`` is salted per
process), so eight workers started with ``1/8`` ... ``8/8`` sync every database exactly once.
"""

from __future__ import annotations

import glob
import hashlib
import re
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from dbsync.config.model import SyncConfig
from dbsync.config.parse import parse_config
from dbsync.errors import ConfigError, DbsyncError

PARTITION_SEPARATOR = "__"
_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def _normalize(name: str) -> str:
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    return NamingConvention().normalize_identifier(name)


def partition_name(pipeline_name: str, database_id: str) -> str:
    """The pipeline name and the dlt source/schema name of one database's partition."""
    return f"{_normalize(pipeline_name)}{PARTITION_SEPARATOR}{_normalize(str(database_id))}"


def shard_of(database_id: str, count: int) -> int:
    """The shard (1..count) a database belongs to: a hash of its id, stable across machines."""
    digest = hashlib.sha256(str(database_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based, as in ``--shard 2/8``)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> "Shard":
        """``"2/8"`` -> ``Shard(2, 8)``; anything else is a one-line :class:`ConfigError`."""
        match = _SHARD.match(text or "")
        if not match:
            raise ConfigError(f"--shard '{text}' is not K/N",
                              hint="give the shard as K/N with 1 <= K <= N, e.g. --shard 2/8")
        index, count = int(match.group(1)), int(match.group(2))
        if count < 1 or not 1 <= index <= count:
            raise ConfigError(f"--shard '{text}': K must be between 1 and N (N >= 1)",
                              hint="shards are numbered 1..N, e.g. --shard 1/8 ... --shard 8/8")
        return cls(index, count)

    def owns(self, database_id: str) -> bool:
        return shard_of(database_id, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def list_partitions(config: Union[SyncConfig, Mapping[str, Any]], *, databases: Optional[Sequence[str]] = None,
                    shard: Optional[Shard] = None) -> List[str]:
    """The database ids to sync as partitions: the configured or discovered list (one request
    to the list endpoint at most), narrowed by ``databases`` patterns and the shard."""
    from dbsync.discovery.discover import _list_databases, _select
    from dbsync.http.client import ApiClient

    cfg = config if isinstance(config, SyncConfig) else parse_config(config)
    if cfg.databases is None:
        raise ConfigError("partitioned runs need a 'databases' section (one partition per database)",
                          key="databases", source=cfg.source_name,
                          hint="list or discover the databases in the config, or run without --shard/--partitioned")
    client = ApiClient(cfg)
    try:
        entries = _list_databases(cfg, client)
    finally:
        client.close()
    if databases:
        entries = _select(entries, databases, what="database", key=lambda e: e[0])
    ids = [str(e[0]) for e in entries]
    check_unique_partitions(ids, cfg.pipeline.name)
    return [i for i in ids if shard is None or shard.owns(i)]


def check_unique_partitions(database_ids: Sequence[str], pipeline_name: str) -> None:
    """Two ids that normalize alike (``Sales-EU``, ``sales_eu``) would share one state: refuse."""
    seen: Dict[str, str] = {}
    for db in database_ids:
        name = partition_name(pipeline_name, db)
        if name in seen and seen[name] != db:
            raise ConfigError(f"databases '{seen[name]}' and '{db}' would share the partition '{name}'",
                              key="databases", hint="exclude one of them, or sync them without partitions")
        seen[name] = db


@dataclass
class PartitionResult:
    database: str
    pipeline_name: str
    result: Optional[Any] = None  # SyncResult when the run got as far as loading
    error: Optional[DbsyncError] = None  # when the partition's run stopped (busy, destination...)
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return self.error.exit_code
        return self.result.exit_code() if self.result is not None else 0


@dataclass
class PartitionedRun:
    """What a partitioned run did: one result per database, in the order they ran."""

    pipeline_name: str
    shard: Optional[Shard]
    partitions: List[PartitionResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(p.exit_code == 0 for p in self.partitions)

    def exit_code(self) -> int:
        for p in self.partitions:
            if p.exit_code:
                return p.exit_code
        return 0

    def combined(self) -> Any:
        """One :class:`SyncResult` over every partition that loaded (for the summary table)."""
        from dbsync.http.client import RequestStats
        from dbsync.run.sync import SyncResult
        from dbsync.source.report import RunReport

        report, stats = RunReport(), RequestStats()
        loads: List[str] = []
        done = [p.result for p in self.partitions if p.result is not None]
        for result in done:
            for table in result.report.tables.values():
                report.add(table)
            report.gone.extend(result.report.gone)
            stats.requests += result.stats.requests
            stats.bytes_received += result.stats.bytes_received
            stats.retries.update(result.stats.retries)
            loads.extend(result.load_ids)
        return SyncResult(
            report=report, stats=stats,
            pipeline_name=f"{_normalize(self.pipeline_name)}{PARTITION_SEPARATOR}<database> ({len(self.partitions)} partitions"
                          + (f", shard {self.shard})" if self.shard else ")"),
            dataset_name=done[0].dataset_name if done else "?",
            destination=done[0].destination if done else "?",
            seconds=self.seconds, load_ids=loads)


def run_partitioned(
    config: Union[SyncConfig, Mapping[str, Any]],
    *,
    destination: Optional[str] = None,
    dataset: Optional[str] = None,
    pipeline_name: Optional[str] = None,
    pipelines_dir: Optional[str] = None,
    databases: Optional[Sequence[str]] = None,
    tables: Optional[Sequence[str]] = None,
    shard: Optional[Shard] = None,
    full_refresh: bool = False,
    progress: Optional[Any] = None,
) -> PartitionedRun:
    """Sync each selected database (of this shard) as its own partition, one after another.

    Discovery runs once for the whole shard; then each partition runs :func:`run_sync` under its
    own pipeline and source name into the shared dataset. A partition that fails (busy, the
    destination refused) is reported and the next one still runs.
    """
    from dbsync.discovery.catalog import Catalog
    from dbsync.discovery.discover import discover_catalog
    from dbsync.http.client import ApiClient
    from dbsync.run.sync import quiet_dlt_defaults, run_sync
    from dbsync.run.destination import resolve_destination

    quiet_dlt_defaults()
    cfg = config if isinstance(config, SyncConfig) else parse_config(config)
    base = pipeline_name or cfg.pipeline.name
    # one destination for every partition: the default DuckDB file is named after the base name
    destination = resolve_destination(destination or cfg.pipeline.destination, base)
    started = time.time()
    run = PartitionedRun(pipeline_name=base, shard=shard)
    ids = list_partitions(cfg, databases=databases, shard=shard)
    if not ids:
        run.seconds = time.time() - started
        return run
    client = ApiClient(cfg)
    try:
        from dbsync.discovery.cache import DiscoveryCache
        from dbsync.run.destination import default_pipelines_dir

        cache = DiscoveryCache.for_pipeline(cfg, pipelines_dir or default_pipelines_dir(), base, reuse=not full_refresh)
        catalog = discover_catalog(cfg, client, databases=[glob.escape(i) for i in ids], tables=tables, cache=cache)
    finally:
        client.close()
    dataset_name = dataset or cfg.dataset_name
    for info in catalog.databases:
        name = partition_name(base, str(info.id))
        part = PartitionResult(database=str(info.id), pipeline_name=name)
        t0 = time.time()
        try:
            part.result = run_sync(cfg, destination=destination, dataset=dataset_name, pipeline_name=name,
                                   pipelines_dir=pipelines_dir, databases=[glob.escape(str(info.id))],
                                   tables=tables, full_refresh=full_refresh, progress=progress,
                                   source_name=name, catalog=Catalog(databases=(info,)))
        except DbsyncError as exc:
            part.error = exc
        part.seconds = time.time() - t0
        run.partitions.append(part)
    run.seconds = time.time() - started
    return run
