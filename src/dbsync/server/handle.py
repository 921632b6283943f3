"""``ReferenceServer``: start a reference server from Python and steer it while it runs.

The handle talks to the server only through the admin HTTP API, so it behaves the same
whether the server runs in a thread of this process (``mode="thread"``: quick to start, for
tests) or in a child process (``mode="process"``: its own GIL, for benchmarks and for clients
that must not share an interpreter with the server).

::

    with ReferenceServer(ServerSettings(rows_per_table=50)) as server:
        server.insert("acme", "orders", [{...}])
        server.fail_next(2, status=503, retry_after=1)
        run_my_client(server.base_url, server.api_key)
        assert server.records("acme", "orders") == what_my_client_loaded
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import subprocess
import sys
import threading
from typing import Any, Dict, List, Optional, Sequence
from urllib.parse import quote

import requests

from dbsync import jsonio
from dbsync.server.requestlog import RequestLogEntry
from dbsync.server.runner import EXIT_WITH_PARENT_ENV, LISTENING_PREFIX, ThreadedServer
from dbsync.server.settings import FaultSettings, ServerSettings

__all__ = ["AdminError", "ReferenceServer"]

_MODES = ("thread", "process")


class AdminError(RuntimeError):
    """The server refused an admin request (its JSON error is in ``code``/``message``)."""

    def __init__(self, status: int, code: str, message: str):
        self.status = status
        self.code = code
        self.message = message
        super().__init__(f"admin request failed: HTTP {status} {code}: {message}")


class ReferenceServer:
    """A running reference server (a context manager; ``start()``/``stop()`` work too)."""

    def __init__(self, settings: Optional[ServerSettings] = None, *, mode: str = "thread",
                 host: str = "127.0.0.1", port: int = 0, log_level: str = "warning",
                 startup_timeout: float = 30.0):
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        self.settings = settings or ServerSettings()
        self.mode = mode
        self.host = host
        self.api_key: Optional[str] = self.settings.full_access_key()
        self.admin_key: str = self.settings.admin_key
        self.port: Optional[int] = port or None
        self._requested_port = port
        self._log_level = log_level
        self._startup_timeout = startup_timeout
        self._thread_server: Optional[ThreadedServer] = None
        self._process: Optional[subprocess.Popen] = None
        self._session: Optional[requests.Session] = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the reference server is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        if self._thread_server is not None:
            return self._thread_server.running
        return self._process is not None and self._process.poll() is None

    def start(self) -> "ReferenceServer":
        """Start serving (returns self); the port is known when this returns."""
        with self._lock:
            if self.running:
                return self
            if self.mode == "thread":
                self._thread_server = ThreadedServer(self.settings, self.host, self._requested_port,
                                                     log_level=self._log_level)
                self._thread_server.start(self._startup_timeout)
                self.port = self._thread_server.port
            else:
                self._start_process()
            self._session = requests.Session()
            self._session.headers["X-Admin-Key"] = self.admin_key
            return self

    def _start_process(self) -> None:
        cmd = [sys.executable, "-m", "dbsync.server", "--host", self.host, "--port", str(self._requested_port),
               "--log-level", self._log_level, "--settings-json", json.dumps(self.settings.to_dict())]
        # the server ends with this process, even after a kill -9 (no server left listening)
        env = dict(os.environ, PYTHONUNBUFFERED="1", **{EXIT_WITH_PARENT_ENV: str(os.getpid())})
        process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env)
        self._process = process
        atexit.register(self.stop)
        lines: "queue.Queue[Optional[str]]" = queue.Queue()

        def pump() -> None:  # keeps draining stdout so the child never blocks on a full pipe
            assert process.stdout is not None
            for line in process.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, name="dbsync-server-stdout", daemon=True).start()
        seen: List[str] = []
        while True:
            try:
                line = lines.get(timeout=self._startup_timeout)
            except queue.Empty:
                self.stop()
                raise TimeoutError(f"reference server process did not start within {self._startup_timeout} s")
            if line is None:
                code = process.wait()
                self._process = None
                raise RuntimeError(f"reference server process exited with code {code} before listening; "
                                   f"output: {''.join(seen)[-2000:]!r}")
            if line.startswith(LISTENING_PREFIX):
                self.port = int(line.strip().rsplit(":", 1)[1])
                return
            seen.append(line)

    def stop(self) -> None:
        """Stop serving: thread joined, or process terminated and waited (killed after 5 s). Idempotent."""
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None
            if self._thread_server is not None:
                self._thread_server.stop()
                self._thread_server = None
            if self._process is not None:
                process, self._process = self._process, None
                if process.poll() is None:
                    process.terminate()
                    try:
                        process.wait(5)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait(5)
                if process.stdout is not None:
                    process.stdout.close()
                atexit.unregister(self.stop)

    def __enter__(self) -> "ReferenceServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def pid(self) -> Optional[int]:
        """The child's process id in process mode (None otherwise)."""
        return self._process.pid if self._process is not None else None

    def __repr__(self) -> str:
        where = self.base_url if self.port else "not started"
        return f"<ReferenceServer {self.mode} {where}>"

    # ------------------------------------------------------------------ admin calls

    def _admin(self, method: str, path: str, body: Any = None, params: Optional[Dict[str, Any]] = None) -> Any:
        if self._session is None:
            raise RuntimeError("the reference server is not started")
        data = None if body is None else jsonio.dumps(body)
        response = self._session.request(method, self.base_url + path, data=data, params=params, timeout=120)
        try:
            payload = jsonio.loads(response.content) if response.content else None
        except jsonio.JSONDecodeError:
            raise AdminError(response.status_code, "invalid_response", response.text[:200]) from None
        if response.status_code >= 400:
            error = (payload or {}).get("error", {}) if isinstance(payload, dict) else {}
            raise AdminError(response.status_code, error.get("code", "error"), error.get("message", response.text))
        return payload

    @staticmethod
    def _table_path(db: str, table: str) -> str:
        return f"/admin/databases/{quote(db, safe='')}/tables/{quote(table, safe='')}"

    def insert(self, db: str, table: str, records: Sequence[Dict[str, Any]], *, raw: bool = False) -> List[int]:
        """Insert records (validated against the schema unless ``raw``); returns their ids."""
        params = {"raw": "1"} if raw else None
        return self._admin("POST", self._table_path(db, table) + "/records", list(records), params)["ids"]

    def update(self, db: str, table: str, id: int, changes: Dict[str, Any], *, raw: bool = False) -> Dict[str, Any]:
        """Merge ``changes`` into a live record (``updated_at`` bumped); returns the new record."""
        params = {"raw": "1"} if raw else None
        return self._admin("PATCH", f"{self._table_path(db, table)}/records/{int(id)}", changes, params)

    def delete(self, db: str, table: str, id: int) -> Dict[str, Any]:
        """Delete a record (it becomes a tombstone); returns the tombstone."""
        return self._admin("DELETE", f"{self._table_path(db, table)}/records/{int(id)}")

    def add_field(self, db: str, table: str, name: str, type: str, nullable: bool = True, *,
                  precision: Optional[int] = None, scale: Optional[int] = None, declared_type: Any = None,
                  format: Optional[str] = None, default: Any = None) -> Dict[str, Any]:
        """Declare a new field (existing records lack it, or get ``default`` without any change to
        their cursor). ``declared_type``: what the schema shows as its type instead ("Pointer",
        ["string", "null"]); ``format``: a JSON Schema format."""
        body = {"name": name, "type": type, "nullable": nullable, "precision": precision, "scale": scale,
                "declared_type": declared_type, "format": format, "default": default}
        return self._admin("POST", self._table_path(db, table) + "/fields", body)

    def set_field(self, db: str, table: str, name: str, *, type: Optional[str] = None,
                  nullable: Optional[bool] = None, precision: Optional[int] = None,
                  scale: Optional[int] = None, declared_type: Any = None,
                  format: Optional[str] = None) -> Dict[str, Any]:
        """Change a field's declared type/nullability (records untouched: the schema may lie);
        ``declared_type``/``format`` as in :meth:`add_field`."""
        body = {"type": type, "nullable": nullable, "precision": precision, "scale": scale,
                "declared_type": declared_type, "format": format}
        return self._admin("PATCH", f"{self._table_path(db, table)}/fields/{quote(name, safe='')}", body)

    def serve_null_cursors(self, db: str, table: str) -> Dict[str, Any]:
        """``updated_at`` null until a record is first edited (never-edited records sort by
        ``created_at``; ``updated_since`` skips them unless ``created_since`` is given)."""
        return self._admin("POST", self._table_path(db, table) + "/null-cursors")

    def create_table(self, db: str, table: str, kind: str, rows: int) -> Dict[str, Any]:
        """Add a table of ``kind`` with ``rows`` seeded rows; returns its schema entry."""
        return self._admin("POST", f"/admin/databases/{quote(db, safe='')}/tables",
                           {"name": table, "kind": kind, "rows": rows})

    def drop_table(self, db: str, table: str) -> Dict[str, Any]:
        """Remove a table: the schema stops listing it and its records are gone."""
        return self._admin("DELETE", self._table_path(db, table))

    def drop_database(self, db: str) -> Dict[str, Any]:
        """Remove a database with its tables: the database list stops listing it."""
        return self._admin("DELETE", f"/admin/databases/{quote(db, safe='')}")

    def create_database(self, db: str, name: Optional[str] = None) -> Dict[str, Any]:
        """Add a database with the standard tables (not in any limited key's grant)."""
        return self._admin("POST", "/admin/databases", {"id": db, "name": name})

    def databases(self) -> List[Dict[str, str]]:
        """Every database (``{"id", "name"}``, ordered by id), whatever the keys' grants."""
        return self._admin("GET", "/admin/databases")["data"]

    def records(self, db: str, table: str, include_deleted: bool = False) -> List[Dict[str, Any]]:
        """The server's truth ordered by id: the same JSON values the API serves (tombstones
        as ``{"id", "updated_at", "deleted": true}`` when ``include_deleted``)."""
        params = {"include_deleted": "1"} if include_deleted else None
        return self._admin("GET", self._table_path(db, table) + "/records", params=params)["data"]

    def schema(self, db: str) -> Dict[str, Any]:
        """The schema document of ``db`` (as ``/v1/databases/{db}/schema`` serves it)."""
        return self._admin("GET", f"/admin/databases/{quote(db, safe='')}/schema")

    def set_faults(self, faults: FaultSettings) -> None:
        """Replace the fault settings now (RNG restarted from ``faults.seed``, rate buckets full)."""
        self._admin("PUT", "/admin/faults", faults.to_dict())

    def faults(self) -> FaultSettings:
        """The fault settings in force."""
        return FaultSettings.from_dict(self._admin("GET", "/admin/faults"))

    def fail_next(self, count: int, kind: str = "status", status: int = 503, retry_after: Optional[float] = None,
                  path_prefix: str = "/v1/", *, seconds: Optional[float] = None) -> None:
        """Fault the next ``count`` requests under ``path_prefix``: ``kind`` is "status" (answer
        ``status``, with ``Retry-After`` if given), "drop", "truncate" or "slow" (``seconds``,
        default the settings' slow_seconds)."""
        self._admin("POST", "/admin/fail-next", {"count": count, "kind": kind, "status": status,
                                                 "retry_after": retry_after, "path_prefix": path_prefix,
                                                 "seconds": seconds})

    def clear_fail_next(self) -> None:
        """Drop the fail-next orders still pending (random faults stay as they are)."""
        self._admin("DELETE", "/admin/fail-next")

    def requests(self) -> List[RequestLogEntry]:
        """The request log (API requests only; admin calls are not logged), oldest first."""
        return [RequestLogEntry.from_dict(e) for e in self._admin("GET", "/admin/requests")["data"]]

    def clear_requests(self) -> None:
        self._admin("DELETE", "/admin/requests")

    def stats(self) -> Dict[str, Any]:
        return self._admin("GET", "/admin/stats")

    def reset(self) -> None:
        """Back to the startup state: seeded data, startup faults, no pending fail-next orders."""
        self._admin("POST", "/admin/reset")
