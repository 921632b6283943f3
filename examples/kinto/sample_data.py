"""Create two Kinto buckets with collections and records, through Kinto's own HTTP API.

Usage: python examples/kinto/sample_data.py http://127.0.0.1:8888/v1 [--rows N]
       (the HTTP basic user and password in $KINTO_USER and $KINTO_PASSWORD; Kinto's basicauth
       turns any user/password pair into a user id, and that user owns what it creates)

Bucket ``shop``: ``products`` (N records, 250 by default: several pages) and ``orders`` (a tenth),
bucket ``crm``: ``customers`` (a fifth) and ``notes`` (a few). ``products`` and ``customers`` carry
a JSON schema on the collection (Kinto validates records against it, and stamps each record with
the schema's timestamp in a ``schema`` field); ``orders`` and ``notes`` have none. Needs only
``requests``; the dbsync tests build their data with it too.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, Dict, List, Tuple

import requests

SCHEMAS: Dict[Tuple[str, str], Dict[str, Any]] = {
    ("shop", "products"): {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "price": {"type": "number"},
            "stock": {"type": "integer"},
            "in_stock": {"type": "boolean"},
            "released": {"type": "string", "format": "date"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "specs": {"type": "object"},
        },
        "required": ["title", "price"],
    },
    ("crm", "customers"): {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "email": {"type": "string", "format": "email"},
            "vip": {"type": "boolean"},
            "credit": {"type": "integer"},
            "last_order": {"type": ["string", "null"], "format": "date-time"},
        },
        "required": ["name", "email"],
    },
}
COLLECTIONS = {"shop": ["products", "orders"], "crm": ["customers", "notes"]}


def product(i: int) -> Dict[str, Any]:
    record: Dict[str, Any] = {"title": f"Product {i}" + (" – Zoë" if i % 10 == 0 else ""),
                              "price": round(i * 1.25, 2), "stock": i % 7, "in_stock": i % 7 != 0}
    if i % 3 == 0:  # the others leave the optional fields out
        record.update(released=f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}", tags=["new", "eco"][: i % 3 + 1],
                      specs={"weight": i, "sizes": ["S", "M"]})
    return record


def order(i: int) -> Dict[str, Any]:
    return {"number": 1000 + i, "total": round(i * 9.5, 2), "paid": i % 2 == 0, "placed": f"2025-02-{1 + i % 28:02d}"}


def customer(i: int) -> Dict[str, Any]:
    return {"name": f"Customer {i}", "email": f"c{i}@example.com", "vip": i % 5 == 0, "credit": i * 10,
            "last_order": f"2025-03-{1 + i % 28:02d}T08:30:00+00:00" if i % 4 == 0 else None}


def note(i: int) -> Dict[str, Any]:
    return {"text": f"Call back #{i}", "customer": f"c{i}@example.com"}


def create(base_url: str, auth: Tuple[str, str], rows: int = 250) -> Dict[str, Dict[str, List[str]]]:
    """Create the buckets, collections (with their schemas) and records; return the record ids
    per bucket and collection."""
    session = requests.Session()
    session.auth = auth
    makers = {"products": (product, rows), "orders": (order, max(rows // 10, 1)),
              "customers": (customer, max(rows // 5, 1)), "notes": (note, 3)}
    ids: Dict[str, Dict[str, List[str]]] = {}
    for bucket, collections in COLLECTIONS.items():
        session.put(f"{base_url}/buckets/{bucket}", json={}, timeout=30).raise_for_status()
        ids[bucket] = {}
        for collection in collections:
            data: Dict[str, Any] = {}
            if (bucket, collection) in SCHEMAS:
                data["schema"] = SCHEMAS[(bucket, collection)]
            session.put(f"{base_url}/buckets/{bucket}/collections/{collection}", json={"data": data},
                        timeout=30).raise_for_status()
            make, count = makers[collection]
            ids[bucket][collection] = [add(session, base_url, bucket, collection, make(i))
                                       for i in range(1, count + 1)]
    return ids


def add(session: requests.Session, base_url: str, bucket: str, collection: str, record: Dict[str, Any]) -> str:
    answer = session.post(f"{base_url}/buckets/{bucket}/collections/{collection}/records",
                          json={"data": record}, timeout=30)
    answer.raise_for_status()
    return answer.json()["data"]["id"]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url", help="Kinto's root URL, with /v1")
    parser.add_argument("--rows", type=int, default=250, help="products (orders: a tenth, customers: a fifth)")
    args = parser.parse_args()
    created = create(args.base_url.rstrip("/"), (os.environ["KINTO_USER"], os.environ["KINTO_PASSWORD"]), args.rows)
    print({bucket: {name: len(v) for name, v in c.items()} for bucket, c in created.items()})
