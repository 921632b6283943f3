"""Create two typed PocketBase collections with records, through PocketBase's own REST API.

Usage: python examples/pocketbase/sample_data.py http://127.0.0.1:8090 [--rows N]
       (the superuser token in $POCKETBASE_TOKEN; README.md here says how to get one)

``products`` uses most field types (text, number, bool, email, url, date, select single and
multiple, json, editor, geoPoint, autodate); ``customers`` has required fields and a date that is
usually unset (PocketBase answers "" for it). One user record goes into the built-in ``users``
auth collection, whose password and token key are hidden fields. Needs only ``requests``; the
dbsync tests build their data with it too.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, Dict, List

import requests

COLLECTIONS: List[Dict[str, Any]] = [
    {
        "name": "products", "type": "base",
        "fields": [
            {"name": "title", "type": "text", "required": True},
            {"name": "price", "type": "number"},
            {"name": "in_stock", "type": "bool"},
            {"name": "contact", "type": "email"},
            {"name": "site", "type": "url"},
            {"name": "released", "type": "date"},
            {"name": "tags", "type": "select", "values": ["new", "sale", "eco"], "maxSelect": 3},
            {"name": "category", "type": "select", "values": ["tools", "toys"], "maxSelect": 1},
            {"name": "specs", "type": "json"},
            {"name": "description", "type": "editor"},
            {"name": "origin", "type": "geoPoint"},
            {"name": "created", "type": "autodate", "onCreate": True, "onUpdate": False},
            {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
        ],
    },
    {
        "name": "customers", "type": "base",
        "fields": [
            {"name": "name", "type": "text", "required": True},
            {"name": "email", "type": "email", "required": True},
            {"name": "vip", "type": "bool"},
            {"name": "credit", "type": "number", "onlyInt": True},
            {"name": "last_order", "type": "date"},
            {"name": "created", "type": "autodate", "onCreate": True, "onUpdate": False},
            {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
        ],
    },
]


def product(i: int) -> Dict[str, Any]:
    record: Dict[str, Any] = {"title": f"Product {i}" + (" – Zoë" if i % 10 == 0 else ""),
                              "price": round(i * 1.25, 2), "in_stock": i % 2 == 0,
                              "tags": ["new", "eco"][: i % 3], "category": "tools" if i % 2 else "toys"}
    if i % 3 == 0:  # the others stay unset: PocketBase answers "" (text, date), 0, false, null
        record.update(contact=f"sales{i}@example.com", site=f"https://example.com/p/{i}",
                      released=f"2024-{1 + i % 12:02d}-{1 + i % 28:02d} 10:{i % 60:02d}:00.000Z",
                      specs={"weight": i, "sizes": ["S", "M"]}, description=f"<p>Product {i}</p>",
                      origin={"lon": 13.4, "lat": 52.5})
    return record


def customer(i: int) -> Dict[str, Any]:
    record: Dict[str, Any] = {"name": f"Customer {i}", "email": f"c{i}@example.com", "vip": i % 5 == 0,
                              "credit": i * 10}
    if i % 4 == 0:
        record["last_order"] = f"2025-03-{1 + i % 28:02d} 08:30:00.000Z"
    return record


def create(base_url: str, token: str, rows: int = 250) -> Dict[str, List[str]]:
    """Create the collections and records; return the record ids per collection."""
    session = requests.Session()
    session.headers["Authorization"] = token
    for collection in COLLECTIONS:
        answer = session.post(f"{base_url}/api/collections", json=collection, timeout=30)
        answer.raise_for_status()
    ids: Dict[str, List[str]] = {"products": [], "customers": [], "users": []}
    for i in range(1, rows + 1):
        ids["products"].append(add(session, base_url, "products", product(i)))
    for i in range(1, rows // 5 + 1):
        ids["customers"].append(add(session, base_url, "customers", customer(i)))
    ids["users"].append(add(session, base_url, "users", {
        "email": "ada@example.com", "password": "correct-horse-9", "passwordConfirm": "correct-horse-9",
        "name": "Ada", "verified": True}))
    return ids


def add(session: requests.Session, base_url: str, collection: str, record: Dict[str, Any]) -> str:
    answer = session.post(f"{base_url}/api/collections/{collection}/records", json=record, timeout=30)
    answer.raise_for_status()
    return answer.json()["id"]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("--rows", type=int, default=250, help="products (customers: a fifth)")
    args = parser.parse_args()
    created = create(args.base_url.rstrip("/"), os.environ["POCKETBASE_TOKEN"], args.rows)
    print({name: len(v) for name, v in created.items()})
