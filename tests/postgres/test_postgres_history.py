"""History tables in PostgreSQL: the same three runs as tests/integration/test_history.py give
the same versions (the scoped scd2 merge's SQL runs on PostgreSQL too)."""

from __future__ import annotations

import pytest

from dbsync.server import ServerSettings
from support import assert_destination_equals_source, reference_config
from integration.test_history import check_versions, run_three_times

pytestmark = pytest.mark.postgres


@pytest.fixture
def server(server_factory, monkeypatch):
    srv = server_factory(ServerSettings(seed=11, databases=2, tables_per_database=2, rows_per_table=300))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", srv.api_key)
    return srv


@pytest.mark.parametrize("layout", ["per_database", "union"])
def test_history_three_runs_in_postgres(server, workspace, pg, layout):
    config = reference_config(server.base_url, history=True, layout=layout)
    if layout == "union":
        config["resources"][0]["name"] = "{table}"
    before = run_three_times(server, lambda: workspace.sync(config, destination="postgres", dataset=pg.dataset), None)
    table = "orders" if layout == "union" else "acme__orders"
    rows = pg.rows(table, order_by="id, _dbsync_valid_from")
    if layout == "union":
        rows = [r for r in rows if r["_dbsync_database"] == "acme"]
    check_versions(rows, before)
    assert assert_destination_equals_source(pg, server, layout=layout, history=True) > 0
