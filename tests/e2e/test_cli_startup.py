"""What the ``dbsync`` command skips at start-up (dbsync.runtime.dlt_urls_without_sqlalchemy, the
garbage collector off while importing): a run, then a run with nothing to do, as users run
them, load the same data and never import SQLAlchemy (dlt would, to print a DuckDB path)."""

from __future__ import annotations

import pytest
import yaml

from support import assert_destination_equals_source, reference_config
from test_cli import dbsync


def _imported(stderr: str) -> set:
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def test_run_and_no_change_run_load_the_data_without_importing_sqlalchemy(tmp_path, reference_server):
    pytest.importorskip("sqlalchemy")  # installed (dagster extra): dlt would import it at every load
    (tmp_path / "dbsync.yaml").write_text(yaml.safe_dump(reference_config(reference_server.base_url)))
    args = ["run", "--no-progress", "--pipelines-dir", str(tmp_path / "p"), "--destination", "warehouse.duckdb",
            "-d", "acme", "--dataset", "synced"]
    env = {"SOURCES__DBSYNC__API_KEY": reference_server.api_key}
    for expected in ("rows upserted", "0 rows upserted"):
        proc = dbsync(*args, env=env, cwd=tmp_path, python_args=["-X", "importtime"])
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert expected in proc.stdout
        modules = _imported(proc.stderr)
        assert "dlt" in modules and "duckdb" in modules  # the import log is complete
        assert "sqlalchemy" not in modules
    assert assert_destination_equals_source(tmp_path / "warehouse.duckdb", reference_server, ["acme"],
                                            dataset="synced") > 0
