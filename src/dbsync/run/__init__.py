"""A run, from start to finish: everything around dlt's extract, normalize and load.

- :mod:`~dbsync.run.sync`: ``run_sync``, the library entry point behind ``dbsync run``: lock,
  discover, plan, run dlt, after-load steps, the proof of sync, the result;
- :mod:`~dbsync.run.destination`: where it loads (DuckDB paths, memory limit), the dlt pipeline,
  the load file format; :mod:`~dbsync.run.destination_secrets`: the warehouse password redacted;
- :mod:`~dbsync.run.lock`: one run per pipeline at a time;
- :mod:`~dbsync.run.run_info`: what dbsync keeps beside dlt's state (the destination, each
  table's last outcome);
- :mod:`~dbsync.run.stored_tables`: which tables the destination holds (reloads);
  :mod:`~dbsync.run.first_load`: tables loaded for the first time are appended;
- :mod:`~dbsync.run.after_load`: marks, history, key scans in the destination;
- :mod:`~dbsync.run.recovery`: what a killed run left behind; :mod:`~dbsync.run.ddl_race`:
  parallel partitions creating one table; :mod:`~dbsync.run.load_errors`: a failed dlt step as
  one error naming it;
- :mod:`~dbsync.run.partition`: one pipeline per database, shards.

Nothing is imported here: ``from dbsync.run.sync import run_sync`` (or ``dbsync.run_sync``).
"""
