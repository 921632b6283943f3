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


def settle_versions(client: Any, qualified_table: str, keys: Sequence[str], synced_at: str) -> None:
    """Leave one open version per key after a load. dlt's scd2 does not deduplicate its staging
    table: a row that changed while the run read it arrives twice in one load (two row versions),
    and both would stay open. Of a key's open versions the newest (latest valid-from, then the
    latest fetch) stays open; an older one from an earlier load is closed where the newest
    begins; a duplicate from the same load is removed (it was never seen between two runs).
    ``keys``, ``synced_at``: escaped column names. Idempotent."""
    same_key = " AND ".join(f"n.{k} = t.{k}" for k in keys)
    valid_from, valid_to = _quoted(VALID_FROM), _quoted(VALID_TO)
    open_newer = (f"SELECT 1 FROM {qualified_table} AS n WHERE {same_key} AND n.{valid_to} IS NULL AND "
                  f"(n.{valid_from} > t.{valid_from} OR (n.{valid_from} = t.{valid_from} AND "
                  f"n.{synced_at} > t.{synced_at}))")
    client.execute_sql(
        f"DELETE FROM {qualified_table} AS t WHERE t.{valid_to} IS NULL AND EXISTS (SELECT 1 FROM "
        f"{qualified_table} AS n WHERE {same_key} AND n.{valid_to} IS NULL AND n.{valid_from} = t.{valid_from} "
        f"AND n.{synced_at} > t.{synced_at})")
    client.execute_sql(
        f"UPDATE {qualified_table} AS t SET {valid_to} = (SELECT MAX(n.{valid_from}) FROM {qualified_table} AS n "
        f"WHERE {same_key} AND n.{valid_to} IS NULL) WHERE t.{valid_to} IS NULL AND EXISTS ({open_newer})")
