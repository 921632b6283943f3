"""Datasette (several SQLite databases, a query-string token) synced with examples/datasette alone:
full sync value by value, types and NOT NULL from the SQL endpoint, keyset pages, incremental
runs with ``{cursor_field}__gte``, deletes found by listing every key (``_col=``: SQLite keeps no
tombstones), and a wrong token as a one-line error."""

from __future__ import annotations

import base64
import json
import secrets
import sqlite3
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

from dbsync.config import parse_config
from realserver_helpers import (assert_verify_finds_a_row_removed_by_hand, example_config, load_example_module,
                               run_cli)
from realserver_procs import EXAMPLES, ServerProcess, free_port, python_module, require_modules

TABLES = {"shop": ["orders", "products"], "crm": ["customers", "events"]}


class Datasette:
    def __init__(self, process: ServerProcess, folder: Path, token: str):
        self.process = process
        self.folder = folder
        self.token = token

    @property
    def base_url(self) -> str:
        return self.process.base_url

    def sqlite(self, database: str) -> sqlite3.Connection:
        con = sqlite3.connect(self.folder / f"{database}.db")
        con.row_factory = sqlite3.Row
        return con

    def rows(self, database: str, table: str) -> List[Dict[str, Any]]:
        with self.sqlite(database) as con:
            return [dict(r) for r in con.execute(f"SELECT rowid AS rowid, * FROM {table}")]

    def declared_types(self, database: str, table: str) -> Dict[str, str]:
        with self.sqlite(database) as con:
            return {r["name"]: r["type"].upper() for r in con.execute("SELECT * FROM pragma_table_info(?)", [table])}


@pytest.fixture(scope="module")
def datasette(tmp_path_factory) -> Iterator[Datasette]:
    require_modules("datasette", "datasette_auth_tokens")
    folder = tmp_path_factory.mktemp("datasette")
    load_example_module("datasette/sample_data.py").create(folder, rows=2500)
    token = secrets.token_hex(16)
    process = ServerProcess(
        "datasette",
        python_module("datasette") + ["serve", "shop.db", "crm.db", "-m", str(EXAMPLES / "datasette" / "metadata.json"),
                                      "-h", "127.0.0.1", "-p", "{port}"],
        workdir=folder, env={"DATASETTE_TOKEN": token},
    )
    port = free_port()
    process.args = [a.replace("{port}", str(port)) for a in process.args]
    process.start(port, "/-/databases.json")
    try:
        yield Datasette(process, folder, token)
    finally:
        process.stop()


@pytest.fixture
def env(datasette, monkeypatch) -> Dict[str, str]:
    """The token and server, given as users give them (the example file stays as it is)."""
    values = {"SOURCES__DBSYNC__API_KEY": datasette.token, "SOURCES__DBSYNC__BASE_URL": datasette.base_url}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def config(deletes: Optional[Dict[str, Any]] = None) -> Any:
    raw = example_config("datasette")
    raw["deletes"].update(deletes or {})
    return parse_config(raw, source_name="examples/datasette/dbsync.yaml", from_file=True)


def expected(value: Any, declared: str) -> Any:
    """A SQLite value as the destination should hold it, by its declared column type."""
    if value is None:
        return None
    if declared == "NUMERIC":
        return Decimal(str(value))
    if declared == "BOOLEAN":
        return bool(value)
    if declared == "DATE":
        return date.fromisoformat(value)
    if declared == "DATETIME":
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    if declared == "BLOB":  # Datasette sends bytes that are not UTF-8 as {"$base64": true, "encoded": ...}
        return {"$base64": True, "encoded": base64.b64encode(value).decode()}
    return value


def actual(value: Any, declared: str) -> Any:
    if declared == "BLOB" and value is not None:
        return json.loads(value)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc)
    return value


def assert_table_equals_sqlite(workspace, datasette, database: str, table: str, key: str,
                               deleted_at_source: tuple = ()) -> None:
    """Every SQLite row in the destination with every value equal, nothing else but the rows
    deleted at the source (SQLite sends no tombstones: they stay until a key scan or refresh)."""
    declared = datasette.declared_types(database, table)
    source = {r[key]: r for r in datasette.rows(database, table)}
    dest = {r[key]: r for r in workspace.rows(f"{database}__{table}", dataset="datasette", order_by=key)}
    assert set(dest) == set(source) | set(deleted_at_source), f"{database}.{table}: keys differ"
    for k, src in source.items():
        for name, kind in declared.items():
            assert actual(dest[k][name], kind) == expected(src[name], kind), f"{database}.{table} {key}={k} {name}"


def test_full_sync_of_every_table_of_every_database(datasette, env, workspace, recorder):
    result = workspace.sync(config(), dataset="datasette")
    assert result.ok, [t.error for t in result.failed]
    tables = [f"{db}__{t}" for db, ts in TABLES.items() for t in ts]
    assert workspace.tables("datasette") == sorted(tables + [f"{t}__keys" for t in tables])  # the key scan's, empty
    by_table = {t.resource_name: t for t in result.report.tables.values()}
    for database, tables in TABLES.items():
        for table in tables:
            assert by_table[f"{database}__{table}"].rows == len(datasette.rows(database, table))
    assert by_table["shop__orders"].rows >= 2500 and by_table["shop__orders"].pages == 3  # keyset: next_url
    for database, table, key in (("shop", "orders", "id"), ("shop", "products", "sku"),
                                 ("crm", "customers", "id"), ("crm", "events", "rowid")):
        assert_table_equals_sqlite(workspace, datasette, database, table, key)
    # what went on the wire: the token in the query string, keyset pages following next_url
    sent = recorder.at(datasette.base_url)
    assert sent and all(r.param("_auth_token") == datasette.token for r in sent)
    orders = [r for r in recorder.to("/shop/orders.json") if r.param("_nocount") == "1"]  # not the count
    assert len(orders) == 3
    # and one count (verify.count of the example: filtered_table_rows_count), which proves it
    counted = [r for r in recorder.to("/shop/orders.json") if r.param("_nocount") is None]
    assert len(counted) == 1 and counted[0].param("_size") == "1" and counted[0].param("updated_at__gte") is None
    assert all(t.check.status == "verified" and t.check.source_how == "body 'filtered_table_rows_count'"
               for t in result.report.tables.values())
    assert orders[0].param("_next") is None and orders[1].param("_next") and orders[2].param("_next")
    assert all(r.param("_shape") == "objects" and r.param("_sort") == "updated_at" for r in orders)
    assert all(r.param("updated_at__gte") is None for r in orders)  # a first run: no filter, still sorted
    # field types: one SQL query per table
    assert len([r for r in sent if r.param("sql")]) == 4


def test_types_and_not_null_come_from_the_sql_endpoint(datasette, env, workspace):
    assert workspace.sync(config(), dataset="datasette", tables=["orders", "products", "events"]).ok
    for database, table, key in (("shop", "orders", "id"), ("shop", "products", "sku"), ("crm", "events", "rowid")):
        assert_table_equals_sqlite(workspace, datasette, database, table, key)
    assert workspace.columns("shop__orders", "datasette") == {
        "id": ("BIGINT", False), "customer": ("VARCHAR", False), "quantity": ("BIGINT", True),
        "unit_price": ("DECIMAL(38,9)", True), "weight_kg": ("DOUBLE", True), "paid": ("BOOLEAN", False),
        "placed_on": ("DATE", True), "shipped_at": ("TIMESTAMP WITH TIME ZONE", True),
        "details": ("VARCHAR", True), "note": ("VARCHAR", True),
        "updated_at": ("TIMESTAMP WITH TIME ZONE", False), "_dbsync_synced_at": ("TIMESTAMP WITH TIME ZONE", True),
        "deleted": ("BOOLEAN", True),  # deletes.mode delete: the tombstone field, never in SQLite
    }
    products = workspace.columns("shop__products", "datasette")
    assert products["sku"] == ("VARCHAR", False) and products["price"] == ("DECIMAL(38,9)", False)
    assert products["in_stock"] == ("BOOLEAN", True) and products["thumbnail"] == ("VARCHAR", True)
    # a table without a declared primary key: Datasette's rowid (resource_defaults) is the key
    events = workspace.columns("crm__events", "datasette")
    assert events["rowid"] == ("BIGINT", False) and events["kind"] == ("VARCHAR", False)
    row = workspace.query('SELECT paid, unit_price, placed_on FROM datasette.shop__orders WHERE id = 3')[0]
    assert row == (True, Decimal("13.875"), date(2024, 1, 4))


def test_discover_shows_the_sqlite_types_and_nullability(datasette, env, tmp_path):
    proc = run_cli("discover", "--json", "-c", str(EXAMPLES / "datasette" / "dbsync.yaml"), env={}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [d["id"] for d in doc["databases"]] == ["shop", "crm"]  # _internal/_memory excluded
    orders = next(t for t in doc["databases"][0]["tables"] if t["name"] == "orders")
    assert orders["primary_key"] == ["id"]
    fields = {f["name"]: (f["type"], f["dlt_type"], f["nullable"]) for f in orders["fields"]}
    assert fields["customer"] == ("TEXT", "text", False)
    assert fields["unit_price"] == ("NUMERIC", "decimal", True)
    assert fields["paid"] == ("BOOLEAN", "bool", False)
    assert fields["weight_kg"] == ("REAL", "double", True)
    assert fields["updated_at"] == ("DATETIME", "timestamp", False)


def test_incremental_sync_after_changes(datasette, env, workspace, recorder):
    cfg = config()
    first = workspace.sync(cfg, dataset="datasette", databases=["shop"])
    assert first.ok
    cursor = first.report.tables["shop__orders"].cursor_after
    assert cursor == max(r["updated_at"] for r in datasette.rows("shop", "orders"))  # the API's own text
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    with datasette.sqlite("shop") as con:
        con.execute("UPDATE orders SET quantity = 4242, note = 'changed', updated_at = ? WHERE id = 5", [now])
        con.execute("INSERT INTO orders (id, customer, paid, updated_at, unit_price) VALUES (9001, 'New', 1, ?, 7.5)",
                    [now])
        con.execute("DELETE FROM orders WHERE id = 7")
    recorder.clear()
    second = workspace.sync(cfg, dataset="datasette", databases=["shop"])
    assert second.ok
    orders = second.report.tables["shop__orders"]
    assert orders.mode == "incremental" and orders.rows == 2
    assert second.report.tables["shop__products"].rows == 0
    sent = [r for r in recorder.to("/shop/orders.json") if r.param("_col") is None  # not the key listing
            and r.param("_nocount") == "1"]  # nor the count
    assert len(sent) == 1 and sent[0].param("updated_at__gte") == cursor
    rows = {r["id"]: r for r in workspace.rows("shop__orders", dataset="datasette")}
    assert rows[5]["quantity"] == 4242 and rows[5]["note"] == "changed"
    assert rows[9001]["customer"] == "New" and rows[9001]["paid"] is True and rows[9001]["unit_price"] == Decimal("7.5")
    # no tombstones in SQLite: the key scan misses row 7, and (next-link pages do not overlap)
    # the next scan's miss confirms it
    assert 7 in rows and second.report.deleted == 0 and orders.scan_pending == 1
    third = workspace.sync(cfg, dataset="datasette", databases=["shop"])
    assert third.report.rows == 0 and third.report.tables["shop__orders"].cursor_after == now
    assert third.report.deleted == 1
    rows = {r["id"]: r for r in workspace.rows("shop__orders", dataset="datasette")}
    assert 7 not in rows and len(rows) == 2500
    assert_table_equals_sqlite(workspace, datasette, "shop", "orders", "id")
    assert_table_equals_sqlite(workspace, datasette, "shop", "products", "sku")


KEYS = (("shop", "orders", "id"), ("shop", "products", "sku"), ("crm", "customers", "id"), ("crm", "events", "rowid"))


def key_listing(recorder, database: str, table: str) -> List[Any]:
    """The requests of the key listing (deletes.keys.params of the example: _col=updated_at)."""
    return [r for r in recorder.to(f"/{database}/{table}.json") if r.param("_col") is not None]


def test_deletes_arrive_through_a_key_scan(datasette, env, workspace, recorder):
    """SQLite forgets a deleted row; the example's key scan (``_col=updated_at``: the key and the
    cursor column, keyset pages in key order) lists every key and the rows gone leave the destination."""
    cfg = config()
    first = workspace.sync(cfg, dataset="datasette")
    assert first.ok and first.report.deleted == 0
    assert not key_listing(recorder, "shop", "orders"), "a first run reads every row: that read is the scan"
    ids = [r["id"] for r in datasette.rows("shop", "orders")]
    gone = {("shop", "orders"): {ids[0], ids[999], ids[1000], ids[-1]},  # the keyset pages' edges too
            ("shop", "products"): {"SKU-0007"}, ("crm", "events"): {3}}
    with datasette.sqlite("shop") as con:
        con.executemany("DELETE FROM orders WHERE id = ?", [(i,) for i in gone[("shop", "orders")]])
        con.execute("DELETE FROM products WHERE sku = 'SKU-0007'")
    with datasette.sqlite("crm") as con:
        con.execute("DELETE FROM events WHERE rowid = 3")  # a table without a primary key: by rowid
    recorder.clear()
    second = workspace.sync(cfg, dataset="datasette")
    assert second.ok, [t.error for t in second.failed]
    tables = second.report.tables
    # next-link pages do not overlap: a key missed once is removed when the next scan misses it too
    assert second.report.deleted == 0
    assert {name: t.scan_pending for name, t in tables.items()} == {
        "shop__orders": 4, "shop__products": 1, "crm__customers": 0, "crm__events": 1}
    confirmed = workspace.sync(cfg, dataset="datasette")
    assert confirmed.ok
    assert {name: t.deleted for name, t in confirmed.report.tables.items()} == {
        "shop__orders": 4, "shop__products": 1, "crm__customers": 0, "crm__events": 1}
    assert confirmed.report.deleted == 6
    assert all(t.scan_pending == 0 for t in confirmed.report.tables.values())
    for database, table, key in KEYS:
        report = tables[f"{database}__{table}"]
        assert report.scan == "complete" and report.scan_keys == len(datasette.rows(database, table))
        assert_table_equals_sqlite(workspace, datasette, database, table, key)  # the deleted keys are gone
        for k in gone.get((database, table), ()):
            assert workspace.query(f"SELECT COUNT(*) FROM datasette.{database}__{table} WHERE {key} = ?"
                                   .replace("?", repr(k))) == [(0,)]
    # the listing asked Datasette for the key and one column, in key order, following next_url
    listing = key_listing(recorder, "shop", "orders")
    assert len(listing) == 2 * 3 and tables["shop__orders"].scan_pages == 3  # 2 scans of 2,497 keys, 1,000 a page
    assert all(r.param("_col") == "updated_at" and r.param("_sort") is None and r.param("updated_at__gte") is None
               and r.param("_shape") == "objects" and r.param("_nocount") == "1" for r in listing)
    assert listing[0].param("_next") is None and listing[1].param("_next") and listing[2].param("_next")
    assert listing[3].param("_next") is None
    # and Datasette honoured them: a run that lists every key costs a fraction of a full read
    third = workspace.sync(config({"every": "1h"}), dataset="datasette")  # not due: no listing
    assert third.ok and all(t.scan == "not due" for t in third.report.tables.values())
    listed = confirmed.stats.bytes_received - third.stats.bytes_received
    full = first.stats.bytes_received - third.stats.bytes_received
    assert 0 < listed * 3 < full, (listed, full)  # 4.3 times here (the key and a timestamp a row)


def test_wrong_token_is_a_one_line_auth_error(datasette, env, tmp_path):
    proc = run_cli("run", "--no-progress", "-c", str(EXAMPLES / "datasette" / "dbsync.yaml"),
                   "--destination", str(tmp_path / "w.duckdb"), "--pipelines-dir", str(tmp_path / "p"),
                   env={"SOURCES__DBSYNC__API_KEY": "not-the-token"}, cwd=tmp_path)
    assert proc.returncode == 4, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "refused the credentials" in lines[0] and "403 Forbidden" in lines[0] and "/-/databases.json" in lines[0]
    assert "not-the-token" not in proc.stderr + proc.stdout


def test_verify_finds_a_row_removed_by_hand_and_the_next_run_restores_it(datasette, env, tmp_path):
    """The proof of sync from the outside: `dbsync verify` with the example's own config."""
    assert_verify_finds_a_row_removed_by_hand("datasette", tmp_path / "verify", env,
                                              "datasette", "shop__orders", "id", "updated_at")
