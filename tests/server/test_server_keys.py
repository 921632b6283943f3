"""What a key scan needs of the server: deletes without tombstones, a ``fields`` selector, paging by id.

Real servers on ephemeral ports (``server_factory``), read over HTTP like a client would.
"""

from __future__ import annotations

import orjson
import pytest

from dbsync.server import AdminError, ServerSettings
from dbsync.server.timefmt import format_timestamp

OLD = "2000-01-01T00:00:00Z"  # before every generated updated_at: the whole table since then


def _order(**extra):
    order = {"customer_name": "Zoë", "quantity": 1, "unit_price": "1.0000", "is_paid": False,
             "order_date": "2024-06-01", "created_at": "2024-06-01T08:00:00Z"}
    order.update(extra)
    return order


@pytest.fixture
def plain(server_factory):
    """A server without tombstones (as most real APIs), 30 rows per table."""
    return server_factory(ServerSettings(rows_per_table=30, tombstones=False))


def test_without_tombstones_a_delete_is_gone_everywhere(plain, make_api):
    api = make_api(plain)
    before = api.json("/v1/resource", updated_since=OLD, limit=1000)
    assert before["total"] == 30 and any(r["id"] == 7 for r in before["data"])
    answer = plain.delete("acme", "orders", 7)
    assert answer["id"] == 7 and answer["deleted"] is True  # the admin call still says what it did
    assert [r["id"] for r in api.all_pages(limit=10)] == [i for i in range(1, 31) if i != 7]
    assert api.json("/v1/resource")["total"] == 29
    changes = api.json("/v1/resource", updated_since=OLD, limit=1000)
    assert changes["total"] == 29 and 7 not in [r["id"] for r in changes["data"]]
    assert not [r for r in changes["data"] if r.get("deleted")]  # no tombstone, not even the newest change
    since_delete = api.json("/v1/resource", updated_since=answer["updated_at"], limit=1000)
    assert since_delete == {"data": [], "total": 0, "offset": 0, "limit": 1000}
    truth = plain.records("acme", "orders", include_deleted=True)
    assert len(truth) == 29 and 7 not in [r["id"] for r in truth]
    assert plain.schema("acme")["tables"][0]["row_count"] == 29
    assert plain.stats()["tables"]["acme.orders"]["tombstones"] == 0
    for again in (lambda: plain.delete("acme", "orders", 7), lambda: plain.update("acme", "orders", 7, {})):
        with pytest.raises(AdminError) as info:
            again()
        assert info.value.status == 404 and "not found" in info.value.message


def test_without_tombstones_ids_are_not_reused_and_indexes_hold(plain, make_api):
    api = make_api(plain)
    plain.delete("acme", "orders", 30)  # the highest id: max id must still count it
    assert plain.insert("acme", "orders", [_order()]) == [31]
    plain.delete("acme", "orders", 31)
    assert plain.insert("acme", "orders", [_order()]) == [32]
    assert plain.insert("acme", "orders", [_order(id=30)]) == [30]  # an explicit id may come back
    updated = plain.update("acme", "orders", 30, {"quantity": 9})
    ids = [r["id"] for r in api.all_pages(limit=7)]
    assert ids == list(range(1, 31)) + [32]
    changes = api.all_pages(limit=7, updated_since=OLD)
    assert sorted(r["id"] for r in changes) == ids and not [r for r in changes if r.get("deleted")]
    assert {r["id"]: r for r in changes}[30] == updated
    # every record in exactly one place of each index, paged or not
    assert api.json("/v1/resource", limit=1000)["data"] == plain.records("acme", "orders", include_deleted=True)


def test_tombstones_stay_the_default(server_factory, make_api):
    server = server_factory(ServerSettings(rows_per_table=5))
    api = make_api(server)
    tombstone = server.delete("acme", "orders", 2)
    assert api.json("/v1/resource", updated_since=tombstone["updated_at"])["data"] == [tombstone]
    assert len(server.records("acme", "orders", include_deleted=True)) == 5


def test_delete_invalidates_cached_pages(plain, make_api):
    api = make_api(plain)
    for _ in range(2):  # the second read is served from the page cache
        assert api.json("/v1/resource", limit=5, fields="id")["data"][1] == {"id": 2}
    plain.delete("acme", "orders", 2)
    assert api.json("/v1/resource", limit=5, fields="id")["data"][1] == {"id": 3}
    assert api.json("/v1/resource", limit=5)["data"][1]["id"] == 3
    assert plain.stats()["page_cache"]["hits"] >= 1


def test_fields_id_is_the_key_listing(server_factory, make_api):
    server = server_factory(ServerSettings(rows_per_table=25, total_header="X-Total-Count"))
    api = make_api(server)
    server.delete("acme", "orders", 4)
    full = api.get("/v1/resource", offset=10, limit=10)
    keys = api.get("/v1/resource", offset=10, limit=10, fields="id")
    assert keys.status_code == full.status_code == 200
    body = orjson.loads(keys.content)
    assert body == {"data": [{"id": r["id"]} for r in orjson.loads(full.content)["data"]],
                    "total": 24, "offset": 10, "limit": 10}
    assert keys.headers["X-Total-Count"] == full.headers["X-Total-Count"] == "24"
    assert len(keys.content) * 5 < len(full.content)  # the point of it: far fewer bytes
    assert [r["id"] for r in api.all_pages(limit=10, fields="id")] == [i for i in range(1, 26) if i != 4]
    assert keys.content.startswith(b'{"data":[{"id":12},{"id":13}')  # compact, like the other pages


def test_fields_pick_keys_in_record_order(server_factory, make_api):
    server = server_factory(ServerSettings(rows_per_table=8))
    api = make_api(server)
    truth = server.records("acme", "orders")
    page = api.json("/v1/resource", fields="updated_at, id,customer_name,id")["data"]  # spaces and repeats are fine
    assert page == [{"id": r["id"], "customer_name": r["customer_name"], "updated_at": r["updated_at"]}
                    for r in truth]
    assert [list(r) for r in page][0] == ["id", "customer_name", "updated_at"]
    emails = api.json("/v1/resource", fields="email")["data"]
    assert emails == [{"email": r["email"]} for r in truth]  # a null stays a null
    server.add_field("acme", "orders", "points", "integer")
    [new] = server.insert("acme", "orders", [_order(points=3)])
    assert api.json("/v1/resource", fields="id,points")["data"][-2:] == [{"id": 8}, {"id": new, "points": 3}]


def test_fields_combine_with_updated_since(server_factory, make_api):
    server = server_factory(ServerSettings(rows_per_table=10))
    api = make_api(server)
    changed = server.update("acme", "orders", 3, {"quantity": 77})
    tombstone = server.delete("acme", "orders", 5)
    since = changed["updated_at"]
    assert api.json("/v1/resource", updated_since=since, fields="id")["data"] == [
        {"id": 3}, {"id": 5, "deleted": True}]  # a tombstone stays recognisable
    assert api.json("/v1/resource", updated_since=since, fields="id,quantity")["data"] == [
        {"id": 3, "quantity": 77}, {"id": 5, "deleted": True}]
    all_changes = api.all_pages(limit=3, updated_since=OLD, fields="id,updated_at")
    assert all_changes[-2:] == [{"id": 3, "updated_at": changed["updated_at"]},
                                {"id": 5, "updated_at": tombstone["updated_at"], "deleted": True}]
    assert len(all_changes) == 10


@pytest.mark.parametrize("value,message", [
    ("nope", "unknown field 'nope' in table 'orders'"),
    ("id,deleted", "unknown field 'deleted'"),
    ("", "must name at least one field"),
    (" , ", "must name at least one field"),
])
def test_bad_fields_are_a_400_naming_them(api, value, message):
    response = api.get("/v1/resource", fields=value)
    assert response.status_code == 400, response.text
    error = orjson.loads(response.content)["error"]
    assert error["code"] == "bad_request" and message in error["message"] and "fields" in error["message"]


def test_fields_on_another_table(api):
    page = api.json("/v1/resource", database="globex", table="customers", fields="id,updated_at", limit=3)
    assert [list(r) for r in page["data"]] == [["id", "updated_at"]] * 3 and page["total"] == 1000


def test_plain_paging_is_ordered_by_id_whatever_the_order_of_changes(plain, make_api):
    api = make_api(plain)
    plain.insert("acme", "orders", [_order(id=100)])
    plain.insert("acme", "orders", [_order(id=50), _order(id=40)])
    plain.update("acme", "orders", 1, {"quantity": 5})  # the newest change, still first by id
    plain.delete("acme", "orders", 20)
    plain.insert("acme", "orders", [_order(id=20, updated_at=format_timestamp(0))], raw=True)
    expected = list(range(1, 31)) + [40, 50, 100]
    assert [r["id"] for r in api.all_pages(limit=4)] == expected
    assert [r["id"] for r in api.all_pages(limit=4, fields="id")] == expected


def test_tombstones_option_reaches_a_process_server(server_factory, make_api):
    from dbsync.cli.serve import build_settings

    assert build_settings(tombstones=False).tombstones is False and build_settings().tombstones is True
    with pytest.raises(ValueError, match="tombstones"):
        ServerSettings(tombstones="no")
    server = server_factory(ServerSettings(rows_per_table=4, tombstones=False), mode="process")
    server.delete("acme", "orders", 2)
    changes = make_api(server).json("/v1/resource", updated_since=OLD, fields="id")["data"]
    assert sorted(changes, key=lambda r: r["id"]) == [{"id": 1}, {"id": 3}, {"id": 4}]


def test_request_log_counts_body_bytes(server_factory, make_api):
    server = server_factory(ServerSettings(rows_per_table=50))
    api = make_api(server)
    full = api.get("/v1/resource", limit=50)
    keys = api.get("/v1/resource", limit=50, fields="id")
    bad = api.get("/v1/resource", fields="nope")
    head = api.session.head(server.base_url + "/v1/resource", params={"api_key": server.api_key})
    assert head.status_code == 200
    assert [e.bytes for e in server.requests()] == [len(full.content), len(keys.content), len(bad.content), 0]
