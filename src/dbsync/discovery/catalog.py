"""The catalog: databases, their tables, and the tables' fields, as the API described them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union


@dataclass(frozen=True)
class FieldInfo:
    name: str
    api_type: Optional[str]  # the API's own type name, None when the API does not say
    nullable: Optional[bool] = None  # None: unknown
    precision: Optional[int] = None
    scale: Optional[int] = None
    format: Optional[str] = None  # a JSON Schema/OpenAPI format refining the type (date-time, int64...)

    def to_dict(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {"name": self.name, "type": self.api_type, "nullable": self.nullable}
        if self.format is not None:
            d["format"] = self.format
        if self.precision is not None:
            d["precision"] = self.precision
        if self.scale is not None:
            d["scale"] = self.scale
        return d


@dataclass(frozen=True)
class TableInfo:
    name: str  # the name people know (and destination tables use)
    primary_key: Tuple[str, ...] = ()
    cursor_field: Optional[Union[str, Tuple[str, ...]]] = None  # several: the first non-empty one
    fields: Optional[Tuple[FieldInfo, ...]] = None  # None: not discovered, types are inferred
    id: Optional[str] = None  # the id the API addresses the table by; None: the name

    @property
    def table_id(self) -> str:
        """What ``{table}`` fills into paths and params: the id, or the name without one."""
        return self.name if self.id is None else self.id

    @property
    def label(self) -> str:
        """The name, with the id when they differ: ``customers (mhcsag29)``."""
        return self.name if self.table_id == self.name else f"{self.name} ({self.table_id})"

    def field(self, name: str) -> Optional[FieldInfo]:
        for f in self.fields or ():
            if f.name == name:
                return f
        return None

    def to_dict(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "id": self.table_id,
            "primary_key": list(self.primary_key),
            "cursor_field": list(self.cursor_field) if isinstance(self.cursor_field, tuple) else self.cursor_field,
            "fields": None if self.fields is None else [f.to_dict() for f in self.fields],
        }


@dataclass(frozen=True)
class DatabaseInfo:
    id: Optional[str]  # None: the API has no notion of databases (one implicit database)
    name: Optional[str] = None
    tables: Tuple[TableInfo, ...] = ()

    @property
    def display_name(self) -> Optional[str]:
        """What ``{database_name}`` fills in: the name the API gives, else the id."""
        return self.id if self.name is None else self.name

    def to_dict(self) -> Dict[str, Any]:
        return {"id": self.id, "name": self.name, "tables": [t.to_dict() for t in self.tables]}


@dataclass(frozen=True)
class Catalog:
    databases: Tuple[DatabaseInfo, ...] = field(default_factory=tuple)

    def to_dict(self) -> Dict[str, Any]:
        return {"databases": [d.to_dict() for d in self.databases]}

    @property
    def table_count(self) -> int:
        return sum(len(d.tables) for d in self.databases)

    def database_ids(self) -> List[Optional[str]]:
        return [d.id for d in self.databases]
