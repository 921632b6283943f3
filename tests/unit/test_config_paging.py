"""Config validation of the paging shapes dlt does not ship: the ``header_next_url`` paginator
(registered through dlt's register_paginator, so dlt's own validation accepts it) and an offset
paginator's ``total: {header, method}``. Valid configs parse unchanged; invalid ones fail with one
line naming the key."""

from __future__ import annotations

import copy

import pytest

from dbsync.config import parse_config
from dbsync.config.paging import TotalSource, total_source
from dbsync.source.completeness import header_total
from support import config_error_line, original_config, reference_config

BASE = "http://api.example.com"
PAGINATOR = "resources[0].endpoint.paginator"


@pytest.fixture(autouse=True)
def secrets_env(monkeypatch):
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", "test-key-123")


def with_paginator(paginator, base=None, where="resource"):
    config = copy.deepcopy(base or original_config(BASE))
    if where == "resource":
        config["resources"][0]["endpoint"]["paginator"] = paginator
    elif where == "client":
        config["resources"][0]["endpoint"].pop("paginator")
        config["client"]["paginator"] = paginator
    elif where == "defaults":
        config["resources"][0]["endpoint"].pop("paginator")
        config["resource_defaults"]["endpoint"] = {"paginator": paginator}
    elif where == "databases":
        config["databases"]["discover"]["paginator"] = paginator
    return config


OFFSET = {"type": "offset", "limit": 100, "total_path": None}

VALID = [
    ("next-url", with_paginator({"type": "header_next_url", "header": "Next-Page"})),
    ("next-url-default-header", with_paginator({"type": "header_next_url"})),
    ("next-url-shorthand", with_paginator("header_next_url")),
    ("next-url-on-client", with_paginator({"type": "header_next_url", "header": "X-Next"}, where="client")),
    ("next-url-in-defaults", with_paginator({"type": "header_next_url", "header": "X-Next"}, where="defaults")),
    ("next-url-discovery", with_paginator({"type": "header_next_url"}, reference_config(BASE), where="databases")),
    ("total-get", with_paginator({**OFFSET, "total": {"header": "X-Total-Count"}})),
    ("total-head", with_paginator({**OFFSET, "total": {"header": "Total-Records", "method": "HEAD"}})),
    ("total-head-lower", with_paginator({**OFFSET, "total": {"header": "Content-Range", "method": "head"}})),
    ("total-on-client", with_paginator({**OFFSET, "total": {"header": "Total-Records"}}, where="client")),
    ("total-in-defaults", with_paginator({**OFFSET, "total": {"header": "Total-Records"}}, where="defaults")),
]

INVALID = [
    ("next-url-typo", with_paginator({"type": "header_next_url", "headr": "Next-Page"}),
     f"{PAGINATOR}.headr", "did you mean 'header'"),
    ("next-url-bad-header", with_paginator({"type": "header_next_url", "header": "Next Page"}),
     f"{PAGINATOR}.header", "header name"),
    ("next-url-empty-header", with_paginator({"type": "header_next_url", "header": ""}),
     f"{PAGINATOR}.header", "header name"),
    ("next-url-type-typo", with_paginator({"type": "header_next_ur"}), PAGINATOR, "header_next_url"),
    ("total-not-mapping", with_paginator({**OFFSET, "total": "X-Total-Count"}), f"{PAGINATOR}.total", "mapping"),
    ("total-no-header", with_paginator({**OFFSET, "total": {"method": "HEAD"}}), f"{PAGINATOR}.total.header", "missing"),
    ("total-bad-header", with_paginator({**OFFSET, "total": {"header": ["X-Total"]}}),
     f"{PAGINATOR}.total.header", "header name"),
    ("total-method", with_paginator({**OFFSET, "total": {"header": "X-Total", "method": "POST"}}),
     f"{PAGINATOR}.total.method", "GET"),
    ("total-typo", with_paginator({**OFFSET, "total": {"header": "X-Total", "methd": "HEAD"}}),
     f"{PAGINATOR}.total.methd", "did you mean 'method'"),
    ("total-not-offset", with_paginator({"type": "header_link", "total": {"header": "X-Total"}}),
     f"{PAGINATOR}.total", "only an offset paginator"),
    ("total-in-discovery", with_paginator({**OFFSET, "total": {"header": "X-Total"}}, reference_config(BASE),
                                          where="databases"),
     "databases.discover.paginator.total", "resources[].endpoint"),
    ("total-on-client-not-offset", with_paginator({"type": "header_next_url", "total": {"header": "X"}}, where="client"),
     "client.paginator.total", "only an offset paginator"),
    ("offset-still-checked", with_paginator({"type": "offset", "total": {"header": "X-Total"}}), PAGINATOR, "limit"),
]


@pytest.mark.parametrize("name, config", VALID, ids=[v[0] for v in VALID])
def test_valid_paging_configs_parse_and_are_not_modified(name, config):
    before = copy.deepcopy(config)
    parsed = parse_config(config)
    assert config == before
    assert parsed.resources


@pytest.mark.parametrize("name, config, key, words", INVALID, ids=[v[0] for v in INVALID])
def test_invalid_paging_configs_name_the_key(name, config, key, words):
    message = config_error_line(config)
    assert f"config key '{key}'" in message, message
    assert words.lower() in message.lower(), message


def test_the_total_is_kept_for_the_reader_and_hidden_from_dlt():
    parsed = parse_config(with_paginator({**OFFSET, "total": {"header": "Total-Records", "method": "head"}}))
    paginator = parsed.resources[0]["endpoint"]["paginator"]
    assert total_source(paginator) == TotalSource("Total-Records", "HEAD")
    from dbsync.http.paging import make_paginator

    built = make_paginator(paginator)  # dlt's OffsetPaginator, without dbsync's key
    assert type(built).__name__ == "OffsetPaginator" and built.limit == 100


@pytest.mark.parametrize("value, total", [
    ("260", 260), ("0-99/260", 260), ("*/260", 260), ("items 0-99/260", 260), ("0-99/*", None), ("*/*", None),
    ("", None), ("-1", None), ("abc", None),
])
def test_a_header_total_is_a_count_or_the_size_after_a_range(value, total):
    found = header_total({"content-range": value}, ("Content-Range",))
    assert (found[0] if found else None) == total
    if found:
        assert found[1] == "header Content-Range"
