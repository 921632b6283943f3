"""dbsync on Dagster: table assets partitioned by database, built with dagster-dlt.

Install with ``pip install dbsync[dagster]``; deployment is described in docs/scale-out.md.

    # definitions.py of a Dagster code location
    from dbsync.dagster import build_definitions
    defs = build_definitions("dbsync.yaml", destination="postgres", schedule_cron="0 * * * *")
"""

from dbsync.dagster.definitions import build_definitions, discovery_sensor, table_names
from dbsync.dagster.materialize import SyncTarget, materialize_partition
from dbsync.dagster.translator import DbsyncTranslator

__all__ = ["build_definitions", "discovery_sensor", "table_names", "SyncTarget", "materialize_partition",
           "DbsyncTranslator"]
