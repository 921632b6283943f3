"""The public API contract: endpoints, paging, grants and every error answer."""

from __future__ import annotations

import orjson
import pytest
import requests

from dbsync.server import ReferenceServer, ServerSettings

DEMO_KEY = "dbsync-demo-key"
LIMITED_KEY = "dbsync-limited-key"
ORDERS_FIELDS = [
    ("id", "integer", False), ("customer_name", "string", False), ("email", "string", True),
    ("quantity", "integer", False), ("unit_price", "decimal", False), ("discount", "number", True),
    ("is_paid", "boolean", False), ("order_date", "date", False), ("created_at", "datetime", False),
    ("updated_at", "datetime", False), ("tags", "array", True), ("shipping", "json", True),
    ("big_counter", "integer", True),
]


def test_health_needs_no_key(api):
    response = api.get("/health", api_key=None)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "ok"}


def test_handle_attributes(reference_server: ReferenceServer):
    assert reference_server.base_url == f"http://127.0.0.1:{reference_server.port}"
    assert reference_server.port > 0
    assert reference_server.api_key == DEMO_KEY
    assert reference_server.admin_key == "dbsync-admin-key"
    assert reference_server.settings == ServerSettings()


def test_databases_lists_granted_databases_ordered_by_id(api):
    body = api.json("/v1/databases")
    assert body == {"data": [{"id": "acme", "name": "Acme Corp"}, {"id": "globex", "name": "Globex Corporation"},
                             {"id": "initech", "name": "Initech"}], "total": 3, "offset": 0, "limit": 100}
    limited = api.json("/v1/databases", api_key=LIMITED_KEY)
    assert limited["data"] == [{"id": "acme", "name": "Acme Corp"}] and limited["total"] == 1


@pytest.mark.parametrize("offset,limit,ids", [
    (0, 1, ["acme"]), (1, 1, ["globex"]), (1, 5, ["globex", "initech"]), (3, 2, []), (10, 1, []),
])
def test_databases_paging(api, offset, limit, ids):
    body = api.json("/v1/databases", offset=offset, limit=limit)
    assert [d["id"] for d in body["data"]] == ids
    assert (body["total"], body["offset"], body["limit"]) == (3, offset, limit)


def test_schema_document(api):
    schema = api.json("/v1/databases/acme/schema")
    assert schema["database"] == "acme"
    assert [t["name"] for t in schema["tables"]] == ["orders", "customers", "products"]
    orders = schema["tables"][0]
    assert (orders["primary_key"], orders["cursor_field"], orders["row_count"]) == ("id", "updated_at", 1000)
    assert [(f["name"], f["type"], f["nullable"]) for f in orders["fields"]] == ORDERS_FIELDS
    unit_price = next(f for f in orders["fields"] if f["name"] == "unit_price")
    assert (unit_price["precision"], unit_price["scale"]) == (12, 4)
    assert all("precision" not in f for f in orders["fields"] if f["type"] != "decimal")
    every_type = {f["type"] for t in schema["tables"] for f in t["fields"]}
    assert every_type == {"string", "integer", "number", "decimal", "boolean", "date", "datetime", "json", "array"}
    for table in schema["tables"]:
        assert 6 <= len(table["fields"]) <= 13
        assert {"id", "updated_at"} <= {f["name"] for f in table["fields"]}


def test_every_database_has_the_same_tables(api):
    names = [[t["name"] for t in api.json(f"/v1/databases/{db}/schema")["tables"]]
             for db in ("acme", "globex", "initech")]
    assert names[0] == names[1] == names[2]


def test_resource_defaults_to_first_database_orders(api):
    default = api.json("/v1/resource")
    explicit = api.json("/v1/resource", database="acme", table="orders")
    assert default == explicit
    assert (default["total"], default["offset"], default["limit"]) == (1000, 0, 100)
    assert [r["id"] for r in default["data"]] == list(range(1, 101))


def test_resource_pages_cover_table_exactly_once(api):
    records = api.all_pages(limit=300, database="globex", table="customers")
    assert [r["id"] for r in records] == list(range(1, 1001))
    assert all("deleted" not in r for r in records)


def test_resource_limit_bounds(api):
    assert len(api.json("/v1/resource", limit=1000)["data"]) == 1000
    assert len(api.json("/v1/resource", limit=1)["data"]) == 1
    last = api.json("/v1/resource", offset=999, limit=10)
    assert [r["id"] for r in last["data"]] == [1000] and last["total"] == 1000
    assert api.json("/v1/resource", offset=5000)["data"] == []


def test_repeated_parameter_last_wins(api):
    response = api.session.get(api.server.base_url + "/v1/resource?api_key=nope&api_key=" + DEMO_KEY + "&limit=2")
    assert response.status_code == 200 and len(response.json()["data"]) == 2


def test_head_has_headers_and_no_body(api):
    response = api.session.head(api.server.base_url + "/v1/databases", params={"api_key": DEMO_KEY})
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) > 0


ERROR_CASES = [
    # (path, params (api_key None = omit, "demo"/"limited" = those keys), status, code, message part)
    ("/v1/resource", {"api_key": None}, 401, "unauthorized", "missing API key"),
    ("/v1/resource", {"api_key": ""}, 401, "unauthorized", "missing API key"),
    ("/v1/resource", {"api_key": "wrong-key"}, 401, "unauthorized", "invalid API key"),
    ("/v1/databases", {"api_key": "wrong-key"}, 401, "unauthorized", "invalid API key"),
    ("/v1/databases/acme/schema", {"api_key": None}, 401, "unauthorized", "missing"),
    ("/v1/nothing-here", {"api_key": None}, 401, "unauthorized", "missing"),
    ("/v1/resource", {"offset": "abc"}, 400, "bad_request", "'offset' must be an integer"),
    ("/v1/resource", {"offset": "-1"}, 400, "bad_request", "'offset' must be >= 0"),
    ("/v1/resource", {"offset": "1.5"}, 400, "bad_request", "'offset' must be an integer"),
    ("/v1/resource", {"limit": "0"}, 400, "bad_request", "'limit' must be >= 1"),
    ("/v1/resource", {"limit": "1001"}, 400, "bad_request", "'limit' must be <= 1000"),
    ("/v1/resource", {"limit": "ten"}, 400, "bad_request", "'limit' must be an integer"),
    ("/v1/resource", {"limit": ""}, 400, "bad_request", "'limit' must be an integer"),
    ("/v1/resource", {"updated_since": "yesterday"}, 400, "bad_request", "'updated_since'"),
    ("/v1/resource", {"updated_since": "2024-01-01T00:00:00"}, 400, "bad_request", "with a timezone"),
    ("/v1/resource", {"updated_since": "2024-13-01T00:00:00Z"}, 400, "bad_request", "'updated_since'"),
    ("/v1/resource", {"updated_since": ""}, 400, "bad_request", "'updated_since'"),
    ("/v1/resource", {"database": "acme"}, 400, "bad_request", "'table' is required"),
    ("/v1/databases", {"limit": "0"}, 400, "bad_request", "'limit'"),
    ("/v1/databases", {"offset": "-3"}, 400, "bad_request", "'offset'"),
    ("/v1/resource", {"database": "globex", "table": "orders", "api_key": "limited"}, 403, "forbidden", "'globex'"),
    ("/v1/resource", {"database": "nope", "table": "orders", "api_key": "limited"}, 403, "forbidden", "'nope'"),
    ("/v1/databases/initech/schema", {"api_key": "limited"}, 403, "forbidden", "'initech'"),
    ("/v1/resource", {"database": "nope", "table": "orders"}, 404, "not_found", "database 'nope' not found"),
    ("/v1/resource", {"database": "acme", "table": "nope"}, 404, "not_found", "table 'nope' not found"),
    ("/v1/resource", {"table": "nope"}, 404, "not_found", "table 'nope'"),
    ("/v1/databases/nope/schema", {}, 404, "not_found", "database 'nope' not found"),
    ("/v1/nothing-here", {}, 404, "not_found", "/v1/nothing-here"),
    ("/v1/databases/acme", {}, 404, "not_found", "no such endpoint"),
    ("/elsewhere", {"api_key": None}, 404, "not_found", "/elsewhere"),
    ("/", {"api_key": None}, 404, "not_found", "no such endpoint"),
]


@pytest.mark.parametrize("path,params,status,code,message", ERROR_CASES,
                         ids=[f"{c[2]}-{c[0]}-{'-'.join(f'{k}={v}' for k, v in c[1].items())}" for c in ERROR_CASES])
def test_error_answers(api, path, params, status, code, message):
    params = dict(params)
    key = params.pop("api_key", "default")
    key = {"demo": DEMO_KEY, "limited": LIMITED_KEY}.get(key, key)
    response = api.get(path, api_key=key, **params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = orjson.loads(response.content)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert message in body["error"]["message"]
    for secret in (DEMO_KEY, LIMITED_KEY, "wrong-key"):
        assert secret not in response.text


def test_limited_key_reads_its_database(api):
    page = api.json("/v1/resource", api_key=LIMITED_KEY, database="acme", table="products", limit=5)
    assert [r["id"] for r in page["data"]] == [1, 2, 3, 4, 5]
    assert api.json("/v1/resource", api_key=LIMITED_KEY)["total"] == 1000  # the default table is acme's


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_v1_is_read_only(api, method):
    response = api.session.request(method, api.server.base_url + "/v1/resource", params={"api_key": DEMO_KEY})
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("headers", [{}, {"X-Admin-Key": "wrong"}, {"X-Admin-Key": DEMO_KEY}])
@pytest.mark.parametrize("method,path", [
    ("GET", "/admin/stats"), ("POST", "/admin/reset"), ("GET", "/admin/requests"),
    ("GET", "/admin/databases/acme/tables/orders/records"), ("PUT", "/admin/faults"),
])
def test_admin_needs_the_admin_key(reference_server, headers, method, path):
    response = requests.request(method, reference_server.base_url + path, headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert DEMO_KEY not in response.text and "dbsync-admin-key" not in response.text


@pytest.mark.parametrize("method,path,status,code", [
    ("GET", "/admin/nothing", 404, "not_found"),
    ("DELETE", "/admin/stats", 405, "method_not_allowed"),
    ("GET", "/admin/databases/nope/schema", 404, "not_found"),
    ("GET", "/admin/databases/acme/tables/nope/records", 404, "not_found"),
])
def test_admin_errors(reference_server, method, path, status, code):
    response = requests.request(method, reference_server.base_url + path,
                                headers={"X-Admin-Key": reference_server.admin_key}, timeout=10)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_admin_rejects_invalid_json(reference_server):
    response = requests.put(reference_server.base_url + "/admin/faults", data=b"{nope",
                            headers={"X-Admin-Key": reference_server.admin_key}, timeout=10)
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]["message"]


def test_admin_settings_hide_the_admin_key(reference_server):
    response = requests.get(reference_server.base_url + "/admin/settings",
                            headers={"X-Admin-Key": reference_server.admin_key}, timeout=10)
    body = response.json()
    assert body["admin_key"] == "***" and body["seed"] == 42 and body["faults"]["error_rate"] == 0.0


def test_custom_keys_and_max_limit(server_factory, make_api):
    settings = ServerSettings(api_keys={"k-all": None, "k-two": ["globex", "initech"]}, max_limit=50,
                              rows_per_table=60)
    server = server_factory(settings)
    api = make_api(server)
    assert server.api_key == "k-all"
    assert api.get("/v1/resource", limit=51).status_code == 400
    assert "<= 50" in api.get("/v1/resource", limit=51).json()["error"]["message"]
    assert len(api.json("/v1/resource", limit=50)["data"]) == 50
    assert [d["id"] for d in api.json("/v1/databases", api_key="k-two")["data"]] == ["globex", "initech"]
    assert api.get("/v1/resource", api_key="k-two").status_code == 403  # default table is acme's
    assert api.get("/v1/resource", api_key=DEMO_KEY).status_code == 401
