"""Turn a raw config mapping (a Python dict, or a parsed YAML/TOML/JSON file) into a SyncConfig.

Validation happens here, before any request: every problem becomes a ``ConfigError`` naming the
config key and what is wrong. The input mapping is never modified.

This module only orchestrates: each section is read by its own module beside it: ``client``
(client.py), ``resources``/``resource_defaults`` and dlt's validation (resources.py),
``databases``/``tables`` (tables.py), the placeholder checks across them (placeholders.py),
``incremental``/``deletes``/``retries``/``performance``/``verify``/``pipeline`` (sync_options.py),
``types``/``fields`` (values.py), ``discovery`` (discovery.py); the typed readers and the error
context they share are in context.py.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Mapping, Optional

from dbsync.config.client import _parse_client
from dbsync.config.context import _bool, _Ctx, _did_you_mean, _str
from dbsync.config.discovery import parse_discovery
from dbsync.config.model import SyncConfig
from dbsync.config.placeholders import _check_placeholders
from dbsync.config.resources import _parse_resources, _validate_with_dlt
from dbsync.config.sync_options import (
    _parse_deletes,
    _parse_incremental,
    _parse_performance,
    _parse_pipeline,
    _parse_retries,
    _parse_verify,
)
from dbsync.config.tables import _parse_databases, _parse_tables
from dbsync.config.values import parse_fields, parse_types

REST_API_KEYS = ("client", "resources", "resource_defaults")
DBSYNC_KEYS = (
    "databases",
    "tables",
    "incremental",
    "deletes",
    "types",
    "fields",
    "layout",
    "history",
    "database_column",
    "retries",
    "performance",
    "discovery",
    "verify",
    "pipeline",
)


def parse_config(
    raw: Mapping[str, Any],
    *,
    source_name: Optional[str] = None,
    from_file: bool = False,
    resolve_secrets: bool = True,
) -> SyncConfig:
    """Validate ``raw`` and return a :class:`SyncConfig`.

    ``from_file`` forbids secret values in the mapping itself (they belong in dlt secrets);
    ``resolve_secrets`` looks missing secrets up in dlt secrets (off for `dbsync discover --offline`
    style uses and for tests of validation alone).
    """
    from dbsync.dlt_defaults import apply_dlt_defaults

    apply_dlt_defaults()  # before the first dlt config lookup below (dlt reads its runtime then)
    ctx = _Ctx(source_name)
    if not isinstance(raw, Mapping):
        raise ctx.error(None, f"the config must be a mapping of keys, got {type(raw).__name__}")
    cfg: Dict[str, Any] = copy.deepcopy(dict(raw))

    unknown = [k for k in cfg if k not in REST_API_KEYS + DBSYNC_KEYS]
    if unknown:
        key = unknown[0]
        raise ctx.error(key, "unknown key" + _did_you_mean(key, REST_API_KEYS + DBSYNC_KEYS))
    if "client" not in cfg:
        raise ctx.error("client", "missing: the rest_api 'client' section (base_url, auth) is required")
    if "resources" not in cfg:
        raise ctx.error("resources", "missing: list at least one resource (the records endpoint)")

    client = _parse_client(ctx, cfg["client"], from_file=from_file, resolve_secrets=resolve_secrets)
    resource_defaults = cfg.get("resource_defaults") or {}
    if not isinstance(resource_defaults, Mapping):
        raise ctx.error("resource_defaults", "must be a mapping")
    resources = _parse_resources(ctx, cfg["resources"], resource_defaults)

    rest_api = {"client": client, "resource_defaults": dict(resource_defaults), "resources": resources}
    _validate_with_dlt(ctx, rest_api)

    databases = _parse_databases(ctx, cfg.get("databases"))
    tables = _parse_tables(ctx, cfg.get("tables"))
    _check_placeholders(ctx, resources, databases, tables)

    layout = cfg.get("layout", "per_database")
    if layout not in ("per_database", "union"):
        raise ctx.error("layout", f"must be 'per_database' or 'union', got {layout!r}")
    database_column = _str(ctx, "database_column", cfg.get("database_column", "_dbsync_database"))
    types, type_rules = parse_types(ctx, cfg.get("types", {}))
    deletes = _parse_deletes(ctx, cfg.get("deletes", {}))
    history = bool(_bool(ctx, "history", cfg.get("history", False)))
    if deletes.mode == "mark" and (history or any(s.history for s in (tables.listed if tables and tables.listed else ()))):
        raise ctx.error("history", "cannot be combined with deletes.mode: mark (a history table closes the "
                                   "version of a deleted row instead); use deletes.mode: delete")
    if tables is not None and tables.gone == "mark" and deletes.mode != "mark":
        raise ctx.error("tables.gone", "mark flags the rows of a table gone from the source in the deleted column "
                        "of deletes.mode: mark", hint="set deletes.mode: mark, or use keep or drop")
    if deletes.mode == "ignore":
        for i, spec in enumerate(tables.listed if tables and tables.listed else ()):
            if spec.deletes is not None and spec.deletes.scans:
                raise ctx.error(f"tables.list[{i}].deletes.detect", f"detect: {spec.deletes.detect} finds deletes, "
                                "and deletes.mode: ignore drops them", hint="use deletes.mode: delete or mark")

    return SyncConfig(
        rest_api=rest_api,
        databases=databases,
        tables=tables,
        incremental=_parse_incremental(ctx, cfg.get("incremental", {})),
        deletes=deletes,
        types=types,
        type_rules=type_rules,
        field_rules=parse_fields(ctx, cfg.get("fields", {})),
        layout=layout,
        history=history,
        database_column=database_column,
        retries=_parse_retries(ctx, cfg.get("retries", {})),
        performance=_parse_performance(ctx, cfg.get("performance", {})),
        discovery=parse_discovery(ctx, cfg.get("discovery")),
        verify=_parse_verify(ctx, cfg.get("verify", {})),
        pipeline=_parse_pipeline(ctx, cfg.get("pipeline", {})),
        source_name=source_name,
        secrets=tuple(client.pop("_dbsync_secrets", ())),
    )
