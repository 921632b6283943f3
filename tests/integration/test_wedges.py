"""One bad row or table never stops every later run (issue 21: "wedged")."""

from __future__ import annotations

from dbsync.server import ServerSettings
from support import assert_destination_equals_source, reference_config


def test_a_deleted_record_of_a_table_with_a_not_null_json_column_syncs(server_factory, monkeypatch, workspace):
    """products.categories is a NOT NULL array (JSON) column: the tombstone's placeholder there was
    "" (no JSON), and every later run failed in the destination ("Malformed JSON")."""
    server = server_factory(ServerSettings(seed=42, databases=1, tables_per_database=3, rows_per_table=100))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", server.api_key)
    config = reference_config(server.base_url)
    assert workspace.sync(config).ok
    products = server.schema("acme")
    assert any(f["name"] == "categories" and f["nullable"] is False and f["type"] in ("array", "json")
               for t in products["tables"] if t["name"] == "products" for f in t["fields"])
    server.delete("acme", "products", 7)
    for _ in range(2):  # and the run after it
        result = workspace.sync(config)
        assert result.ok, [t.error.one_line() for t in result.failed]
    assert 7 not in {r["id"] for r in workspace.rows("acme__products")}
    assert_destination_equals_source(workspace, server)
