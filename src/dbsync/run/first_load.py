"""The first load of a table that is not in the destination yet: append instead of merge.

A merge (dlt's ``delete-insert``) copies every row into a staging table, then deletes matching
keys from the destination and inserts the newest version of each key (a window over every
staged row). Into a table that does not exist yet there is nothing to delete, and if no key
comes twice in the run there is nothing to deduplicate either: appending the rows gives the
same table. Measured at 200,000 rows into DuckDB: the load step took about half as long.

So the rows are appended as long as that is provably the same as merging:

- the table is missing from the destination when the run starts (``run_sync`` checks; a
  table that cannot be checked is merged) and it is a merge table with a primary key and
  no history (``history: true`` keeps versions: always dlt's scd2);
- no key arrives twice in the run. Rows can be read twice within one run (rows shifting while
  offset pages are read, a row changed while the table is read in cursor order). Every
  batch's keys are checked against the keys already seen; at the first key seen twice the
  table is merged after all: that batch and every later one carry ``write_disposition:
  merge``, and dlt loads a table by the disposition its last item left in the package's
  schema, so every file of the table (the earlier, appended batches' too) goes through the
  staging table and the merge keeps one row per key, as without this module;
- tombstones (``deletes: delete``) of keys seen once delete rows that were never loaded:
  they are dropped from the appended batch (a key's tombstone and its live row are two rows
  of one key, so the merge handles those).

The next run finds the table and merges as usual (the resource's own hint is ``merge``).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import pyarrow as pa
import pyarrow.compute as pc

logger = logging.getLogger("dbsync.source")

MAX_OVERLAP_KEYS = 5_000_000  # keys compared by hash before giving up and merging (unordered keys)


class KeysSeen:
    """The keys of one table's rows so far, as Arrow arrays (8 bytes a row for integer keys).

    ``add`` says whether a key of the batch was seen before (or twice in the batch). Rows of a
    first run usually come in key order, so a batch's key range rarely overlaps earlier ones
    and the check costs one pass over the batch; overlapping ranges are compared by hash, up to
    :data:`MAX_OVERLAP_KEYS`, after which the answer is "seen" (merging is always correct)."""

    def __init__(self) -> None:
        self._chunks: List[Tuple[Any, Any, pa.Array]] = []  # (min, max, keys)
        self._compared = 0

    def add(self, keys: pa.Array) -> bool:
        if len(keys) == 0:
            return False
        try:
            if keys.null_count or pc.count_distinct(keys).as_py() != len(keys):
                return True
            bounds = pc.min_max(keys)
            low, high = bounds["min"].as_py(), bounds["max"].as_py()
            for chunk_low, chunk_high, chunk in self._chunks:
                if high < chunk_low or low > chunk_high:
                    continue
                self._compared += len(chunk) + len(keys)
                if self._compared > MAX_OVERLAP_KEYS:
                    return True
                if pc.any(pc.is_in(keys, value_set=chunk.cast(keys.type))).as_py():
                    return True
        except (pa.ArrowException, TypeError, ValueError):  # keys that do not compare: merge
            return True
        self._chunks.append((low, high, keys))
        return False


def batch_keys(table: pa.Table, key_columns: Sequence[str]) -> Optional[pa.Array]:
    """One array of the batch's keys (several key columns joined into one text), or None when a
    key column is missing."""
    if any(name not in table.column_names for name in key_columns):
        return None
    columns = [table.column(name).combine_chunks() for name in key_columns]
    if len(columns) == 1:
        return columns[0]
    try:
        text = [pc.cast(c, pa.string()) for c in columns]
        # \x1f cannot appear in a number or date; text keys are length-prefixed to stay unambiguous
        parts = [pc.binary_join_element_wise(pc.cast(pc.utf8_length(t), pa.string()), t, ":") for t in text]
        return pc.binary_join_element_wise(*parts, "\x1f")
    except (pa.ArrowException, TypeError):
        return None


class FirstLoad:
    """Appends the batches of one destination table until a key arrives twice (shared by every
    resource loading that table, e.g. all databases of a union-layout table)."""

    def __init__(self, table_name: str, key_columns: Sequence[str], deleted_field: Optional[str]):
        self.table_name = table_name
        self.key_columns = tuple(key_columns)
        self.deleted_field = deleted_field  # set with deletes: delete (tombstones come as rows)
        self.merging = False
        self._keys = KeysSeen()

    def prepare(self, table: pa.Table) -> Tuple[pa.Table, str, Dict[str, Dict[str, Any]]]:
        """The batch to hand to dlt, its write disposition and the column hints that go with it:
        appended, the merge-only hints (``hard_delete``, ``dedup_sort``) are switched off, else
        dlt warns on every run that it ignores them; merged, they are switched on again."""
        if not self.merging:
            keys = batch_keys(table, self.key_columns)
            if keys is None or self._keys.add(keys):
                self.merging = True
                self._keys = KeysSeen()  # no longer needed: free the keys
                logger.info("%s: a key came twice in this run: merging the table's first load",
                            self.table_name)
        if self.merging:
            return table, "merge", self._merge_hints(True)
        if self.deleted_field and self.deleted_field in table.column_names:
            table = table.filter(pc.invert(pc.fill_null(table.column(self.deleted_field), False)))
        return table, "append", self._merge_hints(False)

    def _merge_hints(self, on: bool) -> Dict[str, Dict[str, Any]]:
        from dbsync.source.convert import SYNCED_AT

        hints: Dict[str, Dict[str, Any]] = {SYNCED_AT: {"dedup_sort": "desc" if on else None}}
        if self.deleted_field:
            hints[self.deleted_field] = {"hard_delete": on}
        return hints


def plan_first_loads(jobs: Iterable[Any], missing: Set[str], deletes: Any) -> Dict[str, FirstLoad]:
    """``FirstLoad`` trackers for the resources in ``missing`` (their table is not in the
    destination) that qualify: merge, a primary key, no history. Resources sharing a table
    share its tracker; a table that is missing for some of its resources only is merged."""
    by_table: Dict[str, List[Any]] = {}
    for job in jobs:
        by_table.setdefault(job.table_name, []).append(job)
    deleted_field = deletes.field if deletes.mode == "delete" else None
    plans: Dict[str, FirstLoad] = {}
    for table_name, table_jobs in by_table.items():
        if not all(j.resource_name in missing and qualifies(j) for j in table_jobs):
            continue
        keys = {tuple(j.primary_key) for j in table_jobs}
        if len(keys) != 1:
            continue
        tracker = FirstLoad(table_name, keys.pop(), deleted_field)
        for job in table_jobs:
            plans[job.resource_name] = tracker
    return plans


def qualifies(job: Any) -> bool:
    """Merge tables with a primary key and without history: the ones a first load may append."""
    return job.write_disposition == "merge" and bool(job.primary_key) and not getattr(job, "history", False)


def missing_tables(pipeline: Any, jobs: Sequence[Any], source_name: str,
                   fingerprint: Optional[List[Any]] = None, stored: Any = None) -> Set[str]:
    """The qualifying resources whose table is not in the destination now (see the module doc).

    Free on the runs that matter most: a DuckDB file that does not exist holds no table; a file
    nobody wrote since this pipeline's last load (``fingerprint``) holds every table the
    pipeline's schema knows. Otherwise one information-schema query; a destination that cannot
    be asked gives no resource (merge, as always). ``stored`` (dbsync.run.stored_tables.StoredTables)
    shares that query with the run's other questions about the destination."""
    import os

    from dbsync.run.destination import duckdb_path, duckdb_fingerprint
    from dbsync.run.stored_tables import missing_in_destination

    candidates = [job for job in jobs if qualifies(job)]
    if not candidates:
        return set()
    path = duckdb_path(pipeline.destination)
    if path is not None and not os.path.exists(path):
        return {job.resource_name for job in candidates}
    schema = pipeline.schemas[source_name] if source_name in pipeline.schema_names else None
    if path is not None and schema is not None and fingerprint == duckdb_fingerprint(path):
        known = set(schema.tables)
        candidates = [job for job in candidates if schema.naming.normalize_path(job.table_name) not in known]
        if not candidates:
            return set()
    if stored is not None:
        return stored.missing(candidates)
    return missing_in_destination(pipeline, candidates, source_name)
