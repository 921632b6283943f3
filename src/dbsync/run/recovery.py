"""Repair what a killed run leaves in dlt's pipeline folder, so a plain rerun always works.

dlt's normalize step commits the normalized package (an atomic rename into ``load/normalized``)
and *then* deletes the extracted one (``normalize/extracted``). A run killed between the two
leaves both; the next run tries to normalize the half-deleted extracted copy again and fails
every time (found by tests/reliability/test_crash_rerun.py). The normalized package is complete,
so the extracted leftover is safe to remove: this module does that before each run.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any, List

logger = logging.getLogger("dbsync.run.recovery")


def repair_interrupted_packages(working_dir: str) -> List[str]:
    """Remove extracted packages that were already normalized (or loaded). Returns their ids."""
    root = Path(working_dir)
    extracted = root / "normalize" / "extracted"
    if not extracted.is_dir():
        return []
    done = {p.name for folder in ("normalized", "loaded") for p in (root / "load" / folder).glob("*")
            if p.is_dir()}
    repaired = []
    for package in sorted(p for p in extracted.iterdir() if p.is_dir()):
        if package.name in done:
            shutil.rmtree(package, ignore_errors=True)
            repaired.append(package.name)
    if repaired:
        logger.warning("the previous run was interrupted after normalizing load package(s) %s; "
                       "removed their leftover extracted copies", ", ".join(repaired))
    return repaired


def repair_pipeline(pipeline: Any) -> List[str]:
    return repair_interrupted_packages(pipeline.working_dir)
