"""Records (lists of dicts from orjson) -> Arrow tables typed by the discovered schema.

dlt's arrow path skips its per-row JSON normalizer, so this module is where a page's typing
happens, column by column (no per-row Python work beyond collecting a column's values):

- discovered fields get their mapped Arrow type; ISO timestamps, dates and decimal strings are
  cast by Arrow's own parsers; nested objects and arrays are kept as JSON text (typed ``json``
  by the column hint);
- fields the schema does not mention are inferred from the data, and announced once;
- a value that does not fit its column's type is never dropped or silently changed: it goes to a
  variant column ``<name>__v_text`` (dlt's own convention for type changes), with a warning;
- tombstones (``deleted: true``) get placeholder values in NOT NULL columns so they can pass
  through the staging table; dlt's ``hard_delete`` merge removes them before the final insert.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from dbsync import jsonio
from dbsync.config.model import DeleteSettings, ValueRule
from dbsync.discovery.catalog import TableInfo
from dbsync.discovery.types import arrow_type_for, column_hint, dlt_type_for, is_inferred_type
from dbsync.source.unwrap import unwrap_values
from dbsync.errors import DataError, Where

logger = logging.getLogger("dbsync.convert")

VARIANT_SUFFIX = "__v_text"
# what typing a value that does not fit its column raises (Arrow refuses some casts outright,
# such as text to time): such values go to the variant column, never fail the run
UNFIT = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError, TypeError, ValueError)
SYNCED_AT = "_dbsync_synced_at"
DELETED_AT = "_dbsync_deleted_at"  # deletes: mark, when the row was found deleted


@dataclass(frozen=True)
class ColumnPlan:
    name: str
    dlt_type: Optional[str]  # None: infer from data
    arrow_type: Optional[pa.DataType]
    nullable: Optional[bool]
    precision: Optional[int] = None
    scale: Optional[int] = None


class TableConverter:
    """Converts pages of one table. Thread-safe: pages are converted in worker threads."""

    def __init__(
        self,
        table: TableInfo,
        *,
        type_map: Mapping[str, str],
        deletes: DeleteSettings,
        where: Where,
        database_column: Optional[str] = None,
        database_value: Optional[str] = None,
        primary_key: Sequence[str] = (),
        value_rules: Optional[Mapping[str, ValueRule]] = None,
        columns: Optional[Mapping[str, Mapping[str, Any]]] = None,
    ):
        self.table = table
        # field name -> how its values are unwrapped before typing (unwrap.rules_for_table)
        self.value_rules: Dict[str, ValueRule] = dict(value_rules or {})
        self.columns = dict(columns or {})  # resources[].columns: hints over the discovered schema
        self.type_map = dict(type_map)
        self.where = where
        self.deletes = deletes
        self.database_column = database_column
        self.database_value = database_value
        self.primary_key = tuple(primary_key)
        self.plans: Dict[str, ColumnPlan] = {}
        self.unknown_types: List[Tuple[str, str]] = []
        for f in table.fields or ():
            dlt_type = dlt_type_for(f.api_type, type_map, f.format)
            rule = self.value_rules.get(f.name)
            if rule is not None and (rule.type or rule.parse_json):
                dlt_type = rule.type or "json"
            if dlt_type is None and f.api_type is not None and not is_inferred_type(f.api_type):
                self.unknown_types.append((f.name, f.api_type))
            arrow_type = arrow_type_for(dlt_type, f.precision, f.scale) if dlt_type else None
            nullable = f.nullable
            if f.name in self.primary_key:
                nullable = False
            self.plans[f.name] = ColumnPlan(f.name, dlt_type, arrow_type, nullable, f.precision, f.scale)
        for name, hint in self.columns.items():
            self.plans[name] = _hinted_plan(name, hint, self.plans.get(name), name in self.primary_key)
        for name, api_type in self.unknown_types:
            logger.warning("%s: field '%s' has unknown API type '%s'; its type is inferred from the data "
                           "(map it under 'types:' in the config)", where.describe(), name, api_type)
        self._lock = threading.Lock()
        self._announced: Set[str] = set()
        self._inferred: Dict[str, ColumnPlan] = {}
        self._hinted: Set[str] = set()
        self.relaxed: Set[str] = set()  # declared NOT NULL, but nulls arrived: nullable from now on
        self._relaxed_pending: Set[str] = set()  # relaxed, the destination not altered yet
        self._hinted_nullable: Set[str] = set()

    # -- hints for dlt ---------------------------------------------------------------------------
    def column_hints(self) -> Dict[str, Dict[str, Any]]:
        """dlt column hints for the declared fields (types, nullability, precision/scale)."""
        hints: Dict[str, Dict[str, Any]] = {}
        for plan in self.plans.values():
            if plan.dlt_type is None:
                continue
            nullable = True if plan.name in self.relaxed else plan.nullable
            hints[plan.name] = column_hint(plan.dlt_type, nullable, plan.precision, plan.scale)
        if self.deletes.mode != "ignore":
            hints[self.deletes.field] = {"data_type": "bool", "nullable": True}
            if self.deletes.mode == "delete" and self.primary_key:
                hints[self.deletes.field]["hard_delete"] = True
            if self.deletes.mode == "mark":
                hints[DELETED_AT] = {"data_type": "timestamp", "nullable": True}
        if self.database_column:
            hints[self.database_column] = {"data_type": "text", "nullable": False}
        hints[SYNCED_AT] = {"data_type": "timestamp", "nullable": True}
        if self.primary_key:
            hints[SYNCED_AT]["dedup_sort"] = "desc"
        return hints

    def adopt_inferred(self, inferred: Mapping[str, Optional[str]]) -> None:
        """Types a worker process inferred for undeclared columns (so hints reach dlt here)."""
        with self._lock:
            for name, dlt_type in inferred.items():
                declared = self.plans.get(name)
                if dlt_type and (declared is None or declared.dlt_type is None) and name not in self._inferred:
                    self._inferred[name] = ColumnPlan(name, dlt_type, arrow_type_for(dlt_type), None)

    def _relax(self, plan: ColumnPlan, ident: Dict[str, Any], page: str, unfit: bool = False) -> None:
        with self._lock:
            fresh = plan.name not in self.relaxed
            self.relaxed.add(plan.name)
            self._relaxed_pending.add(plan.name)
        if fresh and unfit:
            logger.warning("%s: field '%s' of %s holds a value that does not fit its type %s (kept in '%s'); "
                           "the column is made nullable", self._at(page).describe(), plan.name, ident,
                           plan.dlt_type, plan.name + VARIANT_SUFFIX)
        elif fresh:
            logger.warning("%s: field '%s' is declared not nullable by the API's schema, but %s has no value; "
                           "the column is made nullable and the data kept", self._at(page).describe(), plan.name,
                           ident)

    def adopt_relaxed(self, names: Sequence[str]) -> None:
        """Columns relaxed by a worker process (or by an earlier run, from state)."""
        with self._lock:
            fresh = set(names) - self.relaxed
            self.relaxed |= fresh
            self._relaxed_pending |= fresh

    def take_relaxed(self) -> Set[str]:
        """Columns that became nullable since the last call (the source alters the destination)."""
        with self._lock:
            fresh, self._relaxed_pending = self._relaxed_pending, set()
        return fresh

    def take_new_hints(self) -> Dict[str, Dict[str, Any]]:
        """Hints for columns inferred since the last call that Arrow alone cannot type (JSON kept
        as text), and for columns that became nullable. Sent to dlt with the next batch."""
        with self._lock:
            fresh = {name: {"data_type": plan.dlt_type} for name, plan in self._inferred.items()
                     if plan.dlt_type == "json" and name not in self._hinted}
            self._hinted.update(fresh)
            for name in self.relaxed - self._hinted_nullable:
                fresh.setdefault(name, {})["nullable"] = True
            self._hinted_nullable |= self.relaxed
        return fresh

    # -- converting ------------------------------------------------------------------------------
    def convert(self, records: List[Dict[str, Any]], page: str) -> pa.Table:
        """One page of records -> one Arrow table (columns in a stable order)."""
        n = len(records)
        if n and not all(isinstance(r, dict) for r in records):
            bad = next(i for i, r in enumerate(records) if not isinstance(r, dict))
            raise DataError(f"record {bad} is a {type(records[bad]).__name__}, not an object", where=self._at(page))
        keys: Set[str] = set().union(*records) if n else set()
        deleted_mask = self._deleted_mask(records, keys)
        self._check_primary_key(records, keys, deleted_mask, page)

        tombstone = self.deletes.field if self.deletes.mode != "ignore" else None
        # a field the API declares under the tombstone field's name is that column, added once below
        names: List[str] = [name for name in self.plans if name != tombstone]
        extra = [k for k in keys if k not in self.plans and k != self.deletes.field]
        if extra:
            extra.sort()
            self._announce_new(extra)
            names.extend(extra)

        arrays: List[pa.Array] = []
        fields: List[pa.Field] = []
        for name in names:
            values = [r.get(name) for r in records]
            rule = self.value_rules.get(name)
            not_unwrapped = None
            if rule is not None:
                values, not_unwrapped, reasons = unwrap_values(values, rule)
            plan = self.plans.get(name)
            if plan is None or plan.dlt_type is None:  # not in the schema, or of a type the map lacks
                plan = self._infer_plan(name, values)
            array, variant = self._build(plan, values, page)
            if not_unwrapped is not None:
                variant = self._keep_not_unwrapped(plan, variant, not_unwrapped, reasons, page)
            if variant is not None and plan.nullable is False and name in self.primary_key:
                self._reject_variant_in_key(plan, variant, deleted_mask, page)
            if plan.nullable is False and array.null_count:
                array = self._fill_not_null(plan, array, deleted_mask, records, page, variant)
            arrays.append(array)
            fields.append(pa.field(name, array.type, nullable=plan.nullable is not False or name in self.relaxed))
            if variant is not None:
                arrays.append(variant)
                fields.append(pa.field(name + VARIANT_SUFFIX, pa.string()))
        if self.deletes.mode != "ignore":
            arrays.append(deleted_mask if deleted_mask is not None else pa.nulls(n, pa.bool_()))
            fields.append(pa.field(self.deletes.field, pa.bool_()))
        if self.database_column:
            arrays.append(pa.array([self.database_value] * n, pa.string()) if n else pa.array([], pa.string()))
            fields.append(pa.field(self.database_column, pa.string(), nullable=False))
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))

    def column_types(self) -> Dict[str, Optional[str]]:
        """field -> its dlt type (declared, or inferred so far)."""
        with self._lock:
            inferred = {name: plan.dlt_type for name, plan in self._inferred.items()}
        return {**inferred, **{name: plan.dlt_type for name, plan in self.plans.items()}}

    def _at(self, page: str) -> Where:
        return Where(self.where.database, self.where.table, page, self.where.path)

    def _deleted_mask(self, records: List[Dict[str, Any]], keys: Set[str]) -> Optional[pa.Array]:
        field, marker = self.deletes.field, self.deletes.value
        if self.deletes.mode == "ignore" or field not in keys:
            return None
        # a tombstone is True; a boolean false the API sends in that field (a declared "deleted"
        # flag on every record) stays false, anything else is no value
        return pa.array([True if r.get(field) == marker else (r.get(field) if r.get(field) is False else None)
                         for r in records], pa.bool_())

    def _check_primary_key(self, records: List[Dict[str, Any]], keys: Set[str], deleted: Optional[pa.Array],
                           page: str) -> None:
        for key in self.primary_key:
            if not records:
                return
            if key not in keys or any(r.get(key) is None for r in records):
                bad = next(i for i, r in enumerate(records) if r.get(key) is None)
                raise DataError(
                    f"record {bad} has no value for primary key '{key}'",
                    where=self._at(page),
                    hint="records must carry their primary key; check primary_key in the config",
                )

    def _announce_new(self, names: List[str]) -> None:
        with self._lock:
            fresh = [n for n in names if n not in self._announced]
            self._announced.update(fresh)
        if fresh and self.table.fields is not None:
            logger.warning("%s: new field(s) not in the schema: %s; added with inferred types",
                           self.where.describe(), ", ".join(fresh))

    def _infer_plan(self, name: str, values: List[Any]) -> ColumnPlan:
        """The type of a column the schema does not describe, decided once from its first values."""
        with self._lock:
            plan = self._inferred.get(name)
            if plan is not None:
                return plan
        rule = self.value_rules.get(name)
        if rule is not None and (rule.type or rule.parse_json):  # the config says, not the data
            dlt_type = rule.type or "json"
            plan = ColumnPlan(name, dlt_type, arrow_type_for(dlt_type), None)
            with self._lock:
                return self._inferred.setdefault(name, plan)
        sample = next((v for v in values if v is not None), None)
        if sample is None:
            return ColumnPlan(name, None, None, None)  # all null so far: decide on a later page
        dlt_type = _infer_dlt_type(sample)
        plan = ColumnPlan(name, dlt_type, arrow_type_for(dlt_type), None)
        with self._lock:
            return self._inferred.setdefault(name, plan)

    def _build(self, plan: ColumnPlan, values: List[Any], page: str) -> Tuple[pa.Array, Optional[pa.Array]]:
        """(array, variant array or None). Never raises for bad values: they go to the variant."""
        if plan.dlt_type is None:
            if all(v is None for v in values):
                return pa.nulls(len(values), pa.string()), None
            return pa.array([_as_json_text(v) for v in values], pa.string()), None
        if plan.dlt_type not in ("text", "json") and "" in values:
            # APIs send "" for an unset date or number (PocketBase does): that is no value, not a
            # value of another type (which would go to a variant column)
            values = [None if v == "" else v for v in values]
        try:
            return _fast_array(plan, values), None
        except UNFIT:
            return self._split_variants(plan, values, page)

    def _split_variants(self, plan: ColumnPlan, values: List[Any], page: str) -> Tuple[pa.Array, pa.Array]:
        good: List[Any] = []
        bad: List[Optional[str]] = []
        for v in values:
            if v is None:
                good.append(None)
                bad.append(None)
                continue
            try:
                fitted = _fast_array(plan, [v])
                # a number sent as text joins the others as the number it is
                good.append(fitted[0].as_py() if isinstance(v, str) and plan.dlt_type in ("bigint", "double") else v)
                bad.append(None)
            except UNFIT:
                good.append(None)
                bad.append(v if isinstance(v, str) else _as_json_text(v))
        if self._first_time(f"variant:{plan.name}"):  # the run's count: dbsync.source.value_tally
            logger.warning("%s: value(s) of field '%s' do not fit its type %s; kept as text in column '%s'",
                           self._at(page).describe(), plan.name, plan.dlt_type, plan.name + VARIANT_SUFFIX)
        relaxed = ColumnPlan(plan.name, plan.dlt_type, plan.arrow_type, None, plan.precision, plan.scale)
        return _fast_array(relaxed, good), pa.array(bad, pa.string())

    def _first_time(self, key: str) -> bool:
        """Whether ``key`` (a warning about one field) is met for the first time: each is said once
        per run, whichever thread converts the page."""
        with self._lock:
            first = key not in self._announced
            self._announced.add(key)
        return first

    def _keep_not_unwrapped(self, plan: ColumnPlan, variant: Optional[pa.Array], originals: List[Optional[str]],
                            reasons: Mapping[str, int], page: str) -> pa.Array:
        """Values a rule could not unwrap: kept as text in the variant column, with a warning."""
        if self._first_time(f"unwrap:{plan.name}"):
            logger.warning("%s: %d value(s) of field '%s' do not unwrap by its rule (%s); kept as text in column '%s'",
                           self._at(page).describe(), sum(reasons.values()), plan.name,
                           ", ".join(f"{n} {r}" for r, n in sorted(reasons.items())), plan.name + VARIANT_SUFFIX)
        if variant is None:
            return pa.array(originals, pa.string())
        merged = [o if o is not None else v for o, v in zip(originals, variant.to_pylist())]
        return pa.array(merged, pa.string())

    def _reject_variant_in_key(self, plan: ColumnPlan, variant: pa.Array, deleted: Optional[pa.Array],
                               page: str) -> None:
        """A primary key cannot move a value to a variant column: say which value."""
        index = next(i for i, v in enumerate(variant.to_pylist()) if v is not None)
        if deleted is not None and deleted[index].as_py():
            return
        raise DataError(
            f"value {variant[index].as_py()} of key field '{plan.name}' does not fit its type {plan.dlt_type} "
            f"(record {index})",
            where=self._at(page),
            hint="the API changed the key's type; map it under 'types:' or fix the API",
        )

    def _fill_not_null(self, plan: ColumnPlan, array: pa.Array, deleted: Optional[pa.Array],
                       records: List[Dict[str, Any]], page: str, variant: Optional[pa.Array] = None) -> pa.Array:
        """Nulls in a NOT NULL column: placeholders on tombstones (they never reach the table).

        On live rows the API's schema was wrong (or a value changed type and went to the variant
        column): the data is kept and the column becomes nullable, with a warning; the source
        makes the destination column nullable before loading (source._relax_destination). Only a
        missing primary key is an error."""
        is_null = pc.is_null(array)
        if deleted is not None:
            is_tombstone = pc.fill_null(deleted, False)
            live_null = pc.and_(is_null, pc.invert(is_tombstone))
        else:
            is_tombstone = None
            live_null = is_null
        if pc.any(live_null).as_py():
            index = pc.index(live_null, True).as_py()
            ident = {k: records[index].get(k) for k in self.primary_key} or {"record": index}
            if plan.name in self.primary_key:
                raise DataError(f"record {ident} has no value for primary key '{plan.name}'", where=self._at(page),
                                hint="records must carry their primary key")
            unfit = variant is not None and variant[index].is_valid
            self._relax(plan, ident, page, unfit)
            if is_tombstone is None:
                return array
            placeholder = pa.scalar(_placeholder(array.type, plan.dlt_type), type=array.type)
            return pc.if_else(is_tombstone, pc.fill_null(array, placeholder), array)
        placeholder = pa.scalar(_placeholder(array.type, plan.dlt_type), type=array.type)
        return pc.if_else(is_null, placeholder, array)


def _hinted_plan(name: str, hint: Mapping[str, Any], declared: Optional[ColumnPlan], in_key: bool) -> ColumnPlan:
    """A column as the config's ``columns`` hint says (what it leaves out, as discovered)."""
    dlt_type = hint.get("data_type", declared.dlt_type if declared else None)
    same = declared is not None and declared.dlt_type == dlt_type
    precision = hint.get("precision", declared.precision if same else None)
    scale = hint.get("scale", declared.scale if same else None)
    nullable = False if in_key else hint.get("nullable", declared.nullable if declared else None)
    arrow_type = arrow_type_for(dlt_type, precision, scale) if dlt_type else None
    return ColumnPlan(name, dlt_type, arrow_type, nullable, precision, scale)


def _fast_array(plan: ColumnPlan, values: List[Any]) -> pa.Array:
    """Typed array for a column; raises when a value does not fit (the caller splits variants)."""
    t = plan.arrow_type
    dlt_type = plan.dlt_type
    if dlt_type == "json":
        dumps = orjson.dumps
        try:  # bytes straight from orjson: Arrow checks the UTF-8 itself, no decode per value
            return pa.array([None if v is None else dumps(v) for v in values], pa.string())
        except (TypeError, orjson.JSONEncodeError):  # integers beyond 64 bits and the like
            return pa.array([None if v is None else _as_json_text(v) for v in values], pa.string())
    if dlt_type == "text":
        try:
            return pa.array(values, pa.string())
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            # numbers or objects in a text column: text is wide enough to keep them exactly
            return pa.array([v if v is None or isinstance(v, str) else _as_json_text(v) for v in values],
                            pa.string())
    if dlt_type in ("bigint", "double", "bool"):
        try:
            inferred = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            if dlt_type != "bool":
                raise
            # true/false mixed with 0/1 (rare: only then the values are looked at one by one)
            inferred = pa.array([v == 1 if type(v) is int and v in (0, 1) else v for v in values])
        if inferred.type == t:
            return inferred
        if pa.types.is_null(inferred.type):
            return pa.nulls(len(values), t)
        if dlt_type in ("bigint", "double") and pa.types.is_string(inferred.type):
            # numbers sent as JSON strings (64-bit ids, big-integer types): Arrow's own parser,
            # which refuses anything but a plain number ("12abc", "1e3" for bigint)
            return inferred.cast(t)
        if dlt_type == "double" and pa.types.is_integer(inferred.type):
            return inferred.cast(t)
        if dlt_type == "bigint" and pa.types.is_floating(inferred.type):
            return inferred.cast(t, safe=True)  # 3.0 -> 3 fine, 3.5 raises
        if dlt_type == "bool" and pa.types.is_integer(inferred.type):
            # SQLite (and the APIs serving it) keep booleans as 0/1; any other number is no bool
            low, high = pc.min_max(inferred).values()
            if low.as_py() is None or (low.as_py() >= 0 and high.as_py() <= 1):
                return inferred.cast(t)
        raise pa.ArrowInvalid(f"{inferred.type} values in a {dlt_type} column")
    if dlt_type in ("timestamp", "date", "time", "decimal"):
        inferred = pa.array(values)
        if pa.types.is_null(inferred.type):
            return pa.nulls(len(values), t)
        if pa.types.is_string(inferred.type) or pa.types.is_large_string(inferred.type):
            if dlt_type == "timestamp":
                return _parse_timestamps(inferred, t)
            if dlt_type == "time":  # Arrow casts no text to time: ISO times ("10:30:00", "10:30:00.5")
                return pa.array([None if v is None else _iso_time(v) for v in values], t)
            return inferred.cast(t)
        if dlt_type == "decimal" and (pa.types.is_integer(inferred.type) or pa.types.is_floating(inferred.type)):
            # a JSON number: go through its shortest text form to keep what the API sent exactly
            return pa.array([None if v is None else str(v) for v in values], pa.string()).cast(t)
        if dlt_type == "timestamp" and (pa.types.is_integer(inferred.type) or pa.types.is_floating(inferred.type)):
            return _epoch_to_timestamp(inferred, t)
        raise pa.ArrowInvalid(f"{inferred.type} values in a {dlt_type} column")
    return pa.array(values, t)


def _iso_time(value: Any) -> Any:
    """An ISO 8601 time of day; an offset (``10:30:00+02:00``) is dropped: a time column holds
    the wall-clock time the API sent (raises ValueError for anything else: a variant value)."""
    from datetime import time

    if not isinstance(value, str):
        raise ValueError(f"not a time: {value!r}")
    parsed = time.fromisoformat(value.strip())
    return parsed.replace(tzinfo=None)


def _parse_timestamps(strings: pa.Array, t: pa.DataType) -> pa.Array:
    try:
        return strings.cast(t)
    except pa.ArrowInvalid as exc:
        if "zone offset" not in str(exc):
            raise
    # timestamps without a zone: the API means UTC (the common convention); mixed columns split
    naive = strings.cast(pa.timestamp("us"))
    return pc.assume_timezone(naive, "UTC").cast(t)


def _epoch_to_timestamp(numbers: pa.Array, t: pa.DataType) -> pa.Array:
    """Epoch seconds (or milliseconds, when too large to be seconds) -> timestamp."""
    as_float = numbers.cast(pa.float64())
    top = pc.max(pc.abs(as_float)).as_py() or 0
    factor = 1_000 if top > 1e11 else 1_000_000  # ms -> us, or s -> us
    micros = pc.round(pc.multiply(as_float, float(factor))).cast(pa.int64())
    return micros.cast(t)


def _as_json_text(value: Any) -> str:
    if isinstance(value, str):
        return orjson.dumps(value).decode()
    return jsonio.dumps(value, default=str).decode()


def _infer_dlt_type(sample: Any) -> str:
    if isinstance(sample, bool):
        return "bool"
    if isinstance(sample, int):
        return "bigint"
    if isinstance(sample, float):
        return "double"
    if isinstance(sample, (dict, list)):
        return "json"
    if isinstance(sample, str) and _looks_like_timestamp(sample):
        return "timestamp"
    return "text"


def _looks_like_timestamp(text: str) -> bool:
    if len(text) < 20 or len(text) > 35 or text[4] != "-" or text[10] not in "T ":
        return False
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
        return text.endswith("Z") or "+" in text[19:] or "-" in text[19:]
    except ValueError:
        return False


def _placeholder(t: pa.DataType, dlt_type: Optional[str] = None) -> Any:
    """A value of type ``t`` for tombstones' NOT NULL columns (never reaches the final table).
    JSON columns are text in Arrow: their placeholder must be JSON too (``""`` is not, and the
    destination's cast of a tombstone failed every later run)."""
    if dlt_type == "json":
        return "null"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return ""
    if pa.types.is_boolean(t):
        return False
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return 0
    if pa.types.is_decimal(t):
        return Decimal(0)
    if pa.types.is_timestamp(t):
        return datetime(1970, 1, 1)
    if pa.types.is_date(t):
        return date(1970, 1, 1)
    if pa.types.is_time(t):
        from datetime import time as dtime

        return dtime(0, 0)
    return None
