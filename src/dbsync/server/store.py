"""The server's data: databases of lazily generated tables, behind one lock.

Tables are generated on first use (a 200,000-row table costs about a second, so a server
that is only asked for its schema never pays it) and then mutated in place by the admin API.
Every public method takes the lock, so the store is safe to use from the server's event loop
and from other threads alike. Page bodies are rendered here because rendering and caching
depend on the table version, which only the store sees consistently.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import orjson

from dbsync.server.datagen import KINDS, generate_table, kind_for, table_names
from dbsync.server.pagecache import PageCache
from dbsync.server.problems import Problem
from dbsync.server.settings import ServerSettings, database_ids
from dbsync.server.table import Table

__all__ = ["Store", "DEFAULT_TABLE"]

DEFAULT_TABLE = "orders"


@dataclass
class _Slot:
    """A table that may not be generated yet."""

    kind: str
    rows: int
    table: Optional[Table] = None


@dataclass
class _Database:
    id: str
    name: str
    slots: Dict[str, _Slot] = field(default_factory=dict)


class Store:
    """All databases and tables of one server (see module docstring)."""

    def __init__(self, settings: ServerSettings, *, cache_bytes: int = 256 * 1024 * 1024):
        self.settings = settings
        self._lock = threading.RLock()
        self.cache = PageCache(cache_bytes)
        self._databases: Dict[str, _Database] = {}
        self.generated_tables = 0
        self.reset()

    # ------------------------------------------------------------------ structure

    def reset(self) -> None:
        """Back to the seeded state: every table regenerated (lazily) from the settings."""
        with self._lock:
            self._databases = {}
            for index, (db_id, name) in enumerate(database_ids(self.settings.databases)):
                self._databases[db_id] = self._new_database(db_id, name, first=index == 0)
            self.cache.clear()

    def _new_database(self, db_id: str, name: str, *, first: bool) -> _Database:
        db = _Database(db_id, name)
        for table, kind in table_names(self.settings.tables_per_database):
            rows = self.settings.default_rows if first and table == DEFAULT_TABLE else self.settings.rows_per_table
            db.slots[table] = _Slot(kind, rows)
        return db

    @property
    def default_database(self) -> str:
        return next(iter(self._databases))

    def database_list(self) -> List[Tuple[str, str]]:
        """(id, display name) ordered by id."""
        with self._lock:
            return sorted((db.id, db.name) for db in self._databases.values())

    def has_database(self, db_id: str) -> bool:
        with self._lock:
            return db_id in self._databases

    def _database(self, db_id: str) -> _Database:
        db = self._databases.get(db_id)
        if db is None:
            raise Problem.not_found(f"database '{db_id}' not found")
        return db

    def _slot(self, db_id: str, table: str) -> _Slot:
        db = self._database(db_id)
        slot = db.slots.get(table)
        if slot is None:
            raise Problem.not_found(f"table '{table}' not found in database '{db_id}'")
        return slot

    def table(self, db_id: str, table: str) -> Table:
        """The table, generated on first use. Call with the lock held or accept a snapshot."""
        with self._lock:
            slot = self._slot(db_id, table)
            if slot.table is None:
                kind = KINDS[slot.kind]
                generated = generate_table(kind, self.settings.seed, db_id, table, slot.rows)
                slot.table = Table(table, slot.kind, kind.fields, generated, tombstones=self.settings.tombstones)
                self.generated_tables += 1
            return slot.table

    def schema(self, db_id: str) -> Dict[str, Any]:
        """The schema document of a database. Ungenerated tables report their known row count
        and kind fields without being generated."""
        with self._lock:
            db = self._database(db_id)
            tables = []
            for name, slot in db.slots.items():
                if slot.table is not None:
                    tables.append(slot.table.schema())
                else:
                    tables.append({
                        "name": name, "primary_key": Table.primary_key, "cursor_field": Table.cursor_field,
                        "row_count": slot.rows, "fields": [f.to_json() for f in KINDS[slot.kind].fields],
                    })
            return {"database": db.id, "tables": tables}

    def create_table(self, db_id: str, table: str, kind: str, rows: int) -> Dict[str, Any]:
        """Add a table of a known kind with ``rows`` seeded rows (deterministic like the others)."""
        if not isinstance(table, str) or not table:
            raise Problem.bad_request("table name must be a non-empty string")
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
            raise Problem.bad_request(f"rows must be a non-negative integer, got {rows!r}")
        try:
            kind_for(kind)
        except ValueError as exc:
            raise Problem.bad_request(str(exc)) from None
        with self._lock:
            db = self._database(db_id)
            if table in db.slots:
                raise Problem.conflict(f"table '{table}' already exists in database '{db_id}'")
            db.slots[table] = _Slot(kind, rows)
            return self.table(db_id, table).schema()

    def drop_table(self, db_id: str, table: str) -> Dict[str, Any]:
        """Remove a table and its records (the API stops listing it)."""
        with self._lock:
            db = self._database(db_id)
            if table not in db.slots:
                raise Problem.not_found(f"table '{table}' not found in database '{db_id}'")
            del db.slots[table]
            return {"database": db_id, "table": table, "dropped": True}

    def drop_database(self, db_id: str) -> Dict[str, Any]:
        """Remove a database and all its tables (the database list stops listing it)."""
        with self._lock:
            self._database(db_id)
            del self._databases[db_id]
            return {"id": db_id, "dropped": True}

    def create_database(self, db_id: str, name: Optional[str] = None) -> Dict[str, Any]:
        """Add a database with the standard tables (a new tenant appearing mid-run)."""
        if not isinstance(db_id, str) or not db_id:
            raise Problem.bad_request("database id must be a non-empty string")
        with self._lock:
            if db_id in self._databases:
                raise Problem.conflict(f"database '{db_id}' already exists")
            self._databases[db_id] = self._new_database(db_id, name or db_id, first=False)
            return {"id": db_id, "name": name or db_id}

    # ------------------------------------------------------------------ pages

    def page(self, db_id: str, table: str, offset: int, limit: int, since_us: Optional[int],
             created_since_us: Optional[int] = None, fields: Optional[Tuple[str, ...]] = None) -> bytes:
        """The complete JSON body of one ``/v1/resource`` page (cached by table version)."""
        return self.page_and_count(db_id, table, offset, limit, since_us, created_since_us, fields)[0]

    def page_and_count(self, db_id: str, table: str, offset: int, limit: int,
                       since_us: Optional[int], created_since_us: Optional[int] = None,
                       fields: Optional[Tuple[str, ...]] = None) -> Tuple[bytes, int]:
        """The page's body and the listing's real size (for the paging headers). The body's
        ``total`` is the announced one: ``total_bias`` added, or left out (``total_in_body``).
        ``fields`` keeps only those keys of each record (400 for a name the table lacks)."""
        with self._lock:
            t = self.table(db_id, table)
            if fields is not None:
                t.check_field_names(fields)
            key = (t.version, since_us, created_since_us, offset, limit, fields)
            body = self.cache.get(key)
            if body is None:
                if since_us is None and self.settings.tombstones_listed:
                    ids, total = t.page_all_ids(offset, limit)
                elif since_us is None:
                    ids, total = t.page_live_ids(offset, limit)
                else:
                    ids, total = t.page_since_ids(since_us, offset, limit, created_since_us)
                rows = t.project(ids, fields)
                if self.settings.total_in_body:
                    body = b'{"data":[%b],%b,"offset":%d,"limit":%d}' % (
                        b",".join(rows), _nested(self.settings.total_path, self.announced_total(total)), offset, limit)
                else:
                    body = b'{"data":[%b],"offset":%d,"limit":%d}' % (b",".join(rows), offset, limit)
                self.cache.put(key, body)
            if created_since_us is not None and since_us is not None:
                return body, t.page_since_ids(since_us, 0, 0, created_since_us)[1]
            if since_us is None and self.settings.tombstones_listed:
                return body, len(t.records)
            return body, t.count(since_us)

    def announced_total(self, real: int) -> int:
        """What the server says a listing holds: its size plus ``total_bias``, never below 0."""
        return max(0, real + self.settings.total_bias)

    def records_body(self, db_id: str, table: str, include_deleted: bool) -> bytes:
        """``{"data": [...all records by id...], "total": n}`` for the admin API."""
        with self._lock:
            rows = self.table(db_id, table).all_bodies(include_deleted)
            return b'{"data":[%b],"total":%d}' % (b",".join(rows), len(rows))

    # ------------------------------------------------------------------ mutations

    def insert(self, db_id: str, table: str, records: Sequence[Any], *, raw: bool = False) -> List[int]:
        with self._lock:
            rows = list(records) if isinstance(records, tuple) else records
            return self.table(db_id, table).insert(rows, raw=raw)

    def update(self, db_id: str, table: str, record_id: int, changes: Mapping[str, Any], *,
               raw: bool = False) -> Dict[str, Any]:
        with self._lock:
            return self.table(db_id, table).update(record_id, changes, raw=raw)

    def delete(self, db_id: str, table: str, record_id: int) -> Dict[str, Any]:
        with self._lock:
            return self.table(db_id, table).delete(record_id)

    def add_field(self, db_id: str, table: str, name: str, type: str, nullable: bool = True,
                  precision: Optional[int] = None, scale: Optional[int] = None, declared_type: Any = None,
                  format: Optional[str] = None, default: Any = None) -> Dict[str, Any]:
        with self._lock:
            return self.table(db_id, table).add_field(name, type, nullable, precision, scale, declared_type,
                                                      format, default).to_json()

    def set_field(self, db_id: str, table: str, name: str, *, type: Optional[str] = None,
                  nullable: Optional[bool] = None, precision: Optional[int] = None,
                  scale: Optional[int] = None, declared_type: Any = None,
                  format: Optional[str] = None) -> Dict[str, Any]:
        with self._lock:
            return self.table(db_id, table).set_field(
                name, type=type, nullable=nullable, precision=precision, scale=scale, declared_type=declared_type,
                format=format).to_json()

    def serve_null_cursors(self, db_id: str, table: str) -> Dict[str, Any]:
        with self._lock:
            t = self.table(db_id, table)
            t.serve_null_cursors()
            return t.schema()

    def stats(self) -> Dict[str, Any]:
        with self._lock:
            tables = {}
            for db in self._databases.values():
                for name, slot in db.slots.items():
                    t = slot.table
                    tables[f"{db.id}.{name}"] = (
                        {"generated": False, "rows": slot.rows} if t is None else
                        {"generated": True, "live": t.row_count, "tombstones": len(t.records) - t.row_count,
                         "version": t.version}
                    )
            return {"databases": len(self._databases), "tables": tables, "generated_tables": self.generated_tables,
                    "page_cache": self.cache.stats()}


def _nested(path: str, value: int) -> bytes:
    """``"a":{"b":value}`` for the dotted path ``a.b`` (a body member, without braces)."""
    parts = path.split(".")
    inner = b"%d" % value
    for part in reversed(parts[1:]):
        inner = b"{" + orjson.dumps(part) + b":" + inner + b"}"
    return orjson.dumps(parts[0]) + b":" + inner
