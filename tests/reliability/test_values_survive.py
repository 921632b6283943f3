"""Issue 6.8: values survive. Property-based tests (hypothesis) over generated records: big
integers, decimals, timestamps with time zones, dates, unicode, empty strings vs nulls, nested
objects and arrays come out of the destination equal to what the server sent.

Two levels: the Arrow conversion alone (many examples, fast), and the whole way through the
reference server, dlt and DuckDB (fewer examples: each is a real sync)."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import orjson
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dbsync.config.model import DeleteSettings
from dbsync.discovery.catalog import FieldInfo, TableInfo
from dbsync.discovery.types import resolve_type_map
from dbsync.errors import Where
from dbsync.source.convert import TableConverter
from support import api_value, assert_same_rows, field_types, reference_config

INT64 = st.integers(min_value=-(2 ** 63), max_value=2 ** 63 - 1)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)  # any unicode but lone surrogates
JSON_SCALAR = st.one_of(st.none(), st.booleans(), INT64, st.floats(allow_nan=False, allow_infinity=False), TEXT)
JSON_VALUE = st.recursive(JSON_SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                              st.dictionaries(TEXT, inner, max_size=4)),
                          max_leaves=12)
INSTANTS = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1),
                        timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=5, minutes=30)),
                                                   timezone(timedelta(hours=-8))]))


def iso(instant: datetime) -> str:
    instant = instant.replace(microsecond=instant.microsecond - instant.microsecond % 1000)
    return instant.isoformat()


DECIMALS = st.decimals(min_value=Decimal("-99999999.9999"), max_value=Decimal("99999999.9999"), places=4,
                       allow_nan=False, allow_infinity=False)

RECORD = st.fixed_dictionaries({
    "customer_name": TEXT,
    "email": st.one_of(st.none(), st.just(""), TEXT),
    "quantity": INT64,
    "unit_price": DECIMALS.map(lambda d: f"{d:.4f}"),
    "discount": st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
    "is_paid": st.booleans(),
    "order_date": st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(date.isoformat),
    "created_at": INSTANTS.map(iso),
    "tags": st.one_of(st.none(), st.lists(TEXT, max_size=5)),
    "shipping": st.one_of(st.none(), st.dictionaries(TEXT, JSON_VALUE, max_size=5)),
    "big_counter": st.one_of(st.none(), INT64),
})

ORDERS = (
    FieldInfo("id", "integer", False), FieldInfo("customer_name", "string", False), FieldInfo("email", "string", True),
    FieldInfo("quantity", "integer", False), FieldInfo("unit_price", "decimal", False, 12, 4),
    FieldInfo("discount", "number", True), FieldInfo("is_paid", "boolean", False), FieldInfo("order_date", "date", False),
    FieldInfo("created_at", "datetime", False), FieldInfo("updated_at", "datetime", False),
    FieldInfo("tags", "array", True), FieldInfo("shipping", "json", True), FieldInfo("big_counter", "integer", True),
)
TYPES = {f.name: f.api_type for f in ORDERS}


def arrow_value(value, api_type):
    if value is None:
        return None
    if api_type in ("json", "array"):
        return orjson.loads(value)
    return value


@settings(max_examples=150, deadline=None)
@given(st.lists(RECORD, min_size=1, max_size=30))
def test_conversion_keeps_every_value(records):
    for i, record in enumerate(records, start=1):
        record["id"] = i
        record["updated_at"] = "2026-01-01T00:00:00Z"
    # through JSON, as the API would send them
    records = orjson.loads(orjson.dumps(records))
    converter = TableConverter(TableInfo("orders", ("id",), "updated_at", ORDERS), type_map=resolve_type_map({}),
                               deletes=DeleteSettings(), where=Where("db", "orders"), primary_key=("id",))
    table = converter.convert(records, "page 1")
    assert not [c for c in table.column_names if c.endswith("__v_text")], "every value fits its declared type"
    for record, row in zip(records, table.to_pylist()):
        for name, api_type in TYPES.items():
            expected = api_value(record.get(name), api_type)
            actual = arrow_value(row[name], api_type)
            if isinstance(actual, datetime):
                actual = actual.astimezone(timezone.utc)
            assert actual == expected, (name, record.get(name), row[name])


_tables = itertools.count()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(RECORD, min_size=1, max_size=15))
def test_values_come_out_of_the_destination_as_the_server_sent_them(values_server, workspace, records):
    server = values_server
    name = f"values_{next(_tables)}"
    server.create_table("acme", name, "orders", 0)
    server.insert("acme", name, records, raw=True)
    result = workspace.sync(reference_config(server.base_url), databases=["acme"], tables=[name],
                            pipeline_name=name)
    assert result.ok, [t.error.one_line() for t in result.failed if t.error]
    assert_same_rows(workspace.rows(f"acme__{name}"), server.records("acme", name),
                     field_types(server.schema("acme"), name))



@pytest.fixture(scope="module")
def values_server():
    from dbsync.server import ReferenceServer, ServerSettings

    with ReferenceServer(ServerSettings(seed=61, databases=1, tables_per_database=1, rows_per_table=1)) as server:
        yield server


@pytest.fixture(autouse=True)
def _key(values_server, monkeypatch):
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", values_server.api_key)
