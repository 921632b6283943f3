"""From the API's type names to dlt column hints and Arrow types.

The default mapping covers the names database APIs commonly use; ``types:`` in the config adds
or overrides entries. An unknown type gives no hint (dlt infers it from the data) and a warning,
never a crash (as dlt's hubspot source does with ``HS_TO_DLT_TYPE``).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

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
    # JSON Schema / OpenAPI: the base types above (string, integer, number, boolean, object,
    # array); a ``format`` refines them as "<type>:<format>" (looked up first, then the type
    # alone). Formats from the OpenAPI format registry (int32, int64, float, double, byte, binary,
    # date, date-time, password: github.com/OAI/OpenAPI-Specification/pull/2857) and JSON Schema's
    # (time, uuid, email, uri); "decimal" is a common extension for exact numbers. An int64 sent
    # as a string stays text: its values are strings.
    "string:date": "date", "string:date-time": "timestamp", "string:time": "time", "string:uuid": "text",
    "string:decimal": "decimal", "number:decimal": "decimal", "integer:int32": "bigint",
    "integer:int64": "bigint", "number:float": "double", "number:double": "double", "string:byte": "text",
    "string:binary": "text", "string:email": "text", "string:uri": "text", "string:password": "text",
    # NocoDB's field types (``uidt``; UITypes in nocodb-sdk, nocodb.com/docs/product-docs/fields).
    # Checkbox is a bool, Number an integer (a double holds it), Links the count of linked records,
    # MultiSelect a comma-separated string, Attachment/User fields lists of objects.
    "singlelinetext": "text", "longtext": "text", "phonenumber": "text", "currency": "decimal",
    "percent": "double", "duration": "double", "rating": "bigint", "checkbox": "bool", "year": "bigint",
    "createdtime": "timestamp", "lastmodifiedtime": "timestamp", "singleselect": "text",
    "multiselect": "text", "attachment": "json", "links": "bigint", "linktoanotherrecord": "json",
    "autonumber": "bigint", "barcode": "text", "qrcode": "text", "geodata": "text", "geometry": "text",
    "collaborator": "json", "user": "json", "createdby": "json", "lastmodifiedby": "json", "button": "json",
    "order": "double",
    # Directus's field types (TYPES in @directus/constants, docs.directus.io/packages/@directus/constants/
    # variables/types): dateTime/timestamp, bigInteger, hash (a masked string), csv (sent as a list),
    # alias (o2m/m2m: a list of ids) and geometry (GeoJSON objects)
    "biginteger": "bigint", "hash": "text", "csv": "json", "alias": "json", "geometry.point": "json",
    "geometry.linestring": "json", "geometry.polygon": "json", "geometry.multipoint": "json",
    "geometry.multilinestring": "json", "geometry.multipolygon": "json",
    # Parse Server's field types (FIELD_TYPES of the Parse JS SDK's ParseSchema). Its "Date" holds a
    # date *and* time, as {"__type": "Date", "iso": "..."}: map it with a value rule,
    # types: {Date: {type: timestamp, value: iso}}; Pointer/File/Bytes/Relation are objects too.
    "pointer": "json", "polygon": "json", "acl": "json",
}

# Type names that are known but say nothing about the values' type (NocoDB's ID, Formula, Lookup,
# Rollup, ForeignKey and SpecificDBType, Directus's "unknown", JSON Schema's "null"): inferred
# from the data, like unknown names, but without the warning that asks to map them.
INFERRED_TYPES = frozenset({"id", "formula", "lookup", "rollup", "foreignkey", "specificdbtype", "unknown",
                            "null"})

DEFAULT_DECIMAL = (38, 9)


def resolve_type_map(overrides: Mapping[str, str]) -> Dict[str, str]:
    merged = dict(DEFAULT_TYPE_MAP)
    merged.update({k.lower(): v for k, v in overrides.items()})
    return merged


def dlt_type_for(api_type: Optional[str], type_map: Mapping[str, str], format: Optional[str] = None) -> Optional[str]:
    """The dlt data type for an API type name (refined by a JSON Schema ``format``), or None when
    unknown. ``type:format`` is looked up first, then the type alone (a format the map lacks, such
    as ``string`` + ``hostname``, is just a string); a format without a type stands alone."""
    if format is not None and str(format).strip():
        fmt = str(format).strip().lower()
        combined = f"{str(api_type).strip().lower()}:{fmt}" if api_type is not None else fmt
        if combined in type_map:
            return type_map[combined]
    if api_type is None:
        return None
    key = str(api_type).strip().lower()
    if key in type_map:
        return type_map[key]
    # "decimal(12,4)", "varchar(255)", "timestamp with time zone"...
    base = key.split("(")[0].split()[0] if key else key
    return type_map.get(base)


def is_inferred_type(api_type: Optional[str]) -> bool:
    """A known name whose values' type varies (see INFERRED_TYPES): inferred without a warning."""
    return api_type is not None and str(api_type).strip().lower() in INFERRED_TYPES


def split_type_list(raw: Any) -> Tuple[Optional[str], bool]:
    """A JSON Schema ``type``: a name, or a list such as ``["string", "null"]``.

    Returns (the type name, whether "null" was listed). A list of one type besides "null" is that
    type, nullable; a list of several (``["integer", "string"]``) has no one type: it is kept as
    ``integer|string``, which no map entry names, so its values are inferred (with a warning)."""
    if not isinstance(raw, (list, tuple)):
        return (None if raw is None else str(raw)), False
    names = [str(t) for t in raw if t is not None]
    nullable = any(n.strip().lower() == "null" for n in names)
    rest = [n for n in names if n.strip().lower() != "null"]
    if not rest:
        return ("null" if nullable else None), nullable
    return "|".join(rest), nullable


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
