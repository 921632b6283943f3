"""Cursors of several fields (the first non-empty value), filter templates naming them, the
first run without a filter, lag in the cursor's own unit, and declared types the map lacks."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from dbsync.config import parse_config
from dbsync.config.model import DeleteSettings, IncrementalSettings
from dbsync.discovery.catalog import FieldInfo, TableInfo
from dbsync.discovery.types import resolve_type_map
from dbsync.errors import ConfigError, Where
from dbsync.source.convert import TableConverter
from dbsync.source.incremental import CursorState, request_params
from dbsync.source.readers import PageProcessor, PageRequest, row_hash
from support import reference_config


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", "test-key-123")


def processor(fields: List[FieldInfo], cursor: Any) -> PageProcessor:
    table = TableInfo("t", ("id",), fields=tuple(fields))
    converter = TableConverter(table, type_map=resolve_type_map({}), deletes=DeleteSettings(mode="ignore"),
                               where=Where(table="t"), primary_key=("id",))
    return PageProcessor(converter=converter, data_selector=None, where=Where(table="t"), primary_key=("id",),
                         cursor_field=cursor)


TS = [FieldInfo("id", "integer", False), FieldInfo("updated", "datetime"), FieldInfo("created", "datetime")]


def test_the_cursor_is_the_first_non_empty_field_for_max_boundary_and_counts():
    p = processor(TS, ("updated", "created"))
    records: List[Dict[str, Any]] = [
        {"id": 1, "updated": None, "created": "2024-03-01T00:00:00Z"},
        {"id": 2, "updated": "", "created": "2024-05-01T00:00:00Z"},  # "" is no value
        {"id": 3, "updated": "2024-04-01T00:00:00Z", "created": "2024-01-01T00:00:00Z"},
        {"id": 4, "updated": None, "created": None},
        {"id": 5, "created": "2024-05-01T00:00:00Z"},
    ]
    result = p.process_records(records, PageRequest("/", {}), len(records))
    assert result.cursor_max == "2024-05-01T00:00:00Z"
    assert result.boundary == [row_hash(records[1]), row_hash(records[4])]
    assert (result.no_cursor, result.unfit_cursor) == (1, 0)
    # the next run drops unchanged rows at the boundary, compared by the same coalesced value
    p.skip_cursor, p.skip_hashes = result.cursor_max, set(result.boundary)
    again = p.process_records(records, PageRequest("/", {}), len(records))
    assert sorted(again.table["id"].to_pylist()) == [1, 3, 4]


def test_a_single_text_cursor_treats_empty_strings_as_no_value():
    p = processor([FieldInfo("id", "integer"), FieldInfo("version", "string")], "version")
    result = p.process_records([{"id": 1, "version": ""}, {"id": 2, "version": "b"}], PageRequest("/", {}), 2)
    assert (result.cursor_max, result.no_cursor) == ("b", 1)


def test_cursor_fields_of_different_types_still_compare():
    p = processor([FieldInfo("id", "integer"), FieldInfo("updated", "datetime"), FieldInfo("seq", "integer")],
                  ["updated", "seq"])
    records = [{"id": 1, "updated": "2024-01-01T00:00:00Z", "seq": 1}, {"id": 2, "updated": None, "seq": 5}]
    result = p.process_records(records, PageRequest("/", {}), 2)
    assert result.cursor_max is not None and result.no_cursor == 0


def test_cursor_values_that_do_not_fit_are_counted_apart_from_empty_ones():
    table = TableInfo("t", ("id",), fields=tuple(TS))
    converter = TableConverter(table, type_map=resolve_type_map({"datetime": "date"}),
                               deletes=DeleteSettings(mode="ignore"), where=Where(table="t"), primary_key=("id",))
    p = PageProcessor(converter=converter, data_selector=None, where=Where(table="t"), primary_key=("id",),
                      cursor_field="updated")
    records = [{"id": 1, "updated": "2024-01-01T10:00:00Z"}, {"id": 2, "updated": None}]
    result = p.process_records(records, PageRequest("/", {}), 2)
    assert result.cursor_max is None
    assert (result.unfit_cursor, result.no_cursor, result.unfit_example) == (1, 1, "2024-01-01T10:00:00Z")


def test_templates_name_each_cursor_field():
    from dbsync.source.incremental import cursor_value

    settings = IncrementalSettings(params={
        "filter": "({cursor_field} >= '{cursor}' || ({cursor_field} = '' && {cursor_field[1]} >= '{cursor}'))",
        "sort": "{cursor_field[0]},{cursor_field[1]}"})
    assert request_params(settings, "2024-01-02 03:04:05.678Z", ("updated", "created")) == {
        "filter": "(updated >= '2024-01-02 03:04:05.678Z' || (updated = '' && created >= '2024-01-02 03:04:05.678Z'))",
        "sort": "updated,created"}
    assert cursor_value({"a": "", "b": None, "c": 3}, ("a", "b", "c")) == 3


def test_cursor_field_lists_parse_everywhere():
    from dbsync.discovery.discover import _discovered_cursor

    base = reference_config("http://127.0.0.1:1")
    cfg = parse_config({**base, "incremental": {"param": "updated_since", "cursor_field": ["updated_at", "created_at"]}})
    assert cfg.incremental.cursor_field == ("updated_at", "created_at")
    listed = parse_config({**base, "tables": {"list": [{"name": "x", "cursor_field": ["u", "c"]}, "y"]}})
    assert listed.tables.listed[0].cursor_field == ("u", "c")
    assert _discovered_cursor(["updated", "created"]) == ("updated", "created")
    assert _discovered_cursor("updated") == "updated" and _discovered_cursor(["updated"]) == "updated"
    assert _discovered_cursor([]) is None and _discovered_cursor(5) is None
    with pytest.raises(ConfigError, match="cursor_field"):
        parse_config({**base, "incremental": {"cursor_field": ["a", "a"]}})
    with pytest.raises(ConfigError, match=r"cursor_field\[N\]"):
        parse_config({**base, "incremental": {"params": {"f": "{cursor} {cursor_fields}"}}})


def test_an_index_past_the_cursor_fields_is_a_config_error():
    from dbsync.discovery.catalog import Catalog, DatabaseInfo
    from dbsync.source.jobs import build_jobs

    base = reference_config("http://127.0.0.1:1")
    cfg = parse_config({**base, "incremental": {"params": {"f": "{cursor_field[1]} >= '{cursor}'"}}})
    one = Catalog((DatabaseInfo("acme", tables=(TableInfo("orders", ("id",), "updated_at"),)),))
    with pytest.raises(ConfigError, match=r"\{cursor_field\[1\]\}.*acme.orders has 1 field"):
        build_jobs(cfg, one)
    two = Catalog((DatabaseInfo("acme", tables=(TableInfo("orders", ("id",), ("updated_at", "created_at")),)),))
    assert build_jobs(cfg, two)[0].cursor_fields == ("updated_at", "created_at")


def test_first_run_has_no_filter_unless_an_initial_value_is_set():
    assert CursorState().request_value(IncrementalSettings()) is None
    assert CursorState().request_value(IncrementalSettings(initial_value="2020-01-01T00:00:00Z")) == \
        "2020-01-01T00:00:00Z"


def test_lag_is_applied_in_the_cursors_own_unit_and_sent_as_a_whole_number():
    millis = IncrementalSettings(value_format="epoch_millis", lag_seconds=60)
    assert CursorState(1796237692687).request_value(millis) == "1796237632687"
    assert CursorState("1796237692687").request_value(millis) == "1796237632687"
    assert CursorState("2026-12-01T00:01:00Z").request_value(millis) == str(1796083200000)
    seconds = IncrementalSettings(value_format="epoch_seconds", lag_seconds=1.5)
    assert CursorState(1796237692).request_value(seconds) == "1796237690"
    assert CursorState(1796237692.25).request_value(IncrementalSettings(value_format="epoch_seconds")) == "1796237692"


def test_a_field_of_an_unknown_declared_type_is_inferred_like_an_undeclared_one():
    table = TableInfo("t", ("id",), fields=(FieldInfo("id", "integer", False), FieldInfo("name", "citext"),
                                             FieldInfo("n", "int4range"), FieldInfo("at", "tstz"),
                                             FieldInfo("doc", "hstore")))
    converter = TableConverter(table, type_map=resolve_type_map({}), deletes=DeleteSettings(mode="ignore"),
                               where=Where(table="t"), primary_key=("id",))
    out = converter.convert([{"id": 1, "name": "hello", "n": 1, "at": "2026-01-02T03:04:05Z", "doc": {"a": 1}},
                             {"id": 2, "name": None, "n": None, "at": None, "doc": None}], "page 1")
    assert out["name"].to_pylist() == ["hello", None]
    assert out["n"].to_pylist() == [1, None] and str(out["n"].type) == "int64"
    assert str(out["at"].type) == "timestamp[us, tz=UTC]"
    assert converter.take_new_hints() == {"doc": {"data_type": "json"}}


def test_a_cursor_read_without_the_filter_is_settled_at_the_runs_start():
    from datetime import datetime, timezone

    from dbsync.source.incremental import settle_cursor

    start = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert settle_cursor("2025-06-01T00:00:00Z", start, "iso") == "2025-06-01T00:00:00Z"
    assert settle_cursor("2026-01-01 12:00:30.123Z", start, "iso") == "2026-01-01 11:58:00.000Z"
    assert settle_cursor(1767268830000, start, "epoch_millis") == 1767268680000
    assert settle_cursor(1767268830, start, "epoch_seconds") == 1767268680
    assert settle_cursor(99, start, "iso") == 99  # a version counter: no clock to compare with
    assert settle_cursor("2026-01-01T12:00:30Z", None, "iso") == "2026-01-01T12:00:30Z"


def test_pages_in_cursor_order_are_recognised_by_position():
    from dbsync.source.incremental import in_cursor_order, lower

    pages = [(100, "2024-01-03T00:00:00Z", "2024-01-04T00:00:00Z", True),
             (0, "2024-01-01T00:00:00Z", "2024-01-03T00:00:00Z", True)]
    assert in_cursor_order(pages)
    assert not in_cursor_order(pages + [(200, "2024-01-02T00:00:00Z", "2024-01-05T00:00:00Z", True)])
    assert not in_cursor_order([(0, "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", False)])
    assert lower(None, "b") == "b" and lower("2024-01-02T00:00:00Z", "2024-01-01T00:00:00Z") == "2024-01-01T00:00:00Z"
