"""dbsync's own names and the API's: a field the API declares under the tombstone field's name
(`deleted`) is that column, not a second one (issue 21: "Field deleted exists 2 times")."""

from __future__ import annotations

import pytest

from dbsync.server import ServerSettings
from support import assert_destination_equals_source, reference_config


@pytest.fixture
def server(server_factory, monkeypatch):
    srv = server_factory(ServerSettings(seed=6, databases=1, tables_per_database=1, rows_per_table=80))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", srv.api_key)
    return srv


def test_a_declared_deleted_field_is_the_tombstone_column(server, workspace):
    server.add_field("acme", "orders", "deleted", "boolean", nullable=True, default=False)
    config = reference_config(server.base_url)
    first = workspace.sync(config)
    assert first.ok, [t.error for t in first.failed]
    rows = workspace.rows("acme__orders")
    assert len(rows) == 80 and {r["deleted"] for r in rows} == {False}, "the API's false is kept"
    server.delete("acme", "orders", 9)  # a tombstone: deleted true
    second = workspace.sync(config)
    assert second.ok and second.report.tables["acme__orders"].deleted == 1
    assert 9 not in {r["id"] for r in workspace.rows("acme__orders")}
    assert_destination_equals_source(workspace, server, types={"deleted": "boolean"})
