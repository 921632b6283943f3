"""A private PostgreSQL server for tests and benchmarks: Debian's server binaries, run as an
unprivileged user (``initdb`` refuses root, and CI runs as root), in a temporary folder,
listening only on 127.0.0.1 and a free port, stopped and removed at the end.

Used by the pytest plugin ``postgres_plugin`` (fixture ``postgres_server``) and by
``bench/bench_scale.py``. Real PostgreSQL, not a mock: the tests load into it with dlt.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, List, Optional, Sequence

SUPERUSER = "dbsync"


class PostgresUnavailable(RuntimeError):
    """The server binaries are missing or the server did not start."""


def find_bindir() -> Path:
    """Debian's layout (/usr/lib/postgresql/<major>/bin), newest major first; $PG_BINDIR wins."""
    explicit = os.environ.get("PG_BINDIR")
    candidates = [explicit] if explicit else sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").is_file() and (Path(candidate) / "postgres").is_file():
            return Path(candidate)
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found (looked for initdb and postgres in "
        f"{explicit or '/usr/lib/postgresql/*/bin'}): install Debian's 'postgresql' package "
        "(apt-get install -y postgresql) or set PG_BINDIR")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """Start with :meth:`start`, stop with :meth:`stop` (idempotent; also at interpreter exit)."""

    def __init__(self, *, user: str = "nobody", database: str = "dbsync_test") -> None:
        self.bindir = find_bindir()
        self.database = database
        self.password = secrets.token_urlsafe(18)
        self.port = 0
        self.root: Optional[Path] = None
        self.process: Optional[subprocess.Popen] = None
        self._run_as = user if os.geteuid() == 0 else None
        self._log: Optional[Any] = None

    # -- what tests use ------------------------------------------------------------------------

    @property
    def dsn(self) -> str:
        """A dlt/libpq connection string, password included: never print it."""
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def connect(self, database: Optional[str] = None) -> Any:
        import psycopg2

        return psycopg2.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, password=self.password,
                                dbname=database or self.database, connect_timeout=5)

    def query(self, sql: str, params: Sequence[Any] = ()) -> List[tuple]:
        con = self.connect()
        try:
            with con.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else []
        finally:
            con.close()

    # -- lifecycle -------------------------------------------------------------------------------

    def _command(self, argv: List[str]) -> List[str]:
        if self._run_as is None:
            return argv
        entry = pwd.getpwnam(self._run_as)
        return ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups", "--", *argv]

    def start(self, timeout: float = 30.0) -> "PostgresServer":
        self.root = Path(tempfile.mkdtemp(prefix="dbsync-pg-"))
        data = self.root / "data"
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._run_as is not None:
            entry = pwd.getpwnam(self._run_as)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        os.chmod(pwfile, 0o600)
        init = subprocess.run(
            self._command([str(self.bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, f"--pwfile={pwfile}",
                           "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"]),
            capture_output=True, text=True, timeout=120)
        pwfile.unlink()
        if init.returncode != 0:
            self._cleanup()
            raise PostgresUnavailable(f"initdb failed: {init.stderr.strip()[-500:]}")
        self.port = free_port()
        self._log = open(self.root / "postgres.log", "ab")
        self.process = subprocess.Popen(
            self._command([str(self.bindir / "postgres"), "-D", str(data), "-c", "listen_addresses=127.0.0.1",
                           "-c", f"port={self.port}", "-c", f"unix_socket_directories={self.root}",
                           "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                           "-c", "max_connections=200"]),
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        atexit.register(self.stop)
        self._wait_ready(timeout)
        con = self.connect("postgres")
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{self.database}"')
        con.close()
        return self

    def _wait_ready(self, timeout: float) -> None:
        import psycopg2

        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                log = self.log_tail()
                self.stop()
                raise PostgresUnavailable(f"postgres exited with code {self.process.returncode}: {log}")
            try:
                self.connect("postgres").close()
                return
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    log = self.log_tail()
                    self.stop()
                    raise PostgresUnavailable(f"postgres did not accept connections within {timeout:.0f} s: {log}")
                time.sleep(0.1)

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return (self.root / "postgres.log").read_text(errors="replace")[-chars:] if self.root else ""
        except OSError:
            return ""

    def stop(self) -> None:
        """Fast shutdown (SIGINT: disconnect clients, checkpoint), SIGKILL after 20 s; then delete
        the folder. Leaves no process behind."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # postgres and its backends share the group
                process.wait(timeout=10)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
