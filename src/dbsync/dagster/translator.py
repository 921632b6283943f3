"""Asset keys for dbsync's dlt resources: one asset per API table name, partitioned by database.

dlt names a resource ``acme__orders`` (database and table); in Dagster the database is the
partition, so every database's ``orders`` is the one asset ``<prefix>/orders``, and a
materialization of partition ``acme`` is acme's orders.
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional

from dagster import AssetKey, AssetSpec
from dagster_dlt import DagsterDltTranslator
from dagster_dlt.translator import DltResourceTranslatorData


class DbsyncTranslator(DagsterDltTranslator):
    """``tables`` maps a dlt resource name to its API table name (from the run's jobs); a
    resource not in it is already a table name (the template source of the definitions)."""

    def __init__(self, prefix: str, tables: Optional[Mapping[str, str]] = None) -> None:
        self.prefix = prefix
        self.tables: Dict[str, str] = dict(tables or {})

    def table_of(self, resource_name: str) -> str:
        return self.tables.get(resource_name, resource_name)

    def asset_key(self, table: str) -> AssetKey:
        return AssetKey([self.prefix, table])

    def get_asset_spec(self, data: DltResourceTranslatorData) -> AssetSpec:
        spec = super().get_asset_spec(data)
        table = self.table_of(data.resource.name)
        return spec.replace_attributes(
            key=self.asset_key(table),
            deps=[],  # the API is the source; no stand-in upstream asset per resource
            description=f"Table '{table}' of every database behind the API, one partition per database.",
            skippable=True,  # a database without this table materializes the others
        )
