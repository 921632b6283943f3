"""The type names real servers use (JSON Schema/OpenAPI, NocoDB, Directus, Parse) and the value
rules of ``types:``/``fields:`` (values as the API wraps them)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import pyarrow as pa
import pytest

from dbsync.config import parse_config
from dbsync.config.model import DeleteSettings, ValueRule
from dbsync.discovery.catalog import FieldInfo, TableInfo
from dbsync.discovery.discover import _parse_field
from dbsync.config.model import FieldShape
from dbsync.discovery.types import dlt_type_for, is_inferred_type, resolve_type_map, split_type_list
from dbsync.errors import ConfigError, Where
from dbsync.source.convert import TableConverter
from dbsync.source.unwrap import rules_for_table, unwrap_values
from support import original_config

TYPES = resolve_type_map({})

NAMES = [
    # JSON Schema / OpenAPI: (type, format) -> dlt type
    ("string", None, "text"), ("string", "date", "date"), ("string", "date-time", "timestamp"),
    ("string", "time", "time"), ("string", "uuid", "text"), ("string", "decimal", "decimal"),
    ("number", "decimal", "decimal"), ("integer", "int32", "bigint"), ("integer", "int64", "bigint"),
    ("number", "float", "double"), ("number", "double", "double"), ("boolean", None, "bool"),
    ("object", None, "json"), ("array", None, "json"), ("string", "byte", "text"),
    ("string", "hostname", "text"),  # a format the map lacks: the type alone decides
    (None, "date-time", "timestamp"),  # a format alone
    # NocoDB (uidt)
    ("SingleLineText", None, "text"), ("LongText", None, "text"), ("Number", None, "double"),
    ("Decimal", None, "decimal"), ("Currency", None, "decimal"), ("Percent", None, "double"),
    ("Checkbox", None, "bool"), ("Date", None, "date"), ("DateTime", None, "timestamp"),
    ("CreatedTime", None, "timestamp"), ("LastModifiedTime", None, "timestamp"), ("JSON", None, "json"),
    ("Email", None, "text"), ("URL", None, "text"), ("PhoneNumber", None, "text"), ("SingleSelect", None, "text"),
    ("MultiSelect", None, "text"), ("Attachment", None, "json"), ("Rating", None, "bigint"),
    ("Duration", None, "double"), ("AutoNumber", None, "bigint"), ("Links", None, "bigint"),
    ("LinkToAnotherRecord", None, "json"), ("Year", None, "bigint"), ("Time", None, "time"),
    ("User", None, "json"), ("CreatedBy", None, "json"),
    # Directus
    ("string", None, "text"), ("text", None, "text"), ("integer", None, "bigint"), ("bigInteger", None, "bigint"),
    ("float", None, "double"), ("decimal", None, "decimal"), ("boolean", None, "bool"), ("date", None, "date"),
    ("dateTime", None, "timestamp"), ("timestamp", None, "timestamp"), ("time", None, "time"),
    ("json", None, "json"), ("uuid", None, "text"), ("hash", None, "text"), ("csv", None, "json"),
    ("alias", None, "json"), ("binary", None, "text"), ("geometry.Point", None, "json"),
    # Parse Server
    ("String", None, "text"), ("Number", None, "double"), ("Boolean", None, "bool"), ("Object", None, "json"),
    ("Array", None, "json"), ("Pointer", None, "json"), ("Relation", None, "text"), ("File", None, "text"),
    ("GeoPoint", None, "json"), ("Polygon", None, "json"), ("Bytes", None, "text"), ("ACL", None, "json"),
]


@pytest.mark.parametrize("api_type,fmt,dlt_type", NAMES)
def test_type_names_of_real_servers_map_to_dlt_types(api_type, fmt, dlt_type):
    assert dlt_type_for(api_type, TYPES, fmt) == dlt_type


@pytest.mark.parametrize("name", ["ID", "Formula", "Lookup", "Rollup", "unknown", "null"])
def test_names_whose_values_vary_are_inferred_without_a_warning(name, caplog):
    assert dlt_type_for(name, TYPES) is None and is_inferred_type(name)
    table = TableInfo("t", fields=(FieldInfo("x", name),))
    with caplog.at_level(logging.WARNING):
        TableConverter(table, type_map=TYPES, deletes=DeleteSettings(mode="ignore"), where=Where("db", "t"))
    assert "unknown API type" not in caplog.text


def test_an_unknown_name_is_still_inferred_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        TableConverter(TableInfo("t", fields=(FieldInfo("x", "Hologram"),)), type_map=TYPES,
                       deletes=DeleteSettings(mode="ignore"), where=Where("db", "t"))
    assert "unknown API type 'Hologram'" in caplog.text


def test_type_lists_and_formats_are_read_from_a_schema():
    assert split_type_list(["string", "null"]) == ("string", True)
    assert split_type_list(["null"]) == ("null", True)
    assert split_type_list(["integer", "string"]) == ("integer|string", False)
    assert dlt_type_for("integer|string", TYPES) is None  # no one type: inferred, with a warning
    shape = FieldShape()
    f = _parse_field(shape, {"name": "seen", "type": ["string", "null"], "format": "date-time"}, 0, Where())
    assert (f.api_type, f.format, f.nullable) == ("string", "date-time", True)
    # an explicit nullable wins over the list; format: null in the config reads no format
    f = _parse_field(shape, {"name": "n", "type": ["integer", "null"], "nullable": False}, 0, Where())
    assert f.nullable is False and f.format is None
    f = _parse_field(FieldShape(format=None), {"name": "d", "type": "string", "format": "date"}, 0, Where())
    assert f.format is None


def test_value_rules_parse_from_types_and_fields():
    config = original_config("http://api.example.com")
    config["types"] = {"Date": {"type": "timestamp", "value": "iso"}, "Pointer": {"type": "text", "value": "objectId"},
                       "uidt_x": "bigint"}
    config["fields"] = {"payload": {"parse_json": True}, "orders.loc": {"value": "geo.lat", "type": "double"}}
    parsed = parse_config(config, resolve_secrets=False)
    assert parsed.types == {"date": "timestamp", "pointer": "text", "uidt_x": "bigint"}
    assert parsed.type_rules == {"date": ValueRule("timestamp", "iso"), "pointer": ValueRule("text", "objectId")}
    assert parsed.field_rules == {"payload": ValueRule(parse_json=True), "orders.loc": ValueRule("double", "geo.lat")}


@pytest.mark.parametrize("section,value,key,words", [
    ("types", {"Date": {"type": "timestmp"}}, "types.Date.type", "not a dlt data type"),
    ("types", {"Date": {"path": "iso"}}, "types.Date.path", "unknown key"),
    ("types", {"Date": "datetime"}, "types.Date", "not a dlt data type"),
    ("fields", {"x": {"parse_json": "yes"}}, "fields.x.parse_json", "true or false"),
    ("fields", {"x": {"value": "a..b"}}, "fields.x.value", "dotted path"),
    ("fields", {"x": {}}, "fields.x", "says nothing"),
    ("fields", {"x": "timestamp"}, "fields.x", "must be a mapping"),
])
def test_bad_value_rules_name_the_key(section, value, key, words):
    config = original_config("http://api.example.com")
    config[section] = value
    with pytest.raises(ConfigError) as err:
        parse_config(config, resolve_secrets=False)
    assert err.value.key == key and words in str(err.value)


def test_rules_for_a_table_field_rules_win_over_type_rules():
    table = TableInfo("orders", fields=(FieldInfo("when", "Date"), FieldInfo("who", "Pointer")))
    type_rules = {"date": ValueRule("timestamp", "iso"), "pointer": ValueRule("text", "objectId")}
    field_rules = {"who": ValueRule(value="className"), "ord*.when": ValueRule("date", "iso"),
                   "customers.who": ValueRule(parse_json=True)}
    rules = rules_for_table(table, type_rules, field_rules)
    assert rules == {"when": ValueRule("date", "iso"), "who": ValueRule(value="className")}


def test_unwrapping_keeps_what_does_not_unwrap():
    values = [{"__type": "Date", "iso": "2024-01-02T03:04:05Z"}, "2024-01-01T00:00:00Z", None, {"__type": "Date"},
              ["a"]]
    out, bad, reasons = unwrap_values(values, ValueRule("timestamp", "iso"))
    assert out == ["2024-01-02T03:04:05Z", "2024-01-01T00:00:00Z", None, None, ["a"]]
    assert bad == [None, None, None, '{"__type":"Date"}', None] and reasons == {"no 'iso' inside": 1}
    out, bad, reasons = unwrap_values(['{"a": [1, 2]}', "", "{oops", 5, '{"geo": {"lat": 1.5}}'],
                                      ValueRule(parse_json=True))
    assert out == [{"a": [1, 2]}, None, None, 5, {"geo": {"lat": 1.5}}] and bad == [None, None, "{oops", None, None]
    out, _, _ = unwrap_values(['{"geo": {"lat": 1.5}}', {"geo": [7]}], ValueRule(parse_json=True, value="geo.lat"))
    assert out[0] == 1.5
    out, _, _ = unwrap_values([{"geo": [7, 8]}], ValueRule(value="geo.1"))
    assert out == [8]


def test_converter_types_unwrapped_values_and_keeps_the_rest_in_the_variant_column(caplog):
    table = TableInfo("t", primary_key=("id",), fields=(FieldInfo("id", "integer", False), FieldInfo("when", "Date"),
                                                        FieldInfo("who", "Pointer")))
    type_map = resolve_type_map({"date": "timestamp", "pointer": "text"})
    rules = rules_for_table(table, {"date": ValueRule("timestamp", "iso"), "pointer": ValueRule("text", "objectId")},
                            {"payload": ValueRule(parse_json=True)})
    conv = TableConverter(table, type_map=type_map, deletes=DeleteSettings(mode="ignore"), where=Where("db", "t"),
                          primary_key=("id",), value_rules=rules)
    records = [
        {"id": 1, "when": {"__type": "Date", "iso": "2024-01-02T03:04:05.123Z"},
         "who": {"__type": "Pointer", "className": "_User", "objectId": "abc"}, "payload": '{"k": 1}'},
        {"id": 2, "when": {"__type": "Date"}, "who": None, "payload": "nope"},
    ]
    with caplog.at_level(logging.WARNING):
        t = conv.convert(records, "p1")
    assert t.schema.field("when").type == pa.timestamp("us", tz="UTC")
    assert t.schema.field("who").type == pa.string()
    assert t.column("when").to_pylist() == [datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=timezone.utc), None]
    assert t.column("when__v_text").to_pylist() == [None, '{"__type":"Date"}']
    assert t.column("who").to_pylist() == ["abc", None]
    assert t.column("payload").to_pylist() == ['{"k":1}', None]
    assert t.column("payload__v_text").to_pylist() == [None, "nope"]
    assert "do not unwrap by its rule (1 no 'iso' inside)" in caplog.text
    assert "(1 not JSON text)" in caplog.text
    # an undeclared field with a rule is typed by the rule (json needs a hint for dlt)
    assert conv.take_new_hints()["payload"] == {"data_type": "json"}
