"""pytest fixtures for a real, private PostgreSQL server (see ``postgres_server.py``).

* ``postgres_server`` (session): started on first use, stopped at the end of the session. If the
  server binaries are missing the test fails with a message saying what to install: CI has
  them, so a skip would hide a broken machine.
* ``pg`` (function): the server's credentials in dlt's env var
  (``DESTINATION__POSTGRES__CREDENTIALS``) and a dataset name of the test's own, plus helpers
  to read what landed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, Iterator, List

import pytest

from postgres_server import PostgresServer, PostgresUnavailable


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer().start()
    except PostgresUnavailable as exc:
        pytest.fail(f"cannot start the test PostgreSQL server: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@dataclass
class PgDataset:
    """One test's dataset (a PostgreSQL schema) in the shared server."""

    server: PostgresServer
    dataset: str

    def query(self, sql: str, params: Any = ()) -> List[tuple]:
        return self.server.query(sql, params)

    def tables(self) -> List[str]:
        rows = self.query("SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                          "ORDER BY table_name", (self.dataset,))
        return [r[0] for r in rows if not r[0].startswith("_dlt")]

    def columns(self, table: str) -> Dict[str, tuple]:
        """name -> (PostgreSQL type with precision, nullable)"""
        rows = self.query(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull "
            "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (self.dataset, table))
        return {name: (dtype, nullable) for name, dtype, nullable in rows}

    def rows(self, table: str, order_by: str = "id") -> List[Dict[str, Any]]:
        con = self.server.connect()
        try:
            with con.cursor() as cur:
                cur.execute(f'SELECT * FROM "{self.dataset}"."{table}" ORDER BY {order_by}')
                names = [d[0] for d in cur.description]
                return [dict(zip(names, row)) for row in cur.fetchall()]
        finally:
            con.close()

    def count(self, table: str) -> int:
        return int(self.query(f'SELECT COUNT(*) FROM "{self.dataset}"."{table}"')[0][0])


@pytest.fixture
def pg(postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> PgDataset:
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_server.dsn)
    # a valid snake_case identifier as dlt would normalize it (no "__", no trailing "_")
    name = re.sub(r"_+", "_", re.sub(r"[^a-z0-9]", "_", request.node.name.lower()))[:36].strip("_")
    dataset = f"t_{name}_{datetime.now(timezone.utc).strftime('%H%M%S%f')}"
    return PgDataset(postgres_server, dataset)


def pg_value(value: Any) -> Any:
    """psycopg2 returns jsonb as Python objects and json as text: compare them as objects."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
