"""Field names the destination can hold, one column each.

dlt normalizes every name to snake_case before it makes a column: ``userId`` and ``user_id``,
``Name`` and ``name``, ``a.b`` and ``a b`` become one column, and dlt refuses the page
(``NameNormalizationCollision``), every run, for the whole run. A blank name (``""``, ``" "``)
normalizes to nothing and fails the same way; a field named like one of dbsync's own columns
(``_dbsync_synced_at``) would be overwritten. So each table gives every field its column name
once (:meth:`ColumnNames.name`): the first field to claim a normalized name keeps it (declared
fields first, in schema order, then the others in the order they appear), a later one gets a
suffix (``user_id_2``), a blank one ``_blank`` (suffixed too if needed), with one warning per
field naming the table. Nothing is dropped.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Dict, Iterable, Optional

logger = logging.getLogger("dbsync.convert")

__all__ = ["ColumnNames"]

BLANK = "_blank"


def _normalizer() -> Callable[[str], str]:
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    return NamingConvention().normalize_identifier


class ColumnNames:
    """The column name of each field of one table (thread-safe: pages convert in threads)."""

    def __init__(self, declared: Iterable[str], reserved: Iterable[str], where: str = "",
                 generated: Iterable[str] = ()):
        """``reserved``: columns dbsync adds after this (``_dbsync_synced_at``...): no field takes
        them. ``generated``: columns dbsync's converter emits itself (the tombstone flag, a union
        table's database column): they keep their names."""
        self.normalize = _normalizer()
        self.where = where
        self._lock = threading.Lock()
        self._names: Dict[str, str] = {}
        self._taken: Dict[str, str] = {}  # normalized column name -> the field that claimed it
        self._own = set(reserved)
        for name in self._own:
            self._taken[self.normalize(name)] = f"dbsync's own {name}"
        for name in generated:
            self._taken[self.normalize(name)] = name
            self._names[name] = name
        for name in declared:
            self.name(name)

    def name(self, field: str) -> str:
        """The column a field's values go to (the field's own name, unless that cannot be)."""
        known = self._names.get(field)
        if known is not None:
            return known
        with self._lock:
            known = self._names.get(field)
            if known is not None:
                return known
            column, why = self._claim(field)
            self._names[field] = column
        if why is not None:
            logger.warning("%s: field %r goes to column %r: %s", self.where or "a table", field, column, why)
        return column

    def _claim(self, field: str) -> "tuple[str, Optional[str]]":
        base, why = field, None
        if not field.strip():
            base, why = BLANK, "a blank name can be no column"
        normalized = self._normalized(base)
        if normalized is not None and self._taken.get(normalized, field) == field:
            self._taken[normalized] = field
            return base, why
        if normalized is not None:
            why = f"{self._taken[normalized]!r} is column {normalized!r} already (dlt's names are snake_case)"
        suffix = 2
        while True:
            candidate = f"{base}_{suffix}"  # one underscore: dlt escapes "__" in names
            normalized = self._normalized(candidate)
            if normalized is not None and normalized not in self._taken:
                self._taken[normalized] = field
                return candidate, why
            suffix += 1

    def _normalized(self, name: str) -> Optional[str]:
        try:
            return self.normalize(name)
        except ValueError:
            return None

    def apply(self, table: Any) -> Any:
        """The Arrow table with each column under its column name (zero-copy)."""
        names = table.column_names
        columns = [self.name(n) for n in names]
        return table if columns == names else table.rename_columns(columns)

    def hints(self, hints: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
        """Column hints keyed by column name (dbsync's own columns' hints are theirs)."""
        if not hints:
            return hints
        return {name if name in self._own else self.name(name): hint for name, hint in hints.items()}

    @property
    def renamed(self) -> Dict[str, str]:
        """Fields whose column is not their own name."""
        return {field: column for field, column in self._names.items() if column != field}
