"""Typed configuration: what the user declared, after validation and defaults.

The rest_api part (``client``, ``resource_defaults``, ``resources``) is kept as the dicts dlt
expects, because dlt's own factories (``create_auth``, ``create_paginator``) build the objects
from them. Everything dbsync adds lives in small frozen dataclasses next to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from dataclasses import field as _dataclass_field  # DeleteSettings has a member named field
from typing import Any, Dict, List, Literal, Mapping, Optional, Sequence, Tuple, Union

TLayout = Literal["per_database", "union"]
TDeleteMode = Literal["delete", "mark", "ignore"]
# how deletes are found: the API sends deleted rows (tombstones); every key is listed and compared
# with the destination (keys); the keys of a full read of the table are compared (full_read)
TDeleteDetect = Literal["tombstones", "keys", "full_read"]

# a cursor: one field, or several compared as the first non-empty one ([updated_at, created_at])
CursorField = Union[str, Tuple[str, ...]]

DEFAULT_PER_DATABASE_NAME = "{database}__{table}"
DEFAULT_UNION_NAME = "{table}"
# the defaults when tables have ids apart from their names (tables.discover.table_id): an API of
# opaque ids (p2ofizxd, mhcsag29) names destination tables by what people call them (crm__customers)
DEFAULT_PER_DATABASE_NAMED = "{database_name}__{table_name}"
DEFAULT_UNION_NAMED = "{table_name}"


# Every key below that says where a value is in an API's answer (id_field, table_name,
# fields_selector, field.nullable...) is a plain key, a dotted path (``schema.is_nullable``) or a
# JSONPath (``$.meta.hidden``), read by dbsync.http.select.find_path.


@dataclass(frozen=True)
class ListEndpoint:
    """A paged endpoint that lists things (databases), with where to read each item's fields."""

    path: str
    params: Mapping[str, Any] = field(default_factory=dict)
    data_selector: Optional[str] = None
    paginator: Any = None  # anything dlt's create_paginator accepts; None = single page/auto
    id_field: str = "id"
    name_field: Optional[str] = "name"


@dataclass(frozen=True)
class FieldShape:
    """Where the schema response keeps a field's name, type, nullability, precision and scale."""

    name: str = "name"
    type: str = "type"
    nullable: Optional[str] = "nullable"
    required: Optional[str] = None  # some APIs say required=true instead of nullable=false
    precision: Optional[str] = "precision"
    scale: Optional[str] = "scale"
    # a flag meaning the API never returns the field's values (write-only secrets such as
    # passwords): such fields are left out of the table instead of becoming empty NOT NULL columns
    hidden: Optional[str] = None
    # a JSON Schema/OpenAPI format refining the type ("string" + "date-time"); None: not read
    format: Optional[str] = "format"
    # a flag marking the table's key (Directus ``schema.is_primary_key``): the flagged fields are
    # the primary key of a table the table list gives none for
    primary_key: Optional[str] = None


@dataclass(frozen=True)
class FieldsEndpoint:
    """Where a table's fields come from when the table list does not describe them: one request
    per table (e.g. an SQL endpoint answering ``pragma_table_info``), ``{database}``/``{table}``
    filled in."""

    path: str
    params: Mapping[str, Any] = field(default_factory=dict)
    data_selector: Optional[str] = None  # where the fields are in the response: a list, or a mapping
    paginator: Any = None
    field: FieldShape = field(default_factory=FieldShape)
    # where the response lists the names of the fields that are required (JSON Schema's object-level
    # ``required: [..]``): those are NOT NULL, the others nullable. None: not read
    required_selector: Optional[str] = None


@dataclass(frozen=True)
class SchemaEndpoint:
    """Where the tables of a database and their fields come from."""

    path: str
    params: Mapping[str, Any] = field(default_factory=dict)
    tables_selector: Optional[str] = "tables"
    paginator: Any = None
    table_name: str = "name"
    # the key holding the id the API addresses a table by, when it is not the name (NocoDB,
    # Airtable, Baserow): {table} is then the id, {table_name} the name; None: the name is the id
    table_id: Optional[str] = None
    primary_key: Optional[str] = "primary_key"
    cursor_field: Optional[str] = "cursor_field"
    fields_selector: str = "fields"  # in each table item: a list of fields, or a mapping name -> field
    field: FieldShape = field(default_factory=FieldShape)
    fields_endpoint: Optional[FieldsEndpoint] = None  # fields from another endpoint, per table
    # in each table item, the names of the required fields (JSON Schema ``required``): NOT NULL
    required_selector: Optional[str] = None


@dataclass(frozen=True)
class TableSpec:
    """A table declared in the config (instead of, or on top of, discovery)."""

    name: str
    primary_key: Optional[Tuple[str, ...]] = None
    cursor_field: Optional[CursorField] = None
    history: Optional[bool] = None  # None: the top-level ``history`` setting
    deletes: Optional[KeyScanSettings] = None  # None: the top-level ``deletes`` detection


@dataclass(frozen=True)
class DatabasesConfig:
    listed: Optional[Tuple[str, ...]] = None
    discover: Optional[ListEndpoint] = None
    include: Tuple[str, ...] = ("*",)
    exclude: Tuple[str, ...] = ()


@dataclass(frozen=True)
class TablesConfig:
    listed: Optional[Tuple[TableSpec, ...]] = None
    discover: Optional[SchemaEndpoint] = None
    include: Tuple[str, ...] = ("*",)
    exclude: Tuple[str, ...] = ()
    gone: str = "keep"  # tables no longer in the source: keep | mark | drop (dbsync.reconcile.gone)


CURSOR_PLACEHOLDERS = ("cursor", "cursor_field")  # and cursor_field[N], the N-th field (from 0)


def cursor_fields(value: Union[None, str, Sequence[str]]) -> Tuple[str, ...]:
    """A cursor setting (one name, a list, or nothing) as a tuple of field names."""
    if not value:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@dataclass(frozen=True)
class IncrementalSettings:
    """Cursor-based incremental sync: the API filters on the cursor field >= the last cursor value.

    ``params`` are the query parameters that say so, as templates: ``{cursor}`` becomes the
    cursor value of this run, ``{cursor_field}`` the table's cursor field (in keys and values),
    so any filter syntax fits (``updated_since={cursor}``, ``filter=updated >= '{cursor}'``,
    ``{cursor_field}__gte={cursor}``). ``param: x`` is the shorthand for ``params: {x: "{cursor}"}``.
    A cursor of several fields (``[updated_at, created_at]``) is compared as the first non-empty
    one; ``{cursor_field[1]}`` names its second field, so a filter can say the same.

    ``initial_value`` None: a table without a saved cursor is read whole, without the filter (rows
    whose cursor is empty never match a ``>=`` filter, so a first run filtered from 1970 would
    miss them).
    """

    enabled: bool = True
    cursor_field: Optional[CursorField] = None  # None: take it from discovery
    # the one query parameter that holds the plain cursor value, when there is one (None when
    # ``params`` filter with templates such as ``filter=updated >= '{cursor}'``)
    param: Optional[str] = "updated_since"
    params: Mapping[str, str] = field(default_factory=lambda: {"updated_since": "{cursor}"})
    initial_value: Optional[str] = None
    lag_seconds: float = 0.0
    # how the cursor value is written into the request; "iso" keeps the API's own string
    value_format: Literal["iso", "epoch_seconds", "epoch_millis"] = "iso"


@dataclass(frozen=True)
class KeyScanSettings:
    """How deletes are found where the API sends no tombstones (see :mod:`dbsync.source.key_scan`).

    ``keys``: every primary key is listed through the records endpoint with ``params`` added
    (ones that shrink each record, e.g. ``fields: id``) in pages of ``limit`` (offset paginators;
    None: the endpoint's own), and compared with the destination's keys. ``full_read``: the
    table is read whole (the cursor filter left off) and its keys compared. ``every``: at most
    this often (seconds, remembered in state); None: every run."""

    detect: TDeleteDetect = "tombstones"
    every: Optional[float] = None
    params: Mapping[str, Any] = field(default_factory=dict)
    limit: Optional[int] = None

    @property
    def scans(self) -> bool:
        return self.detect != "tombstones"


@dataclass(frozen=True)
class DeleteSettings:
    field: str = "deleted"
    value: Any = True
    mode: TDeleteMode = "delete"
    scan: KeyScanSettings = _dataclass_field(default_factory=KeyScanSettings)


@dataclass(frozen=True)
class ValueRule:
    """How the values of a field (or of every field of an API type) are unwrapped before typing:
    ``parse_json`` reads JSON sent as text, then ``value`` takes the value at a dotted path inside
    an object (``iso`` of ``{"__type": "Date", "iso": "..."}``), then ``type`` types it. Values that
    do not unwrap are kept, as text, in the ``<field>__v_text`` variant column (never dropped)."""

    type: Optional[str] = None  # a dlt data type; None: the mapped API type (json with parse_json)
    value: Optional[str] = None  # a dotted path inside object values
    parse_json: bool = False


@dataclass(frozen=True)
class RetrySettings:
    attempts: int = 8
    max_total_wait: float = 300.0  # seconds spent sleeping between attempts, per request
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_statuses: Tuple[int, ...] = (429, 500, 502, 503, 504)
    timeout: float = 60.0


@dataclass(frozen=True)
class PerformanceSettings:
    concurrency: int = 8  # pages in flight across all tables
    prefetch_pages: int = 32  # pages fetched ahead and held in memory, across all tables
    batch_rows: int = 50_000  # rows per Arrow table handed to dlt
    duckdb_memory_limit: Optional[str] = "256MB"  # DuckDB spills past this instead of growing
    processes: Optional[int] = None  # page-converting worker processes; None: min(2, CPUs); 0: none


@dataclass(frozen=True)
class DiscoverySettings:
    """Reuse of discovery answers across runs (see :mod:`dbsync.discovery.cache`): validators
    (ETag/Last-Modified) always, unless ``enabled`` is off; a time to live when configured."""

    enabled: bool = True
    cache_ttl: Optional[float] = None  # seconds an answer is reused without asking; None: ask every run


@dataclass(frozen=True)
class CountRequest:
    """How to ask the source for a table's count (``verify.count``), where its records' pages do
    not say: the records request unfiltered (or another ``path``), with ``params`` added, sent as
    ``method`` (HEAD: Kinto's Total-Records), the total read from ``header`` or ``total_path``."""

    path: Optional[str] = None  # None: the table's records endpoint; {database}/{table} are filled in
    params: Mapping[str, Any] = field(default_factory=dict)
    method: str = "GET"  # GET or HEAD
    header: Optional[str] = None  # a response header holding the total (a count or a range .../total)
    total_path: Optional[str] = None  # a dotted path (or JSONPath) in the body holding the total


@dataclass(frozen=True)
class VerifySettings:
    """The proof of sync after every load (see :mod:`dbsync.reconcile`)."""

    count: Optional[CountRequest] = None  # None: the records request, unfiltered, one row, its known totals
    counts: bool = True  # compare the source's count of each table with the destination's
    heal: bool = True  # read a table again in this run (a catch-up, then in full) when they differ
    sample: int = 0  # rows per table re-read from random pages and compared value by value


@dataclass(frozen=True)
class PipelineSettings:
    name: str = "dbsync"
    dataset: Optional[str] = None  # default: the pipeline name + "_data"
    destination: str = "duckdb"


@dataclass(frozen=True)
class SyncConfig:
    """Everything one connection needs, validated. Build it with :func:`dbsync.config.parse_config`."""

    rest_api: Dict[str, Any]  # client / resource_defaults / resources, as dlt expects them
    databases: Optional[DatabasesConfig] = None
    tables: Optional[TablesConfig] = None
    incremental: IncrementalSettings = field(default_factory=IncrementalSettings)
    deletes: DeleteSettings = field(default_factory=DeleteSettings)
    types: Mapping[str, str] = field(default_factory=dict)  # API type name -> dlt data type
    type_rules: Mapping[str, ValueRule] = field(default_factory=dict)  # API type name -> value rule
    field_rules: Mapping[str, ValueRule] = field(default_factory=dict)  # "field"/"table.field" -> rule
    layout: TLayout = "per_database"
    history: bool = False  # keep every version of a row (dlt scd2); tables.list[].history overrides
    database_column: str = "_dbsync_database"
    retries: RetrySettings = field(default_factory=RetrySettings)
    performance: PerformanceSettings = field(default_factory=PerformanceSettings)
    discovery: DiscoverySettings = field(default_factory=DiscoverySettings)
    verify: VerifySettings = field(default_factory=VerifySettings)
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    source_name: Optional[str] = None  # where the config came from, for messages
    secrets: Tuple[str, ...] = ()  # secret values to redact everywhere

    @property
    def client(self) -> Dict[str, Any]:
        return self.rest_api["client"]

    @property
    def resources(self) -> List[Dict[str, Any]]:
        return self.rest_api["resources"]

    @property
    def dataset_name(self) -> str:
        return self.pipeline.dataset or f"{self.pipeline.name}_data"
