"""Issue 6.4: two databases with the same tables and overlapping ids, synced in one run, in both
layouts: every row is where it belongs, with its own values."""

from __future__ import annotations

import pytest

from reliability_helpers import assert_destination_equals_server
from support import reference_config


@pytest.mark.parametrize("layout", ["per_database", "union"])
def test_every_row_lands_with_its_own_tenant(make_server, workspace, secret_watch, layout):
    server = make_server(seed=23, databases=2, tables_per_database=3, rows_per_table=800)
    databases = ["acme", "globex"]
    for table in ("orders", "customers", "products"):
        ids = [{r["id"] for r in server.records(db, table)} for db in databases]
        assert len(ids[0] & ids[1]) == 800, "the tenants share every id"
    result = workspace.sync(reference_config(server.base_url, layout=layout))
    assert result.ok
    if layout == "per_database":
        assert sorted(workspace.tables()) == sorted(f"{db}__{t}" for db in databases
                                                    for t in ("orders", "customers", "products"))
        assert_destination_equals_server(workspace, server, databases)
        return
    assert sorted(workspace.tables()) == ["customers", "orders", "products"]
    for table in ("orders", "customers", "products"):
        assert len(workspace.rows(table, order_by="_dbsync_database, id")) == 1600
    assert assert_destination_equals_server(workspace, server, databases, layout="union") == 3 * 1600
