"""A table's first load appends instead of merging (dbsync.run.first_load), and ends the same:
tombstones of rows never loaded leave nothing, a key read twice in the run is merged after all
(one row, its newest version), and the next run merges as always. Every run is compared with
the server by key and values."""

from __future__ import annotations

import dlt
import pytest

from dbsync.server import ServerSettings
from support import assert_destination_equals_source, reference_config

DATABASES = ["acme", "globex"]


@pytest.fixture
def server(server_factory, monkeypatch):
    srv = server_factory(ServerSettings(seed=23, databases=2, tables_per_database=2, rows_per_table=400))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", srv.api_key)
    return srv


def _config(server, deletes="delete", **performance):
    # from 1970 with the filter: the first run is read in cursor order and carries tombstones
    config = reference_config(server.base_url, incremental={"param": "updated_since",
                                                            "initial_value": "1970-01-01T00:00:00Z"},
                              performance={"batch_rows": 100, **performance})
    config["deletes"]["mode"] = deletes
    config["resources"][0]["endpoint"]["paginator"]["limit"] = 50
    return config


def _dispositions(workspace):
    """Each table's write disposition in the schema the last load stored (the last item's)."""
    pipeline = dlt.attach("test_pipeline", pipelines_dir=str(workspace.pipelines))
    return {name: table.get("write_disposition") for name, table in pipeline.default_schema.tables.items()
            if not name.startswith("_dlt") and not name.endswith("__deleted")}


def _one_row_per_key(workspace, tables):
    for table in tables:
        (rows, keys), = workspace.query(f'SELECT COUNT(*), COUNT(DISTINCT id) FROM synced."{table}"')
        assert rows == keys, f"{table}: {rows} rows for {keys} keys"


@pytest.mark.parametrize("deletes", ["delete", "mark"])
def test_first_load_appends_without_the_tombstoned_rows_and_the_next_run_merges(server, workspace, deletes):
    for db in DATABASES:
        for table in ("orders", "customers"):
            for record in server.records(db, table)[5:40:7]:
                server.delete(db, table, record["id"])
    config = _config(server, deletes)
    first = workspace.sync(config)
    assert first.ok and first.report.deleted == 4 * 5
    dispositions = _dispositions(workspace)
    assert len(dispositions) == 4 and set(dispositions.values()) == {"append"}, dispositions
    mode = "remove" if deletes == "delete" else "mark"
    assert assert_destination_equals_source(workspace, server, DATABASES, deletes=mode) == 4 * (400 - 5)
    _one_row_per_key(workspace, dispositions)

    # a change in every table: the tables' next load merges (a table without changes loads
    # nothing, and its stored schema keeps the disposition of its first load until then)
    records = server.records("acme", "orders")
    server.update("acme", "orders", records[0]["id"], {"quantity": 77})
    server.delete("acme", "orders", records[1]["id"])
    server.update("acme", "customers", server.records("acme", "customers")[2]["id"], {"email": "x@y.io"})
    server.update("globex", "orders", server.records("globex", "orders")[0]["id"], {"quantity": 5})
    server.insert("globex", "customers", [{k: v for k, v in server.records("globex", "customers")[0].items()
                                           if k not in ("id", "updated_at")}])
    second = workspace.sync(config)
    assert second.ok and second.report.rows + second.report.deleted >= 5
    assert set(_dispositions(workspace).values()) == {"merge"}
    assert_destination_equals_source(workspace, server, DATABASES, deletes=mode)
    _one_row_per_key(workspace, dispositions)


def test_a_key_read_twice_in_the_first_load_is_merged_once_with_its_newest_values(server, workspace):
    """Rows changed while the first run pages in cursor order move to the end of the listing and
    are read twice; the first batches were appended, the run's last batch says merge, so the
    whole table goes through the merge: one row per key, the newest values."""
    moved = [r["id"] for r in server.records("acme", "orders")[:60:6]]
    changed = []

    def change_early_rows(report):
        # after a few pages of acme.orders: rows already read move to the end of the listing
        if report.database == "acme" and report.table == "orders" and report.pages == 3 and not changed:
            for quantity, record_id in enumerate(moved, start=500):
                server.update("acme", "orders", record_id, {"quantity": quantity})
            changed.extend(moved)

    result = workspace.sync(_config(server, concurrency=1, prefetch_pages=1), progress=change_early_rows)
    assert result.ok and changed
    assert result.report.tables["acme__orders"].rows > 400  # the moved rows were read twice
    dispositions = _dispositions(workspace)
    assert dispositions["acme__orders"] == "merge"  # fell back: a key came twice
    assert dispositions["globex__orders"] == "append"  # the others stayed appended
    assert assert_destination_equals_source(workspace, server, DATABASES) == 4 * 400
    _one_row_per_key(workspace, dispositions)
    quantities = dict(workspace.query(f"SELECT id, quantity FROM synced.acme__orders WHERE id IN "
                                      f"({', '.join(map(str, moved))})"))
    assert quantities == {record_id: q for q, record_id in enumerate(moved, start=500)}


def test_a_table_already_in_the_destination_is_merged(server, workspace):
    """A new pipeline (no state) loading into a dataset that already holds the tables: merge."""
    config = _config(server)
    assert workspace.sync(config, pipeline_name="earlier").ok
    server.update("acme", "orders", server.records("acme", "orders")[3]["id"], {"quantity": 4242})
    result = workspace.sync(config)  # pipeline test_pipeline: first run, same dataset
    assert result.ok and result.report.rows == 4 * 400  # read whole: no cursor of its own
    assert set(_dispositions(workspace).values()) == {"merge"}
    assert assert_destination_equals_source(workspace, server, DATABASES) == 4 * 400
    _one_row_per_key(workspace, _dispositions(workspace))


def test_a_dropped_table_is_read_in_full_and_appended_after_one_question_to_the_destination(
        server, workspace, monkeypatch):
    """A table dropped from the destination with its cursor still saved: the run reads it in
    full (tables_to_reload) and appends its rows (first_load), and both decisions share one
    information-schema query (dbsync.run.stored_tables.StoredTables; it was one query each)."""
    import dbsync.run.stored_tables as stored_module

    config = _config(server)
    assert workspace.sync(config).ok
    import duckdb

    with duckdb.connect(str(workspace.duckdb)) as con:  # also changes the file: no shortcut
        con.execute('DROP TABLE synced."globex__orders"')
    asked = []
    real = stored_module.missing_in_destination

    def counting(pipeline, jobs, source_name):
        asked.append(sorted(job.resource_name for job in jobs))
        return real(pipeline, jobs, source_name)

    monkeypatch.setattr(stored_module, "missing_in_destination", counting)
    server.update("acme", "orders", server.records("acme", "orders")[0]["id"], {"quantity": 4242})
    again = workspace.sync(config)
    assert again.ok
    assert len(asked) == 1 and len(asked[0]) == 4, asked
    assert again.report.tables["globex__orders"].rows == len(server.records("globex", "orders"))
    assert again.report.tables["acme__orders"].rows == 1  # the others stay incremental
    assert _dispositions(workspace)["globex__orders"] == "append"
    assert assert_destination_equals_source(workspace, server, DATABASES) == 4 * 400
    _one_row_per_key(workspace, ["globex__orders"])
