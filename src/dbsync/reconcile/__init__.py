"""The proof of sync: after every load, each table's destination is compared with its source.

A run that ends ``ok`` while the destination differs from the source is the worst bug a sync tool
can have: nobody notices until a report is wrong. So every run proves, as cheaply as it can, that
each table it synced holds what the source holds, heals what differs, and says plainly what it
could not prove:

- :mod:`~dbsync.reconcile.probe`: how many rows the source holds (one small request, only where
  the run's own read did not tell);
- :mod:`~dbsync.reconcile.destination`: how many live rows the destination holds, and which keys a
  key listing found missing;
- :mod:`~dbsync.reconcile.check`: one table's verdict (verified, healed, drift, partial,
  unverified);
- :mod:`~dbsync.reconcile.prove`: the steps after the load: compare, look again, heal, report.
"""
