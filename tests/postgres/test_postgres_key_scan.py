"""Key-scan deletes in PostgreSQL: the comparison's SQL (count, anti-join delete, mark, close
the history version, union scoping) runs there as on DuckDB."""

from __future__ import annotations

import pytest

from dbsync.server import ServerSettings
from support import assert_destination_equals_source, reference_config
from integration.test_key_scan_deletes import KEY_SCAN

pytestmark = pytest.mark.postgres


@pytest.fixture
def server(server_factory, monkeypatch):
    srv = server_factory(ServerSettings(seed=13, databases=2, tables_per_database=2, rows_per_table=200,
                                        tombstones=False))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", srv.api_key)
    return srv


@pytest.mark.parametrize("layout,mode,history", [("per_database", "delete", False), ("union", "mark", False),
                                                 ("per_database", "delete", True)])
def test_key_scan_in_postgres(server, workspace, pg, layout, mode, history):
    config = reference_config(server.base_url, deletes={**KEY_SCAN, "mode": mode}, layout=layout, history=history)
    if layout == "union":
        config["resources"][0]["name"] = "{table}"

    def sync():
        return workspace.sync(config, destination="postgres", dataset=pg.dataset)

    assert sync().ok
    server.delete("acme", "orders", 11)
    server.delete("globex", "customers", 12)
    second = sync()
    assert second.ok and second.report.deleted == 2
    table = "orders" if layout == "union" else "acme__orders"
    rows = pg.rows(table, order_by="id")
    if layout == "union":
        rows = [r for r in rows if r["_dbsync_database"] == "acme"]
        assert any(r["id"] == 11 for r in pg.rows(table) if r["_dbsync_database"] == "globex"), \
            "the other database's row 11 stays"
    if mode == "mark":
        assert {r["id"] for r in rows if r["deleted"]} == {11}
        assert all(r["_dbsync_deleted_at"] is not None for r in rows if r["deleted"])
        assert_destination_equals_source(pg, server, layout=layout, deletes="mark",
                                         deleted_keys={("acme", "orders"): {11}, ("globex", "customers"): {12}})
    elif history:
        closed = [r for r in rows if r["id"] == 11]
        assert len(closed) == 1 and closed[0]["_dbsync_valid_to"] is not None
        assert assert_destination_equals_source(pg, server, layout=layout, history=True) == 4 * 200 - 2
    else:
        assert 11 not in {r["id"] for r in rows}
        assert assert_destination_equals_source(pg, server, layout=layout) == 4 * 200 - 2
    assert sync().report.deleted == 0
