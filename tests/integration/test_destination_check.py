"""The check every syncing test relies on, ``assert_destination_equals_source``, cannot pass
vacuously: after a real sync into a real DuckDB file it passes, and each way of losing or
bending data (a row deleted, a value changed, a row added or doubled, a NULL, a type changed,
a table dropped, a live row marked deleted, nothing selected) made in a copy of that file makes
it fail."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from dbsync.server import ServerSettings
from support import assert_destination_equals_source, reference_config

TABLE = 'synced."acme__orders"'
# each: what is done to a copy of the synced file, and words of the failure it must cause
BREAKAGES = [
    ("a row deleted", f"DELETE FROM {TABLE} WHERE id = 17", "missing keys [17]"),
    ("the last row deleted", f"DELETE FROM {TABLE} WHERE id = (SELECT max(id) FROM {TABLE})", "missing keys"),
    ("a value changed", f"UPDATE {TABLE} SET quantity = quantity + 1 WHERE id = 5", "id=5 field quantity"),
    ("a text value changed", f"UPDATE {TABLE} SET customer_name = customer_name || ' ' WHERE id = 9",
     "id=9 field customer_name"),
    ("a value made NULL", f"UPDATE {TABLE} SET big_counter = NULL WHERE id = 2", "id=2 field big_counter"),
    ("a JSON value changed", f"UPDATE {TABLE} SET shipping = '{{\"x\": 1}}' WHERE id = 2", "id=2 field shipping"),
    ("an extra row", f"INSERT INTO {TABLE} SELECT * REPLACE (id + 100000 AS id) FROM {TABLE} WHERE id = 1",
     "unexpected keys [100001]"),
    ("a row twice", f"INSERT INTO {TABLE} SELECT * FROM {TABLE} WHERE id = 1", "duplicate keys [1]"),
    ("booleans stored as integers", f"ALTER TABLE {TABLE} ALTER is_paid TYPE INTEGER", "field is_paid"),
    ("the table dropped", f"DROP TABLE {TABLE}", "table missing from the destination"),
]


@pytest.fixture(scope="module")
def synced(reference_server, tmp_path_factory):
    """One real sync of acme and globex's orders, shared by the cases (each breaks a copy)."""
    import os

    from support import Workspace

    root = tmp_path_factory.mktemp("synced")
    old = os.environ.get("SOURCES__DBSYNC__API_KEY")
    os.environ["SOURCES__DBSYNC__API_KEY"] = reference_server.api_key
    try:
        workspace = Workspace(root)
        result = workspace.sync(reference_config(reference_server.base_url), databases=["acme", "globex"],
                                tables=["orders"])
    finally:
        if old is None:
            os.environ.pop("SOURCES__DBSYNC__API_KEY")
        else:
            os.environ["SOURCES__DBSYNC__API_KEY"] = old
    assert result.ok
    return workspace


def test_the_synced_destination_passes(synced, reference_server):
    compared = assert_destination_equals_source(synced, reference_server, ["acme", "globex"], ["orders"])
    assert compared == len(reference_server.records("acme", "orders")) + len(reference_server.records("globex", "orders"))


@pytest.mark.parametrize("sql, words", [b[1:] for b in BREAKAGES], ids=[b[0] for b in BREAKAGES])
def test_every_breakage_fails_the_check(synced, reference_server, tmp_path, sql, words):
    broken = tmp_path / "broken.duckdb"
    shutil.copy(synced.duckdb, broken)
    with duckdb.connect(str(broken)) as con:
        con.execute(sql)
    with pytest.raises(AssertionError) as info:
        assert_destination_equals_source(broken, reference_server, ["acme", "globex"], ["orders"], dataset="synced")
    assert words in str(info.value)
    assert "acme.orders" in str(info.value), "the failure names the table"


def test_unchecked_skips_only_the_named_field_of_the_named_row(synced, reference_server, tmp_path):
    broken = tmp_path / "broken.duckdb"
    shutil.copy(synced.duckdb, broken)
    with duckdb.connect(str(broken)) as con:
        con.execute(f"UPDATE {TABLE} SET quantity = -1, email = 'x@y' WHERE id = 5")
    with pytest.raises(AssertionError, match="id=5 field email"):
        assert_destination_equals_source(broken, reference_server, ["acme"], ["orders"],
                                         unchecked={("acme", "orders", 5): ["quantity"]})
    assert_destination_equals_source(broken, reference_server, ["acme"], ["orders"],
                                     unchecked={("acme", "orders", 5): ["quantity", "email"]})


def test_selecting_nothing_or_the_wrong_table_fails(synced, reference_server):
    with pytest.raises(AssertionError, match="nothing was compared"):
        assert_destination_equals_source(synced, reference_server, [], ["orders"])
    with pytest.raises(AssertionError, match="acme.customers .*table missing"):
        assert_destination_equals_source(synced, reference_server, ["acme"])  # every table: customers not synced


def test_union_layout_marked_deletes_and_a_change_the_sync_has_not_seen(server_factory, workspace, monkeypatch):
    server = server_factory(ServerSettings(seed=19, databases=3, tables_per_database=1, rows_per_table=120))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", server.api_key)
    config = reference_config(server.base_url, layout="union", deletes={"field": "deleted", "mode": "mark"})
    assert workspace.sync(config, databases=["acme", "globex"], tables=["orders"]).ok
    server.delete("globex", "orders", 3)
    assert workspace.sync(config, databases=["acme", "globex"], tables=["orders"]).ok
    check = dict(databases=["acme", "globex"], tables=["orders"], layout="union")
    assert assert_destination_equals_source(workspace, server, deletes="mark", **check) == 2 * 120 - 1
    with pytest.raises(AssertionError, match=r"globex.orders -> orders: .*unexpected keys \[3\]"):
        assert_destination_equals_source(workspace, server, **check)  # marked is not removed
    for sql, words in [
        ('UPDATE synced."orders" SET deleted = true WHERE _dbsync_database = \'acme\' AND id = 8',
         "rows marked deleted that the source has not deleted: [8]"),
        ('UPDATE synced."orders" SET _dbsync_database = \'globex\' WHERE _dbsync_database = \'acme\' AND id = 8',
         "acme.orders -> orders: missing keys [8]"),
        ('INSERT INTO synced."orders" SELECT * REPLACE (\'initech\' AS _dbsync_database) FROM synced."orders" '
         'WHERE _dbsync_database = \'acme\' AND id = 8', "rows of databases that were not compared: ['initech']"),
    ]:
        broken = workspace.root / "broken.duckdb"
        shutil.copy(workspace.duckdb, broken)
        with duckdb.connect(str(broken)) as con:
            con.execute(sql)
        with pytest.raises(AssertionError) as info:
            assert_destination_equals_source(broken, server, deletes="mark", dataset="synced", **check)
        assert words in str(info.value), (sql, str(info.value))
    # the source is read live: a change the sync has not fetched yet is a difference, not ignored
    server.update("globex", "orders", 4, {"quantity": 123456})
    with pytest.raises(AssertionError, match="globex.orders -> orders: id=4 field quantity"):
        assert_destination_equals_source(workspace, server, deletes="mark", **check)
    server.insert("acme", "orders", [{k: v for k, v in server.records("acme", "orders")[0].items()
                                      if k not in ("id", "updated_at")}])
    with pytest.raises(AssertionError, match=r"acme.orders -> orders: missing keys \[121\]"):
        assert_destination_equals_source(workspace, server, deletes="mark", **check)
