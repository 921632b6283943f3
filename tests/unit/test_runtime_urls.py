"""dbsync.runtime.dlt_urls_without_sqlalchemy: while a sync runs dlt's URL module is its own port
(no SQLAlchemy import), never for the sqlalchemy destination, and afterwards dlt gets
SQLAlchemy's URL again. In a fresh interpreter: this one may have imported SQLAlchemy already."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CODE = r"""
import sys
from dbsync.runtime import dlt_urls_without_sqlalchemy
from dlt.common.configuration.specs import ConnectionStringCredentials

def render():
    c = ConnectionStringCredentials()
    c.drivername, c.database = "duckdb", "/tmp/x.duckdb"
    return str(c), type(c.to_url()).__module__

with dlt_urls_without_sqlalchemy("duckdb"):
    with dlt_urls_without_sqlalchemy("duckdb"):  # nested (partitions, threads): undone by the outer one
        pass
    inside = render()
    assert "sqlalchemy" not in sys.modules, "imported inside"
after = render()
with dlt_urls_without_sqlalchemy("sqlalchemy"):
    real = render()
import json
print(json.dumps([inside, after, real]))
"""


def test_own_url_class_while_syncing_sqlalchemy_again_after():
    pytest.importorskip("sqlalchemy")
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    inside, after, real = json.loads(out.stdout.strip().splitlines()[-1])
    assert inside == ["duckdb:////tmp/x.duckdb", "dlt.common.libs.sql_alchemy_shims"]
    assert after[0] == inside[0] and after[1].startswith("sqlalchemy")
    assert real[1].startswith("sqlalchemy")
