"""The generic features real database-API servers needed (Datasette, PocketBase): cursor filter
templates, timestamps written back in the API's own shape, "" as no value in typed columns,
0/1 booleans, fields from a per-table endpoint, hidden fields, type names, HTML error pages."""

from __future__ import annotations

import logging

from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

import pytest

from dbsync.config.model import DeleteSettings, FieldsEndpoint, FieldShape, IncrementalSettings
from dbsync.discovery.catalog import FieldInfo, TableInfo
from dbsync.discovery.types import dlt_type_for, resolve_type_map
from dbsync.errors import Where
from dbsync.http.client import _error_detail
from dbsync.source.convert import TableConverter
from dbsync.source.incremental import CursorState, format_like, request_params


def test_request_params_fill_cursor_and_cursor_field_in_names_and_values():
    settings = IncrementalSettings(params={"{cursor_field}__gte": "{cursor}", "_sort": "{cursor_field}",
                                           "filter": "{cursor_field} >= '{cursor}'"})
    assert request_params(settings, "2024-01-02 03:04:05.678Z", "updated") == {
        "updated__gte": "2024-01-02 03:04:05.678Z", "_sort": "updated",
        "filter": "updated >= '2024-01-02 03:04:05.678Z'"}


@pytest.mark.parametrize("example, lag, expected", [
    ("2024-01-02 03:04:05.678Z", 10, "2024-01-02 03:03:55.678Z"),  # PocketBase
    ("2024-01-02T03:04:05Z", 60, "2024-01-02T03:03:05Z"),
    ("2024-01-02T03:04:05.123456Z", 0.5, "2024-01-02T03:04:04.623456Z"),
    ("2024-01-02 03:04:05", 5, "2024-01-02 03:04:00"),  # naive text: kept naive (UTC)
    ("2024-01-02T05:04:05+02:00", 60, "2024-01-02T03:03:05+00:00"),
])
def test_lag_keeps_the_shape_of_the_apis_cursor(example, lag, expected):
    state = CursorState(cursor=example)
    assert state.request_value(IncrementalSettings(lag_seconds=lag)) == expected


def test_format_like_truncates_never_rounds_up():
    instant = datetime(2024, 1, 2, 3, 4, 5, 999999, tzinfo=timezone.utc)
    assert format_like(instant, "2000-01-01 00:00:00.000Z") == "2024-01-02 03:04:05.999Z"


def converter(fields: List[FieldInfo], types: Optional[Dict[str, str]] = None) -> TableConverter:
    table = TableInfo(name="t", primary_key=("id",), fields=(FieldInfo("id", "integer", False),) + tuple(fields))
    return TableConverter(table, type_map=resolve_type_map(types or {}), deletes=DeleteSettings(mode="ignore"),
                          where=Where(table="t"), primary_key=("id",))


def test_empty_string_is_no_value_in_typed_columns_but_stays_in_text():
    c = converter([FieldInfo("when", "date", True), FieldInfo("n", "number", True), FieldInfo("ok", "bool", True),
                   FieldInfo("s", "text", True), FieldInfo("j", "json", True)], types={"date": "timestamp"})
    t = c.convert([{"id": 1, "when": "", "n": "", "ok": "", "s": "", "j": ""},
                   {"id": 2, "when": "2024-01-02 03:04:05.678Z", "n": 2.5, "ok": True, "s": "x", "j": {"a": 1}}], "p")
    assert [c for c in t.column_names if c.endswith("__v_text")] == []
    rows = t.to_pylist()
    assert (rows[0]["when"], rows[0]["n"], rows[0]["ok"], rows[0]["s"], rows[0]["j"]) == (None, None, None, "", '""')
    assert rows[1]["when"] == datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc) and rows[1]["n"] == 2.5


def test_empty_string_in_a_not_null_typed_column_is_kept_as_null_with_a_warning(caplog):
    """The API's schema was wrong about the field: the data is kept, the column becomes nullable."""
    c = converter([FieldInfo("n", "number", False)])
    with caplog.at_level(logging.WARNING):
        t = c.convert([{"id": 7, "n": ""}, {"id": 8, "n": 1.5}], "page 2")
    assert t["n"].to_pylist() == [None, 1.5] and t.schema.field("n").nullable
    assert "'n'" in caplog.text and "{'id': 7}" in caplog.text and "made nullable" in caplog.text
    assert c.relaxed == {"n"} and c.column_hints()["n"]["nullable"] is True


def test_zero_and_one_are_booleans_other_numbers_are_variants():
    c = converter([FieldInfo("paid", "BOOLEAN", True)])
    assert c.convert([{"id": 1, "paid": 1}, {"id": 2, "paid": 0}, {"id": 3, "paid": None}], "p")["paid"].to_pylist() == [
        True, False, None]
    mixed = c.convert([{"id": 1, "paid": True}, {"id": 2, "paid": 0}], "p")
    assert mixed["paid"].to_pylist() == [True, False] and "paid__v_text" not in mixed.column_names
    odd = c.convert([{"id": 1, "paid": 2}, {"id": 2, "paid": 1}], "p")
    assert odd["paid"].to_pylist() == [None, True] and odd["paid__v_text"].to_pylist() == ["2", None]


@pytest.mark.parametrize("api_type, dlt_type", [
    ("INTEGER", "bigint"), ("TEXT", "text"), ("REAL", "double"), ("NUMERIC", "decimal"), ("BLOB", "text"),
    ("BOOLEAN", "bool"), ("DATETIME", "timestamp"), ("VARCHAR(20)", "text"), ("UNSIGNED BIG INT", "bigint"),
    ("DOUBLE PRECISION", "double"), ("NVARCHAR(10)", "text"), ("CLOB", "text"), ("TINYINT", "bigint"),
    ("text", "text"), ("number", "double"), ("bool", "bool"), ("email", "text"), ("url", "text"),
    ("editor", "text"), ("autodate", "timestamp"), ("select", "text"), ("json", "json"), ("file", "text"),
    ("relation", "text"), ("geoPoint", "json"), ("password", "text"),
])
def test_sqlite_and_pocketbase_type_names(api_type, dlt_type):
    assert dlt_type_for(api_type, resolve_type_map({})) == dlt_type


def test_html_error_pages_are_summed_up_by_their_title():
    page = b"<!DOCTYPE html>\n<html><head>\n<title>Forbidden</title><link rel=x></head><body>...</body></html>"
    assert _error_detail(page) == "Forbidden"
    assert _error_detail(b"plain text error") == "plain text error"
    assert _error_detail(b'{"message": "The request requires valid record authorization token."}') == (
        "The request requires valid record authorization token.")


class FakeClient:
    """Answers discovery requests from a function of (path, params); records what was asked."""

    def __init__(self, answer: Any):
        self.answer = answer
        self.asked: List[tuple] = []

    def get_json(self, path: str, params: Optional[Dict[str, Any]] = None, **_: Any) -> Any:
        import requests

        from dbsync.http.client import Page

        self.asked.append((path, dict(params or {})))
        return Page(doc=self.answer(path, params or {}), status=200, headers={}, url=path,
                    response=requests.Response())


def test_fields_endpoint_is_asked_once_per_table_and_hidden_fields_are_left_out():
    from dbsync.config.model import SchemaEndpoint
    from dbsync.discovery.discover import _discover_tables, _with_fields

    shape = FieldShape(name="name", type="type", nullable=None, required="notnull", hidden="hidden")
    ep = SchemaEndpoint(path="/{database}.json", tables_selector="tables", primary_key="primary_keys",
                        fields_endpoint=FieldsEndpoint(path="/{database}.json", params={"t": "{table}"},
                                                       data_selector="rows", field=shape))
    fields = {"a": [{"name": "id", "type": "INTEGER", "notnull": 0},
                    {"name": "secret", "type": "TEXT", "notnull": 1, "hidden": True}],
              "b": [{"name": "x", "type": "", "notnull": 1}]}

    def answer(path: str, params: Dict[str, Any]) -> Any:
        if "t" in params:
            return {"rows": fields[params["t"]]}
        return {"tables": [{"name": "a", "primary_keys": ["id"]}, {"name": "b", "primary_keys": []}]}

    client = FakeClient(answer)
    # the table list first, then (after the filters, see test_discovery_cost) the fields
    tables = _with_fields(ep.fields_endpoint, client, "db", _discover_tables(ep, client, "db"))  # type: ignore[arg-type]
    assert [(t.name, t.primary_key) for t in tables] == [("a", ("id",)), ("b", ())]
    assert tables[0].fields == (FieldInfo("id", "INTEGER", True),)
    assert tables[1].fields == (FieldInfo("x", None, False),), "an empty SQLite type means: not said"
    assert client.asked == [("/db.json", {}), ("/db.json", {"t": "a"}), ("/db.json", {"t": "b"})]
