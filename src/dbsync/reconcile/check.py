"""One table's proof: does the destination hold what the source holds?

A :class:`TableCheck` compares what the source says (a count, a key listing) with the
destination's live rows and ends in one of these outcomes:

- ``verified``: the counts are equal (and a key listing, where one ran, found no key missing);
- ``healed``: they differed, the table was read again in this run, and now they are equal;
- ``drift``: they differ even after reading the table again: the run is not ok (exit 13), and
  the next run reads the table in full;
- ``partial``: ``incremental.initial_value`` leaves older rows out on purpose: fewer rows in the
  destination is expected (more is not);
- ``unverified``: nothing could prove it: the API announces no total and lists no keys, the
  source changed while the run checked, ``deletes.every`` postpones the deletes... The reason
  says which; it is never counted as verified.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

__all__ = ["TableCheck", "VERIFIED", "HEALED", "DRIFT", "PARTIAL", "UNVERIFIED"]

VERIFIED, HEALED, DRIFT, PARTIAL, UNVERIFIED = "verified", "healed", "drift", "partial", "unverified"


@dataclass
class TableCheck:
    status: str = UNVERIFIED
    source_rows: Optional[int] = None  # what the source holds, as far as known
    source_how: Optional[str] = None  # how: "header X-Total-Count", "key listing", ...
    destination_rows: Optional[int] = None  # live rows in the destination
    missing_keys: Optional[int] = None  # listed by the source, not in the destination
    extra_keys: Optional[int] = None  # in the destination, no longer listed (removed as deletes)
    reason: Optional[str] = None  # why unverified, partial or drift; what healing found
    healed: Optional[str] = None  # "catch-up" or "full read": how the table was read again
    before: Optional[Dict[str, Any]] = None  # the counts that differed, before healing
    healable: bool = True  # False: reading the table again cannot change it (the source repeats keys)
    notes: List[str] = field(default_factory=list)  # what could not be checked beside the counts
    kind: Optional[str] = None  # what differs: counts, keys, columns, values, duplicates

    @property
    def differs(self) -> bool:
        return self.status == DRIFT

    def as_dict(self) -> Dict[str, Any]:
        return {"status": self.status, "source_rows": self.source_rows, "source": self.source_how,
                "destination_rows": self.destination_rows, "missing_keys": self.missing_keys,
                "extra_keys": self.extra_keys, "reason": self.reason, "healed": self.healed, "before": self.before}

    def describe(self) -> str:
        """One line: what was compared and what came of it."""
        counts = ""
        if self.source_rows is not None and self.destination_rows is not None:
            counts = f"source {self.source_rows:,} rows ({self.source_how}), destination {self.destination_rows:,}"
        elif self.destination_rows is not None:
            counts = f"destination {self.destination_rows:,} rows"
        if self.missing_keys:
            counts += f"; {self.missing_keys:,} listed key(s) missing from the destination"
        parts = [p for p in (counts, self.reason) if p]
        return "; ".join(parts)


def compare_counts(source: Optional[int], destination: Optional[int], *, fewer_expected: bool = False,
                   more_expected: Optional[str] = None, pending: int = 0) -> Optional[str]:
    """None when ``destination`` agrees with ``source``; else what differs.

    ``fewer_expected``: the destination may hold fewer rows (``initial_value``). ``more_expected``:
    why it may hold more (deletes not checked this run). ``pending``: rows a non-overlapping key
    listing missed once, removed when the next listing misses them too."""
    if source is None or destination is None:
        return None
    if destination == source or (pending and destination - pending <= source <= destination):
        return None
    if destination < source and fewer_expected:
        return None
    if destination > source and more_expected:
        return None
    if destination < source:
        return f"{source - destination:,} row(s) of the source are missing from the destination"
    return f"the destination holds {destination - source:,} row(s) the source does not"


def counts_apply(job: Any) -> Optional[str]:
    """None when the destination should hold as many live rows as the source lists; else why
    a count says nothing about this table."""
    if job.write_disposition == "append":
        return "write_disposition: append keeps every row fetched, so counts are not compared"
    if not job.primary_key and job.write_disposition == "merge":
        return "no primary key: rows are appended, so counts are not compared"
    return None
