"""The ``databases`` and ``tables`` sections: which databases and tables to sync, and how to discover them.

Either a fixed list or a discovery endpoint; for discovered tables also where the schema response
keeps each field's name, type and nullability (``field:``) and, where the API has one, the per-table
fields endpoint. Every key that reads a response is kept as written (a dotted path or JSONPath):
dbsync.discovery applies them.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

from dbsync.config.context import _bool, _check_keys, _Ctx, _mapping, _str, _str_list, _validate_paginator
from dbsync.config.model import (
    KeyScanSettings,
    DatabasesConfig,
    FieldsEndpoint,
    FieldShape,
    ListEndpoint,
    SchemaEndpoint,
    TableSpec,
    TablesConfig,
)
from dbsync.config.placeholders import _KNOWN, PLACEHOLDERS, _placeholders_in
from dbsync.config.sync_options import _cursor_field, _parse_key_scan


def _parse_list_endpoint(ctx: _Ctx, key: str, value: Any) -> ListEndpoint:
    ep = _mapping(ctx, key, value)
    _check_keys(ctx, key, ep, ("path", "params", "data_selector", "paginator", "id_field", "name_field"))
    _validate_paginator(ctx, f"{key}.paginator", ep.get("paginator"))
    return ListEndpoint(
        path=_str(ctx, f"{key}.path", ep.get("path")),
        params=_mapping(ctx, f"{key}.params", ep.get("params")),
        data_selector=_str(ctx, f"{key}.data_selector", ep.get("data_selector"), allow_none=True),
        paginator=ep.get("paginator"),
        id_field=_str(ctx, f"{key}.id_field", ep.get("id_field", "id")),
        name_field=_str(ctx, f"{key}.name_field", ep.get("name_field", "name"), allow_none=True),
    )


def _parse_databases(ctx: _Ctx, value: Any) -> Optional[DatabasesConfig]:
    if value is None:
        return None
    if isinstance(value, list):
        value = {"list": value}
    section = _mapping(ctx, "databases", value)
    _check_keys(ctx, "databases", section, ("list", "discover", "include", "exclude"))
    listed = section.get("list")
    discover = section.get("discover")
    if listed is None and discover is None:
        raise ctx.error("databases", "give either 'list' (database ids) or 'discover' (a list endpoint)")
    if listed is not None and discover is not None:
        raise ctx.error("databases", "give either 'list' or 'discover', not both")
    return DatabasesConfig(
        listed=_str_list(ctx, "databases.list", listed) if listed is not None else None,
        discover=_parse_list_endpoint(ctx, "databases.discover", discover) if discover is not None else None,
        include=_str_list(ctx, "databases.include", section.get("include", ["*"])),
        exclude=_str_list(ctx, "databases.exclude", section.get("exclude", [])),
    )


def _parse_pk(ctx: _Ctx, key: str, value: Any) -> Optional[Tuple[str, ...]]:
    if value is None:
        return None
    return _str_list(ctx, key, value)


def _parse_tables(ctx: _Ctx, value: Any) -> Optional[TablesConfig]:
    if value is None:
        return None
    if isinstance(value, list):
        value = {"list": value}
    section = _mapping(ctx, "tables", value)
    _check_keys(ctx, "tables", section, ("list", "discover", "include", "exclude", "gone"))
    gone = section.get("gone", "keep")
    if gone not in ("keep", "mark", "drop"):
        raise ctx.error("tables.gone", f"must be keep, mark or drop, got {gone!r}")
    listed = section.get("list")
    discover = section.get("discover")
    if listed is None and discover is None:
        raise ctx.error("tables", "give either 'list' (table names) or 'discover' (a schema endpoint)")
    specs: Optional[Tuple[TableSpec, ...]] = None
    if listed is not None:
        if not isinstance(listed, list) or not listed:
            raise ctx.error("tables.list", "must be a non-empty list of table names or mappings")
        out = []
        for i, item in enumerate(listed):
            k = f"tables.list[{i}]"
            if isinstance(item, str):
                item = {"name": item}
            item = _mapping(ctx, k, item)
            _check_keys(ctx, k, item, ("name", "primary_key", "cursor_field", "history", "deletes"))
            out.append(
                TableSpec(
                    name=_str(ctx, f"{k}.name", item.get("name")),
                    primary_key=_parse_pk(ctx, f"{k}.primary_key", item.get("primary_key")),
                    cursor_field=_cursor_field(ctx, f"{k}.cursor_field", item.get("cursor_field")),
                    history=_bool(ctx, f"{k}.history", item.get("history")),
                    deletes=_table_deletes(ctx, f"{k}.deletes", item.get("deletes")),
                )
            )
        specs = tuple(out)
    schema_ep = None
    if discover is not None:
        d = _mapping(ctx, "tables.discover", discover)
        allowed = ("path", "params", "tables_selector", "paginator", "table_name", "table_id", "primary_key",
                   "cursor_field", "fields_selector", "required_selector", "field", "fields_endpoint")
        _check_keys(ctx, "tables.discover", d, allowed)
        _validate_paginator(ctx, "tables.discover.paginator", d.get("paginator"))
        shape = _parse_field_shape(ctx, "tables.discover.field", d.get("field"))
        fields_endpoint = None
        if d.get("fields_endpoint") is not None:
            fields_endpoint = _parse_fields_endpoint(ctx, "tables.discover.fields_endpoint", d["fields_endpoint"])
        schema_ep = SchemaEndpoint(
            path=_str(ctx, "tables.discover.path", d.get("path")),
            params=_mapping(ctx, "tables.discover.params", d.get("params")),
            tables_selector=_str(ctx, "tables.discover.tables_selector", d.get("tables_selector", "tables"), allow_none=True),
            paginator=d.get("paginator"),
            table_name=_str(ctx, "tables.discover.table_name", d.get("table_name", "name")),
            table_id=_str(ctx, "tables.discover.table_id", d.get("table_id"), allow_none=True),
            primary_key=_str(ctx, "tables.discover.primary_key", d.get("primary_key", "primary_key"), allow_none=True),
            cursor_field=_str(ctx, "tables.discover.cursor_field", d.get("cursor_field", "cursor_field"), allow_none=True),
            fields_selector=_str(ctx, "tables.discover.fields_selector", d.get("fields_selector", "fields")),
            field=shape,
            fields_endpoint=fields_endpoint,
            required_selector=_str(ctx, "tables.discover.required_selector", d.get("required_selector"), allow_none=True),
        )
    return TablesConfig(
        listed=specs,
        discover=schema_ep,
        include=_str_list(ctx, "tables.include", section.get("include", ["*"])),
        exclude=_str_list(ctx, "tables.exclude", section.get("exclude", [])),
        gone=gone,
    )


def _parse_field_shape(ctx: _Ctx, key: str, value: Any) -> FieldShape:
    """Where a schema response keeps each field's name, type, nullability... (``field:``)."""
    f = _mapping(ctx, key, value)
    _check_keys(ctx, key, f, ("name", "type", "nullable", "required", "precision", "scale", "hidden", "format",
                              "primary_key"))
    return FieldShape(
        name=_str(ctx, f"{key}.name", f.get("name", "name")),
        type=_str(ctx, f"{key}.type", f.get("type", "type")),
        nullable=_str(ctx, f"{key}.nullable", f.get("nullable", None if "required" in f else "nullable"), allow_none=True),
        required=_str(ctx, f"{key}.required", f.get("required"), allow_none=True),
        precision=_str(ctx, f"{key}.precision", f.get("precision", "precision"), allow_none=True),
        scale=_str(ctx, f"{key}.scale", f.get("scale", "scale"), allow_none=True),
        hidden=_str(ctx, f"{key}.hidden", f.get("hidden"), allow_none=True),
        format=_str(ctx, f"{key}.format", f.get("format", "format"), allow_none=True),
        primary_key=_str(ctx, f"{key}.primary_key", f.get("primary_key"), allow_none=True),
    )


def _parse_fields_endpoint(ctx: _Ctx, key: str, value: Any) -> FieldsEndpoint:
    """``tables.discover.fields_endpoint``: one request per table for its fields."""
    ep = _mapping(ctx, key, value)
    _check_keys(ctx, key, ep, ("path", "params", "data_selector", "paginator", "field", "required_selector"))
    _validate_paginator(ctx, f"{key}.paginator", ep.get("paginator"))
    path = _str(ctx, f"{key}.path", ep.get("path"))
    params = _mapping(ctx, f"{key}.params", ep.get("params"))
    data_selector = _str(ctx, f"{key}.data_selector", ep.get("data_selector"), allow_none=True)
    required_selector = _str(ctx, f"{key}.required_selector", ep.get("required_selector"), allow_none=True)
    used = _placeholders_in({"path": path, "params": params, "s": data_selector, "r": required_selector})
    for ph in used:
        if ph not in PLACEHOLDERS:
            raise ctx.error(key, f"unknown placeholder '{{{ph}}}': {_KNOWN}")
    if not used & {"table", "table_name"}:
        raise ctx.error(key, "must use {table} in its path, params or data_selector (it is read once per table)")
    return FieldsEndpoint(
        path=path,
        params=params,
        data_selector=data_selector,
        paginator=ep.get("paginator"),
        field=_parse_field_shape(ctx, f"{key}.field", ep.get("field")),
        required_selector=required_selector,
    )


def _table_deletes(ctx: _Ctx, key: str, value: Any) -> Optional[KeyScanSettings]:
    """``tables.list[].deletes``: how this table's deletes are found (``detect``, ``every``,
    ``keys``); the mode and the tombstone field stay those of the top-level ``deletes``."""
    if value is None:
        return None
    section = _mapping(ctx, key, value)
    _check_keys(ctx, key, section, ("detect", "every", "keys"))
    if "detect" not in section:
        raise ctx.error(f"{key}.detect", "is missing: say how this table's deletes are found (keys, full_read "
                                         "or tombstones)")
    return _parse_key_scan(ctx, key, section)
