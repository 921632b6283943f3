"""Deterministic, fast generation of realistic tables.

Every table is a *kind* (``orders``, ``customers``, ...) with a fixed field list; its rows are a
pure function of ``(seed, database, table, rows)``. Values are built column by column from small
per-table pools picked with ``Random.choices`` (a C-speed loop) as ready-made JSON fragments,
and each row's bytes are one template formatting away, so a 200,000-row ``orders`` table takes
about a second. Only the bytes are kept (see :mod:`dbsync.server.store`).

The data is meant to break naive clients: unicode names (accents, CJK, emoji), nulls next to
empty strings, multi-KB strings, integers above 2**53, exact decimals as strings, nested JSON,
and ``updated_at`` values that tie in small runs and are not monotonic in ``id``.
"""

from __future__ import annotations

import datetime
import gc
import random
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import orjson

from dbsync.server.timefmt import MICROS, format_date, format_timestamps, parse_instant

__all__ = [
    "FIELD_TYPES",
    "FieldSpec",
    "TableKind",
    "GeneratedTable",
    "KINDS",
    "KIND_ORDER",
    "table_names",
    "generate_table",
    "kind_for",
    "validate_value",
]

FIELD_TYPES = ("string", "integer", "number", "decimal", "boolean", "date", "datetime", "json", "array")

# Generated timestamps start here (2024-01-01T00:00:00Z) and spread over about half a year,
# so anything the server bumps "now" always sorts after them.
BASE_EPOCH = 1_704_067_200
SPREAD_SECONDS = 180 * 86400


@dataclass(frozen=True)
class FieldSpec:
    """One declared field of a table's schema."""

    name: str
    type: str
    nullable: bool = True
    precision: Optional[int] = None
    scale: Optional[int] = None
    # what the schema *shows* as the type, when it is another server's name ("Pointer", or a JSON
    # Schema list such as ("string", "null")), and a JSON Schema format; values follow ``type``
    declared_type: Any = None
    format: Optional[str] = None

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"unknown field type {self.type!r}; expected one of {', '.join(FIELD_TYPES)}")
        if self.type == "decimal" and (self.precision is None or self.scale is None):
            raise ValueError(f"decimal field {self.name!r} needs precision and scale")

    def to_json(self) -> Dict[str, Any]:
        declared = self.declared_type
        out: Dict[str, Any] = {"name": self.name, "type": self.type if declared is None else
                               (list(declared) if isinstance(declared, tuple) else declared),
                               "nullable": self.nullable}
        if self.type == "decimal":
            out["precision"] = self.precision
            out["scale"] = self.scale
        if self.format is not None:
            out["format"] = self.format
        return out


@dataclass
class Context:
    """What column generators share: the row count and the already drawn timestamps."""

    rng: random.Random
    n: int
    updated_secs: List[int]
    updated_at: List[str]


ColumnFn = Callable[[Context], Dict[str, List[bytes]]]


@dataclass(frozen=True)
class TableKind:
    """A table shape: its fields (``id`` first, ``updated_at`` among them) and how to fill them."""

    name: str
    fields: Tuple[FieldSpec, ...]
    columns: ColumnFn


@dataclass
class GeneratedTable:
    """Rows of a freshly generated table, in id order (ids are 1..n)."""

    updated_us: List[int]
    bodies: List[bytes]


# --------------------------------------------------------------------------- value pools

_FIRST = ["Ana", "José", "Zoë", "François", "Björn", "Åsa", "Mårten", "Chloé", "Łukasz", "Søren",
          "Nguyễn", "Olek", "Priya", "Wei", "Yuki", "Fatima", "Olu", "Siobhán", "Jürgen", "Inés",
          "Amélie", "Dvořák", "Kwame", "Mia", "Noah", "Liam", "Emma", "Óscar", "Ximena", "Þóra"]
_LAST = ["Müller", "García", "O'Brien", "Smith", "Nakamura", "Kowalski", "Dubois", "Ferreira",
         "Novák", "Jensen", "Okafor", "Rossi", "Ivanova", "Chen", "Kim", "Andersson", "Đặng",
         "Le Blanc", "van der Berg", "Øster"]
_CJK = ["山田太郎", "李小龙", "佐藤花子", "김민준", "王芳", "鈴木一郎", "陈静"]
_EMOJI = ["🎉", "🚀", "✨", "🍕", "🌍", "👩‍💻", "🇯🇵"]
_DOMAINS = ["example.com", "mail.example.org", "corp.example.net", "example.co.uk"]
_TAGS = ["gift", "priority", "fragile", "wholesale", "b2b", "repeat", "promo", "international", "café", "返品"]
_CARRIERS = ["UPS", "DHL", "FedEx", "La Poste", "Royal Mail", "ヤマト運輸"]
_CITIES = [("Berlin", "DE"), ("São Paulo", "BR"), ("Zürich", "CH"), ("Kraków", "PL"), ("東京", "JP"),
           ("Montréal", "CA"), ("Austin", "US"), ("Lagos", "NG"), ("Reykjavík", "IS"), ("Mumbai", "IN")]
_STREETS = ["Hauptstraße", "Rue de la Paix", "Main St", "Calle Mayor", "Baker Street", "銀座通り"]
_WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt "
          "ut labore et dolore magna aliqua enim minim veniam quis nostrud exercitation ullamco "
          "laboris nisi aliquip commodo consequat duis aute irure reprehenderit voluptate velit "
          "esse cillum fugiat nulla pariatur excepteur sint occaecat cupidatat non proident").split()


def _name(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.08:
        name = rng.choice(_CJK)
    else:
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    if rng.random() < 0.06:
        name = f"{name} {rng.choice(_EMOJI)}"
    return name


def _email(rng: random.Random) -> str:
    local = f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}".lower()
    local = "".join(c for c in local if c.isascii() and (c.isalnum() or c == "."))
    return f"{local or 'user'}{rng.randrange(1000)}@{rng.choice(_DOMAINS)}"


def _decimal(rng: random.Random, scale: int, lo: int, hi: int) -> str:
    """An exact decimal as a string with exactly ``scale`` digits after the point."""
    units = rng.randrange(lo, hi)
    factor = 10 ** scale
    return f"{units // factor}.{units % factor:0{scale}d}" if scale else str(units)


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words)).capitalize()


def _long_text(rng: random.Random) -> str:
    """A multi-KB string (2-6 KB), the kind that breaks fixed-width columns."""
    parts: List[str] = []
    size = rng.randrange(2048, 6144)
    while sum(len(p) + 1 for p in parts) < size:
        parts.append(_sentence(rng, rng.randrange(6, 18)) + ".")
    return " ".join(parts)


def _pool(rng: random.Random, size: int, make: Callable[[random.Random], Any]) -> List[Any]:
    return [make(rng) for _ in range(size)]


# Column helpers return JSON *fragments* (bytes), one per row. Pool values are serialized once
# with orjson; per-row values are formatted with plain bytes formatting. Calling orjson.dumps
# once per value (or per row) is what made generation slow: each call allocates a 1 KiB buffer
# and shrinks it, so keeping 200k results fragments the heap and touches twice the memory.

_NULL, _TRUE, _FALSE = b"null", b"true", b"false"


def _pick(rng: random.Random, values: List[Any], n: int, weights: Optional[List[float]] = None) -> List[bytes]:
    """``n`` fragments drawn from ``values`` (serialized once)."""
    frags = [orjson.dumps(v) for v in values]
    return rng.choices(frags, weights=weights, k=n)


def _with_nulls(rng: random.Random, frags: List[bytes], rate: float) -> List[bytes]:
    rand = rng.random
    return [_NULL if rand() < rate else f for f in frags]


def _bools(rng: random.Random, n: int, true_rate: float) -> List[bytes]:
    rand = rng.random
    return [_TRUE if rand() < true_rate else _FALSE for _ in range(n)]


def _ints(values: List[Optional[int]]) -> List[bytes]:
    return [_NULL if v is None else b"%d" % v for v in values]


def _ascii_strings(values: List[str]) -> List[bytes]:
    """Fragments for ASCII strings that need no escaping (dates, timestamps, SKUs)."""
    return [b'"%s"' % v.encode() for v in values]


def _earlier(rng: random.Random, ctx: Context, max_seconds: int) -> List[int]:
    """Epoch seconds some time before each row's updated_at (created_at <= updated_at)."""
    offsets = rng.choices(range(0, max_seconds, 97), k=ctx.n)
    return [u - o for u, o in zip(ctx.updated_secs, offsets)]


def _dates(secs: List[int]) -> List[bytes]:
    return _ascii_strings([format_date(s) for s in secs])


def _big_ints(rng: random.Random, n: int, null_rate: float) -> List[bytes]:
    """Mostly 63-bit values (above 2**53, within int64), some small ones, some nulls."""
    rand, bits = rng.random, rng.getrandbits
    out: List[Optional[int]] = []
    for _ in range(n):
        roll = rand()
        if roll < null_rate:
            out.append(None)
        elif roll < null_rate + 0.25:
            out.append(bits(20))
        else:
            out.append(bits(63))
    # Fixed edge values so every run has them: just above 2**53, int64 max, int64 min.
    for index, value in enumerate((2**53 + 1, 2**63 - 1, -(2**63))):
        if index < n:
            out[index] = value
    return _ints(out)


# --------------------------------------------------------------------------- kinds

def _orders(ctx: Context) -> Dict[str, List[bytes]]:
    rng, n = ctx.rng, ctx.n
    names = _pool(rng, 1024, _name)
    emails = _pool(rng, 1024, _email)
    prices = _pool(rng, 2048, lambda r: _decimal(r, 4, 1_0000, 5_000_0000))
    shipping = _pool(rng, 256, _shipping)
    tags = _pool(rng, 64, lambda r: sorted(r.sample(_TAGS, r.randrange(0, 4))))
    created = _earlier(rng, ctx, 30 * 86400)
    return {
        "customer_name": _pick(rng, names, n),
        "email": _with_nulls(rng, _pick(rng, emails, n), 0.2),
        "quantity": _pick(rng, [1, 1, 1, 2, 2, 3, 4, 5, 6, 10, 12, 24, 48, 100], n),
        "unit_price": _pick(rng, prices, n),
        "discount": _pick(rng, [None, None, None, 0.0, 0.05, 0.1, 0.125, 0.15, 0.2, 0.25, 1 / 3, 0.5], n),
        "is_paid": _bools(rng, n, 0.7),
        "order_date": _dates(created),
        "created_at": _ascii_strings(format_timestamps(created)),
        "tags": _pick(rng, tags + [None] * 10, n),
        "shipping": _with_nulls(rng, _pick(rng, shipping, n), 0.25),  # digital orders do not ship
        "big_counter": _big_ints(rng, n, 0.1),
    }


def _shipping(rng: random.Random) -> Dict[str, Any]:
    """Nested JSON: an object holding an address object and a list. Kept lean on purpose:
    every extra container costs the client parse and GC time on each of 200k rows."""
    city, country = rng.choice(_CITIES)
    return {
        "carrier": rng.choice(_CARRIERS),
        "address": {"street": f"{rng.randrange(1, 300)} {rng.choice(_STREETS)}", "city": city,
                    "postal_code": f"{rng.randrange(10000, 99999)}", "country": country},
        "items": [f"SKU-{rng.randrange(10000):05d}" for _ in range(rng.randrange(0, 3))],
        "express": rng.random() < 0.3,
    }


def _customers(ctx: Context) -> Dict[str, List[bytes]]:
    rng, n = ctx.rng, ctx.n
    names = _pool(rng, 1024, _name)
    emails = _pool(rng, 1024, _email)
    phones = [f"+{rng.randrange(1, 99)} {rng.randrange(100, 999)} {rng.randrange(1000000, 9999999)}"
              for _ in range(256)]
    values = _pool(rng, 1024, lambda r: _decimal(r, 2, 0, 10_000_000_00))
    prefs = [{"newsletter": rng.random() < 0.5, "language": rng.choice(["en", "de", "fr", "ja", "pt-BR"]),
              "channels": rng.sample(["email", "sms", "push"], rng.randrange(0, 3))} for _ in range(64)]
    signup = _earlier(rng, ctx, 365 * 86400)
    countries = [c for _, c in _CITIES]
    return {
        "full_name": _pick(rng, names, n),
        "email": _with_nulls(rng, _pick(rng, emails, n), 0.1),
        # Empty string (known to be blank) next to null (unknown): clients must keep them apart.
        "country_code": _pick(rng, countries * 3 + [""], n),
        "phone": _pick(rng, phones + [""] * 40 + [None] * 60, n),
        "signup_date": _dates(signup),
        "is_active": _bools(rng, n, 0.85),
        "lifetime_value": _pick(rng, values, n),
        "preferences": _pick(rng, prefs + [None] * 8, n),
    }


def _products(ctx: Context) -> Dict[str, List[bytes]]:
    rng, n = ctx.rng, ctx.n
    titles = _pool(rng, 512, lambda r: _sentence(r, r.randrange(2, 6)))
    short = _pool(rng, 256, lambda r: _sentence(r, r.randrange(8, 30)) + ".")
    long = _pool(rng, 8, _long_text)
    prices = _pool(rng, 1024, lambda r: _decimal(r, 2, 99, 1_000_000))
    cats = _pool(rng, 64, lambda r: r.sample(["books", "toys", "garden", "kitchen", "electronics", "outdoor",
                                              "bücher", "おもちゃ"], r.randrange(0, 4)))
    dims = [{"w": rng.randrange(1, 200), "h": rng.randrange(1, 200), "d": rng.randrange(1, 200), "unit": "cm"}
            for _ in range(64)]
    # About 3% multi-KB descriptions, 4% empty strings, 8% nulls, the rest a sentence or two.
    description_pool = short + long + [""] + [None]
    weights = [85 / 256] * 256 + [3 / 8] * 8 + [4, 8]
    return {
        "sku": _ascii_strings([f"SKU-{i:07d}" for i in range(1, n + 1)]),
        "title": _pick(rng, titles, n),
        "description": _pick(rng, description_pool, n, weights),
        "price": _pick(rng, prices, n),
        "weight_kg": _pick(rng, [None, 0.25, 0.5, 1.0, 1.5, 2.25, 10.0, 0.001, 123.456], n),
        "in_stock": _bools(rng, n, 0.6),
        "categories": _pick(rng, cats, n),
        "dimensions": _pick(rng, dims + [None] * 16, n),
    }


def _events(ctx: Context) -> Dict[str, List[bytes]]:
    rng, n = ctx.rng, ctx.n
    payloads = [{"page": f"/p/{rng.randrange(1000)}", "referrer": rng.choice([None, "", "https://example.com/"]),
                 "props": {"ab_bucket": rng.choice("ABC"), "score": rng.random()},
                 "list": [rng.randrange(10) for _ in range(rng.randrange(0, 5))]} for _ in range(256)]
    sessions = [f"{rng.getrandbits(64):016x}" for _ in range(512)]
    occurred = _earlier(rng, ctx, 3600)
    return {
        "event_type": _pick(rng, ["page_view", "click", "signup", "purchase", "logout"], n),
        "occurred_at": _ascii_strings(format_timestamps(occurred)),
        "user_id": _pick(rng, list(range(1, 500)) + [None] * 50, n),
        "session_id": _pick(rng, sessions + [None] * 50, n),
        "payload": _pick(rng, payloads, n),
        "duration_ms": _pick(rng, [None, 0.5, 12.25, 100.0, 1500.75, 3.14159], n),
        "sequence_no": _big_ints(rng, n, 0.0),
    }


def _tickets(ctx: Context) -> Dict[str, List[bytes]]:
    rng, n = ctx.rng, ctx.n
    subjects = _pool(rng, 512, lambda r: _sentence(r, r.randrange(3, 9)))
    bodies = _pool(rng, 128, lambda r: _sentence(r, r.randrange(10, 60)) + ".") + _pool(rng, 4, _long_text)
    due = _earlier(rng, ctx, 20 * 86400)
    return {
        "subject": _pick(rng, subjects, n),
        "body": _pick(rng, bodies, n),
        "priority": _pick(rng, [1, 2, 3, 4, 5], n, [1, 2, 5, 2, 1]),
        "status": _pick(rng, ["open", "pending", "solved", "closed"], n),
        "due_date": _with_nulls(rng, _dates(due), 0.4),
        "labels": _pick(rng, [[], ["billing"], ["bug", "urgent"], ["feature-request"], None], n),
        "is_escalated": _bools(rng, n, 0.1),
        "satisfaction": _pick(rng, [None, None, "1.0", "2.5", "3.0", "4.5", "5.0"], n),
    }


def _f(name: str, type_: str, nullable: bool = True, precision: Optional[int] = None,
       scale: Optional[int] = None) -> FieldSpec:
    return FieldSpec(name, type_, nullable, precision, scale)


_ID = _f("id", "integer", False)
_UPDATED = _f("updated_at", "datetime", False)

KINDS: Dict[str, TableKind] = {
    kind.name: kind
    for kind in (
        TableKind("orders", (
            _ID, _f("customer_name", "string", False), _f("email", "string"), _f("quantity", "integer", False),
            _f("unit_price", "decimal", False, 12, 4), _f("discount", "number"), _f("is_paid", "boolean", False),
            _f("order_date", "date", False), _f("created_at", "datetime", False), _UPDATED,
            _f("tags", "array"), _f("shipping", "json"), _f("big_counter", "integer"),
        ), _orders),
        TableKind("customers", (
            _ID, _f("full_name", "string", False), _f("email", "string"), _f("country_code", "string", False),
            _f("phone", "string"), _f("signup_date", "date", False), _f("is_active", "boolean", False),
            _f("lifetime_value", "decimal", False, 14, 2), _f("preferences", "json"), _UPDATED,
        ), _customers),
        TableKind("products", (
            _ID, _f("sku", "string", False), _f("title", "string", False), _f("description", "string"),
            _f("price", "decimal", False, 10, 2), _f("weight_kg", "number"), _f("in_stock", "boolean", False),
            _f("categories", "array", False), _f("dimensions", "json"), _UPDATED,
        ), _products),
        TableKind("events", (
            _ID, _f("event_type", "string", False), _f("occurred_at", "datetime", False), _f("user_id", "integer"),
            _f("session_id", "string"), _f("payload", "json", False), _f("duration_ms", "number"),
            _f("sequence_no", "integer", False), _UPDATED,
        ), _events),
        TableKind("tickets", (
            _ID, _f("subject", "string", False), _f("body", "string", False), _f("priority", "integer", False),
            _f("status", "string", False), _f("due_date", "date"), _f("labels", "array"),
            _f("is_escalated", "boolean", False), _f("satisfaction", "decimal", True, 3, 1), _UPDATED,
        ), _tickets),
    )
}
KIND_ORDER: Tuple[str, ...] = tuple(KINDS)


def table_names(count: int) -> List[Tuple[str, str]]:
    """(table name, kind) for a database with ``count`` tables: kinds cycle, names stay unique."""
    out = []
    for index in range(count):
        kind = KIND_ORDER[index % len(KIND_ORDER)]
        round_ = index // len(KIND_ORDER)
        out.append((kind if round_ == 0 else f"{kind}_{round_ + 1}", kind))
    return out


def _updated_seconds(rng: random.Random, n: int) -> List[int]:
    """Non-decreasing timestamps with deliberate ties (runs of 2-4 rows share a second), then
    shuffled in blocks of 8 so ``updated_at`` order differs from ``id`` order."""
    rand, randrange = rng.random, rng.randrange
    mean_step = max(2, SPREAD_SECONDS // max(n, 1))
    current = BASE_EPOCH + randrange(0, 7 * 86400)
    out: List[int] = []
    append = out.append
    for _ in range(n):
        if rand() >= 0.3:  # 30% of rows tie with the previous one
            current += randrange(1, 2 * mean_step)
        append(current)
    for start in range(0, n, 8):
        block = out[start:start + 8]
        rng.shuffle(block)
        out[start:start + 8] = block
    return out


def generate_table(kind: TableKind, seed: int, database: str, table: str, rows: int) -> GeneratedTable:
    """Generate ``rows`` rows (ids 1..rows) of ``kind``; deterministic in all arguments."""
    # The cyclic GC would rescan the growing heap many times over while 200k short-lived
    # dicts come and go (about a third of the run time); nothing built here forms a cycle.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        rng = random.Random(f"dbsync:{seed}:{database}:{table}")
        updated_secs = _updated_seconds(rng, rows)
        updated_at = format_timestamps(updated_secs)
        ctx = Context(rng=rng, n=rows, updated_secs=updated_secs, updated_at=updated_at)
        columns = kind.columns(ctx)
        columns["id"] = [b"%d" % i for i in range(1, rows + 1)]
        columns["updated_at"] = _ascii_strings(updated_at)
        names = [f.name for f in kind.fields]
        missing = [name for name in names if name not in columns]
        if missing:  # a kind's generator and its field list must agree
            raise AssertionError(f"kind {kind.name} generates no column for {missing}")
        # One bytes-formatting call per row: exactly what orjson.dumps(dict) would produce,
        # since every fragment came from orjson or is a plain number/ASCII string.
        template = ("{" + ",".join(f'"{name}":%b' for name in names) + "}").encode()
        bodies = [template % values for values in zip(*(columns[name] for name in names))]
        return GeneratedTable(updated_us=[s * MICROS for s in updated_secs], bodies=bodies)
    finally:
        if gc_was_enabled:
            gc.enable()


def validate_value(spec: FieldSpec, value: Any) -> Optional[str]:
    """Why ``value`` does not fit ``spec`` (None if it does). Used by validated inserts/updates."""
    if value is None:
        return None if spec.nullable else "is not nullable"
    kind = spec.type
    if kind == "string":
        ok = isinstance(value, str)
    elif kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63
    elif kind == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif kind == "decimal":
        ok = isinstance(value, str) and _fits_decimal(value, spec.precision or 38, spec.scale or 0)
    elif kind == "boolean":
        ok = isinstance(value, bool)
    elif kind == "date":
        ok = isinstance(value, str) and _is_date(value)
    elif kind == "datetime":
        ok = isinstance(value, str) and parse_instant(value) is not None
    elif kind == "array":
        ok = isinstance(value, list)
    else:  # json: any JSON value
        ok = True
    if ok:
        return None
    extra = f"({spec.precision},{spec.scale})" if kind == "decimal" else ""
    return f"expected {kind}{extra}, got {type(value).__name__} {value!r:.60}"


def _fits_decimal(text: str, precision: int, scale: int) -> bool:
    body = text[1:] if text.startswith("-") else text
    whole, _, frac = body.partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()) or len(frac) > scale:
        return False
    return len(whole.lstrip("0")) <= precision - scale


def _is_date(text: str) -> bool:
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def kind_for(name: str) -> TableKind:
    """Look a kind up by name with an error that lists the valid ones."""
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown table kind {name!r}; expected one of {', '.join(KIND_ORDER)}") from None

