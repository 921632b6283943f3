"""Fields as real servers describe them: nested keys (dotted paths, JSONPath) everywhere the
discovery config reads a key, fields given as a mapping, and JSON Schema / OpenAPI schemas
(``properties``, ``type`` lists, ``format``, ``nullable``, the object-level ``required`` list)
read into typed, NOT NULL fields. Each answer below is shaped like the server's own."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

import pytest
import requests

from dbsync.config import parse_config
from dbsync.discovery.catalog import FieldInfo, TableInfo
from dbsync.discovery.discover import _discover_databases, _discover_tables, discover_catalog
from dbsync.discovery.types import dlt_type_for, resolve_type_map
from dbsync.http.client import Page


class FakeClient:
    """Answers discovery requests from a dict of path -> document; records what was asked."""

    credentials_hint = "check the credentials"

    def __init__(self, answers: Dict[str, Any]):
        self.answers = answers
        self.asked: List[str] = []

    def get_json(self, path: str, params: Optional[Dict[str, Any]] = None, **_: Any) -> Page:
        self.asked.append(path)
        return Page(doc=self.answers[path], status=200, headers={}, url=path, response=requests.Response())


def config(tables: Dict[str, Any], databases: Optional[Dict[str, Any]] = None):
    raw: Dict[str, Any] = {
        "client": {"base_url": "http://api.test"},
        "resources": [{"name": "{table}", "endpoint": {"path": "/records/{table}", "data_selector": "data"}}],
        "tables": tables,
    }
    if databases is not None:
        raw["databases"] = databases
        raw["resources"][0]["endpoint"]["path"] = "/{database}/records/{table}"
    return parse_config(raw, resolve_secrets=False)


def typed(table: TableInfo) -> Dict[str, tuple]:
    """name -> (dlt type, nullable), as the destination columns will be declared."""
    type_map = resolve_type_map({})
    return {f.name: (dlt_type_for(f.api_type, type_map, f.format), f.nullable) for f in table.fields or ()}


# Kinto: GET /buckets/{bucket}/collections -> each collection's JSON Schema in "schema"
KINTO_COLLECTIONS = {"data": [
    {"id": "tasks", "last_modified": 1717000000000, "schema": {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "done": {"type": "boolean"},
            "due": {"type": ["string", "null"], "format": "date"},
            "finished_at": {"type": "string", "format": "date-time"},
            "uid": {"type": "string", "format": "uuid"},
            "amount": {"type": "string", "format": "decimal"},
            "points": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "weight": {"type": ["number", "null"]},
        },
        "required": ["title", "done", "due", "points"],
    }},
    {"id": "notes", "last_modified": 1717000000001},  # a collection without a schema: inferred from data
]}

KINTO_TABLES = {"discover": {"path": "/buckets/{database}/collections", "tables_selector": "data",
                             "table_name": "id", "fields_selector": "schema.properties",
                             "required_selector": "schema.required"}}


def test_kinto_collection_json_schema_gives_typed_not_null_fields(caplog):
    cfg = config(KINTO_TABLES, databases={"list": ["main"]})
    client = FakeClient({"/buckets/main/collections": KINTO_COLLECTIONS})
    with caplog.at_level(logging.WARNING, logger="dbsync.discovery"):
        catalog = discover_catalog(cfg, client)  # type: ignore[arg-type]
    tasks, notes = catalog.databases[0].tables
    assert (tasks.name, notes.name, notes.fields) == ("tasks", "notes", None)
    assert typed(tasks) == {
        "title": ("text", False), "done": ("bool", False),
        "due": ("date", True),  # required, but its type allows null: nullable
        "finished_at": ("timestamp", True),  # not required: nullable
        "uid": ("text", True), "amount": ("decimal", True), "points": ("bigint", False),
        "tags": ("json", True), "weight": ("double", True),
    }
    assert [r.message for r in caplog.records] == [], "keys that found something, and defaults, say nothing"


# Directus: GET /collections and GET /fields/{collection}; flags nested under schema and meta
DIRECTUS = {
    "/collections": {"data": [{"collection": "articles", "meta": {"note": None}, "schema": {"name": "articles"}}]},
    "/fields/articles": {"data": [
        {"collection": "articles", "field": "id", "type": "integer",
         "schema": {"is_nullable": False, "is_primary_key": True, "numeric_precision": 32}, "meta": {"hidden": False}},
        {"collection": "articles", "field": "title", "type": "string",
         "schema": {"is_nullable": True, "is_primary_key": False}, "meta": {"hidden": False}},
        {"collection": "articles", "field": "price", "type": "decimal",
         "schema": {"is_nullable": False, "is_primary_key": False, "numeric_precision": 10, "numeric_scale": 2},
         "meta": {"hidden": False}},
        {"collection": "articles", "field": "published", "type": "timestamp",
         "schema": {"is_nullable": True, "is_primary_key": False}, "meta": {"hidden": False}},
        {"collection": "articles", "field": "secret", "type": "hash",
         "schema": {"is_nullable": False, "is_primary_key": False}, "meta": {"hidden": True}},
    ]},
}


def test_directus_fields_with_nested_flags():
    cfg = config({"discover": {
        "path": "/collections", "tables_selector": "data", "table_name": "schema.name",
        "fields_endpoint": {"path": "/fields/{table}", "data_selector": "data",
                            "field": {"name": "field", "nullable": "schema.is_nullable", "hidden": "meta.hidden",
                                      "primary_key": "schema.is_primary_key",
                                      "precision": "schema.numeric_precision", "scale": "schema.numeric_scale"}}}})
    client = FakeClient(DIRECTUS)
    (table,) = discover_catalog(cfg, client).databases[0].tables  # type: ignore[arg-type]
    assert table.name == "articles" and table.primary_key == ("id",), "the key from the fields' flags"
    assert table.fields == (
        FieldInfo("id", "integer", False, 32), FieldInfo("title", "string", True),
        FieldInfo("price", "decimal", False, 10, 2), FieldInfo("published", "timestamp", True),
    ), "secret is hidden (meta.hidden): left out"
    assert client.asked == ["/collections", "/fields/articles"]


# OpenAPI: components.schemas, a mapping of schema name -> JSON Schema object
OPENAPI = {"openapi": "3.0.3", "info": {"title": "pets", "version": "1"}, "paths": {}, "components": {"schemas": {
    "Pet": {"type": "object", "required": ["id", "name"], "properties": {
        "id": {"type": "integer", "format": "int64"}, "name": {"type": "string"},
        "tag": {"type": "string", "nullable": True}, "born": {"type": "string", "format": "date"},
        "weight": {"type": "number", "format": "double"}}},
    "Owner": {"type": "object", "required": ["id"], "properties": {
        "id": {"type": "string", "format": "uuid"}, "since": {"type": "string", "format": "date-time"}}},
}}}
PETS = {"Pet": {"id": ("bigint", False), "name": ("text", False), "tag": ("text", True), "born": ("date", True),
                "weight": ("double", True)},
        "Owner": {"id": ("text", False), "since": ("timestamp", True)}}


def test_openapi_components_schemas_as_the_table_list():
    """A mapping of tables: the key is the table's name (no table_name key in a JSON Schema)."""
    cfg = config({"discover": {"path": "/openapi.json", "tables_selector": "components.schemas",
                               "fields_selector": "properties", "required_selector": "required"}})
    tables = discover_catalog(cfg, FakeClient({"/openapi.json": OPENAPI})).databases[0].tables  # type: ignore[arg-type]
    assert {t.name: typed(t) for t in tables} == PETS


def test_openapi_schema_per_table_from_a_fields_endpoint():
    cfg = config({"list": ["Pet", "Owner"], "discover": {
        "path": "/tables", "tables_selector": "tables",
        "fields_endpoint": {"path": "/openapi.json",  # {table} only in the selectors: one document
                            "data_selector": "components.schemas.{table}.properties",
                            "required_selector": "components.schemas.{table}.required"}}})
    client = FakeClient({"/tables": {"tables": [{"name": "Pet"}, {"name": "Owner"}]}, "/openapi.json": OPENAPI})
    tables = discover_catalog(cfg, client).databases[0].tables  # type: ignore[arg-type]
    assert {t.name: typed(t) for t in tables} == PETS


def test_fields_as_a_mapping_of_name_to_type_or_object():
    ep = config({"discover": {"path": "/schema"}}).tables.discover  # type: ignore[union-attr]
    doc = {"tables": [{"name": "t", "fields": {"id": "integer", "n": {"type": "number", "nullable": False},
                                               "renamed": {"name": "real_name", "type": "string"}}}]}
    (t,) = _discover_tables(ep, FakeClient({"/schema": doc}), None)  # type: ignore[arg-type]
    assert t.fields == (FieldInfo("id", "integer"), FieldInfo("n", "number", False),
                        FieldInfo("real_name", "string")), "field.name, when found, wins over the key"


def test_database_id_and_name_at_dotted_paths():
    ep = config({"list": ["t"]}, databases={"discover": {
        "path": "/spaces", "data_selector": "result.items", "id_field": "meta.id",
        "name_field": "$.title.en"}}).databases.discover  # type: ignore[union-attr]
    doc = {"result": {"items": [{"meta": {"id": 7}, "title": {"en": "Sales"}}, {"meta": {"id": "x"}, "title": {}}]}}
    from dbsync.discovery.discover import KeyReads

    assert _discover_databases(ep, FakeClient({"/spaces": doc}), KeyReads()) == [  # type: ignore[arg-type]
        ("7", "Sales"), ("x", None)]


def test_table_keys_at_dotted_paths():
    ep = config({"discover": {"path": "/schema", "tables_selector": "result.tables", "table_name": "info.name",
                              "primary_key": "info.keys", "cursor_field": "info.modified",
                              "fields_selector": "definition.columns",
                              "field": {"name": "id", "type": "kind.name", "nullable": "constraints.null"}}}
                ).tables.discover  # type: ignore[union-attr]
    doc = {"result": {"tables": [{"info": {"name": "a", "keys": ["k"], "modified": "mtime"}, "definition": {
        "columns": [{"id": "k", "kind": {"name": "integer"}, "constraints": {"null": False}},
                    {"id": "mtime", "kind": {"name": "datetime"}, "constraints": {"null": True}}]}}]}}
    (t,) = _discover_tables(ep, FakeClient({"/schema": doc}), None)  # type: ignore[arg-type]
    assert (t.name, t.primary_key, t.cursor_field) == ("a", ("k",), "mtime")
    assert t.fields == (FieldInfo("k", "integer", False), FieldInfo("mtime", "datetime", True))


def test_a_path_that_finds_nothing_is_one_warning_naming_the_key(caplog):
    cfg = config({"discover": {"path": "/{database}/collections", "tables_selector": "data", "table_name": "id",
                               "fields_selector": "schema.properties", "required_selector": "schema.requried",
                               "field": {"nullable": "schema.is_nulable", "hidden": "meta.hidden"}}},
                 databases={"list": ["a", "b"]})
    doc = {"data": [{"id": f"t{i}", "schema": {"properties": {"x": {"type": "string"}, "y": {"type": "integer"}},
                                                "required": ["x"]}} for i in range(3)]}
    client = FakeClient({"/a/collections": doc, "/b/collections": doc})
    with caplog.at_level(logging.WARNING, logger="dbsync.discovery"):
        discover_catalog(cfg, client)  # type: ignore[arg-type]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3, messages  # once per key per run, not per field, table or database
    assert any(m.startswith("tables.discover.required_selector: 'schema.requried' found nothing") for m in messages)
    assert any(m.startswith("tables.discover.field.nullable: 'schema.is_nulable' found nothing") for m in messages)
    assert any(m.startswith("tables.discover.field.hidden: 'meta.hidden' found nothing") for m in messages)
    assert "an item has: id, schema" in " ".join(messages)


def test_a_fields_selector_that_finds_nothing_is_a_warning(caplog):
    cfg = config({"discover": {"path": "/collections", "tables_selector": "data", "table_name": "id",
                               "fields_selector": "schema.props"}})
    with caplog.at_level(logging.WARNING, logger="dbsync.discovery"):
        (t,) = discover_catalog(cfg, FakeClient({"/collections": KINTO_COLLECTIONS})).databases[0].tables[:1]  # type: ignore[arg-type]
    assert t.fields is None
    (message,) = [r.getMessage() for r in caplog.records]
    assert message.startswith("tables.discover.fields_selector: 'schema.props' found nothing in 2 item(s)")


def test_the_config_accepts_paths_and_json_schema_keys():
    cfg = config({"discover": {"path": "/s", "fields_selector": "data.schema.properties",
                               "required_selector": "data.schema.required",
                               "field": {"nullable": "schema.is_nullable", "primary_key": "schema.is_primary_key",
                                         "hidden": "$.meta.hidden"},
                               "fields_endpoint": {"path": "/f/{table}", "required_selector": "required"}}})
    ep = cfg.tables.discover  # type: ignore[union-attr]
    assert (ep.fields_selector, ep.required_selector, ep.field.nullable, ep.field.hidden, ep.field.primary_key,
            ep.fields_endpoint.required_selector) == (  # type: ignore[union-attr]
        "data.schema.properties", "data.schema.required", "schema.is_nullable", "$.meta.hidden",
        "schema.is_primary_key", "required")
    from dbsync.errors import ConfigError

    with pytest.raises(ConfigError, match="required_selectr"):
        config({"discover": {"path": "/s", "required_selectr": "required"}})
