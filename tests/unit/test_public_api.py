"""The public API is explicit: everything in ``dbsync.__all__`` resolves, and nothing else is
promised (as httpx checks its own exports)."""

import subprocess
import sys

import dbsync


def test_all_names_resolve():
    for name in dbsync.__all__:
        assert getattr(dbsync, name) is not None


def test_importing_dbsync_does_not_load_dlt():
    code = "import sys, dbsync, dbsync.errors; print('dlt' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_every_error_is_a_dbsync_error_with_its_own_exit_code():
    errors = [getattr(dbsync, n) for n in dbsync.__all__ if n.endswith("Error")]
    assert all(issubclass(e, dbsync.DbsyncError) for e in errors)
    codes = [e.exit_code for e in errors]
    assert len(set(codes)) == len(codes)
