"""A change to what decides a table's columns, on an existing pipeline, without --full-refresh:
the table is rebuilt once (dropped, read in full) and the destination equals the source in the
new shape. Before, such a run loaded nothing and every row kept the old shape (issue 23)."""

from __future__ import annotations

import pytest

from dbsync.server import ServerSettings
from support import assert_destination_equals_source, reference_config


@pytest.fixture
def server(server_factory, monkeypatch):
    srv = server_factory(ServerSettings(seed=9, databases=1, tables_per_database=2, rows_per_table=150))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", srv.api_key)
    return srv


def with_columns(config, columns):
    config["resources"][0]["columns"] = columns
    return config


def with_key(config, key):
    config["tables"]["list"] = [{"name": "orders", "primary_key": key}, {"name": "customers"}]
    return config


CHANGES = {
    "primary key": (lambda c: with_key(c, ["id", "customer_name"]), None, None, None),
    "types": (lambda c: dict(c, types={"decimal": "double"}), "unit_price", "DOUBLE", {"unit_price": "number"}),
    "column hint": (lambda c: with_columns(c, {"quantity": {"data_type": "decimal", "precision": 12, "scale": 2}}),
                    "quantity", "DECIMAL(12,2)", {"quantity": "decimal"}),
    "value rule": (lambda c: dict(c, fields={"orders.shipping": {"type": "text"}}), "shipping", "VARCHAR", None),
    "deletes field": (lambda c: dict(c, deletes={"field": "gone"}), None, None, None),
    "history": (lambda c: dict(c, history=True), "_dbsync_valid_from", "TIMESTAMP WITH TIME ZONE", None),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_rebuilds_the_table_once(server, workspace, change):
    alter, column, column_type, types = CHANGES[change]
    config = reference_config(server.base_url)
    assert workspace.sync(config, tables=["orders"]).ok
    server.update("acme", "orders", 5, {"quantity": 55})
    changed = alter(reference_config(server.base_url))
    result = workspace.sync(changed, tables=["orders"])
    table = result.report.tables["acme__orders"]
    assert result.ok, [t.error for t in result.failed]
    assert any("the table's shape changed" in w and "dropped and is loaded again in full" in w for w in table.warnings), \
        table.warnings
    assert table.mode == "full" and table.rows == 150
    if column is not None:
        assert workspace.columns("acme__orders")[column][0] == column_type
    history = change == "history"
    if change == "value rule":
        stored = {r["id"]: r["shipping"] for r in workspace.rows("acme__orders")}
        source = {r["id"]: r["shipping"] for r in server.records("acme", "orders")}
        assert all(stored[k] is None if v is None else isinstance(stored[k], str) for k, v in source.items())
    else:
        assert_destination_equals_source(workspace, server, tables=["orders"], types=types, history=history)
    again = workspace.sync(changed, tables=["orders"])
    assert again.ok and again.report.tables["acme__orders"].mode == "incremental"
    assert not any("shape changed" in w for w in again.report.tables["acme__orders"].warnings)


def test_a_type_changed_on_the_server_rebuilds_the_table(server, workspace):
    config = reference_config(server.base_url)
    workspace.sync(config, tables=["orders"])
    assert workspace.columns("acme__orders")["unit_price"][0].startswith("DECIMAL")
    server.set_field("acme", "orders", "unit_price", declared_type="number")  # the schema now says number
    result = workspace.sync(config, tables=["orders"])
    table = result.report.tables["acme__orders"]
    assert result.ok and any("column unit_price: decimal" in w and "-> double" in w for w in table.warnings), \
        table.warnings
    assert workspace.columns("acme__orders")["unit_price"][0] == "DOUBLE"
    assert_destination_equals_source(workspace, server, tables=["orders"], types={"unit_price": "number"})


def test_a_run_without_a_change_keeps_the_table(server, workspace):
    config = reference_config(server.base_url)
    workspace.sync(config)
    loads = workspace.query("SELECT COUNT(*) FROM synced._dlt_loads")[0][0]
    again = workspace.sync(config)
    assert again.ok and again.report.rows == 0
    assert all(t.mode == "incremental" and not t.warnings for t in again.report.tables.values())
    assert workspace.query("SELECT COUNT(*) FROM synced._dlt_loads")[0][0] == loads, "no change: no load package"


def test_a_union_table_is_read_in_full_and_its_rebuild_left_to_a_full_refresh(server, workspace):
    config = reference_config(server.base_url, layout="union")
    workspace.sync(config, tables=["orders"])
    result = workspace.sync(reference_config(server.base_url, layout="union", types={"decimal": "double"}),
                            tables=["orders"])
    table = result.report.tables["acme__orders"]
    assert result.ok and table.mode == "full"
    assert any("--full-refresh -t orders" in w for w in table.warnings), table.warnings
    refreshed = workspace.sync(reference_config(server.base_url, layout="union", types={"decimal": "double"}),
                               tables=["orders"], full_refresh=True)
    assert refreshed.ok and workspace.columns("orders")["unit_price"][0] == "DOUBLE"
    assert_destination_equals_source(workspace, server, tables=["orders"], layout="union",
                                     types={"unit_price": "number"})


def test_full_refresh_of_one_table_leaves_the_others_alone(server, workspace):
    config = reference_config(server.base_url)
    workspace.sync(config)
    loads = dict(workspace.query('SELECT \'customers\', MIN(_dbsync_synced_at) FROM synced."acme__customers"'))
    result = workspace.sync(config, tables=["orders"], full_refresh=True)
    assert result.ok and list(result.report.tables) == ["acme__orders"]
    assert result.report.tables["acme__orders"].mode == "full" and result.report.tables["acme__orders"].rows == 150
    assert dict(workspace.query('SELECT \'customers\', MIN(_dbsync_synced_at) FROM synced."acme__customers"')) == loads, \
        "customers was not reloaded"
    again = workspace.sync(config)
    assert again.ok and all(t.mode == "incremental" for t in again.report.tables.values())
    assert_destination_equals_source(workspace, server)


def test_a_layout_change_moves_the_rows_and_leaves_no_stale_table(server, workspace):
    config = reference_config(server.base_url)
    workspace.sync(config)
    assert sorted(workspace.tables()) == ["acme__customers", "acme__orders"]
    result = workspace.sync(reference_config(server.base_url, layout="union"))
    assert result.ok and all(t.mode == "full" for t in result.report.tables.values())
    assert sorted(workspace.tables()) == ["customers", "orders"], "the per-database tables were dropped"
    assert_destination_equals_source(workspace, server, layout="union")
