"""Which ``{placeholders}`` a config may use, and where: the checks across resources, databases and tables.

A resource endpoint that uses ``{table}`` is expanded once per table, so it needs a ``tables``
section (and ``{database}`` a ``databases`` section); configured databases/tables need at least one
endpoint that uses them, or nothing would be synced per table. Filling the placeholders in is
dbsync.discovery.placeholders' job; this module only says what is allowed.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional

from dbsync.config.context import _Ctx
from dbsync.config.model import DatabasesConfig, TablesConfig

PLACEHOLDERS = ("database", "table", "database_name", "table_name")
_KNOWN = "only {database}, {table}, {database_name} and {table_name} are filled in"
PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")


def _placeholders_in(value: Any) -> set:
    found: set = set()
    if isinstance(value, str):
        found.update(m.group(1) for m in PLACEHOLDER_RE.finditer(value))
    elif isinstance(value, Mapping):
        for v in value.values():
            found |= _placeholders_in(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            found |= _placeholders_in(v)
    return found


def _check_placeholders(
    ctx: _Ctx,
    resources: List[Dict[str, Any]],
    databases: Optional[DatabasesConfig],
    tables: Optional[TablesConfig],
) -> None:
    expanding = 0
    for i, resource in enumerate(resources):
        endpoint = resource["endpoint"]
        used = _placeholders_in({k: endpoint.get(k) for k in ("path", "params", "json", "headers")})
        used_in_name = _placeholders_in(resource["name"])
        for ph in used | used_in_name:
            if ph not in PLACEHOLDERS:
                raise ctx.error(f"resources[{i}]", f"unknown placeholder '{{{ph}}}': {_KNOWN}")
        if used & {"database", "database_name"} and databases is None:
            raise ctx.error(f"resources[{i}].endpoint", "uses {database} but no 'databases' section says which databases to sync")
        if used & {"table", "table_name"} and tables is None:
            raise ctx.error(f"resources[{i}].endpoint", "uses {table} but no 'tables' section says which tables to sync")
        if used & {"table", "table_name"}:
            expanding += 1
        elif used_in_name:
            raise ctx.error(f"resources[{i}].name", "uses placeholders but the endpoint does not use {table}")
    if (databases is not None or tables is not None) and expanding == 0:
        raise ctx.error(
            "resources",
            "databases/tables are configured but no resource endpoint uses the {table} placeholder "
            "(e.g. params: {database: '{database}', table: '{table}'})",
        )
    if tables is not None and tables.discover is not None:
        uses_db = bool({"database", "database_name"} & _placeholders_in({"p": tables.discover.path, "q": tables.discover.params}))
        if databases is not None and not uses_db:
            raise ctx.error("tables.discover.path", "must use {database} when several databases are synced")
        fields_ep = tables.discover.fields_endpoint
        if fields_ep is not None:
            used = _placeholders_in({"p": fields_ep.path, "q": fields_ep.params})
            uses_db = bool({"database", "database_name"} & used)
            # a table's name may repeat across databases, its id (table_id) is the API's own
            # address of it: with ids, {table} alone is enough (checked against the catalog)
            if databases is not None and not uses_db and tables.discover.table_id is None:
                raise ctx.error("tables.discover.fields_endpoint",
                                "must use {database} when several databases are synced (or set "
                                "tables.discover.table_id when the API's table ids are global)")
            if databases is None and uses_db:
                raise ctx.error("tables.discover.fields_endpoint", "uses {database} but no 'databases' section says which databases to sync")
