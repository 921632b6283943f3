"""Create three Parse classes with objects, through Parse Server's own REST API.

Usage: python examples/parse/sample_data.py http://127.0.0.1:1337/parse [--rows N]
       (the application id in $PARSE_APP_ID, the master key in $PARSE_MASTER_KEY)

``Product`` (N objects, 250 by default: several pages of 100) with a ``Date`` (``released``,
on every third product only), an ``Array`` and an ``Object``; ``Customer`` (a fifth of N) with a
nullable ``Date`` (``lastOrder``: null on most); ``Order`` (a tenth of N) with a ``Pointer`` to
its ``Customer`` and a nullable ``String``. Classes are declared through ``/schemas``, objects created one request each.
Needs only ``requests``; the dbsync tests build their data with it too.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, Dict, List, Optional

import requests

# declared up front through /schemas (so every field exists, typed, before any object sets it);
# Parse adds objectId, createdAt, updatedAt and ACL itself
SCHEMAS: Dict[str, Dict[str, Dict[str, str]]] = {
    "Product": {"title": {"type": "String"}, "price": {"type": "Number"}, "stock": {"type": "Number"},
                "inStock": {"type": "Boolean"}, "released": {"type": "Date"}, "tags": {"type": "Array"},
                "specs": {"type": "Object"}},
    "Customer": {"name": {"type": "String"}, "email": {"type": "String"}, "vip": {"type": "Boolean"},
                 "credit": {"type": "Number"}, "lastOrder": {"type": "Date"}},
    "Order": {"number": {"type": "Number"}, "total": {"type": "Number"}, "paid": {"type": "Boolean"},
              "placed": {"type": "Date"}, "customer": {"type": "Pointer", "targetClass": "Customer"},
              "note": {"type": "String"}},
}


def date(iso: str) -> Dict[str, str]:
    """Parse's wrapped date: {"__type": "Date", "iso": "..."} (UTC, milliseconds, Z)."""
    return {"__type": "Date", "iso": iso}


def pointer(class_name: str, object_id: str) -> Dict[str, str]:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


def product(i: int) -> Dict[str, Any]:
    record: Dict[str, Any] = {"title": f"Product {i}" + (" – Zoë" if i % 10 == 0 else ""),
                              "price": round(i * 1.25, 2), "stock": i % 7, "inStock": i % 7 != 0}
    if i % 3 == 0:  # the others leave the optional fields out
        record.update(released=date(f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00.000Z"),
                      tags=["new", "eco"][: i % 3 + 1], specs={"weight": i, "sizes": ["S", "M"]})
    return record


def customer(i: int) -> Dict[str, Any]:
    return {"name": f"Customer {i}", "email": f"c{i}@example.com", "vip": i % 5 == 0, "credit": i * 10,
            "lastOrder": date(f"2025-03-{1 + i % 28:02d}T08:30:00.250Z") if i % 4 == 0 else None}


def order(i: int, customer_id: str) -> Dict[str, Any]:
    return {"number": 1000 + i, "total": round(i * 9.5, 2), "paid": i % 2 == 0,
            "placed": date(f"2025-02-{1 + i % 28:02d}T12:00:00.000Z"),
            "customer": pointer("Customer", customer_id), "note": f"gift #{i}" if i % 3 == 0 else None}


class Parse:
    """The few REST calls the sample data and the tests need (master key: every class, no ACLs)."""

    def __init__(self, base_url: str, app_id: str, master_key: str):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update({"X-Parse-Application-Id": app_id, "X-Parse-Master-Key": master_key})

    def declare(self, class_name: str, fields: Dict[str, Dict[str, str]]) -> None:
        answer = self.session.post(f"{self.base_url}/schemas/{class_name}", timeout=30,
                                   json={"className": class_name, "fields": fields})
        answer.raise_for_status()

    def add(self, class_name: str, objects: List[Dict[str, Any]]) -> List[str]:
        """Create the objects one request each (parse-server 9.10's /batch fails every sub-request
        with a 500 "Cannot convert undefined or null to object")."""
        return [self.create(class_name, values)["objectId"] for values in objects]

    def create(self, class_name: str, values: Dict[str, Any]) -> Dict[str, Any]:
        answer = self.session.post(f"{self.base_url}/classes/{class_name}", json=values, timeout=30)
        answer.raise_for_status()
        return answer.json()

    def update(self, class_name: str, object_id: str, values: Dict[str, Any]) -> Dict[str, Any]:
        answer = self.session.put(f"{self.base_url}/classes/{class_name}/{object_id}", json=values, timeout=30)
        answer.raise_for_status()
        return answer.json()

    def delete(self, class_name: str, object_id: str) -> None:
        self.session.delete(f"{self.base_url}/classes/{class_name}/{object_id}", timeout=30).raise_for_status()

    def objects(self, class_name: str, where: Optional[str] = None) -> List[Dict[str, Any]]:
        """Every object of a class, as Parse sends it (pages of 1000, by objectId)."""
        found: List[Dict[str, Any]] = []
        while True:
            params: Dict[str, Any] = {"limit": 1000, "skip": len(found), "order": "objectId"}
            if where:
                params["where"] = where
            answer = self.session.get(f"{self.base_url}/classes/{class_name}", params=params, timeout=60)
            answer.raise_for_status()
            page = answer.json()["results"]
            found.extend(page)
            if len(page) < 1000:
                return found


def create(base_url: str, app_id: str, master_key: str, rows: int = 250) -> Dict[str, List[str]]:
    """Create the classes and their objects; return the objectIds per class."""
    parse = Parse(base_url, app_id, master_key)
    for class_name, fields in SCHEMAS.items():
        parse.declare(class_name, fields)
    ids = {"Product": parse.add("Product", [product(i) for i in range(1, rows + 1)]),
           "Customer": parse.add("Customer", [customer(i) for i in range(1, max(rows // 5, 1) + 1)])}
    customers = ids["Customer"]
    ids["Order"] = parse.add("Order", [order(i, customers[i % len(customers)])
                                         for i in range(1, max(rows // 10, 1) + 1)])
    return ids


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url", help="Parse Server's mount URL, e.g. http://127.0.0.1:1337/parse")
    parser.add_argument("--rows", type=int, default=250, help="products (customers: a fifth, orders: a tenth)")
    args = parser.parse_args()
    created = create(args.base_url, os.environ["PARSE_APP_ID"], os.environ["PARSE_MASTER_KEY"], args.rows)
    print({name: len(v) for name, v in created.items()})
