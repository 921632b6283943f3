"""Settings of the reference server: what data it generates, which keys it accepts, which faults it injects.

Both dataclasses round-trip through plain JSON (``to_dict``/``from_dict``) because the process mode
hands them to a child process on its command line and the admin API accepts fault settings as JSON.
They validate themselves on construction so a typo in a demo config fails at startup, not mid-run.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

__all__ = [
    "DATABASE_NAMES",
    "FAULT_KINDS",
    "FaultSettings",
    "ServerSettings",
    "database_ids",
    "parse_api_key_option",
]

# Realistic tenant ids with display names; ids past the list are ``db_09``, ``db_10``, ...
DATABASE_NAMES: Tuple[Tuple[str, str], ...] = (
    ("acme", "Acme Corp"),
    ("globex", "Globex Corporation"),
    ("initech", "Initech"),
    ("umbrella", "Umbrella Corporation"),
    ("hooli", "Hooli"),
    ("stark", "Stark Industries"),
    ("wayne", "Wayne Enterprises"),
    ("wonka", "Wonka Industries"),
)

FAULT_KINDS = ("status", "drop", "truncate", "slow", "html")  # html: a 200 with a non-JSON page
RETRY_AFTER_FORMATS = ("seconds", "http-date")
SCHEMA_FORMATS = ("fields", "json_schema")


def database_ids(count: int) -> List[Tuple[str, str]]:
    """The first ``count`` (id, display name) pairs; deterministic so every run names tenants alike."""
    out = list(DATABASE_NAMES[:count])
    for index in range(len(out) + 1, count + 1):
        out.append((f"db_{index:02d}", f"Database {index:02d}"))
    return out


def _check_rate(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or math.isnan(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a fraction between 0 and 1, got {value!r}")


@dataclass
class FaultSettings:
    """Faults and limits applied to API requests (never to ``/health`` or ``/admin``).

    Random faults draw from their own RNG seeded with ``seed``, consulted once per request in
    arrival order, so a sequential client sees the same faults on every run. The random fault
    rates are exclusive bands of one draw, which is why their sum may not exceed 1.
    """

    seed: int = 0
    rate_limit_per_second: Optional[float] = None
    rate_limit_burst: int = 10
    rate_limit_headers: bool = True
    retry_after_format: str = "seconds"  # "seconds" or "http-date"
    error_rate: float = 0.0
    error_statuses: Tuple[int, ...] = (500, 502, 503, 504)
    random_429_rate: float = 0.0
    random_429_retry_after: float = 1.0
    slow_rate: float = 0.0
    slow_seconds: float = 1.0
    drop_rate: float = 0.0
    truncate_rate: float = 0.0
    echo_key_in_errors: bool = False
    fault_paths: Tuple[str, ...] = ("/v1/",)

    def __post_init__(self) -> None:
        self.error_statuses = tuple(int(s) for s in self.error_statuses)
        if isinstance(self.fault_paths, str):
            self.fault_paths = (self.fault_paths,)
        self.fault_paths = tuple(str(p) for p in self.fault_paths)
        for name in ("error_rate", "random_429_rate", "slow_rate", "drop_rate", "truncate_rate"):
            _check_rate(name, getattr(self, name))
        if self.total_fault_rate() > 1.0 + 1e-9:
            raise ValueError("error_rate + random_429_rate + slow_rate + drop_rate + truncate_rate "
                             f"must not exceed 1, got {self.total_fault_rate():g}")
        if self.rate_limit_per_second is not None and not self.rate_limit_per_second > 0:
            raise ValueError(f"rate_limit_per_second must be > 0 or None, got {self.rate_limit_per_second!r}")
        if self.rate_limit_burst < 1:
            raise ValueError(f"rate_limit_burst must be >= 1, got {self.rate_limit_burst!r}")
        if self.retry_after_format not in RETRY_AFTER_FORMATS:
            raise ValueError(f"retry_after_format must be one of {RETRY_AFTER_FORMATS}, "
                             f"got {self.retry_after_format!r}")
        if not self.error_statuses or any(not 400 <= s <= 599 for s in self.error_statuses):
            raise ValueError(f"error_statuses must be HTTP error statuses (400-599), got {self.error_statuses!r}")
        if self.slow_seconds < 0 or self.random_429_retry_after < 0:
            raise ValueError("slow_seconds and random_429_retry_after must be >= 0")

    def total_fault_rate(self) -> float:
        """Sum of the random fault bands."""
        return self.error_rate + self.random_429_rate + self.slow_rate + self.drop_rate + self.truncate_rate

    def to_dict(self) -> Dict[str, Any]:
        data = dataclasses.asdict(self)
        data["error_statuses"] = list(self.error_statuses)
        data["fault_paths"] = list(self.fault_paths)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FaultSettings":
        """Build from JSON; unknown keys are an error so a misspelt fault never silently does nothing."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}")
        return cls(**dict(data))


def _default_api_keys() -> Dict[str, Optional[List[str]]]:
    return {"dbsync-demo-key": None, "dbsync-limited-key": [DATABASE_NAMES[0][0]]}


@dataclass
class ServerSettings:
    """What the server generates and who may read it. Same seed, same settings: same bytes served.

    ``api_keys`` maps a key to the database ids it is granted, or ``None`` for all databases.
    ``unknown_keys_empty`` answers an unknown key as a new, empty account (200, no databases,
    403 for any database) instead of 401: what servers with HTTP basic auth do when any
    username/password pair maps to a fresh user, so clients can be tested against it.
    ``default_table_rows`` sizes only the default table (the first database's ``orders``), so a
    benchmark can have a 200,000-row table without generating every other table at that size.

    The paging options make ``/v1/resource`` behave like APIs dbsync must not be fooled by:
    ``total_bias`` is added to every announced total (never below 0: a planner's estimate, too low
    or too high), ``total_in_body`` False drops ``total`` from the body, ``total_path`` puts it
    elsewhere in the body (a dotted path: ``pageInfo.totalRows`` as NocoDB, ``meta.pagination.total``
    as Strapi), ``total_header`` also
    announces it in that response header (e.g. ``X-Total-Count``), and ``next_page_header`` names a
    header announcing the next page while more rows follow: ``Link`` as RFC 8288
    (``<url>; rel="next"``), any other name as the bare URL (e.g. ``Next-Page: <url>``).
    ``next_page_relative`` sends that URL without scheme and host (``/v1/resource?...``);
    ``next_page_with_key`` keeps the request's ``api_key`` in it (servers that echo the key);
    ``next_page_base`` puts another scheme/host/port in front of it (a server whose links point
    elsewhere: clients must not follow them there with their credentials).
    ``total_header: Content-Range`` is sent as PostgREST does (``0-99/260``, ``*/0`` when empty);
    ``total_header_methods`` limits it to those methods (``("HEAD",)``: only a HEAD request
    tells the total, as with count headers that cost a query).

    ``forbidden_params`` answers 403 to a ``/v1/resource`` request carrying any of these query
    parameters (a key that may not use ``fields``, say: APIs that restrict field selection).

    ``etags`` (on by default) puts an ``ETag`` on the discovery answers (databases, schema,
    fields) and answers ``304 Not Modified`` to a matching ``If-None-Match``; off, the server is
    an API without validators (clients can only cache for a time).
    ``log_headers`` names request headers the request log records (e.g. ``("X-Table",)``: tests
    check what a client sent); credential headers are never recorded.

    ``schema_format: json_schema`` serves each table of ``/v1/databases/{db}/schema`` with its
    fields as a JSON Schema object (``"schema": {"type": "object", "properties": {...},
    "required": [...]}``, as Kinto and OpenAPI describe records) instead of a ``fields`` list.

    ``latency_ms`` answers every API request (``/v1``, ``/oauth/token``; never ``/health`` or
    ``/admin``) that many milliseconds after it arrived, as a real API across a network does. The
    delay is an ``asyncio.sleep`` on the server's event loop: concurrent requests wait side by
    side, so a client with N requests in flight gets N answers per delay. Faults and the rate
    limit are decided on arrival, before the delay.

    ``opaque_ids`` addresses databases and tables by opaque ids apart from their names, as
    NocoDB, Airtable or Baserow do: the database list gives ``{"id": "<8 chars>", "name": "acme"}``,
    schema entries ``{"id": "<8 chars>", "name": "customers", ...}``, and every ``/v1`` path and
    ``database``/``table`` parameter takes the ids (names are 404). Table ids are global:
    ``/v1/tables/{table}/fields`` answers without the database. ``/admin`` keeps using names.

    ``tombstones`` (on by default) keeps a deleted record as ``{"id", "updated_at", "deleted":
    true}`` in the ``updated_since`` listing; off, a delete forgets the record entirely, as on
    most real APIs (only a scan of every key can tell it is gone). Ids are never reused either way.
    ``tombstones_listed`` shows tombstones in the plain listing too (by id, counted in its total),
    as APIs with soft deletes that list the deleted rows do.
    """

    seed: int = 42
    databases: int = 3
    tables_per_database: int = 3
    rows_per_table: int = 1000
    default_table_rows: Optional[int] = None
    max_limit: int = 1000
    api_keys: Dict[str, Optional[List[str]]] = field(default_factory=_default_api_keys)
    admin_key: str = "dbsync-admin-key"
    unknown_keys_empty: bool = False
    faults: FaultSettings = field(default_factory=FaultSettings)
    total_bias: int = 0
    total_in_body: bool = True
    total_path: str = "total"
    forbidden_params: Tuple[str, ...] = ()
    total_header: Optional[str] = None
    next_page_header: Optional[str] = None
    next_page_relative: bool = False
    next_page_with_key: bool = False
    next_page_base: Optional[str] = None
    total_header_methods: Tuple[str, ...] = ("GET", "HEAD")
    etags: bool = True
    log_headers: Tuple[str, ...] = ()
    schema_format: str = "fields"  # or "json_schema"
    opaque_ids: bool = False
    tombstones: bool = True
    tombstones_listed: bool = False
    latency_ms: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.tombstones, bool):
            raise ValueError(f"tombstones must be true or false, got {self.tombstones!r}")
        if isinstance(self.latency_ms, bool) or not isinstance(self.latency_ms, (int, float)) \
                or math.isnan(self.latency_ms) or not 0 <= self.latency_ms <= 600_000:
            raise ValueError(f"latency_ms must be a number of milliseconds from 0 to 600000, got {self.latency_ms!r}")
        if self.schema_format not in SCHEMA_FORMATS:
            raise ValueError(f"schema_format must be one of {SCHEMA_FORMATS}, got {self.schema_format!r}")
        if not isinstance(self.total_path, str) or not all(part for part in self.total_path.split(".")):
            raise ValueError(f"total_path must be a dotted path of keys, got {self.total_path!r}")
        self.forbidden_params = tuple(str(p) for p in self.forbidden_params)
        if not isinstance(self.total_bias, int) or isinstance(self.total_bias, bool):
            raise ValueError(f"total_bias must be an integer, got {self.total_bias!r}")
        for name in ("total_header", "next_page_header"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()
                                      or not all(c.isalnum() or c in "-_" for c in value)):
                raise ValueError(f"{name} must be a header name (letters, digits, '-', '_'), got {value!r}")
        self.total_header_methods = tuple(str(m).upper() for m in self.total_header_methods)
        self.log_headers = tuple(str(h).lower() for h in self.log_headers)
        if set(self.log_headers) & {"authorization", "x-api-key", "x-admin-key", "cookie"}:
            raise ValueError("log_headers must not name a credential header")
        if not set(self.total_header_methods) <= {"GET", "HEAD"}:
            raise ValueError(f"total_header_methods must name GET and/or HEAD, got {self.total_header_methods!r}")
        if isinstance(self.faults, Mapping):
            self.faults = FaultSettings.from_dict(self.faults)
        self.api_keys = {str(k): (None if v is None else [str(d) for d in v]) for k, v in self.api_keys.items()}
        if self.databases < 1:
            raise ValueError(f"databases must be >= 1, got {self.databases}")
        if self.tables_per_database < 1:
            raise ValueError(f"tables_per_database must be >= 1, got {self.tables_per_database}")
        if self.rows_per_table < 0 or (self.default_table_rows is not None and self.default_table_rows < 0):
            raise ValueError("row counts must be >= 0")
        if self.max_limit < 1:
            raise ValueError(f"max_limit must be >= 1, got {self.max_limit}")
        if not self.api_keys:
            raise ValueError("at least one API key is needed")
        if not self.admin_key or self.admin_key in self.api_keys:
            raise ValueError("admin_key must be non-empty and different from every API key")

    @property
    def default_rows(self) -> int:
        """Row count of the default table."""
        return self.rows_per_table if self.default_table_rows is None else self.default_table_rows

    def full_access_key(self) -> Optional[str]:
        """The first API key granted every database (what demos and the handle use)."""
        for key, grant in self.api_keys.items():
            if grant is None:
                return key
        return None

    def to_dict(self) -> Dict[str, Any]:
        data = dataclasses.asdict(self)
        data["faults"] = self.faults.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ServerSettings":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown server setting(s): {', '.join(unknown)}")
        return cls(**dict(data))


def parse_api_key_option(values: Sequence[str]) -> Dict[str, Optional[List[str]]]:
    """Parse ``--api-key`` values: ``KEY`` (all databases) or ``KEY=db1,db2`` (only those)."""
    keys: Dict[str, Optional[List[str]]] = {}
    for value in values:
        key, sep, grant = value.partition("=")
        key = key.strip()
        if not key:
            raise ValueError(f"empty API key in {value!r}")
        if not sep:
            keys[key] = None
        else:
            dbs = [d.strip() for d in grant.split(",") if d.strip()]
            if not dbs:
                raise ValueError(f"API key option {key}=... lists no database (use just KEY for all)")
            keys[key] = dbs
    return keys
