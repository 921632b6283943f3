"""Create two small SQLite databases for Datasette to serve: ``shop.db`` and ``crm.db``.

Usage: python examples/datasette/sample_data.py [folder] [--rows N]

Typed columns on purpose (INTEGER, TEXT, NUMERIC, REAL, BOOLEAN, DATE, DATETIME, BLOB, a
table without a declared primary key), so `dbsync discover` has something to show. Every table
has an ``updated_at`` DATETIME column written as ISO text, which dbsync's incremental filter uses.
Standard library only; the dbsync tests build their databases with it too.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def iso(instant: datetime) -> str:
    """The text form every ``updated_at`` uses: sortable, millisecond precision, UTC ``Z``."""
    return instant.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def create_shop(path: Path, rows: int) -> None:
    with sqlite3.connect(path) as con:
        con.executescript("""
            CREATE TABLE orders (
                id INTEGER PRIMARY KEY,
                customer TEXT NOT NULL,
                quantity INTEGER,
                unit_price NUMERIC,
                weight_kg REAL,
                paid BOOLEAN NOT NULL,
                placed_on DATE,
                shipped_at DATETIME,
                details TEXT,              -- JSON text: SQLite has no JSON type
                note TEXT,
                updated_at DATETIME NOT NULL
            );
            CREATE TABLE products (
                sku TEXT PRIMARY KEY,
                title TEXT NOT NULL,
                price NUMERIC NOT NULL,
                in_stock BOOLEAN,
                thumbnail BLOB,
                updated_at DATETIME NOT NULL
            );
        """)
        con.executemany(
            "INSERT INTO orders VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [(
                i,
                f"Customer {i % 97} – Zoë" if i % 10 == 0 else f"Customer {i % 97}",
                None if i % 13 == 0 else i % 50,
                f"{(i * 37) % 1000 / 8:.3f}" if i % 2 else (i * 37) % 1000 // 8,  # text and numbers
                None if i % 11 == 0 else round(i * 0.125, 3),
                i % 3 == 0,
                (START + timedelta(days=i % 365)).date().isoformat(),
                None if i % 4 else iso(START + timedelta(hours=i)),
                json.dumps({"lines": i % 5, "gift": i % 7 == 0}) if i % 6 else None,
                None if i % 5 else f"note {i}",
                iso(START + timedelta(seconds=i // 2)),  # two rows per instant: cursor ties
            ) for i in range(1, rows + 1)],
        )
        con.executemany(
            "INSERT INTO products VALUES (?,?,?,?,?,?)",
            [(f"SKU-{i:04d}", f"Product {i}", f"{i * 1.25:.2f}", None if i % 7 == 0 else i % 2 == 0,
              bytes([i % 256, 0, 255]), iso(START + timedelta(minutes=i))) for i in range(1, 51)],
        )


def create_crm(path: Path, rows: int) -> None:
    with sqlite3.connect(path) as con:
        con.executescript("""
            CREATE TABLE customers (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                email TEXT,
                vip BOOLEAN,
                score REAL,
                signed_up DATETIME NOT NULL,
                updated_at DATETIME NOT NULL
            );
            CREATE TABLE events (
                kind TEXT NOT NULL,
                payload TEXT,
                updated_at DATETIME NOT NULL
            );
        """)
        con.executemany(
            "INSERT INTO customers VALUES (?,?,?,?,?,?,?)",
            [(i, f"Name {i}", None if i % 9 == 0 else f"user{i}@example.com", i % 4 == 0,
              None if i % 8 == 0 else i / 3, iso(START + timedelta(days=i)), iso(START + timedelta(minutes=i)))
             for i in range(1, rows // 4 + 1)],
        )
        con.executemany(
            "INSERT INTO events VALUES (?,?,?)",
            [("signup" if i % 2 else "login", None if i % 3 == 0 else f"payload {i}",
              iso(START + timedelta(minutes=i))) for i in range(1, 41)],
        )


def create(folder: Path, rows: int = 2500) -> list:
    """Create (replace) shop.db and crm.db in ``folder``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "shop.db", folder / "crm.db"]
    for path in paths:
        path.unlink(missing_ok=True)
    create_shop(paths[0], rows)
    create_crm(paths[1], rows)
    return paths


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=".")
    parser.add_argument("--rows", type=int, default=2500, help="orders in shop.db (customers: a quarter)")
    args = parser.parse_args()
    for p in create(Path(args.folder), args.rows):
        print(p)
