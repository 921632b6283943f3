"""Where a run loads: the destination (DuckDB file paths made absolute, a memory limit), the
dlt pipeline, and the load file format."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, List, Mapping, Optional

from dbsync.config.model import SyncConfig
from dbsync.errors import ConfigError


DEFAULT_DUCKDB_MEMORY_LIMIT = "256MB"


DEFAULT_DUCKDB_FILE = "{pipeline}-warehouse.duckdb"


def default_duckdb_file(pipeline_name: str) -> str:
    """The default destination file, in the current folder: ``./<pipeline>-warehouse.duckdb``.

    Not ``<pipeline>.duckdb`` (dlt's default): DuckDB names a file's catalog after its name up to
    the first dot, and a catalog named like the dataset makes every ``dataset.table`` reference
    ambiguous, dlt's own included ("Ambiguous reference to catalog or schema"), so the common
    ``pipeline: {name: X, dataset: X}`` could not load. Dataset names are snake_case (dlt
    normalizes them), so the ``-`` keeps the two apart for any name."""
    return DEFAULT_DUCKDB_FILE.format(pipeline=pipeline_name)


def _is_duckdb_path(name: str) -> bool:
    return name.endswith(".duckdb") or os.sep in name


def resolve_destination(destination: Optional[str], pipeline_name: str) -> str:
    """A destination name as given, or for DuckDB the absolute path of its file.

    ``duckdb`` (the default) is the file dlt's config names (``[destination.duckdb]
    credentials``), else :func:`default_duckdb_file`. Relative paths are taken from the
    current folder: dlt would take them from the folder of the pipeline's first run."""
    name = destination or "duckdb"
    if name == "duckdb":
        configured = _configured_duckdb_file()
        if configured is None:
            return os.path.abspath(default_duckdb_file(pipeline_name))
        if not _is_duckdb_path(configured):
            return name  # a special location (":pipeline:"...): dlt resolves it
        name = configured
    return os.path.abspath(name) if _is_duckdb_path(name) else name


def _configured_duckdb_file() -> Optional[str]:
    import dlt

    try:
        value = dlt.config.get("destination.duckdb.credentials")
    except Exception:
        return None
    if isinstance(value, Mapping):
        value = value.get("database")
    return value if isinstance(value, str) and value else None


def check_duckdb_names(path: str, dataset: str) -> None:
    """Refuse a DuckDB file whose catalog (its name up to the first dot) is named like the
    dataset or its staging dataset: DuckDB could not resolve ``dataset.table`` in it."""
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    catalog = Path(path).name.split(".")[0].casefold()
    normalized = NamingConvention().normalize_identifier(dataset)
    clashes = {dataset.casefold(), normalized.casefold(), f"{normalized}_staging".casefold()}
    if catalog in clashes:
        raise ConfigError(
            f"the DuckDB file {path} is named like the dataset '{dataset}': DuckDB could not tell "
            f"the file's catalog '{catalog}' from the dataset's schema",
            hint=f"name the file otherwise (--destination), or the dataset (--dataset); the default "
                 f"file is {default_duckdb_file('<pipeline>')}")


def make_destination(destination: Optional[str], pipeline_name: str,
                     duckdb_memory_limit: Optional[str] = DEFAULT_DUCKDB_MEMORY_LIMIT) -> Any:
    """A dlt destination from a name (``duckdb``, ``postgres``...) or a ``.duckdb`` file path
    (see :func:`resolve_destination`: DuckDB always gets an absolute path).

    DuckDB gets a memory limit: its merge of a big table (a window over every staged row) is
    what made a sync's peak memory grow with the data (1,000,000 rows: +300 MB); with a limit
    DuckDB spills to disk instead, at no measurable cost in time here. ``performance.
    duckdb_memory_limit`` in the config changes it (``null``: DuckDB's default, 80% of RAM)."""
    import dlt

    name = resolve_destination(destination, pipeline_name)
    is_path = _is_duckdb_path(name)
    if duckdb_memory_limit and (is_path or name == "duckdb"):
        # through dlt's config rather than a credentials object: building one here imports
        # DuckDB's client stack (a third of a second) even for runs that load nothing
        os.environ.setdefault("DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG",
                              json.dumps({"memory_limit": duckdb_memory_limit}))
    if not is_path:
        return name
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    # fields rather than a connection string: dlt parses a string as an SQLAlchemy URL first,
    # which imports SQLAlchemy where it is installed (0.2 s of every run, measured)
    return dlt.destinations.duckdb({"database": str(path)})


def duckdb_path(destination: Any) -> Optional[str]:
    credentials = getattr(destination, "config_params", {}).get("credentials")
    path = credentials.get("database") if isinstance(credentials, dict) else getattr(credentials, "database", credentials)
    return path if isinstance(path, str) and path.endswith(".duckdb") else None


def destination_label(destination: Any) -> str:
    if isinstance(destination, str):
        return destination
    path = duckdb_path(destination)
    return f"{destination.destination_name}:{path}" if path else destination.destination_name


def duckdb_fingerprint(path: str) -> List[Any]:
    """What changes when anyone writes a DuckDB file (or replaces it): inode, size and mtime of
    the file and of its write-ahead log. A run that loads nothing leaves it as it was."""
    marks: List[Any] = [os.path.abspath(path)]
    for name in (path, path + ".wal"):
        try:
            st = os.stat(name)
            marks.append([st.st_ino, st.st_size, st.st_mtime_ns])
        except OSError:
            marks.append(None)
    return marks


def default_pipelines_dir() -> str:
    from dlt.common.pipeline import get_dlt_pipelines_dir

    return get_dlt_pipelines_dir()


def make_pipeline(config: SyncConfig, *, destination: Optional[str] = None, dataset: Optional[str] = None,
                  pipeline_name: Optional[str] = None, pipelines_dir: Optional[str] = None) -> Any:
    import dlt

    from dbsync.run.destination_secrets import register_destination_secrets

    name = pipeline_name or config.pipeline.name
    dataset_name = dataset or config.dataset_name
    requested = resolve_destination(destination or config.pipeline.destination, name)
    if _is_duckdb_path(requested):
        check_duckdb_names(requested, dataset_name)  # before anything is created
    target = make_destination(requested, name, config.performance.duckdb_memory_limit)
    pipeline = dlt.pipeline(
        pipeline_name=name,
        destination=target,
        dataset_name=dataset_name,
        pipelines_dir=pipelines_dir,
    )
    register_destination_secrets(pipeline)  # the warehouse password is scrubbed like the API key
    return pipeline


def loader_file_format(pipeline: Any) -> Optional[str]:
    """Parquet where the destination can load it: DuckDB natively, PostgreSQL through the ADBC
    driver (the ``postgres`` extra installs it; measured 2x faster than dlt's CSV COPY and 7x
    faster than INSERT statements, see docs/scale-out.md).

    The destination's format selector has the last word: PostgreSQL lists parquet but drops it
    when no ADBC driver is installed. Then dbsync asks for INSERT statements, because dlt's
    own choice for Arrow items there, CSV COPY with FORCE_NULL, turns empty strings into NULL."""
    try:
        caps = pipeline.destination.capabilities()
        formats = list(caps.supported_loader_file_formats or [])
        selector = getattr(caps, "loader_file_format_selector", None)
        if selector is not None:
            _, formats = selector(caps.preferred_loader_file_format, formats, table_schema={"name": "dbsync"})
    except Exception:
        return None
    if "parquet" in formats:
        return "parquet"
    if pipeline.destination.destination_type.endswith(".postgres") and "insert_values" in formats:
        return "insert_values"
    return None
