"""Changing data and schema while the server runs (admin API through the Python handle)."""

from __future__ import annotations

import pytest

from dbsync.server import AdminError, ServerSettings
from dbsync.server.timefmt import now_seconds, parse_instant


def _order(**extra):
    order = {"customer_name": "Åsa Ödegaard 🚀", "quantity": 3, "unit_price": "19.9900", "is_paid": True,
             "order_date": "2024-06-01", "created_at": "2024-06-01T08:00:00Z"}
    order.update(extra)
    return order


@pytest.fixture
def server(server_factory):
    return server_factory(ServerSettings(rows_per_table=20))


@pytest.fixture
def api(server, make_api):
    return make_api(server)


def test_insert_assigns_ids_and_updated_at(server, api):
    before = now_seconds()
    ids = server.insert("acme", "orders", [_order(), _order(email=None, tags=[]), _order(id=100)])
    assert ids == [21, 22, 100]
    assert server.insert("acme", "orders", [_order()]) == [101]  # max id + 1
    records = {r["id"]: r for r in server.records("acme", "orders")}
    assert records[21]["customer_name"] == "Åsa Ödegaard 🚀"
    assert records[22]["email"] is None and records[22]["tags"] == []
    assert parse_instant(records[21]["updated_at"]) >= before * 1_000_000
    assert list(records[21])[0] == "id" and "deleted" not in records[21]
    assert [r["id"] for r in api.all_pages(limit=50)][-4:] == [21, 22, 100, 101]


def test_insert_is_validated_and_atomic(server):
    cases = [
        ([_order(quantity="three")], 400, "expected integer"),
        ([_order(unit_price=19.99)], 400, "expected decimal"),
        ([_order(unit_price="1.23456")], 400, "expected decimal(12,4)"),
        ([_order(is_paid=None)], 400, "not nullable"),
        ([_order(order_date="June 1st")], 400, "expected date"),
        ([_order(no_such_field=1)], 400, "unknown field"),
        ([{"quantity": 1}], 400, "missing non-nullable"),
        ([_order(id=5)], 409, "already exists"),
        ([_order(id=50), _order(id=50)], 409, "already exists"),
        ([_order(id="x")], 400, "64-bit integer"),
        ({"not": "a list"}, 400, "JSON list"),
        ([_order(), "nope"], 400, "not a JSON object"),
    ]
    for records, status, message in cases:
        with pytest.raises(AdminError) as info:
            server._admin("POST", "/admin/databases/acme/tables/orders/records", records)
        assert info.value.status == status and message in info.value.message, (records, info.value)
    assert len(server.records("acme", "orders", include_deleted=True)) == 20  # nothing half-inserted


def test_raw_insert_serves_whatever_it_is_given(server, api):
    ids = server.insert("acme", "orders", [
        {"quantity": "lots", "is_paid": None, "surprise": {"x": 1}},
        {"id": 77, "updated_at": "2020-01-01T00:00:00Z", "customer_name": 5},
    ], raw=True)
    assert ids == [21, 77]
    served = {r["id"]: r for r in api.all_pages(limit=100)}
    assert served[21]["quantity"] == "lots" and served[21]["is_paid"] is None and served[21]["surprise"] == {"x": 1}
    assert served[77] == {"id": 77, "updated_at": "2020-01-01T00:00:00Z", "customer_name": 5}
    late = api.json("/v1/resource", updated_since="2019-01-01T00:00:00Z", limit=1)["data"][0]
    assert late["id"] == 77  # a raw record keeps its own (old) updated_at


def test_update_merges_and_bumps(server, api):
    old = {r["id"]: r for r in server.records("acme", "orders")}[4]
    new = server.update("acme", "orders", 4, {"quantity": 42, "email": None})
    assert new["quantity"] == 42 and new["email"] is None
    assert new["customer_name"] == old["customer_name"]
    assert parse_instant(new["updated_at"]) > parse_instant(old["updated_at"])
    assert api.json("/v1/resource", limit=5)["data"][3] == new
    with pytest.raises(AdminError, match="expected integer"):
        server.update("acme", "orders", 4, {"quantity": "x"})
    assert server.update("acme", "orders", 4, {"quantity": "x"}, raw=True)["quantity"] == "x"
    with pytest.raises(AdminError, match="cannot be changed"):
        server.update("acme", "orders", 4, {"id": 5})
    with pytest.raises(AdminError) as info:
        server.update("acme", "orders", 999, {"quantity": 1})
    assert info.value.status == 404


def test_delete_makes_a_tombstone(server, api):
    tombstone = server.delete("acme", "orders", 3)
    assert set(tombstone) == {"id", "updated_at", "deleted"} and tombstone["deleted"] is True
    assert 3 not in [r["id"] for r in server.records("acme", "orders")]
    truth = server.records("acme", "orders", include_deleted=True)
    assert truth[2] == tombstone and len(truth) == 20
    assert api.json("/v1/resource")["total"] == 19
    for again in (lambda: server.delete("acme", "orders", 3), lambda: server.update("acme", "orders", 3, {})):
        with pytest.raises(AdminError) as info:
            again()
        assert info.value.status == 404 and "deleted" in info.value.message
    assert server.insert("acme", "orders", [_order(id=3)]) == [3]  # an id can come back
    assert api.json("/v1/resource")["total"] == 20


def test_add_field(server, api):
    spec = server.add_field("acme", "orders", "loyalty_points", "integer")
    assert spec == {"name": "loyalty_points", "type": "integer", "nullable": True}
    decimal = server.add_field("acme", "orders", "tax", "decimal", nullable=True, precision=8, scale=2)
    assert (decimal["precision"], decimal["scale"]) == (8, 2)
    fields = server.schema("acme")["tables"][0]["fields"]
    assert [f["name"] for f in fields][-2:] == ["loyalty_points", "tax"]
    assert api.json("/v1/databases/acme/schema")["tables"][0]["fields"] == fields
    assert "loyalty_points" not in api.json("/v1/resource", limit=1)["data"][0]  # old rows lack it
    [new_id] = server.insert("acme", "orders", [_order(loyalty_points=12, tax="1.50")])
    assert {r["id"]: r for r in server.records("acme", "orders")}[new_id]["loyalty_points"] == 12
    for bad in ({"name": "tax", "type": "string"}, {"name": "x", "type": "money"}):
        with pytest.raises(AdminError):
            server.add_field("acme", "orders", bad["name"], bad["type"])
    other_db = api.json("/v1/databases/globex/schema")["tables"][0]["fields"]
    assert "loyalty_points" not in [f["name"] for f in other_db]


def test_set_field_lets_the_schema_lie(server, api):
    before = api.json("/v1/resource", limit=3)
    spec = server.set_field("acme", "orders", "quantity", type="string")
    assert spec == {"name": "quantity", "type": "string", "nullable": False}
    spec = server.set_field("acme", "orders", "email", nullable=False)
    assert spec["nullable"] is False and spec["type"] == "string"
    spec = server.set_field("acme", "orders", "discount", type="decimal", precision=5, scale=3)
    assert (spec["type"], spec["precision"], spec["scale"]) == ("decimal", 5, 3)
    fields = {f["name"]: f for f in api.json("/v1/databases/acme/schema")["tables"][0]["fields"]}
    assert fields["quantity"]["type"] == "string" and fields["email"]["nullable"] is False
    assert api.json("/v1/resource", limit=3) == before  # records untouched
    with pytest.raises(AdminError) as info:
        server.set_field("acme", "orders", "nope", type="string")
    assert info.value.status == 404


def test_create_table_and_database(server, api):
    schema = server.create_table("globex", "audit_events", "events", 25)
    assert schema["name"] == "audit_events" and schema["row_count"] == 25
    assert "sequence_no" in [f["name"] for f in schema["fields"]]
    assert api.json("/v1/resource", database="globex", table="audit_events")["total"] == 25
    assert [t["name"] for t in api.json("/v1/databases/globex/schema")["tables"]][-1] == "audit_events"
    empty = server.create_table("globex", "empty", "tickets", 0)
    assert empty["row_count"] == 0
    assert api.json("/v1/resource", database="globex", table="empty")["data"] == []
    for args, status in ((("globex", "audit_events", "events", 1), 409), (("globex", "x", "nope", 1), 400),
                         (("nope", "x", "events", 1), 404), (("globex", "y", "events", -1), 400)):
        with pytest.raises(AdminError) as info:
            server.create_table(*args)
        assert info.value.status == status
    server.create_database("newco", "NewCo Ltd")
    assert [d["id"] for d in server.databases()] == ["acme", "globex", "initech", "newco"]
    assert {"id": "newco", "name": "NewCo Ltd"} in api.json("/v1/databases")["data"]
    assert api.json("/v1/resource", database="newco", table="orders")["total"] == 20
    assert api.get("/v1/resource", api_key="dbsync-limited-key", database="newco", table="orders").status_code == 403


def test_created_tables_are_deterministic(server_factory):
    a, b = server_factory(ServerSettings(rows_per_table=5)), server_factory(ServerSettings(rows_per_table=5))
    a.create_table("acme", "t", "products", 30)
    b.create_table("acme", "t", "products", 30)
    assert a.records("acme", "t") == b.records("acme", "t")


def test_reset_restores_the_seeded_state(server, api):
    seeded = server.records("acme", "orders")
    server.insert("acme", "orders", [_order()])
    server.update("acme", "orders", 1, {"quantity": 9})
    server.delete("acme", "orders", 2)
    server.add_field("acme", "orders", "extra", "string")
    server.create_table("acme", "more", "events", 3)
    server.reset()
    assert server.records("acme", "orders", include_deleted=True) == seeded
    tables = api.json("/v1/databases/acme/schema")["tables"]
    assert [t["name"] for t in tables] == ["orders", "customers", "products"]
    assert "extra" not in [f["name"] for f in tables[0]["fields"]]


@pytest.mark.parametrize("mutate", [
    lambda s: s.update("acme", "orders", 2, {"quantity": 77}),
    lambda s: s.delete("acme", "orders", 2),
    lambda s: s.insert("acme", "orders", [_order(id=0)]),
    lambda s: s.insert("acme", "orders", [_order()]),
    lambda s: s.reset() or s.update("acme", "orders", 2, {"quantity": 77}),
], ids=["update", "delete", "insert-first", "insert-last", "reset-then-update"])
def test_page_cache_is_invalidated(server, api, mutate):
    first = api.get("/v1/resource", limit=1000).content
    assert api.get("/v1/resource", limit=1000).content == first  # served from the cache
    since = api.get("/v1/resource", updated_since="2000-01-01T00:00:00Z", limit=1000).content
    mutate(server)
    assert api.get("/v1/resource", limit=1000).content != first
    after = api.get("/v1/resource", updated_since="2000-01-01T00:00:00Z", limit=1000).content
    assert after != since
    truth = server.records("acme", "orders")
    assert api.json("/v1/resource", limit=1000)["data"] == truth
    assert server.stats()["page_cache"]["hits"] >= 1


def test_records_are_the_api_values(server, api):
    assert server.records("globex", "products") == api.all_pages(limit=7, database="globex", table="products")
