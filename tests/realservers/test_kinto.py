"""Kinto (buckets of collections of records, HTTP basic auth, memory backend) synced with
examples/kinto alone: buckets and collections discovered, records paged by the ``Next-Page``
header, incremental runs on the epoch-millisecond ``last_modified`` with ``min_last_modified``,
deletes from Kinto's tombstones, a no-change run that costs one request per collection (plus the
conditional discovery requests), and a wrong password as a one-line credentials error."""

from __future__ import annotations

import json
import re
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import requests

from dbsync.config import parse_config
from realserver_helpers import (assert_verify_finds_a_row_removed_by_hand, example_config, load_example_module,
                               run_cli)
from realserver_procs import EXAMPLES, ServerProcess, free_port, require_modules

USER, PASSWORD = "dbsync", "a-long-test-password-1"
TABLES = ["crm__customers", "crm__notes", "shop__orders", "shop__products"]

def write_ini(folder: Path, paginate_by: int = 100) -> Path:
    """examples/kinto/kinto.ini (memory backend, basic auth, 127.0.0.1) in the test's folder."""
    text = (EXAMPLES / "kinto" / "kinto.ini").read_text()
    text = re.sub(r"^kinto.paginate_by = .*$", f"kinto.paginate_by = {paginate_by}", text, flags=re.M)
    text = text.replace("example-only-not-a-secret", "test-only-hmac-secret")
    path = folder / "kinto.ini"
    path.write_text(text)
    return path


class Kinto:
    def __init__(self, process: ServerProcess, ids: Dict[str, Dict[str, List[str]]]):
        self.process = process
        self.ids = ids
        self.session = requests.Session()
        self.session.auth = (USER, PASSWORD)

    @property
    def base_url(self) -> str:
        return self.process.base_url + "/v1"

    def url(self, bucket: str, collection: str, record_id: str = "") -> str:
        tail = f"/{record_id}" if record_id else ""
        return f"{self.base_url}/buckets/{bucket}/collections/{collection}/records{tail}"

    def records(self, bucket: str, collection: str) -> List[Dict[str, Any]]:
        """Every live record, following Kinto's own Next-Page header."""
        found: List[Dict[str, Any]] = []
        url = self.url(bucket, collection)
        while url:
            answer = self.session.get(url, timeout=30)
            answer.raise_for_status()
            found.extend(answer.json()["data"])
            url = answer.headers.get("Next-Page")
        return found

    def update(self, bucket: str, collection: str, record_id: str, values: Dict[str, Any]) -> Dict[str, Any]:
        answer = self.session.patch(self.url(bucket, collection, record_id), json={"data": values}, timeout=30)
        answer.raise_for_status()
        return answer.json()["data"]

    def create(self, bucket: str, collection: str, values: Dict[str, Any]) -> Dict[str, Any]:
        answer = self.session.post(self.url(bucket, collection), json={"data": values}, timeout=30)
        answer.raise_for_status()
        return answer.json()["data"]

    def delete(self, bucket: str, collection: str, record_id: str) -> None:
        self.session.delete(self.url(bucket, collection, record_id), timeout=30).raise_for_status()


def kinto_command() -> str:
    """The ``kinto`` script the package installed beside this Python (``python -m kinto`` does
    not start it: kinto/__main__.py has no main guard)."""
    require_modules("kinto")
    return str(Path(sys.executable).parent / "kinto")


def start_kinto(folder: Path, name: str = "kinto") -> ServerProcess:
    port = free_port()
    ini = write_ini(folder)
    process = ServerProcess(name, [kinto_command(), "start", "--ini", str(ini), "--port", str(port)], workdir=folder)
    return process.start(port, "/v1/")


@pytest.fixture(scope="module")
def kinto(tmp_path_factory) -> Iterator[Kinto]:
    require_modules("kinto")
    process = start_kinto(tmp_path_factory.mktemp("kinto"))
    try:
        ids = load_example_module("kinto/sample_data.py").create(process.base_url + "/v1", (USER, PASSWORD), rows=250)
        yield Kinto(process, ids)
    finally:
        process.stop()
        assert process.proc is None


@pytest.fixture
def env(kinto, monkeypatch) -> Dict[str, str]:
    values = {"SOURCES__DBSYNC__PASSWORD": PASSWORD, "SOURCES__DBSYNC__BASE_URL": kinto.base_url}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def config(limit: int = 100, raw: Any = None) -> Any:
    raw = raw or example_config("kinto")
    raw["resources"][0]["endpoint"]["params"]["_limit"] = limit
    return parse_config(raw, source_name="examples/kinto/dbsync.yaml", from_file=True)


def split(table: str) -> Tuple[str, str]:
    bucket, collection = table.split("__")
    return bucket, collection


def actual(value: Any, sent: Any) -> Any:
    """A destination value, as comparable with what Kinto sent."""
    if isinstance(sent, (list, dict)) and isinstance(value, str):
        return json.loads(value)  # arrays and objects: JSON columns
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc)
    return value


def expected(sent: Any, value: Any) -> Any:
    if isinstance(value, datetime) and isinstance(sent, str):
        return datetime.fromisoformat(sent).astimezone(timezone.utc)
    if isinstance(value, date) and isinstance(sent, str):  # format: date in the collection's schema
        return date.fromisoformat(sent)
    if isinstance(value, float) and isinstance(sent, int) and not isinstance(sent, bool):
        return float(sent)
    return sent


def assert_table_equals_kinto(workspace, kinto: Kinto, table: str, dataset: str = "kinto") -> None:
    """Same ids, and every value Kinto holds equal in the destination (no row Kinto deleted)."""
    source = {r["id"]: r for r in kinto.records(*split(table))}
    dest = {r["id"]: r for r in workspace.rows(table, dataset=dataset)}
    assert set(dest) == set(source), f"{table}: ids differ ({len(dest)} vs {len(source)})"
    for record_id, src in source.items():
        row = dest[record_id]
        for name, sent in src.items():
            assert actual(row[name], sent) == expected(sent, row[name]), \
                f"{table} {record_id} {name}: {row[name]!r} vs {sent!r}"
        extra = {k: v for k, v in row.items() if k not in src and v is not None}
        assert set(extra) <= {"_dbsync_synced_at"}, f"{table} {record_id}: values Kinto does not hold {extra}"


def test_full_sync_of_every_bucket_and_collection(kinto, env, workspace, recorder):
    result = workspace.sync(config(), dataset="kinto")
    assert result.ok, [t.error for t in result.failed]
    assert workspace.tables("kinto") == TABLES
    sent = recorder.at(kinto.process.base_url)
    assert sent and all(r.headers.get("Authorization", "").startswith("Basic ") for r in sent)
    assert not any(PASSWORD in r.url for r in sent)
    # Next-Page paging: 100 + 100 + 50, pages 2 and 3 by Kinto's token, _limit and _sort carried along
    sent_to = recorder.to("/v1/buckets/shop/collections/products/records")
    pages = [r for r in sent_to if r.method == "GET"]
    assert len(pages) == 3 and pages[0].param("_token") is None
    # the proof of sync's count (verify.count in the example): one HEAD, unfiltered, Total-Records read
    counts = [r for r in sent_to if r.method == "HEAD"]
    assert len(counts) == 1 and counts[0].param("min_last_modified") is None and counts[0].param("_limit") == "1"
    assert all(t.check.status == "verified" and t.check.source_how == "header Total-Records"
               for t in result.report.tables.values())
    assert all(p.param("_token") for p in pages[1:])
    assert all(p.param("_limit") == "100" and p.param("_sort") == "last_modified" for p in pages)
    assert all(p.param("min_last_modified") is None for p in pages)  # a first run: no filter
    by_table = {t.resource_name: t for t in result.report.tables.values()}
    assert by_table["shop__products"].rows == 250 and by_table["shop__products"].pages == 3
    assert (by_table["shop__orders"].rows, by_table["crm__customers"].rows, by_table["crm__notes"].rows) == (25, 50, 3)
    for table in TABLES:
        assert_table_equals_kinto(workspace, kinto, table)
    # the cursor is Kinto's epoch-millisecond last_modified, saved as the highest one read
    products = kinto.records("shop", "products")
    assert by_table["shop__products"].cursor_after == max(r["last_modified"] for r in products)


def test_types_inferred_from_the_records(kinto, env, workspace):
    """Without the JSON schema keys (a collection that has no schema), types come from the data."""
    raw = example_config("kinto")
    for key in ("fields_selector", "required_selector"):
        raw["tables"]["discover"].pop(key)
    assert workspace.sync(config(raw=raw), dataset="kinto").ok
    products = workspace.columns("shop__products", "kinto")
    assert products["last_modified"] == ("BIGINT", True) and products["id"] == ("VARCHAR", False)
    assert products["price"][0] == "DOUBLE" and products["stock"][0] == "BIGINT"
    assert products["in_stock"][0] == "BOOLEAN" and products["tags"][0] == "JSON" and products["specs"][0] == "JSON"
    assert products["released"][0] == "VARCHAR", "without the JSON schema a date is text"
    customers = workspace.columns("crm__customers", "kinto")
    assert customers["last_order"][0] == "TIMESTAMP WITH TIME ZONE" and customers["vip"][0] == "BOOLEAN"


def json_schema_config() -> Any:
    """The example config as it is: the collection's JSON schema is the source of fields."""
    return config()


def test_types_and_required_fields_from_the_collections_json_schema(kinto, env, workspace):
    result = workspace.sync(json_schema_config(), dataset="kinto")
    assert result.ok, [t.error for t in result.failed]
    products = workspace.columns("shop__products", "kinto")
    assert products["title"] == ("VARCHAR", False) and products["price"] == ("DOUBLE", False)  # required
    assert products["stock"] == ("BIGINT", True) and products["in_stock"] == ("BOOLEAN", True)
    assert products["released"] == ("DATE", True), "format: date"
    assert products["tags"] == ("JSON", True) and products["specs"] == ("JSON", True)
    customers = workspace.columns("crm__customers", "kinto")
    assert customers["name"] == ("VARCHAR", False) and customers["email"] == ("VARCHAR", False)
    assert customers["last_order"] == ("TIMESTAMP WITH TIME ZONE", True)  # ["string", "null"] + date-time
    assert customers["credit"] == ("BIGINT", True)
    for table in ("shop__orders", "crm__notes"):  # no schema on the collection: inferred as before
        assert workspace.columns(table, "kinto")["last_modified"] == ("BIGINT", True)
    first = kinto.ids["shop"]["products"][2]  # product 3 has a release date
    assert workspace.query(f"SELECT released::VARCHAR FROM kinto.shop__products WHERE id = '{first}'") == [("2024-04-04",)]


def test_incremental_sync_after_changes(kinto, env, workspace, recorder):
    cfg = config()
    first = workspace.sync(cfg, dataset="kinto")
    assert first.ok
    cursors = {t.resource_name: t.cursor_after for t in first.report.tables.values()}
    changed = kinto.update("shop", "products", kinto.ids["shop"]["products"][4], {"price": 99.75, "in_stock": False})
    added = kinto.create("crm", "customers", {"name": "Grace", "email": "grace@example.com", "credit": 5})
    gone = kinto.ids["crm"]["customers"][1]
    kinto.delete("crm", "customers", gone)
    gone_order = kinto.ids["shop"]["orders"][0]
    kinto.delete("shop", "orders", gone_order)
    recorder.clear()
    second = workspace.sync(cfg, dataset="kinto")
    assert second.ok, [t.error for t in second.failed]
    by_table = {t.resource_name: t for t in second.report.tables.values()}
    assert all(t.mode == "incremental" and t.pages == 1 for t in by_table.values())
    assert (by_table["shop__products"].rows, by_table["crm__customers"].rows) == (1, 1)
    assert (by_table["crm__customers"].deleted, by_table["shop__orders"].deleted) == (1, 1)
    assert (by_table["shop__orders"].rows, by_table["crm__notes"].rows) == (0, 0)
    sent = [r for r in recorder.to("/v1/buckets/shop/collections/products/records") if r.method == "GET"]
    assert len(sent) == 1 and sent[0].param("min_last_modified") == str(cursors["shop__products"])
    assert sent[0].param("_since") is None
    for table in TABLES:  # the tombstones removed the deleted rows: equal to Kinto again
        assert_table_equals_kinto(workspace, kinto, table)
    products = {r["id"]: r for r in workspace.rows("shop__products", dataset="kinto")}
    assert products[changed["id"]]["price"] == 99.75 and products[changed["id"]]["in_stock"] is False
    customers = {r["id"]: r for r in workspace.rows("crm__customers", dataset="kinto")}
    assert customers[added["id"]]["name"] == "Grace" and gone not in customers
    assert by_table["crm__customers"].cursor_after > cursors["crm__customers"]  # the tombstone's last_modified

    # nothing changed: one record request per collection (the rows at the cursor come back and
    # are dropped), and the three discovery answers revalidated by their ETags (304)
    recorder.clear()
    third = workspace.sync(cfg, dataset="kinto")
    assert third.ok and third.report.rows == 0 and sum(t.deleted for t in third.report.tables.values()) == 0
    sent = recorder.at(kinto.process.base_url)
    records = [r for r in sent if r.path.endswith("/records") and r.method == "GET"]
    assert sorted(r.path for r in records) == sorted(f"/v1/buckets/{b}/collections/{c}/records"
                                                     for b, c in map(split, TABLES))
    counts = [r for r in sent if r.path.endswith("/records") and r.method == "HEAD"]  # and each one's count
    assert sorted(r.path for r in counts) == sorted(r.path for r in records)
    assert all(t.check.status == "verified" for t in third.report.tables.values())
    discovery = [r for r in sent if not r.path.endswith("/records")]
    assert sorted(r.path for r in discovery) == ["/v1/buckets", "/v1/buckets/crm/collections",
                                                 "/v1/buckets/shop/collections"]
    assert all(r.headers.get("If-None-Match") for r in discovery)
    for table in TABLES:
        assert_table_equals_kinto(workspace, kinto, table)


def test_wrong_password_is_a_one_line_credentials_error(kinto, env, tmp_path):
    # Kinto's basicauth turns any user/password pair into a user id: a wrong password is another,
    # empty user that can read no bucket (200, an empty list), not a 401
    answer = requests.get(kinto.base_url + "/buckets", auth=(USER, "not-the-password"), timeout=30)
    assert answer.status_code == 200 and answer.json()["data"] == []
    proc = run_cli("run", "--no-progress", "-c", str(EXAMPLES / "kinto" / "dbsync.yaml"),
                   "--destination", str(tmp_path / "w.duckdb"), "--pipelines-dir", str(tmp_path / "p"),
                   env={"SOURCES__DBSYNC__PASSWORD": "not-the-password"}, cwd=tmp_path)
    assert proc.returncode == 4, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "SOURCES__DBSYNC__PASSWORD" in lines[0] and "0 databases" in lines[0]
    assert "not-the-password" not in proc.stderr + proc.stdout
    proc = run_cli("run", "--no-progress", "-c", str(EXAMPLES / "kinto" / "dbsync.yaml"),
                   "--destination", str(tmp_path / "w.duckdb"), "--pipelines-dir", str(tmp_path / "p"),
                   env={"SOURCES__DBSYNC__PASSWORD": None}, cwd=tmp_path)
    # no password at all is caught before any request: a configuration error naming the variable
    assert proc.returncode == 2 and "SOURCES__DBSYNC__PASSWORD" in proc.stderr, proc.stderr


def test_verify_finds_a_row_removed_by_hand_and_the_next_run_restores_it(kinto, env, tmp_path):
    """The proof of sync from the outside: `dbsync verify` with the example's own config."""
    assert_verify_finds_a_row_removed_by_hand("kinto", tmp_path / "verify", env,
                                              "kinto", "shop__orders", "id", "last_modified")
