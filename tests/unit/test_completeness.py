"""The completeness rules on their own (dbsync.source.completeness): where totals and page sizes
are found, and the verdict at the end of a table. The real syncs are in
tests/integration/test_paging_completeness.py."""

from __future__ import annotations

import logging

import pytest
from dlt.sources.helpers.rest_client.paginators import HeaderLinkPaginator, OffsetPaginator

from dbsync.errors import IncompleteReadError, Where
from dbsync.source.completeness import PagingTally, body_total, header_total, requested_page_size

WHERE = Where(database="acme", table="orders")


@pytest.mark.parametrize("headers,expected", [
    ({"X-Total-Count": "260"}, (260, "header X-Total-Count")),
    ({"x-total": "7"}, (7, "header X-Total")),
    ({"Total-Records": " 12 "}, (12, "header Total-Records")),
    ({"X-Total-Count": "about 300"}, None),
    ({"Link": "<x>; rel=next"}, None),
    (None, None),
])
def test_total_headers(headers, expected):
    assert header_total(headers) == expected


@pytest.mark.parametrize("doc,expected", [
    ({"data": [], "total": 260}, (260, "body 'total'")),
    ({"items": [], "totalItems": 5, "totalPages": 1}, (5, "body 'totalItems'")),
    ({"data": [], "meta": {"total_count": 9}}, (9, "body 'meta.total_count'")),
    ({"data": [], "total": True}, None),
    ({"data": [], "totalItems": -1}, None),  # "not counted"
    ([{"id": 1}], None),
])
def test_total_body_keys(doc, expected):
    assert body_total(doc) == expected


@pytest.mark.parametrize("params,url,paginator,expected", [
    ({"limit": 100}, "/v1/resource", None, (100, "limit=100")),
    ({"per_page": "50"}, "/items", None, (50, "per_page=50")),
    ({"perPage": 500}, "/items", None, (500, "perPage=500")),
    ({}, "http://h/items?page%5Bsize%5D=25&page%5Bnumber%5D=2", None, (25, "page[size]=25")),
    ({"_size": "max"}, "/db/t.json", None, None),
    ({"database": "acme"}, "/v1/resource", HeaderLinkPaginator(), None),
    ({}, "/v1/resource", OffsetPaginator(limit=30), (30, "the paginator's limit 30")),
])
def test_requested_page_size(params, url, paginator, expected):
    assert requested_page_size(params, url, paginator) == expected


def test_fewer_rows_than_the_total_fail_naming_table_and_counts():
    tally = PagingTally()
    tally.page(100, page_size=(100, "limit=100"), total=(260, "body 'total'"))
    with pytest.raises(IncompleteReadError) as info:
        tally.verdict(WHERE)
    assert "table 'orders': 100 of the 260 rows the API announced (body 'total') arrived" in info.value.one_line()
    assert info.value.exit_code == 8


def test_the_total_announced_last_counts():
    tally = PagingTally()
    tally.page(100, total=(260, "body 'total'"))
    tally.page(55, total=(155, "body 'total'"))  # rows deleted while paging
    assert tally.verdict(WHERE) is None


def test_an_end_seen_by_the_reader_makes_a_high_total_an_estimate(caplog):
    caplog.set_level(logging.INFO, logger="dbsync")
    tally = PagingTally(pages=4, received=35, total=40, total_source="body 'total'", end_seen=True)
    assert tally.verdict(WHERE) is None
    assert "announced 40 rows" in caplog.text


@pytest.mark.parametrize("pages,expected", [
    ([(100, (100, "limit=100"))], "page 1 came back full (100 records, limit=100)"),
    ([(100, None), (100, None)], "page 2 came back full (100 records, as many as the largest page before it)"),
    ([(100, None)], None),  # one page of unknown size: nothing to compare with
    ([(100, (100, "limit=100")), (40, (100, "limit=100"))], None),
    ([(100, None), (60, None)], None),
    ([(0, (100, "limit=100"))], None),
])
def test_a_full_last_page_without_a_total_warns(pages, expected):
    tally = PagingTally()
    for count, size in pages:
        tally.page(count, page_size=size)
    warning = tally.verdict(WHERE)
    if expected is None:
        assert warning is None
    else:
        assert warning is not None and expected in warning and "table 'orders'" in warning


def test_a_total_that_is_met_proves_a_full_last_page_complete():
    tally = PagingTally()
    tally.page(100, page_size=(100, "limit=100"), total=(200, "header X-Total-Count"))
    tally.page(100, page_size=(100, "limit=100"), total=(200, "header X-Total-Count"))
    assert tally.verdict(WHERE) is None
