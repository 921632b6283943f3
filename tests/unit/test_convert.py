"""Records -> Arrow: declared types, inference for undeclared fields, variants for values that do
not fit, placeholders only on tombstones, and a clear error for nulls the schema forbids."""

from __future__ import annotations

import logging
from datetime import date, datetime, timezone
from decimal import Decimal

import pyarrow as pa
import pytest

from dbsync.config.model import DeleteSettings
from dbsync.discovery.catalog import FieldInfo, TableInfo
from dbsync.discovery.types import resolve_type_map
from dbsync.errors import DataError, Where
from dbsync.source.convert import TableConverter

FIELDS = (
    FieldInfo("id", "integer", False),
    FieldInfo("name", "string", False),
    FieldInfo("price", "decimal", True, 12, 4),
    FieldInfo("score", "number", True),
    FieldInfo("ok", "boolean", True),
    FieldInfo("day", "date", True),
    FieldInfo("at", "datetime", True),
    FieldInfo("meta", "json", True),
    FieldInfo("tags", "array", True),
)


def converter(fields=FIELDS, deletes=DeleteSettings()):
    table = TableInfo("t", ("id",), "at", fields)
    return TableConverter(table, type_map=resolve_type_map({}), deletes=deletes, where=Where("db", "t"),
                          primary_key=("id",))


def test_declared_types_become_arrow_types():
    rows = [{"id": 1, "name": "ä", "price": "12.3400", "score": 1, "ok": True, "day": "2024-02-29",
             "at": "2024-01-01T10:00:00Z", "meta": {"a": [1, None]}, "tags": ["x"]},
            {"id": 2, "name": "", "price": None, "score": 2.5, "ok": None, "day": None, "at": None, "meta": None,
             "tags": []}]
    t = converter().convert(rows, "page 1")
    d = t.to_pylist()
    assert t.schema.field("id").type == pa.int64() and not t.schema.field("id").nullable
    assert d[0]["price"] == Decimal("12.3400") and t.schema.field("price").type == pa.decimal128(12, 4)
    assert d[0]["score"] == 1.0 and d[1]["score"] == 2.5
    assert d[0]["day"] == date(2024, 2, 29)
    assert d[0]["at"] == datetime(2024, 1, 1, 10, tzinfo=timezone.utc)
    assert d[0]["meta"] == '{"a":[1,null]}' and d[1]["tags"] == "[]"
    assert d[1]["name"] == "" and d[1]["meta"] is None, "empty strings and nulls stay distinct"


def test_hints_carry_types_nullability_and_merge_settings():
    hints = converter().column_hints()
    assert hints["id"] == {"data_type": "bigint", "nullable": False}
    assert hints["price"] == {"data_type": "decimal", "nullable": True, "precision": 12, "scale": 4}
    assert hints["meta"]["data_type"] == "json"
    assert hints["deleted"]["hard_delete"] is True
    assert hints["_dbsync_synced_at"]["dedup_sort"] == "desc"


def test_values_that_do_not_fit_go_to_a_variant_column(caplog):
    rows = [{"id": 1, "name": "a", "score": "n/a"}, {"id": 2, "name": "b", "score": 3.5},
            {"id": 3, "name": "c", "price": "1.234567"}]
    with caplog.at_level(logging.WARNING):
        t = converter().convert(rows, "page 1")
    d = t.to_pylist()
    assert d[0]["score"] is None and d[0]["score__v_text"] == "n/a"
    assert d[1]["score"] == 3.5 and d[1]["score__v_text"] is None
    assert d[2]["price"] is None and d[2]["price__v_text"] == "1.234567", "no silent rounding of decimals"
    assert "score__v_text" in caplog.text


def test_fractional_number_in_an_integer_column_is_not_truncated():
    fields = FIELDS + (FieldInfo("qty", "integer", True),)
    t = converter(fields).convert([{"id": 1, "name": "a", "qty": 2}, {"id": 2, "name": "b", "qty": 2.5}], "page 1")
    d = t.to_pylist()
    assert d[0]["qty"] == 2 and d[1]["qty"] is None and d[1]["qty__v_text"] == "2.5"
    with pytest.raises(DataError) as info:
        converter().convert([{"id": 1, "name": "a"}, {"id": 2.5, "name": "b"}], "page 1")
    assert "value 2.5 of key field 'id' does not fit its type bigint" in str(info.value)


def test_integers_beyond_int64_are_kept_as_text():
    fields = FIELDS + (FieldInfo("big", "integer", True),)
    t = converter(fields).convert([{"id": 1, "name": "a", "big": 2**70}], "page 1")
    assert t.to_pylist()[0]["big__v_text"] == str(2**70)


def test_new_fields_are_inferred_and_announced_once(caplog):
    c = converter()
    with caplog.at_level(logging.WARNING):
        t1 = c.convert([{"id": 1, "name": "a", "extra": {"x": 1}, "when": "2024-01-01T00:00:00Z", "n": 5}], "p1")
        c.convert([{"id": 2, "name": "b", "extra": {"x": 2}}], "p2")
    assert t1.schema.field("n").type == pa.int64()
    assert t1.schema.field("when").type == pa.timestamp("us", tz="UTC")
    assert c.take_new_hints() == {"extra": {"data_type": "json"}}
    assert c.take_new_hints() == {}
    assert caplog.text.count("new field(s)") == 1


def test_tombstones_get_placeholders_and_live_nulls_relax_a_not_null_column(caplog):
    c = converter()
    t = c.convert([{"id": 1, "name": "a"}, {"id": 2, "at": "2024-01-01T00:00:00Z", "deleted": True}], "p")
    d = t.to_pylist()
    assert d[1]["deleted"] is True and d[1]["name"] == "" and d[0]["deleted"] is None
    assert c.relaxed == set()
    with caplog.at_level(logging.WARNING):
        t = c.convert([{"id": 3, "name": None}, {"id": 4, "at": "2024-01-01T00:00:00Z", "deleted": True}], "offset 100")
    assert t["name"].to_pylist() == [None, ""]  # the live row keeps its null, the tombstone a placeholder
    assert "'name'" in caplog.text and "offset 100" in caplog.text and "{'id': 3}" in caplog.text
    assert c.relaxed == {"name"} and c.take_relaxed() == {"name"} and c.take_relaxed() == set()
    with pytest.raises(DataError) as info:  # a key may never be empty
        c.convert([{"id": None, "name": "x"}], "offset 200")
    assert "primary key 'id'" in str(info.value)


def test_records_without_primary_key_are_an_error():
    with pytest.raises(DataError) as info:
        converter().convert([{"id": 1, "name": "a"}, {"name": "b"}], "page 2")
    assert "primary key 'id'" in str(info.value) and "page 2" in str(info.value)


def test_unknown_api_types_fall_back_to_inference_with_a_warning(caplog):
    fields = (FieldInfo("id", "integer", False), FieldInfo("geo", "hyperloglog", True))
    with caplog.at_level(logging.WARNING):
        c = converter(fields)
    assert "unknown API type 'hyperloglog'" in caplog.text
    t = c.convert([{"id": 1, "geo": {"lat": 1.5}}], "p")
    assert t.to_pylist()[0]["geo"] == '{"lat":1.5}'
