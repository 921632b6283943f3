"""History tables (``history: true``): three runs with updates and deletes keep every version,
close only the versions whose key arrived, and keep the deleted key's last version closed."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from dbsync.server import ServerSettings
from support import assert_destination_equals_source, reference_config


@pytest.fixture
def server(server_factory, monkeypatch):
    srv = server_factory(ServerSettings(seed=11, databases=2, tables_per_database=2, rows_per_table=300))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", srv.api_key)
    return srv


def versions_by_key(rows: List[Dict[str, Any]], key: Any) -> Dict[Any, List[Dict[str, Any]]]:
    out: Dict[Any, List[Dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(key(r), []).append(r)
    for versions in out.values():
        versions.sort(key=lambda r: r["_dbsync_valid_from"])
    return out


def run_three_times(server, sync, read_rows, db: str = "acme"):
    """Run 1 full; update 10 and 20, delete 30; run 2; update 10 again; run 3."""
    first = sync()
    assert first.ok
    before = {r["id"]: r for r in server.records(db, "orders")}
    server.update(db, "orders", 10, {"quantity": 1001})
    server.update(db, "orders", 20, {"quantity": 2001})
    server.delete(db, "orders", 30)
    second = sync()
    assert second.ok
    server.update(db, "orders", 10, {"quantity": 1002})
    third = sync()
    assert third.ok
    return before


def check_versions(rows: List[Dict[str, Any]], before: Dict[Any, Dict[str, Any]]) -> None:
    versions = versions_by_key(rows, lambda r: r["id"])
    assert [v["quantity"] for v in versions[10]] == [before[10]["quantity"], 1001, 1002]
    assert [v["quantity"] for v in versions[20]] == [before[20]["quantity"], 2001]
    assert [v["quantity"] for v in versions[30]] == [before[30]["quantity"]], "a tombstone is no version"
    for key, vs in versions.items():
        # each version ends where the next begins; only the last can be open
        for older, newer in zip(vs, vs[1:]):
            assert older["_dbsync_valid_to"] is not None and older["_dbsync_valid_to"] == newer["_dbsync_valid_from"], key
        if key != 30:
            assert vs[-1]["_dbsync_valid_to"] is None, f"id {key}: the current version is open"
    assert versions[30][-1]["_dbsync_valid_to"] is not None, "the deleted key's last version is closed"
    assert versions[30][-1]["_dbsync_valid_to"] > versions[30][-1]["_dbsync_valid_from"]
    unchanged = [k for k in versions if k not in (10, 20, 30)]
    assert unchanged and all(len(versions[k]) == 1 for k in unchanged), \
        "an incremental run must not close or copy rows it did not receive"
    assert set(versions) == set(before)


def test_history_per_database_keeps_every_version(server, workspace):
    config = reference_config(server.base_url, history=True)
    before = run_three_times(server, lambda: workspace.sync(config), None)
    check_versions(workspace.rows("acme__orders", order_by="id, _dbsync_valid_from"), before)
    # the other tables got no change: one version per row, all current
    for table in ("globex__orders", "acme__customers"):
        rows = workspace.rows(table)
        assert len({r["id"] for r in rows}) == len(rows) and all(r["_dbsync_valid_to"] is None for r in rows)
    assert assert_destination_equals_source(workspace, server, history=True) > 0


def test_history_union_layout_keys_by_database(server, workspace):
    config = reference_config(server.base_url, history=True, layout="union")
    config["resources"][0]["name"] = "{table}"
    before = run_three_times(server, lambda: workspace.sync(config), None)
    rows = workspace.rows("orders", order_by="_dbsync_database, id, _dbsync_valid_from")
    check_versions([r for r in rows if r["_dbsync_database"] == "acme"], before)
    globex = [r for r in rows if r["_dbsync_database"] == "globex"]
    assert globex and len({r["id"] for r in globex}) == len(globex), "same ids in another database: untouched"
    assert all(r["_dbsync_valid_to"] is None for r in globex)
    assert assert_destination_equals_source(workspace, server, layout="union", history=True) > 0


def test_history_per_table_setting_and_errors(server, workspace):
    from dbsync.config.parse import parse_config
    from dbsync.errors import ConfigError

    with pytest.raises(ConfigError, match="history.*true or false"):
        parse_config(reference_config(server.base_url, history="yes"), resolve_secrets=False)
    with pytest.raises(ConfigError, match="deletes.mode: mark"):
        parse_config(reference_config(server.base_url, history=True, deletes={"mode": "mark"}),
                     resolve_secrets=False)


def test_history_per_table_overrides_the_default(server, workspace):
    config = reference_config(server.base_url)
    config["tables"]["list"] = [{"name": "orders", "history": True}, {"name": "customers"}]
    assert workspace.sync(config).ok
    server.update("acme", "customers", 5, {"email": None})
    server.update("acme", "orders", 5, {"quantity": 555})
    assert workspace.sync(config).ok
    assert "_dbsync_valid_to" in workspace.columns("acme__orders")
    assert "_dbsync_valid_to" not in workspace.columns("acme__customers")
    assert [r["quantity"] for r in workspace.rows("acme__orders", order_by="_dbsync_valid_from")
            if r["id"] == 5][-1] == 555
    assert len([r for r in workspace.rows("acme__orders") if r["id"] == 5]) == 2
    assert assert_destination_equals_source(workspace, server, tables=["customers"]) > 0
    assert assert_destination_equals_source(workspace, server, tables=["orders"], history=True) > 0


def test_a_key_loaded_twice_in_one_run_keeps_one_open_version(server, workspace):
    """dlt's scd2 keeps every staged row: a row that changed while a run read it (two versions in
    one load) would leave two open versions. After each load dbsync keeps the newest open: here
    the destination is given the duplicates such a load leaves (one from the same load, one from
    a later load over an earlier version), and the next run settles them."""
    import duckdb

    config = reference_config(server.base_url, history=True)
    config["tables"]["list"] = [{"name": "orders"}]
    assert workspace.sync(config, databases=["acme"]).ok
    table = 'synced."acme__orders"'
    with duckdb.connect(str(workspace.duckdb)) as con:
        # id 7: a second open version from the same load, fetched later (the newer value)
        con.execute(f"INSERT INTO {table} SELECT * REPLACE (quantity + 500 AS quantity, "
                    f"_dbsync_synced_at + INTERVAL 1 SECOND AS _dbsync_synced_at, "
                    f"_dbsync_row_version + 1 AS _dbsync_row_version) FROM {table} WHERE id = 7")
        # id 8: an open version from a later load while the earlier one is still open
        con.execute(f"INSERT INTO {table} SELECT * REPLACE (quantity + 800 AS quantity, "
                    f"_dbsync_valid_from + INTERVAL 1 HOUR AS _dbsync_valid_from, "
                    f"_dbsync_row_version + 1 AS _dbsync_row_version) FROM {table} WHERE id = 8")
    before = {r["id"]: r for r in server.records("acme", "orders")}
    assert workspace.sync(config, databases=["acme"]).ok  # a run with no changes still settles
    versions = versions_by_key(workspace.rows("acme__orders", order_by="id, _dbsync_valid_from"), lambda r: r["id"])
    assert all(sum(v["_dbsync_valid_to"] is None for v in vs) == 1 for vs in versions.values())
    assert [v["quantity"] for v in versions[7]] == [before[7]["quantity"] + 500], "the duplicate of one load: gone"
    assert [v["quantity"] for v in versions[8]] == [before[8]["quantity"], before[8]["quantity"] + 800]
    assert versions[8][0]["_dbsync_valid_to"] == versions[8][1]["_dbsync_valid_from"]
