"""HTTP errors name the URL the request went to, the base URL's own path included: a 404 "at
/nope" says little when client.base_url is https://host/api/v2. Against the reference server
(its API under /v1), with the key in the query string, which must not show."""

from __future__ import annotations

import pytest

from dbsync.config.parse import parse_config
from dbsync.errors import NotFoundError, Where
from dbsync.http.client import ApiClient
from dbsync.server import ServerSettings
from support import reference_config


@pytest.fixture
def server(server_factory, monkeypatch):
    srv = server_factory(ServerSettings(seed=3, databases=1, tables_per_database=1, rows_per_table=10))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", srv.api_key)
    return srv


def test_a_404_names_the_full_url_without_the_query(server):
    config = reference_config(server.base_url + "/v1")
    client = ApiClient(parse_config(config))
    try:
        with pytest.raises(NotFoundError) as caught:
            client.get_json("nope", {"limit": 1}, where=Where(database="acme"))
    finally:
        client.close()
    text = caught.value.one_line()
    assert f"not found (404) at {server.base_url}/v1/nope" in text, text
    assert "?" not in text and server.api_key not in text, text
