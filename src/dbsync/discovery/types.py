"""From the API's type names to dlt column hints and Arrow types.

The default mapping covers the names database APIs commonly use; ``types:`` in the config adds
or overrides entries. An unknown type gives no hint (dlt infers it from the data) and a warning,
never a crash (as dlt's hubspot source does with ``HS_TO_DLT_TYPE``).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import pyarrow as pa

DEFAULT_TYPE_MAP: Dict[str, str] = {
    # text
    "string": "text", "str": "text", "text": "text", "varchar": "text", "char": "text", "uuid": "text",
    "email": "text", "url": "text", "enum": "text", "select": "text", "richtext": "text", "editor": "text",
    # integers
    "integer": "bigint", "int": "bigint", "bigint": "bigint", "long": "bigint", "smallint": "bigint",
    "int64": "bigint", "int32": "bigint",
    # floating point
    "number": "double", "float": "double", "double": "double", "real": "double", "float64": "double",
    # exact decimals
    "decimal": "decimal", "numeric": "decimal", "money": "decimal",
    # booleans
    "boolean": "bool", "bool": "bool",
    # dates and times
    "date": "date", "datetime": "timestamp", "timestamp": "timestamp", "timestamptz": "timestamp",
    "date-time": "timestamp", "time": "time",
    # nested
    "json": "json", "object": "json", "dict": "json", "map": "json", "array": "json", "list": "json",
    # binary (base64 in JSON): kept as text, since the API sends it as a string
    "binary": "text", "bytes": "text", "blob": "text",
    # SQLite's declared types (as an SQL endpoint reports them, e.g. Datasette's pragma_table_info)
    "tinyint": "bigint", "mediumint": "bigint", "int2": "bigint", "int8": "bigint",
    "unsigned big int": "bigint", "character": "text", "varying character": "text", "nchar": "text",
    "native character": "text", "nvarchar": "text", "clob": "text", "double precision": "double",
    # PocketBase's field types (its "date" holds a date *and* time: map it with types: {date: timestamp})
    "autodate": "timestamp", "file": "text", "relation": "text", "password": "text", "geopoint": "json",
}

DEFAULT_DECIMAL = (38, 9)


def resolve_type_map(overrides: Mapping[str, str]) -> Dict[str, str]:
    merged = dict(DEFAULT_TYPE_MAP)
    merged.update({k.lower(): v for k, v in overrides.items()})
    return merged


def dlt_type_for(api_type: Optional[str], type_map: Mapping[str, str]) -> Optional[str]:
    """The dlt data type for an API type name, or None when unknown."""
    if api_type is None:
        return None
    key = str(api_type).strip().lower()
    if key in type_map:
        return type_map[key]
    # "decimal(12,4)", "varchar(255)", "timestamp with time zone"...
    base = key.split("(")[0].split()[0] if key else key
    return type_map.get(base)


def arrow_type_for(dlt_type: str, precision: Optional[int] = None, scale: Optional[int] = None) -> pa.DataType:
    """The Arrow type we build for a dlt type. JSON goes as text and is typed by the column hint."""
    if dlt_type == "bigint":
        return pa.int64()
    if dlt_type == "double":
        return pa.float64()
    if dlt_type == "bool":
        return pa.bool_()
    if dlt_type == "decimal":
        p, s = precision or DEFAULT_DECIMAL[0], scale if scale is not None else DEFAULT_DECIMAL[1]
        return pa.decimal128(p, s) if p <= 38 else pa.decimal256(p, s)
    if dlt_type == "date":
        return pa.date32()
    if dlt_type == "timestamp":
        return pa.timestamp("us", tz="UTC")
    if dlt_type == "time":
        return pa.time64("us")
    return pa.string()  # text, json, and anything else


def column_hint(dlt_type: str, nullable: Optional[bool], precision: Optional[int] = None,
                scale: Optional[int] = None) -> Dict[str, Any]:
    hint: Dict[str, Any] = {"data_type": dlt_type}
    if nullable is not None:
        hint["nullable"] = bool(nullable)
    if dlt_type == "decimal":
        hint["precision"] = precision or DEFAULT_DECIMAL[0]
        hint["scale"] = scale if scale is not None else DEFAULT_DECIMAL[1]
    return hint


def parse_type_params(api_type: Optional[str]) -> tuple:
    """Precision and scale written into the type name, as in ``decimal(12,4)``."""
    if not api_type or "(" not in str(api_type):
        return None, None
    inner = str(api_type).split("(", 1)[1].rstrip(")")
    parts = [p.strip() for p in inner.split(",")]
    try:
        precision = int(parts[0])
        scale = int(parts[1]) if len(parts) > 1 else 0
        return precision, scale
    except ValueError:
        return None, None
