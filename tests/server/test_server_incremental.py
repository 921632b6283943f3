"""``updated_since``: >= an instant, ordered by (updated_at, id), tombstones only in that mode."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbsync.server import ServerSettings
from dbsync.server.timefmt import parse_instant


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _key(record):
    return (_instant(record["updated_at"]), record["id"])


@pytest.fixture(scope="module")
def all_orders(reference_server):
    import requests

    response = requests.get(reference_server.base_url + "/v1/resource",
                            params={"api_key": reference_server.api_key, "limit": 1000}, timeout=10)
    return response.json()["data"]


def test_since_is_inclusive_and_ordered(api, all_orders):
    tied = [ts for ts, n in Counter(r["updated_at"] for r in all_orders).items() if n > 1]
    assert tied, "the generated data must contain ties"
    since = sorted(tied)[len(tied) // 2]
    expected = sorted((r for r in all_orders if _instant(r["updated_at"]) >= _instant(since)), key=_key)
    got = api.all_pages(limit=37, updated_since=since)
    assert got == expected
    assert got[0]["updated_at"] == since and got[1]["updated_at"] == since  # the tie is included, whole
    assert api.json("/v1/resource", updated_since=since, limit=1)["total"] == len(expected)


def test_order_differs_from_id_order(api):
    page = api.json("/v1/resource", updated_since="2000-01-01T00:00:00Z", limit=1000)["data"]
    assert [r["id"] for r in page] != sorted(r["id"] for r in page)
    assert [_key(r) for r in page] == sorted(_key(r) for r in page)


@pytest.mark.parametrize("spelling", [
    "{utc}Z", "{utc}+00:00", "{plus2}+02:00", "{minus5}-05:00", "{utc}.000000Z", "{utc}.0Z", "{utc}z",
])
def test_since_spellings_are_the_same_instant(api, all_orders, spelling):
    since = sorted(r["updated_at"] for r in all_orders)[400]
    instant = _instant(since)
    text = spelling.format(
        utc=instant.strftime("%Y-%m-%dT%H:%M:%S"),
        plus2=(instant + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S"),
        minus5=(instant - dt.timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S"),
    )
    reference = api.json("/v1/resource", updated_since=since, limit=1000)
    assert api.json("/v1/resource", updated_since=text, limit=1000) == reference


def test_unencoded_plus_in_offset_is_accepted(api, all_orders):
    since = sorted(r["updated_at"] for r in all_orders)[300]
    plus = since.replace("Z", "+00:00")
    raw = api.session.get(f"{api.server.base_url}/v1/resource?api_key={api.server.api_key}&updated_since={plus}")
    assert raw.status_code == 200
    assert raw.json() == api.json("/v1/resource", updated_since=since)


def test_fractional_seconds_compare_as_instants(api, all_orders):
    since = sorted(r["updated_at"] for r in all_orders)[500]
    at = api.json("/v1/resource", updated_since=since, limit=1000)["data"]
    after = api.json("/v1/resource", updated_since=since.replace("Z", ".5Z"), limit=1000)["data"]
    assert [r for r in at if r["updated_at"] != since] == after
    before = api.json("/v1/resource", updated_since=since.replace("Z", ".000001Z"), limit=1000)["data"]
    assert before == after


def test_since_in_the_future_is_empty(api):
    body = api.json("/v1/resource", updated_since="2999-01-01T00:00:00Z")
    assert body == {"data": [], "total": 0, "offset": 0, "limit": 100}


def test_tombstones_only_with_updated_since(server_factory, make_api):
    server = server_factory(ServerSettings(rows_per_table=30))
    api = make_api(server)
    tombstone = server.delete("acme", "orders", 7)
    updated = server.update("acme", "orders", 8, {"quantity": 999})
    live = api.all_pages(limit=10)
    assert [r["id"] for r in live] == [i for i in range(1, 31) if i != 7]
    assert all("deleted" not in r for r in live)
    assert next(r for r in live if r["id"] == 8)["quantity"] == 999
    changes = api.json("/v1/resource", updated_since=tombstone["updated_at"])["data"]
    assert [r["id"] for r in changes] == [7, 8]  # same second: ordered by id
    assert changes[0] == {"id": 7, "updated_at": tombstone["updated_at"], "deleted": True}
    assert changes[1] == updated and "deleted" not in changes[1]
    everything = api.json("/v1/resource", updated_since="2000-01-01T00:00:00Z", limit=1000)
    assert everything["total"] == 30  # tombstone counted in updated_since mode
    assert api.json("/v1/resource")["total"] == 29


def test_changes_sort_after_everything(server_factory, make_api):
    server = server_factory(ServerSettings(rows_per_table=50))
    api = make_api(server)
    newest = max(r["updated_at"] for r in server.records("acme", "orders"))
    server.update("acme", "orders", 1, {"quantity": 2})
    ids = server.insert("acme", "orders", [_new_order()])
    tail = api.json("/v1/resource", updated_since=newest, limit=1000)["data"]
    assert [r["id"] for r in tail][-2:] == [1, ids[0]]
    assert all(_instant(r["updated_at"]) >= _instant(newest) for r in tail)


def _new_order(**extra):
    order = {"customer_name": "Zoë Test", "quantity": 1, "unit_price": "10.0000", "is_paid": False,
             "order_date": "2024-05-01", "created_at": "2024-05-01T10:00:00Z"}
    order.update(extra)
    return order


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(0, 999), offset=st.integers(0, 1100), limit=st.integers(1, 1000))
def test_any_page_is_the_right_slice(api, all_orders, index, offset, limit):
    since = sorted(r["updated_at"] for r in all_orders)[index]
    expected = sorted((r for r in all_orders if r["updated_at"] >= since), key=_key)
    page = api.json("/v1/resource", updated_since=since, offset=offset, limit=limit)
    assert page["data"] == expected[offset:offset + limit]
    assert page["total"] == len(expected)
    live = api.json("/v1/resource", offset=offset, limit=limit)
    assert live["data"] == all_orders[offset:offset + limit]


@pytest.mark.parametrize("text,expected", [
    ("2024-01-01T00:00:00Z", 1704067200_000000),
    ("2024-01-01T02:00:00+02:00", 1704067200_000000),
    ("2023-12-31T19:00:00-05:00", 1704067200_000000),
    ("2024-01-01T00:00:00.25Z", 1704067200_250000),
    ("2024-01-01T00:00:00.1234567Z", 1704067200_123456),
    ("2024-01-01 00:00:00Z", 1704067200_000000),
    ("2024-01-01T00:00Z", 1704067200_000000),
    ("2024-01-01T00:00:00", None),
    ("2024-01-01", None),
    ("2024-02-30T00:00:00Z", None),
    ("1704067200", None),
    ("", None),
])
def test_parse_instant(text, expected):
    assert parse_instant(text) == expected
