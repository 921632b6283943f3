"""The generated data: deterministic, varied across databases, and as awkward as promised."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from decimal import Decimal

import orjson
import pytest

from dbsync.server import ServerSettings
from dbsync.server.datagen import KIND_ORDER, KINDS, generate_table, table_names, validate_value
from dbsync.server.settings import database_ids

TIMESTAMP = re.compile(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")
DATE = re.compile(r"\A\d{4}-\d\d-\d\d\Z")


@pytest.mark.parametrize("path,params", [
    ("/v1/resource", {"limit": 1000}),
    ("/v1/resource", {"database": "globex", "table": "products", "limit": 7, "offset": 500}),
    ("/v1/resource", {"database": "acme", "table": "customers", "updated_since": "2024-02-01T00:00:00Z"}),
    ("/v1/databases/initech/schema", {}),
    ("/v1/databases", {}),
])
def test_same_seed_same_bytes(server_factory, make_api, api, path, params):
    other = make_api(server_factory(ServerSettings()))
    a, b = api.get(path, **params), other.get(path, **params)
    assert a.status_code == 200 and a.content == b.content


def test_different_seed_different_values():
    a = generate_table(KINDS["orders"], 1, "acme", "orders", 50).bodies
    b = generate_table(KINDS["orders"], 2, "acme", "orders", 50).bodies
    assert a != b
    assert generate_table(KINDS["orders"], 1, "acme", "orders", 50).bodies == a


def test_databases_share_names_and_ids_but_not_values(api):
    pages = {db: api.json("/v1/resource", database=db, table="orders", limit=20)["data"]
             for db in ("acme", "globex", "initech")}
    assert [r["id"] for r in pages["acme"]] == [r["id"] for r in pages["globex"]] == list(range(1, 21))
    names = {db: [r["customer_name"] for r in rows] for db, rows in pages.items()}
    assert names["acme"] != names["globex"] != names["initech"]
    assert [r["updated_at"] for r in pages["acme"]] != [r["updated_at"] for r in pages["globex"]]


def test_database_ids_are_realistic_then_numbered():
    ids = [i for i, _ in database_ids(10)]
    assert ids == ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka", "db_09", "db_10"]


def test_table_kinds_cycle_with_unique_names():
    names = table_names(12)
    assert [n for n, _ in names][:6] == ["orders", "customers", "products", "events", "tickets", "orders_2"]
    assert len({n for n, _ in names}) == 12
    assert [k for _, k in names][5] == "orders"


@pytest.mark.parametrize("kind", KIND_ORDER)
def test_every_value_matches_the_declared_schema(kind):
    generated = generate_table(KINDS[kind], 42, "acme", kind, 1500)
    fields = KINDS[kind].fields
    assert 6 <= len(fields) <= 13 and fields[0].name == "id"
    for index, body in enumerate(generated.bodies):
        record = orjson.loads(body)
        assert list(record) == [f.name for f in fields]
        assert record["id"] == index + 1
        assert TIMESTAMP.match(record["updated_at"])
        assert generated.updated_us[index] == int(
            dt.datetime.fromisoformat(record["updated_at"].replace("Z", "+00:00")).timestamp()) * 1_000_000
        for spec in fields:
            assert validate_value(spec, record[spec.name]) is None, (kind, spec.name, record[spec.name])
        assert orjson.dumps(record) == body  # stored bytes are exactly what orjson would write


def test_orders_values_are_awkward_on_purpose():
    rows = [orjson.loads(b) for b in generate_table(KINDS["orders"], 42, "acme", "orders", 5000).bodies]
    names = [r["customer_name"] for r in rows]
    assert any(any(ord(c) > 0x2E80 for c in n) for n in names)  # CJK
    assert any(any(0x1F300 <= ord(c) for c in n) for n in names)  # emoji
    assert any(any(c in "éöüøåç" for c in n) for n in names)  # accents
    null_email = sum(r["email"] is None for r in rows) / len(rows)
    assert 0.15 < null_email < 0.25
    assert all(re.fullmatch(r"\d+\.\d{4}", r["unit_price"]) for r in rows)
    assert all(Decimal(r["unit_price"]) > 0 for r in rows)
    big = [r["big_counter"] for r in rows if r["big_counter"] is not None]
    assert sum(b > 2**53 for b in big) > len(big) / 2
    assert all(-(2**63) <= b < 2**63 for b in big)
    assert rows[0]["big_counter"] == 2**53 + 1 and rows[1]["big_counter"] == 2**63 - 1
    assert any(r["tags"] == [] for r in rows) and any(r["tags"] is None for r in rows)
    assert any(r["tags"] and len(r["tags"]) > 1 for r in rows)
    shipped = [r["shipping"] for r in rows if r["shipping"] is not None]
    assert shipped and len(shipped) < len(rows)
    assert all(isinstance(s["address"], dict) and isinstance(s["items"], list) for s in shipped)
    assert all(isinstance(r["discount"], float) for r in rows if r["discount"] is not None)
    assert all(DATE.match(r["order_date"]) and r["order_date"] == r["created_at"][:10] for r in rows)
    assert all(r["created_at"] <= r["updated_at"] for r in rows)
    assert {type(r["is_paid"]) for r in rows} == {bool}


def test_updated_at_ties_and_is_not_monotonic_in_id():
    generated = generate_table(KINDS["orders"], 42, "acme", "orders", 2000)
    counts = Counter(generated.updated_us)
    assert sum(1 for c in counts.values() if c > 1) > 100  # many ties...
    assert max(counts.values()) <= 8  # ...in small runs
    assert generated.updated_us != sorted(generated.updated_us)


def test_empty_strings_nulls_and_long_strings():
    customers = [orjson.loads(b) for b in generate_table(KINDS["customers"], 42, "acme", "customers", 3000).bodies]
    phones = [c["phone"] for c in customers]
    assert "" in phones and None in phones
    assert "" in [c["country_code"] for c in customers]
    products = [orjson.loads(b) for b in generate_table(KINDS["products"], 42, "acme", "products", 3000).bodies]
    descriptions = [p["description"] for p in products]
    assert "" in descriptions and None in descriptions
    assert max(len(d) for d in descriptions if d) >= 2048


def test_a_big_table_is_generated_whole():
    """100,000 rows, each a record of its own (how fast: bench/bench_server.py, never a timed test)."""
    generated = generate_table(KINDS["orders"], 42, "acme", "orders", 100_000)
    assert len(generated.bodies) == 100_000
    assert len(set(generated.bodies[:1000])) == 1000


def test_default_table_rows_only_resizes_the_default_table(server_factory, make_api):
    api = make_api(server_factory(ServerSettings(default_table_rows=2500, rows_per_table=40)))
    schema = {t["name"]: t["row_count"] for t in api.json("/v1/databases/acme/schema")["tables"]}
    assert schema == {"orders": 2500, "customers": 40, "products": 40}
    assert api.json("/v1/resource")["total"] == 2500
    assert api.json("/v1/resource", database="globex", table="orders")["total"] == 40
