"""One table's records, its declared schema and the two orders the API reads them in.

Records are kept as their serialized JSON bytes (never as dicts: 200,000 nested dicts would
cost far more memory than their bytes) plus the integers the API orders and filters by. Two
sorted indexes serve the two query modes without scanning:

* ``live_ids``: ids of non-deleted records (plain paging, ordered by ``id``);
* ``cursor_keys``: ``(updated_us, id)`` of every record, tombstones included
  (``updated_since`` paging, ordered by ``(updated_at, id)``; a bisect finds the start).

**NULL cursors** (:meth:`Table.serve_null_cursors`, an admin call): ``updated_at`` is null
until a record is first edited, as with many APIs' "date updated" fields. Such a record sorts by
its ``created_at``; ``updated_since`` never matches it (as SQL's ``updated_at >= x`` would not)
unless ``created_since`` is given too, which matches never-edited records by ``created_at``.

**Without tombstones** (``ServerSettings(tombstones=False)``, as on most real APIs) a delete
removes the record from ``records`` and both indexes: it is in no listing and no truth any
more. ``max_id`` still counts it, so an id is never handed out again (an explicit insert of
that id brings it back, as with tombstones).

**Field selection** (:meth:`Table.project`): a page may carry only some keys of each record
(``fields=id``); a keys-only page is built from the ids without touching the bodies.

Mutations keep both indexes sorted and bump ``version`` from a process-wide counter, which
is the page cache's invalidation key. Not thread-safe by itself: :class:`~dbsync.server.store.Store`
holds the lock.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

import orjson

from dbsync import jsonio
from dbsync.server.datagen import FIELD_TYPES, FieldSpec, GeneratedTable, validate_value
from dbsync.server.problems import Problem
from dbsync.server.timefmt import MICROS, format_timestamp, now_seconds, parse_instant

__all__ = ["Record", "Table", "next_version"]

_VERSIONS = itertools.count(1)
_INT64 = (-(2**63), 2**63 - 1)


def next_version() -> int:
    """A process-wide increasing number: no two table states ever share a cache key."""
    return next(_VERSIONS)


class Record:
    """One stored record: its id, its cursor instant, its bytes, and whether it is a tombstone."""

    __slots__ = ("id", "updated_us", "body", "deleted")

    def __init__(self, id: int, updated_us: int, body: bytes, deleted: bool = False):
        self.id = id
        self.updated_us = updated_us
        self.body = body
        self.deleted = deleted


def _tombstone(record_id: int, updated_at: str) -> bytes:
    return orjson.dumps({"id": record_id, "updated_at": updated_at, "deleted": True})


class Table:
    """A table of one database (see module docstring)."""

    primary_key = "id"
    cursor_field = "updated_at"

    def __init__(self, name: str, kind: str, fields: Sequence[FieldSpec], generated: GeneratedTable, *,
                 tombstones: bool = True):
        self.name = name
        self.tombstones = tombstones  # False: a delete forgets the record (no tombstone served)
        self.kind = kind
        self.fields: List[FieldSpec] = list(fields)
        self.records: Dict[int, Record] = {
            i: Record(i, us, body)
            for i, us, body in zip(range(1, len(generated.bodies) + 1), generated.updated_us, generated.bodies)
        }
        self.live_ids: List[int] = list(range(1, len(generated.bodies) + 1))
        self.cursor_keys: List[Tuple[int, int]] = sorted(zip(generated.updated_us, self.live_ids))
        self.max_id = len(generated.bodies)
        self.max_updated_us = self.cursor_keys[-1][0] if self.cursor_keys else 0
        self.null_cursors = False  # updated_at null until a record is first edited
        self.unedited: Set[int] = set()  # ids of live records never edited (null_cursors only)
        self.version = next_version()

    # ------------------------------------------------------------------ reading

    @property
    def row_count(self) -> int:
        """Live (non-deleted) records."""
        return len(self.live_ids)

    def schema(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "primary_key": self.primary_key,
            "cursor_field": ["updated_at", "created_at"] if self.null_cursors else self.cursor_field,
            "row_count": self.row_count,
            "fields": [f.to_json() for f in self.fields],
        }

    def page_live(self, offset: int, limit: int) -> Tuple[List[bytes], int]:
        """Live records ordered by id: (bodies of the page, total live)."""
        ids, total = self.page_live_ids(offset, limit)
        records = self.records
        return [records[i].body for i in ids], total

    def page_live_ids(self, offset: int, limit: int) -> Tuple[List[int], int]:
        """Ids of a page of live records ordered by id, and the total live."""
        return self.live_ids[offset:offset + limit], len(self.live_ids)

    def page_all_ids(self, offset: int, limit: int) -> Tuple[List[int], int]:
        """Ids of a page of every record, tombstones too, ordered by id, and their total: a
        plain listing that shows soft-deleted rows (``ServerSettings.tombstones_listed``)."""
        ids = sorted(self.records)
        return ids[offset:offset + limit], len(ids)

    def page_since_ids(self, since_us: int, offset: int, limit: int,
                       created_since_us: Optional[int] = None) -> Tuple[List[int], int]:
        """Ids of every record (tombstones too) with updated_at >= since, ordered by
        (updated_at, id), and the listing's size. Records never edited (null cursors) match
        only by ``created_at >= created_since``."""
        keys = self.cursor_keys
        if self.unedited:
            unedited = self.unedited
            low = since_us if created_since_us is None else min(since_us, created_since_us)
            start = bisect.bisect_left(keys, (low, -(2**64)))
            keys = [k for k in keys[start:]
                    if (k[0] >= since_us if k[1] not in unedited
                        else created_since_us is not None and k[0] >= created_since_us)]
            return [i for _, i in keys[offset:offset + limit]], len(keys)
        start = bisect.bisect_left(keys, (since_us, -(2**64)))
        page = keys[start + offset:start + offset + limit] if offset < len(keys) else []
        return [i for _, i in page], len(keys) - start

    def check_field_names(self, names: Sequence[str]) -> None:
        """400 naming the first name that is not a declared field of the table."""
        declared = {f.name for f in self.fields}
        for name in names:
            if name not in declared:
                raise Problem.bad_request(
                    f"parameter 'fields': unknown field '{name}' in table '{self.name}' "
                    f"(fields: {', '.join(f.name for f in self.fields)})")

    def project(self, ids: Sequence[int], names: Optional[Sequence[str]]) -> List[bytes]:
        """The bodies of ``ids``, each with only the keys in ``names`` (all keys for None), in
        the record's own order; a tombstone keeps ``"deleted": true`` so it stays one. Keys only
        (``names == ("id",)``) is formatted from the ids alone: no body is parsed."""
        records = self.records
        if names is None:
            return [records[i].body for i in ids]
        if tuple(names) == ("id",):
            return [b'{"id":%d,"deleted":true}' % i if records[i].deleted else b'{"id":%d}' % i for i in ids]
        wanted = set(names)
        out = []
        for i in ids:
            record = records[i]
            values = jsonio.loads(record.body)
            picked = {k: v for k, v in values.items() if k in wanted}
            if record.deleted:
                picked["deleted"] = True
            out.append(jsonio.dumps(picked))
        return out

    def count(self, since_us: Optional[int]) -> int:
        """The real size of a listing: live records, or every record at or after ``since_us``."""
        if since_us is None:
            return len(self.live_ids)
        return len(self.cursor_keys) - bisect.bisect_left(self.cursor_keys, (since_us, -(2**64)))

    def all_bodies(self, include_deleted: bool) -> List[bytes]:
        """The full truth ordered by id (tombstones included on request)."""
        if not include_deleted:
            return self.page_live(0, len(self.live_ids))[0]
        return [self.records[i].body for i in sorted(self.records)]

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise Problem.not_found(f"field '{name}' not found in table '{self.name}'")

    # ------------------------------------------------------------------ writing

    def _now_us(self) -> int:
        """Server "now" for bumps: wall clock at second resolution, never before the newest
        record, so a change always sorts last (ties with the newest are allowed)."""
        return max(now_seconds() * MICROS, self.max_updated_us)

    def _changed(self) -> None:
        self.version = next_version()

    def _check_values(self, values: Mapping[str, Any], *, full: bool) -> None:
        """Validate against the declared schema (what a careful API would do)."""
        specs = {f.name: f for f in self.fields}
        unknown = [k for k in values if k not in specs]
        if unknown:
            raise Problem.bad_request(
                f"unknown field(s) {', '.join(unknown)} for table '{self.name}' (add them with add_field, "
                f"or insert raw)")
        for key, value in values.items():
            if key in ("id", "updated_at"):
                continue
            why = validate_value(specs[key], value)
            if why:
                raise Problem.bad_request(f"field '{key}' of table '{self.name}': {why}")
        if full:
            missing = [f.name for f in self.fields
                       if not f.nullable and f.name not in values and f.name not in ("id", "updated_at")]
            if missing:
                raise Problem.bad_request(f"missing non-nullable field(s) {', '.join(missing)} "
                                          f"for table '{self.name}'")

    def _ordered(self, record_id: int, values: Mapping[str, Any], updated_at: Optional[str], raw: bool) -> Dict[str, Any]:
        """The record as served: id first, then schema order (raw: the given order)."""
        out: Dict[str, Any] = {"id": record_id}
        if raw:
            for key, value in values.items():
                if key != "id":
                    out[key] = value
            out["updated_at"] = updated_at
            return out
        for spec in self.fields:
            if spec.name == "id":
                continue
            if spec.name == "updated_at":
                out["updated_at"] = updated_at
            elif spec.name in values:
                out[spec.name] = values[spec.name]
        return out

    @staticmethod
    def _dumps(record: Mapping[str, Any]) -> bytes:
        try:
            return jsonio.dumps(record)
        except TypeError as exc:  # e.g. an integer beyond 64 bits
            raise Problem.bad_request(f"record cannot be served as JSON: {exc}") from None

    def _set(self, record: Record) -> None:
        """Store/replace a record and keep both indexes sorted."""
        old = self.records.get(record.id)
        if old is not None:
            keys = self.cursor_keys
            del keys[bisect.bisect_left(keys, (old.updated_us, old.id))]
            if not old.deleted and record.deleted:
                del self.live_ids[bisect.bisect_left(self.live_ids, record.id)]
        if (old is None or old.deleted) and not record.deleted:
            if not self.live_ids or record.id > self.live_ids[-1]:
                self.live_ids.append(record.id)
            else:
                bisect.insort(self.live_ids, record.id)
        key = (record.updated_us, record.id)
        if not self.cursor_keys or key > self.cursor_keys[-1]:
            self.cursor_keys.append(key)
        else:
            bisect.insort(self.cursor_keys, key)
        self.records[record.id] = record
        self.max_id = max(self.max_id, record.id)
        self.max_updated_us = max(self.max_updated_us, record.updated_us)

    def insert(self, rows: Sequence[Any], *, raw: bool = False) -> List[int]:
        """Insert records; all-or-nothing. A missing id becomes max id + 1; ``updated_at`` is the
        server's "now" (raw inserts keep a parseable ``updated_at`` they bring, so tests can serve
        late-arriving or future-dated data). Inserting over a tombstone revives that id."""
        if not isinstance(rows, list):
            raise Problem.bad_request("body must be a JSON list of records")
        prepared: List[Tuple[int, Mapping[str, Any]]] = []
        top = self.max_id  # ids are assigned past every id known so far, tombstones included
        seen = set()
        for index, row in enumerate(rows):
            if not isinstance(row, dict):
                raise Problem.bad_request(f"record #{index} is not a JSON object")
            if "id" in row and row["id"] is not None:
                record_id = row["id"]
                if isinstance(record_id, bool) or not isinstance(record_id, int) \
                        or not _INT64[0] <= record_id <= _INT64[1]:
                    raise Problem.bad_request(f"record #{index}: id must be a 64-bit integer, got {record_id!r}")
            else:
                record_id = top + 1
            top = max(top, record_id)
            existing = self.records.get(record_id)
            if record_id in seen or (existing is not None and not existing.deleted):
                raise Problem.conflict(f"record id {record_id} already exists in table '{self.name}'")
            if not raw:
                self._check_values(row, full=True)
            seen.add(record_id)
            prepared.append((record_id, row))
        now_us = self._now_us()
        ids = []
        for record_id, row in prepared:
            updated_us, updated_at = now_us, format_timestamp(now_us // MICROS)
            edited = False
            if raw and isinstance(row.get("updated_at"), str):
                given = parse_instant(row["updated_at"])
                if given is not None:
                    updated_us, updated_at, edited = given, row["updated_at"], True
            if self.null_cursors and not edited:
                row = {**row, "created_at": row.get("created_at") or updated_at}
                updated_us = parse_instant(row["created_at"]) or updated_us
                updated_at = None
            body = self._dumps(self._ordered(record_id, row, updated_at, raw))
            self._set(Record(record_id, updated_us, body))
            if self.null_cursors:
                (self.unedited.discard if edited else self.unedited.add)(record_id)
            ids.append(record_id)
        self._changed()
        return ids

    def _live(self, record_id: int) -> Record:
        record = self.records.get(record_id)
        if record is None:
            raise Problem.not_found(f"record {record_id} not found in table '{self.name}'")
        if record.deleted:
            raise Problem.not_found(f"record {record_id} of table '{self.name}' is deleted")
        return record

    def update(self, record_id: int, changes: Mapping[str, Any], *, raw: bool = False) -> Dict[str, Any]:
        """Merge ``changes`` into a live record and bump its ``updated_at``; returns the new record."""
        if not isinstance(changes, dict):
            raise Problem.bad_request("body must be a JSON object of field changes")
        if "id" in changes and changes["id"] != record_id:
            raise Problem.bad_request("the id of a record cannot be changed")
        record = self._live(record_id)
        if not raw:
            self._check_values(changes, full=False)
        merged = jsonio.loads(record.body)
        merged.update({k: v for k, v in changes.items() if k not in ("id", "updated_at")})
        updated_us = self._now_us()
        updated_at = format_timestamp(updated_us // MICROS)
        if raw and isinstance(changes.get("updated_at"), str) and parse_instant(changes["updated_at"]) is not None:
            updated_us, updated_at = parse_instant(changes["updated_at"]), changes["updated_at"]
        merged["updated_at"] = updated_at
        body = self._dumps(merged)
        self._set(Record(record_id, updated_us, body))
        self.unedited.discard(record_id)
        self._changed()
        return merged

    def delete(self, record_id: int) -> Dict[str, Any]:
        """Turn a live record into a tombstone (id kept, updated_at bumped); returns the tombstone.
        Without tombstones the record is forgotten instead (the answer is the same)."""
        self._live(record_id)
        updated_us = self._now_us()
        updated_at = format_timestamp(updated_us // MICROS)
        if self.tombstones:
            self._set(Record(record_id, updated_us, _tombstone(record_id, updated_at), deleted=True))
        else:
            self._forget(record_id)
        self.unedited.discard(record_id)
        self._changed()
        return {"id": record_id, "updated_at": updated_at, "deleted": True}

    def _forget(self, record_id: int) -> None:
        """Drop a live record from ``records`` and both indexes; ``max_id`` keeps counting it."""
        old = self.records.pop(record_id)
        del self.cursor_keys[bisect.bisect_left(self.cursor_keys, (old.updated_us, old.id))]
        del self.live_ids[bisect.bisect_left(self.live_ids, record_id)]

    def serve_null_cursors(self) -> None:
        """From now on ``updated_at`` is null until a record is edited: every live record is made
        "never edited" (its ``updated_at`` null, sorted by its ``created_at``), and so is every
        record inserted later. The schema declares ``updated_at`` nullable and the cursor
        ``[updated_at, created_at]``."""
        if not any(f.name == "created_at" for f in self.fields):
            raise Problem.bad_request(f"table '{self.name}' has no created_at field to sort never-edited records by")
        self.null_cursors = True
        for record_id in list(self.live_ids):
            values = jsonio.loads(self.records[record_id].body)
            created_us = parse_instant(values.get("created_at") or "") if isinstance(values.get("created_at"), str) \
                else None
            values["updated_at"] = None
            updated_us = created_us if created_us is not None else self.records[record_id].updated_us
            self._set(Record(record_id, updated_us, self._dumps(values)))
            self.unedited.add(record_id)
        spec = self.field("updated_at")
        self.fields[self.fields.index(spec)] = dataclasses.replace(spec, nullable=True)
        self._changed()

    def add_field(self, name: str, type: str, nullable: bool = True, precision: Optional[int] = None,
                  scale: Optional[int] = None, declared_type: Any = None, format: Optional[str] = None,
                  default: Any = None) -> FieldSpec:
        """Declare a new field; existing records simply lack it (clients must treat that as null),
        or with a ``default`` they all get that value, as SQL's ``ADD COLUMN ... DEFAULT`` does:
        without any change to their cursor (``updated_at``), so no incremental filter finds them."""
        if any(f.name == name for f in self.fields):
            raise Problem.conflict(f"field '{name}' already exists in table '{self.name}'")
        if not name or not isinstance(name, str):
            raise Problem.bad_request("field name must be a non-empty string")
        spec = _make_spec(name, type, nullable, precision, scale, declared_type, format)
        if default is not None:
            for record in self.records.values():
                if not record.deleted:
                    values = orjson.loads(record.body)
                    values[name] = default
                    record.body = orjson.dumps(values)
            self._changed()
        self.fields.append(spec)
        return spec

    def set_field(self, name: str, *, type: Optional[str] = None, nullable: Optional[bool] = None,
                  precision: Optional[int] = None, scale: Optional[int] = None, declared_type: Any = None,
                  format: Optional[str] = None) -> FieldSpec:
        """Change what the schema *declares* about a field; records are left as they are, so
        tests can make the schema lie."""
        old = self.field(name)
        new_type = type or old.type
        spec = _make_spec(
            name, new_type, old.nullable if nullable is None else nullable,
            precision if precision is not None else (old.precision if new_type == "decimal" else None),
            scale if scale is not None else (old.scale if new_type == "decimal" else None),
            declared_type if declared_type is not None else old.declared_type,
            format if format is not None else old.format,
        )
        self.fields[self.fields.index(old)] = spec
        return spec


def _make_spec(name: str, type_: Any, nullable: Any, precision: Optional[int], scale: Optional[int],
               declared_type: Any = None, format: Optional[str] = None) -> FieldSpec:
    if type_ not in FIELD_TYPES:
        raise Problem.bad_request(f"unknown field type {type_!r}; expected one of {', '.join(FIELD_TYPES)}")
    if not isinstance(nullable, bool):
        raise Problem.bad_request(f"nullable must be true or false, got {nullable!r}")
    if type_ == "decimal":
        precision = 38 if precision is None else precision
        scale = 9 if scale is None else scale
        if not (isinstance(precision, int) and isinstance(scale, int) and 0 <= scale <= precision <= 76
                and precision > 0):
            raise Problem.bad_request(f"decimal needs 0 <= scale <= precision <= 76, got ({precision}, {scale})")
    else:
        precision = scale = None
    if declared_type is not None and not isinstance(declared_type, (str, list, tuple)):
        raise Problem.bad_request(f"declared_type must be a string or a list, got {declared_type!r}")
    if format is not None and not isinstance(format, str):
        raise Problem.bad_request(f"format must be a string, got {format!r}")
    declared = tuple(declared_type) if isinstance(declared_type, list) else declared_type
    return FieldSpec(name, type_, nullable, precision, scale, declared, format)

