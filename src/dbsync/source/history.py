"""History tables (``history: true``): every version of a row, on dlt's ``scd2`` merge strategy.

dlt's scd2 retires every active destination row whose row version is absent from the load: a
full-load assumption. dbsync's incremental runs load only the changed rows, so the merge is
scoped (``destination_scope``) to the keys this load carries: a version is closed only when its
key arrived with other values, or as a tombstone. Tombstones reach the staging table (their key
is in scope, so the current version closes) but never the table itself (``source_filter`` keeps
them out). dlt's scd2 ignores the ``hard_delete`` hint, hence this filter.

dlt computes no row version for Arrow tables, so dbsync adds one: a hash over the row's values,
without the fetch time and the delete flag (a row read again unchanged keeps its one version).
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional, Sequence

import pyarrow as pa

VALID_FROM = "_dbsync_valid_from"
VALID_TO = "_dbsync_valid_to"
ROW_VERSION = "_dbsync_row_version"


def _quoted(name: str) -> str:
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    return '"' + NamingConvention().normalize_identifier(name).replace('"', '""') + '"'


def write_disposition(primary_key: Sequence[str], deleted_field: Optional[str]) -> Dict[str, Any]:
    """dlt's scd2 write disposition, scoped to the keys of the load (see the module docstring)."""
    keys = ", ".join(_quoted(k) for k in primary_key)
    key = keys if len(primary_key) == 1 else f"({keys})"
    disposition: Dict[str, Any] = {
        "disposition": "merge",
        "strategy": "scd2",
        "validity_column_names": [VALID_FROM, VALID_TO],
        "row_version_column_name": ROW_VERSION,
        "destination_scope": f"{key} IN (SELECT {keys} FROM {{staging_table}})",
    }
    if deleted_field is not None:
        disposition["source_filter"] = f"{_quoted(deleted_field)} IS NOT TRUE"
    return disposition


def with_row_version(table: pa.Table, exclude: Sequence[str]) -> pa.Table:
    """Append the row version: a signed 64-bit BLAKE2 hash of the row's values as text, column by
    column in name order (the same row hashes alike whichever page or type width it came with)."""
    import hashlib

    import pyarrow.compute as pc

    names = sorted(c for c in table.column_names if c not in exclude)
    texts = []
    for name in names:
        column = table[name]
        try:
            texts.append(pc.cast(column, pa.string()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # nested values: canonical JSON
            texts.append(pa.array([None if v is None else json.dumps(v, sort_keys=True, default=str)
                                   for v in column.to_pylist()], pa.string()))
    joined = pc.binary_join_element_wise(*texts, "\x1f", null_handling="replace", null_replacement="\x00")
    versions = [int.from_bytes(hashlib.blake2b(row.encode(), digest_size=8).digest(), "little", signed=True)
                for row in joined.to_pylist()]
    return table.append_column(pa.field(ROW_VERSION, pa.int64(), nullable=False), pa.array(versions, pa.int64()))
