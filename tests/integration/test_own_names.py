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


def test_blank_and_colliding_field_names_each_get_a_column(server, workspace):
    """Field names that dlt normalizes into one column (userId/user_id, Name/name, a.b/a b), a
    blank one and one named like dbsync's own column failed the whole run, healthy tables of
    other databases included, every run. Each now gets a column of its own, with a warning."""
    records = [dict(customer_name="x", email=None, quantity=1, unit_price="1.0000", discount=None, is_paid=False,
                    order_date="2026-01-01", created_at="2026-01-01T00:00:00Z", tags=[], shipping=None,
                    big_counter=None, userId=i, user_id=-i, Name=f"N{i}", name=f"n{i}", **{"a.b": i, "a b": -i,
                                                                                           "": "blank",
                                                                                           "_dbsync_synced_at": "api"})
               for i in (1, 2)]
    ids = server.insert("acme", "orders", records, raw=True)
    result = workspace.sync(reference_config(server.base_url))
    assert result.ok, [t.error.one_line() for t in result.failed]
    rows = {r["id"]: r for r in workspace.rows("acme__orders")}
    first = rows[ids[0]]
    assert (first["user_id"], first["user_id_2"]) in ((1, -1), (-1, 1))
    assert {first["name"], first["name_2"]} == {"N1", "n1"}
    assert {first["a_b"], first["a_b_2"]} == {1, -1}
    assert first["_blank"] == "blank" and first["_dbsync_synced_at_2"] == "api"
    assert first["_dbsync_synced_at"] is not None and first["_dbsync_synced_at"] != "api"
    assert workspace.sync(reference_config(server.base_url)).ok, "and every later run"
