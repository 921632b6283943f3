"""What the values of a whole table came to: counted over every page, said once at its end.

Values are typed page by page, in threads and worker processes, so a warning raised while
converting knows one page. The counts that matter are the table's: how many values of a field
did not fit its type (kept as text in ``<field>__v_text``), and which fields the API declares
but sent no value for in any row read (fields some APIs send only when asked, such as relations,
would otherwise become all-NULL columns without a word). Both are read off the Arrow tables the
consumer receives, so they are exact wherever a page was converted.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pyarrow as pa

from dbsync.source.convert import VARIANT_SUFFIX

__all__ = ["ValueTally"]


class ValueTally:
    """Per table: values kept in variant columns, and declared columns that got a value."""

    def __init__(self, declared: Optional[List[str]]):
        self.declared = list(declared or [])
        self.variants: Dict[str, int] = {}  # field -> values kept as text
        self.valued: Dict[str, int] = {name: 0 for name in self.declared}  # field -> rows with a value
        self.rows = 0

    def add(self, table: pa.Table) -> None:
        n = table.num_rows
        if not n:
            return
        self.rows += n
        for name in table.column_names:
            column = table[name]
            if name.endswith(VARIANT_SUFFIX):
                kept = n - column.null_count
                if kept:
                    field = name[: -len(VARIANT_SUFFIX)]
                    self.variants[field] = self.variants.get(field, 0) + kept
            elif name in self.valued:
                self.valued[name] += n - column.null_count
        for field in self.variants:  # a value in the variant column is a value of the field
            if field in self.valued:
                self.valued[field] = max(self.valued[field], 1)

    def warnings(self, label: str, types: Dict[str, Any], *, whole_table: bool) -> List[str]:
        """The table's warnings: values that did not fit (exact counts), and, after a read of the
        whole table (``whole_table``), declared fields that no row carried a value for."""
        out = [f"{label}: {count:,} value(s) of field '{field}' do not fit its type {types.get(field) or '?'}; kept "
               f"as text in column '{field}{VARIANT_SUFFIX}'" for field, count in sorted(self.variants.items())]
        empty = [name for name, count in self.valued.items() if not count]
        if whole_table and self.rows and empty:
            out.append(f"{label}: the API declares field(s) {', '.join(empty)} but none of the {self.rows:,} rows read "
                       "had a value in them; if the API sends them only when asked (relations, expansions), add the "
                       "parameter that includes them to the endpoint's params")
        return out
