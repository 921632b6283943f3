"""Parse Server (npm ``parse-server``, run by Node over the tests' private PostgreSQL) synced with
examples/parse alone: classes discovered from ``/schemas`` (fields as a mapping) with ``objectId``
as key, Parse's wrapped ``Date`` objects as timestamps and ``Pointer`` objects as their id,
``limit``/``skip`` pages, incremental runs through Parse's JSON ``where`` filter on ``updatedAt``,
deletes found by listing every objectId (``keys=objectId``: Parse sends no tombstones), a no-change
run, and a wrong master key.

Parse Server is installed by ``scripts/setup dev`` (or ``examples``) from examples/parse/package.json
and package-lock.json into examples/parse/node_modules: nothing is downloaded at run time."""

from __future__ import annotations

import json
import secrets
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
import requests
from dlt.common.normalizers.naming.snake_case import NamingConvention

from dbsync.config import parse_config
from realserver_helpers import (assert_verify_finds_a_row_removed_by_hand, example_config, load_example_module,
                               run_cli)
from realserver_procs import EXAMPLES, ServerProcess, free_port, unavailable

APP_ID = example_config("parse")["client"]["headers"]["X-Parse-Application-Id"]
MASTER_KEY = "test-master-key-" + secrets.token_hex(8)
CLASSES = ["Customer", "Order", "Product"]
TABLES = ["customer", "order", "product"]
SNAKE = NamingConvention()
PARSE_BIN = EXAMPLES / "parse" / "node_modules" / "parse-server" / "bin" / "parse-server"


def parse_server_command() -> List[str]:
    """Node and the parse-server script that examples/parse/package-lock.json installed."""
    node = shutil.which("node")
    if node is None:
        unavailable("Node.js is not on PATH (Parse Server needs node >= 20.19)")
    if not PARSE_BIN.exists():
        unavailable("parse-server is not installed in examples/parse/node_modules (scripts/setup dev)")
    return [node, str(PARSE_BIN)]


def create_database(postgres_server, name: str) -> str:
    """A database of Parse's own in the private PostgreSQL server; its URI (password included)."""
    con = postgres_server.connect("postgres")
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    con.close()
    return postgres_server.dsn.rsplit("/", 1)[0] + "/" + name


def start_parse(folder: Path, database_uri: str, name: str = "parse", master_key: str = MASTER_KEY) -> ServerProcess:
    port = free_port()
    args = [*parse_server_command(), "--appId", APP_ID, "--masterKey", master_key, "--databaseURI", database_uri,
            "--host", "127.0.0.1", "--port", str(port), "--mountPath", "/parse",
            "--serverURL", f"http://127.0.0.1:{port}/parse"]
    process = ServerProcess(name, args, workdir=folder, env={"PARSE_SERVER_LOGS_FOLDER": str(folder / "logs")})
    process.start(port, "/parse/health", timeout=60)
    deadline = time.monotonic() + 60
    while requests.get(process.base_url + "/parse/health", timeout=5).json().get("status") != "ok":
        if time.monotonic() > deadline:  # "initialized"/"starting" until the database is connected
            process.stop()
            raise RuntimeError(f"parse-server did not become healthy: {process.log_tail()}")
        time.sleep(0.2)
    return process


class ParseApp:
    def __init__(self, process: ServerProcess, ids: Dict[str, List[str]], sample: Any, master_key: str = MASTER_KEY):
        self.process = process
        self.ids = ids
        self.api = sample.Parse(self.base_url, APP_ID, master_key)

    @property
    def base_url(self) -> str:
        return self.process.base_url + "/parse"


@pytest.fixture(scope="module")
def parse(tmp_path_factory, postgres_server) -> Iterator[ParseApp]:
    command = parse_server_command()
    assert command
    uri = create_database(postgres_server, "parse_" + secrets.token_hex(4))
    process = start_parse(tmp_path_factory.mktemp("parse"), uri)
    try:
        sample = load_example_module("parse/sample_data.py")
        ids = sample.create(process.base_url + "/parse", APP_ID, MASTER_KEY, rows=250)
        yield ParseApp(process, ids, sample)
    finally:
        process.stop()
        assert process.proc is None


@pytest.fixture
def env(parse, monkeypatch) -> Dict[str, str]:
    values = {"SOURCES__DBSYNC__API_KEY": MASTER_KEY, "SOURCES__DBSYNC__BASE_URL": parse.base_url}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def config(deletes: Optional[Dict[str, Any]] = None) -> Any:
    raw = example_config("parse")
    raw["deletes"].update(deletes or {})
    return parse_config(raw, source_name="examples/parse/dbsync.yaml", from_file=True)


def records_requests(recorder, class_name: str) -> List[Any]:
    """The requests for a class's objects (not the key listing: that one sends keys=objectId;
    nor the proof of sync's count: count=1, limit=0, the example's verify.count)."""
    return [r for r in recorder.to(f"/parse/classes/{class_name}") if r.param("keys") is None
            and r.param("count") is None]


def count_requests(recorder, class_name: str) -> List[Any]:
    return [r for r in recorder.to(f"/parse/classes/{class_name}") if r.param("count") == "1"]


def iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def expected(sent: Any) -> Any:
    """What the destination holds for a value Parse sent: a Date object's instant, a Pointer's id."""
    if isinstance(sent, dict) and sent.get("__type") == "Date":
        return iso(sent["iso"])
    if isinstance(sent, dict) and sent.get("__type") == "Pointer":
        return sent["objectId"]
    if isinstance(sent, int) and not isinstance(sent, bool):
        return float(sent)  # Parse's Number is a double (DOUBLE), whole or not
    return sent


def actual(value: Any, sent: Any, name: str) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc)
    if name in ("createdAt", "updatedAt") and isinstance(sent, str):
        return value  # compared as instants below
    if isinstance(sent, dict) and sent.get("__type") in ("Date", "Pointer"):
        return value  # unwrapped: compared with the wrapped value's iso / objectId
    if isinstance(sent, (list, dict)) and isinstance(value, str):
        return json.loads(value)
    return value


def assert_class_equals_parse(workspace, parse: ParseApp, class_name: str, dataset: str = "parse") -> None:
    """Same objectIds, and every value Parse holds equal in the destination (snake_case columns)."""
    source = {o["objectId"]: o for o in parse.api.objects(class_name)}
    table = SNAKE.normalize_identifier(class_name)
    dest = {r["object_id"]: r for r in workspace.rows(table, dataset=dataset, order_by="object_id")}
    assert set(dest) == set(source), f"{class_name}: objectIds differ ({len(dest)} vs {len(source)})"
    for object_id, src in source.items():
        row = dest[object_id]
        for name, sent in src.items():
            column = SNAKE.normalize_identifier(name)
            want = iso(sent) if name in ("createdAt", "updatedAt") else expected(sent)
            got = actual(row[column], sent, name)
            assert got == want and type(got) is type(want), f"{class_name} {object_id} {name}: {got!r} vs {want!r}"
        held = {SNAKE.normalize_identifier(n) for n in src}
        extra = {k: v for k, v in row.items() if k not in held and v is not None}
        assert set(extra) <= {"_dbsync_synced_at"}, f"{class_name} {object_id}: values Parse does not hold {extra}"


def test_full_sync_of_every_class(parse, env, workspace, recorder):
    result = workspace.sync(config(), dataset="parse")
    assert result.ok, [t.error for t in result.failed]
    # _User and _Role (in /schemas) excluded; the key scan's tables (empty between runs) beside
    assert workspace.tables("parse") == sorted(TABLES + [f"{t}__keys" for t in TABLES])
    sent = recorder.at(parse.process.base_url)
    assert sent and all(r.headers.get("X-Parse-Master-Key") == MASTER_KEY for r in sent)
    assert all(r.headers.get("X-Parse-Application-Id") == APP_ID for r in sent)
    assert not any(MASTER_KEY in r.url for r in sent)
    assert [r.path for r in sent if not r.path.startswith("/parse/classes/")] == ["/parse/schemas"]
    # limit/skip pages in a stable order, no where filter on a first run; ordered by the cursor,
    # dbsync's pages overlap by one object (the boundary check), so skip goes 0, 99, 198
    pages = records_requests(recorder, "Product")
    assert [p.param("skip") for p in pages] == ["0", "99", "198"]
    # and one count (verify.count of the example: exact, with a where), which proves the table
    counted = count_requests(recorder, "Product")
    assert len(counted) == 1 and counted[0].param("limit") == "0"
    assert json.loads(counted[0].param("where")) == {"objectId": {"$exists": True}}
    assert all(t.check.status == "verified" and t.check.source_how == "body 'count'"
               for t in result.report.tables.values())
    assert all(p.param("limit") == "100" and p.param("order") == "updatedAt,objectId" for p in pages)
    assert all(p.param("where") is None for p in pages)
    by_table = {t.resource_name: t for t in result.report.tables.values()}
    assert (by_table["Product"].rows, by_table["Customer"].rows, by_table["Order"].rows) == (250, 50, 25)
    assert by_table["Product"].pages == 3
    for class_name in CLASSES:
        assert_class_equals_parse(workspace, parse, class_name)
    # the cursor is the highest updatedAt read, as Parse wrote it
    products = parse.api.objects("Product")
    assert by_table["Product"].cursor_after == max(o["updatedAt"] for o in products)


def test_types_from_the_schemas_endpoint(parse, env, workspace):
    workspace.sync(config(), dataset="parse")
    tz = "TIMESTAMP WITH TIME ZONE"
    products = workspace.columns("product", "parse")
    assert products["object_id"] == ("VARCHAR", False)
    assert products["created_at"][0] == tz and products["updated_at"][0] == tz
    assert products["released"][0] == tz, "a Date object: its iso, as a timestamp"
    assert products["title"][0] == "VARCHAR" and products["price"][0] == "DOUBLE"
    assert products["in_stock"][0] == "BOOLEAN" and products["tags"][0] == "JSON" and products["specs"][0] == "JSON"
    assert products["acl"][0] == "JSON", "ACL: declared by /schemas, never sent for these objects"
    orders = workspace.columns("order", "parse")
    assert orders["customer"][0] == "VARCHAR", "a Pointer: its objectId"
    assert orders["placed"][0] == tz and orders["note"][0] == "VARCHAR" and orders["number"][0] == "DOUBLE"
    customers = workspace.columns("customer", "parse")
    assert customers["last_order"] == (tz, True)
    # the pointer holds the customer's objectId; a nullable Date is NULL where Parse has none
    first = workspace.query('SELECT customer FROM parse."order" ORDER BY number LIMIT 1')[0][0]
    assert first in parse.ids["Customer"]
    assert not any("__v_" in c for t in TABLES for c in workspace.columns(t, "parse")), "every value unwrapped"


def test_incremental_sync_after_changes(parse, env, workspace, recorder):
    cfg = config()
    first = workspace.sync(cfg, dataset="parse")
    assert first.ok
    cursors = {t.resource_name: t.cursor_after for t in first.report.tables.values()}
    changed = parse.ids["Product"][4]
    parse.api.update("Product", changed, {"price": 99.75, "inStock": False,
                                          "released": {"__type": "Date", "iso": "2026-01-02T03:04:05.006Z"}})
    added = parse.api.create("Customer", {"name": "Grace", "email": "grace@example.com", "credit": 5,
                                          "lastOrder": None})["objectId"]
    gone = parse.ids["Order"][0]
    parse.api.delete("Order", gone)
    recorder.clear()
    second = workspace.sync(cfg, dataset="parse")
    assert second.ok, [t.error for t in second.failed]
    by_table = {t.resource_name: t for t in second.report.tables.values()}
    assert all(t.mode == "incremental" and t.pages == 1 for t in by_table.values())
    assert (by_table["Product"].rows, by_table["Customer"].rows, by_table["Order"].rows) == (1, 1, 0)
    sent = records_requests(recorder, "Product")
    assert len(sent) == 1 and sent[0].param("skip") == "0"
    assert json.loads(sent[0].param("where")) == {"updatedAt": {"$gte": {"__type": "Date", "iso": cursors["Product"]}}}
    products = {r["object_id"]: r for r in workspace.rows("product", dataset="parse", order_by="object_id")}
    assert products[changed]["price"] == 99.75 and products[changed]["in_stock"] is False
    assert products[changed]["released"] == datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=timezone.utc)
    for class_name in ("Product", "Customer"):
        assert_class_equals_parse(workspace, parse, class_name)
    # Parse sends no tombstones: the key scan (keys=objectId) found the deleted order
    assert by_table["Order"].deleted == 1 and second.report.deleted == 1
    assert_class_equals_parse(workspace, parse, "Order")
    customers = {r["object_id"]: r for r in workspace.rows("customer", dataset="parse", order_by="object_id")}
    assert customers[added]["name"] == "Grace" and customers[added]["last_order"] is None

    # nothing changed: one record request per class (the objects at the cursor come back and are
    # dropped), the key listing, and /schemas revalidated by its ETag (304); nothing loaded
    recorder.clear()
    third = workspace.sync(cfg, dataset="parse")
    assert third.ok and third.report.rows == 0 and third.report.deleted == 0
    sent = [r for r in recorder.at(parse.process.base_url) if r.param("keys") is None and r.param("count") is None]
    assert sorted(r.path for r in sent) == ["/parse/classes/Customer", "/parse/classes/Order",
                                            "/parse/classes/Product", "/parse/schemas"]
    assert sorted(r.path for c in CLASSES for r in count_requests(recorder, c)) == [
        "/parse/classes/Customer", "/parse/classes/Order", "/parse/classes/Product"]  # one count each
    assert all(t.check.status == "verified" for t in third.report.tables.values())
    assert [r.headers.get("If-None-Match", "")[:3] for r in sent if r.path == "/parse/schemas"] == ['W/"']
    for class_name in CLASSES:
        assert_class_equals_parse(workspace, parse, class_name)

    # a full refresh reads every class whole again: the same
    fourth = workspace.sync(cfg, dataset="parse", full_refresh=True)
    assert fourth.ok, [t.error for t in fourth.failed]
    for class_name in CLASSES:
        assert_class_equals_parse(workspace, parse, class_name)


def key_listing(recorder, class_name: str) -> List[Any]:
    """The requests of the key listing (deletes.keys.params of the example: keys=objectId)."""
    return [r for r in recorder.to(f"/parse/classes/{class_name}") if r.param("keys") is not None]


def test_deletes_arrive_through_a_key_scan(parse, env, workspace, recorder):
    """Parse forgets a deleted object; the example's key scan (``keys=objectId``, oldest first by
    ``createdAt,objectId``, skip pages of 1000 overlapping by one) lists every objectId and the
    objects gone leave the destination."""
    cfg = config({"keys": {"params": example_config("parse")["deletes"]["keys"]["params"], "limit": 100}})
    first = workspace.sync(cfg, dataset="parse")
    assert first.ok and first.report.deleted == 0
    assert not key_listing(recorder, "Product"), "a first run reads every object: that read is the scan"
    products = [o["objectId"] for o in parse.api.objects("Product")]  # by objectId
    gone = {"Product": set(products[::50]), "Customer": {parse.api.objects("Customer")[7]["objectId"]}}
    for class_name, ids in gone.items():
        for object_id in ids:
            parse.api.delete(class_name, object_id)
    recorder.clear()
    second = workspace.sync(cfg, dataset="parse")
    assert second.ok, [t.error for t in second.failed]
    by_table = {t.resource_name: t for t in second.report.tables.values()}
    assert (by_table["Product"].deleted, by_table["Customer"].deleted, by_table["Order"].deleted) == (
        len(gone["Product"]), 1, 0)
    assert second.report.deleted == len(gone["Product"]) + 1
    for class_name in CLASSES:
        assert by_table[class_name].scan == "complete"
        assert by_table[class_name].scan_keys == len(parse.api.objects(class_name))
        assert_class_equals_parse(workspace, parse, class_name)  # the deleted objects are gone
    # the listing asked Parse for the objectIds only, oldest first, in pages overlapping by one
    listing = key_listing(recorder, "Product")
    # (and once past the short last page: no total, so that page might be a capped one)
    assert [r.param("skip") for r in listing] == ["0", "99", "198", str(len(parse.api.objects("Product")) - 1)]
    assert by_table["Product"].scan_pages == 4
    assert all(r.param("keys") == "objectId" and r.param("order") == "createdAt,objectId" and r.param("limit") == "100"
               and r.param("where") is None for r in listing)
    # and Parse honoured them: a run that lists every key costs a fraction of a full read
    third = workspace.sync(config({"every": "1h"}), dataset="parse")  # not due: no listing
    assert third.ok and all(t.scan == "not due" for t in third.report.tables.values())
    listed = second.stats.bytes_received - third.stats.bytes_received
    full = first.stats.bytes_received - third.stats.bytes_received
    assert 0 < listed * 3 < full * 2, (listed, full)  # 2.1 times here: the sample objects are small, and
    # Parse always adds createdAt, updatedAt (and ACL when set) to the keys asked for:
    page = requests.get(listing[0].url, headers=listing[0].headers, timeout=30).json()["results"]
    assert len(page) == 100 and {frozenset(o) for o in page} == {frozenset({"objectId", "createdAt", "updatedAt"})}


def test_wrong_master_key_is_a_one_line_credentials_error(parse, env, tmp_path):
    proc = run_cli("run", "--no-progress", "-c", str(EXAMPLES / "parse" / "dbsync.yaml"),
                   "--destination", str(tmp_path / "w.duckdb"), "--pipelines-dir", str(tmp_path / "p"),
                   env={"SOURCES__DBSYNC__API_KEY": "not-the-master-key"}, cwd=tmp_path)
    # Parse answers /schemas without the master key with 403 {"error": "Permission denied"}
    assert proc.returncode == 4, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "SOURCES__DBSYNC__API_KEY" in lines[0]
    assert "not-the-master-key" not in proc.stderr + proc.stdout
    proc = run_cli("run", "--no-progress", "-c", str(EXAMPLES / "parse" / "dbsync.yaml"),
                   "--destination", str(tmp_path / "w.duckdb"), "--pipelines-dir", str(tmp_path / "p"),
                   env={"SOURCES__DBSYNC__API_KEY": None}, cwd=tmp_path)
    assert proc.returncode == 2 and "SOURCES__DBSYNC__API_KEY" in proc.stderr, proc.stderr



def test_a_server_that_caps_its_pages_deletes_nothing(postgres_server, tmp_path, monkeypatch, workspace):
    """Parse's maxLimit silently serves fewer objects than the key listing's limit asks for, and
    Parse announces no total: the first page looks like the last. The listing reads once past its
    short page and finds more objects: incomplete, nothing deleted (before the fix: 200 of 250)."""
    monkeypatch.setenv("PARSE_SERVER_MAX_LIMIT", "50")
    process = start_parse(tmp_path, create_database(postgres_server, "parse_" + secrets.token_hex(4)),
                          name="parse-capped")
    try:
        base = process.base_url + "/parse"
        sample = load_example_module("parse/sample_data.py")
        sample.create(base, APP_ID, MASTER_KEY, rows=250)
        capped = ParseApp(process, {}, sample)
        objects = capped.api.objects  # pages of 1000: under the cap it would stop after 50 objects too

        def every_object(class_name: str) -> List[Dict[str, Any]]:
            found = objects(class_name)
            while len(found) % 50 == 0 and found:
                more = capped.api.session.get(f"{base}/classes/{class_name}", timeout=30, params={
                    "limit": 50, "skip": len(found), "order": "objectId"}).json()["results"]
                if not more:
                    break
                found.extend(more)
            return found

        capped.api.objects = every_object
        monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", MASTER_KEY)
        monkeypatch.setenv("SOURCES__DBSYNC__BASE_URL", base)
        raw = example_config("parse")  # keys.limit: 1000
        raw["resources"][0]["endpoint"]["paginator"]["limit"] = 40  # the records' pages fit under the cap
        cfg = parse_config(raw, source_name="examples/parse/dbsync.yaml", from_file=True)
        assert workspace.sync(cfg, dataset="parse", tables=["Product"]).ok
        gone = capped.api.objects("Product")[-1]["objectId"]
        capped.api.delete("Product", gone)
        second = workspace.sync(cfg, dataset="parse", tables=["Product"])
        table = second.report.tables["Product"]
        assert second.ok and table.scan == "incomplete"
        assert "set deletes.keys.limit" in (table.scan_problem or ""), table.scan_problem
        # the scan deletes nothing; the count (verify.count) shows the object gone, and reading
        # the class again in full (its records' pages fit under the cap) removes it
        assert table.check.status == "healed" and table.deleted == 1, table.check
        dest = {r["object_id"] for r in workspace.rows("product", dataset="parse", order_by="object_id")}
        assert dest == {o["objectId"] for o in capped.api.objects("Product")}
        raw["deletes"]["keys"]["limit"] = 50  # the page size it serves: the scan completes
        third = workspace.sync(parse_config(raw, source_name="examples/parse/dbsync.yaml", from_file=True),
                               dataset="parse", tables=["Product"])
        assert third.ok and third.report.tables["Product"].scan == "complete" and third.report.deleted == 0
        assert third.report.tables["Product"].check.status == "verified"
        assert_class_equals_parse(workspace, capped, "Product")
    finally:
        process.stop()


def test_verify_finds_a_row_removed_by_hand_and_the_next_run_restores_it(parse, env, tmp_path):
    """The proof of sync from the outside: `dbsync verify` with the example's own config."""
    assert_verify_finds_a_row_removed_by_hand("parse", tmp_path / "verify", env,
                                              "parse", "order", "object_id", "updated_at")
