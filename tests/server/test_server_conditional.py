"""The reference server's discovery validators (ETag, 304 on If-None-Match) and its per-table
fields endpoint."""

from __future__ import annotations

import requests

from dbsync.server import ServerSettings

DISCOVERY_PATHS = ["/v1/databases", "/v1/databases/acme/schema", "/v1/databases/acme/tables/orders/fields"]


def get(server, path, **headers):
    return requests.get(server.base_url + path, params={"api_key": server.api_key}, headers=headers, timeout=10)


def test_discovery_answers_carry_an_etag_and_304_when_unchanged(server_factory):
    server = server_factory(ServerSettings(rows_per_table=5))
    for path in DISCOVERY_PATHS:
        first = get(server, path)
        etag = first.headers.get("ETag")
        assert first.status_code == 200 and etag and etag.startswith('"'), path
        again = get(server, path, **{"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag, path
        assert get(server, path, **{"If-None-Match": f'W/{etag}, "other"'}).status_code == 304
        assert get(server, path, **{"If-None-Match": '"something-else"'}).status_code == 200
    assert "ETag" not in get(server, "/v1/resource").headers  # records are not discovery
    assert [r.status for r in server.requests() if r.path == "/v1/databases"] == [200, 304, 304, 200]


def test_a_schema_change_changes_the_etag(server_factory):
    server = server_factory(ServerSettings(rows_per_table=5))
    schema, fields = (get(server, p).headers["ETag"] for p in DISCOVERY_PATHS[1:])
    other_table = get(server, "/v1/databases/acme/tables/customers/fields").headers["ETag"]
    server.add_field("acme", "orders", "rebate", "decimal", precision=10, scale=2)
    assert get(server, DISCOVERY_PATHS[1], **{"If-None-Match": schema}).status_code == 200
    changed = get(server, DISCOVERY_PATHS[2], **{"If-None-Match": fields})
    assert changed.status_code == 200 and changed.json()["fields"][-1]["name"] == "rebate"
    assert get(server, "/v1/databases/acme/tables/customers/fields",
               **{"If-None-Match": other_table}).status_code == 304


def test_etags_off_is_an_api_without_validators(server_factory):
    server = server_factory(ServerSettings(rows_per_table=5, etags=False))
    for path in DISCOVERY_PATHS:
        answer = get(server, path, **{"If-None-Match": "*"})
        assert answer.status_code == 200 and "ETag" not in answer.headers


def test_fields_endpoint_lists_a_tables_fields_as_the_schema_does(server_factory):
    server = server_factory(ServerSettings(rows_per_table=5))
    doc = get(server, "/v1/databases/globex/tables/customers/fields").json()
    schema = next(t for t in server.schema("globex")["tables"] if t["name"] == "customers")
    assert doc == {"database": "globex", "table": "customers", "fields": schema["fields"]}
    missing = get(server, "/v1/databases/globex/tables/nope/fields")
    assert missing.status_code == 404 and "nope" in missing.json()["error"]["message"]
    limited = requests.get(server.base_url + "/v1/databases/globex/tables/orders/fields",
                           params={"api_key": "dbsync-limited-key"}, timeout=10)
    assert limited.status_code == 403
