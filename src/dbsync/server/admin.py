"""The admin API (``/admin/...``): change the data, the schema and the faults while the server runs.

Guarded by the ``X-Admin-Key`` header, separate from API keys, never faulted, never rate
limited and not written to the request log: it is how tests and demos steer the server, and
:class:`~dbsync.server.handle.ReferenceServer` uses nothing else, in thread and process mode
alike.

Routes (JSON bodies in and out)::

    GET    /admin/settings                           the server's settings (admin key masked)
    GET    /admin/stats                              request counts, tables, page cache
    POST   /admin/reset                              back to the startup state
    GET    /admin/faults                             current FaultSettings
    PUT    /admin/faults                             replace FaultSettings (body: its fields)
    GET    /admin/fail-next                          pending fail-next orders
    POST   /admin/fail-next                          {count, kind, status, retry_after, path_prefix, seconds}
    DELETE /admin/fail-next                          drop pending orders
    GET    /admin/requests?offset=&limit=            the request log
    DELETE /admin/requests                           clear the request log
    GET    /admin/databases                          every database (no grants)
    POST   /admin/databases                          {id, name}: add a database with the standard tables
    GET    /admin/databases/{db}/schema              same document as /v1/databases/{db}/schema
    POST   /admin/databases/{db}/tables              {name, kind, rows}: add a table
    GET    /admin/databases/{db}/tables/{t}/records  ?include_deleted=1: the full truth, by id
    POST   /admin/databases/{db}/tables/{t}/records  list of records (?raw=1: no validation) -> {ids}
    PATCH  /admin/databases/{db}/tables/{t}/records/{id}   changes (?raw=1) -> the new record
    DELETE /admin/databases/{db}/tables/{t}/records/{id}   -> the tombstone
    POST   /admin/databases/{db}/tables/{t}/fields   {name, type, nullable, precision, scale}
    PATCH  /admin/databases/{db}/tables/{t}/fields/{name}  {type, nullable, precision, scale}
    POST   /admin/databases/{db}/tables/{t}/null-cursors   updated_at null until edited -> schema
"""

from __future__ import annotations

import hmac
import re
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Pattern, Tuple

import orjson

from dbsync import jsonio
from dbsync.server.problems import Problem
from dbsync.server.settings import FaultSettings
from dbsync.server.state import ServerState

__all__ = ["AdminHandlers"]

Handler = Callable[[Dict[str, str], Mapping[str, str], Any], bytes]


def _flag(query: Mapping[str, str], name: str) -> bool:
    return query.get(name, "").lower() in ("1", "true", "yes", "on")


def _record_id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise Problem.bad_request(f"record id must be an integer, got {text!r}") from None


def _body_object(body: Any) -> Dict[str, Any]:
    if not isinstance(body, dict):
        raise Problem.bad_request("body must be a JSON object")
    return body


class AdminHandlers:
    """Routes admin requests to the shared :class:`ServerState`."""

    def __init__(self, state: ServerState):
        self.state = state
        db = r"/admin/databases/(?P<db>[^/]+)"
        table = db + r"/tables/(?P<table>[^/]+)"
        routes: List[Tuple[str, str, Handler]] = [
            ("GET", r"/admin/settings", self.get_settings),
            ("GET", r"/admin/stats", self.get_stats),
            ("POST", r"/admin/reset", self.reset),
            ("GET", r"/admin/faults", self.get_faults),
            ("PUT", r"/admin/faults", self.put_faults),
            ("GET", r"/admin/fail-next", self.get_fail_next),
            ("POST", r"/admin/fail-next", self.post_fail_next),
            ("DELETE", r"/admin/fail-next", self.delete_fail_next),
            ("GET", r"/admin/requests", self.get_requests),
            ("DELETE", r"/admin/requests", self.delete_requests),
            ("GET", r"/admin/databases", self.get_databases),
            ("POST", r"/admin/databases", self.post_database),
            ("GET", db + r"/schema", self.get_schema),
            ("POST", db + r"/tables", self.post_table),
            ("DELETE", table, self.delete_table),
            ("DELETE", db, self.delete_database),
            ("GET", table + r"/records", self.get_records),
            ("POST", table + r"/records", self.post_records),
            ("PATCH", table + r"/records/(?P<id>[^/]+)", self.patch_record),
            ("DELETE", table + r"/records/(?P<id>[^/]+)", self.delete_record),
            ("POST", table + r"/fields", self.post_field),
            ("PATCH", table + r"/fields/(?P<name>[^/]+)", self.patch_field),
            ("POST", table + r"/null-cursors", self.post_null_cursors),
        ]
        self._routes: List[Tuple[str, Pattern[str], Handler]] = [
            (method, re.compile(pattern + r"/?\Z"), handler) for method, pattern, handler in routes]

    def authorized(self, header_value: Optional[str]) -> bool:
        if header_value is None:
            return False
        return hmac.compare_digest(header_value.encode(), self.state.settings.admin_key.encode())

    def handle(self, method: str, path: str, query: Mapping[str, str], body: bytes) -> Tuple[int, bytes]:
        """Route one authorized admin request; Problems propagate to the app."""
        allowed = []
        for route_method, pattern, handler in self._routes:
            match = pattern.match(path)
            if match is None:
                continue
            if route_method != method:
                allowed.append(route_method)
                continue
            parsed: Any = None
            if body.strip():
                try:
                    parsed = jsonio.loads(body)
                except jsonio.JSONDecodeError as exc:
                    raise Problem.bad_request(f"body is not valid JSON: {exc}") from None
            return 200, handler(match.groupdict(), query, parsed)
        if allowed:
            raise Problem(405, f"method {method} not allowed on {path}; use {', '.join(sorted(set(allowed)))}")
        raise Problem.not_found(f"no such admin endpoint: {path}")

    # ------------------------------------------------------------------ server-wide

    def get_settings(self, params: Dict[str, str], query: Mapping[str, str], body: Any) -> bytes:
        data = self.state.settings.to_dict()
        data["admin_key"] = "***"
        data["faults"] = self.state.fault_settings.to_dict()
        return orjson.dumps(data)

    def get_stats(self, params: Dict[str, str], query: Mapping[str, str], body: Any) -> bytes:
        entries = self.state.log.entries()
        by_status: Dict[str, int] = {}
        by_fault: Dict[str, int] = {}
        for entry in entries:
            by_status[str(entry.status)] = by_status.get(str(entry.status), 0) + 1
            if entry.fault:
                by_fault[entry.fault] = by_fault.get(entry.fault, 0) + 1
        return orjson.dumps({
            "uptime_seconds": round(time.time() - self.state.started_at, 3),
            "requests_total": self.state.log.total,
            "requests_logged": len(entries),
            "by_status": by_status,
            "by_fault": by_fault,
            "pending_fail_next": len(self.state.faults.pending()),
            **self.state.store.stats(),
        })

    def reset(self, params: Dict[str, str], query: Mapping[str, str], body: Any) -> bytes:
        self.state.reset()
        return b'{"reset":true}'

    def get_faults(self, params: Dict[str, str], query: Mapping[str, str], body: Any) -> bytes:
        return orjson.dumps(self.state.fault_settings.to_dict())

    def put_faults(self, params: Dict[str, str], query: Mapping[str, str], body: Any) -> bytes:
        if not isinstance(body, dict):
            raise Problem.bad_request("fault settings must be a JSON object")
        try:
            faults = FaultSettings.from_dict(body)
        except (TypeError, ValueError) as exc:
            raise Problem.bad_request(f"invalid fault settings: {exc}") from None
        self.state.set_faults(faults)
        return orjson.dumps(faults.to_dict())

    def get_fail_next(self, params: Dict[str, str], query: Mapping[str, str], body: Any) -> bytes:
        return orjson.dumps([o.to_dict() for o in self.state.faults.pending()])

    def post_fail_next(self, params: Dict[str, str], query: Mapping[str, str], body: Any) -> bytes:
        spec = _body_object(body)
        known = {"count", "kind", "status", "retry_after", "path_prefix", "seconds"}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise Problem.bad_request(f"unknown fail-next field(s): {', '.join(unknown)}")
        try:
            order = self.state.faults.fail_next(**spec)
        except (TypeError, ValueError) as exc:
            raise Problem.bad_request(str(exc)) from None
        return orjson.dumps(order.to_dict())

    def delete_fail_next(self, params: Dict[str, str], query: Mapping[str, str], body: Any) -> bytes:
        self.state.faults.clear_pending()
        return b'{"cleared":true}'

    def get_requests(self, params: Dict[str, str], query: Mapping[str, str], body: Any) -> bytes:
        entries = self.state.log.entries()
        try:
            offset = int(query.get("offset", "0"))
            limit = int(query.get("limit", str(len(entries))))
        except ValueError:
            raise Problem.bad_request("offset and limit must be integers") from None
        page = entries[max(offset, 0):max(offset, 0) + max(limit, 0)]
        return orjson.dumps({"data": [e.to_dict() for e in page], "total": len(entries)})

    def delete_requests(self, params: Dict[str, str], query: Mapping[str, str], body: Any) -> bytes:
        self.state.log.clear()
        return b'{"cleared":true}'

    # ------------------------------------------------------------------ data

    def get_databases(self, params: Dict[str, str], query: Mapping[str, str], body: Any) -> bytes:
        return orjson.dumps({"data": [{"id": i, "name": n} for i, n in self.state.store.database_list()]})

    def post_database(self, params: Dict[str, str], query: Mapping[str, str], body: Any) -> bytes:
        spec = _body_object(body)
        return orjson.dumps(self.state.store.create_database(spec.get("id"), spec.get("name")))

    def get_schema(self, params: Dict[str, str], query: Mapping[str, str], body: Any) -> bytes:
        return orjson.dumps(self.state.store.schema(params["db"]))

    def post_table(self, params: Dict[str, str], query: Mapping[str, str], body: Any) -> bytes:
        spec = _body_object(body)
        return orjson.dumps(self.state.store.create_table(
            params["db"], spec.get("name"), spec.get("kind", "orders"), spec.get("rows", 0)))

    def delete_table(self, params: Dict[str, str], query: Mapping[str, str], body: Any) -> bytes:
        return orjson.dumps(self.state.store.drop_table(params["db"], params["table"]))

    def delete_database(self, params: Dict[str, str], query: Mapping[str, str], body: Any) -> bytes:
        return orjson.dumps(self.state.store.drop_database(params["db"]))

    def get_records(self, params: Dict[str, str], query: Mapping[str, str], body: Any) -> bytes:
        return self.state.store.records_body(params["db"], params["table"], _flag(query, "include_deleted"))

    def post_records(self, params: Dict[str, str], query: Mapping[str, str], body: Any) -> bytes:
        ids = self.state.store.insert(params["db"], params["table"], body, raw=_flag(query, "raw"))
        return orjson.dumps({"ids": ids})

    def patch_record(self, params: Dict[str, str], query: Mapping[str, str], body: Any) -> bytes:
        record = self.state.store.update(params["db"], params["table"], _record_id(params["id"]), body,
                                         raw=_flag(query, "raw"))
        return jsonio.dumps(record)

    def delete_record(self, params: Dict[str, str], query: Mapping[str, str], body: Any) -> bytes:
        return orjson.dumps(self.state.store.delete(params["db"], params["table"], _record_id(params["id"])))

    def post_field(self, params: Dict[str, str], query: Mapping[str, str], body: Any) -> bytes:
        spec = _body_object(body)
        return orjson.dumps(self.state.store.add_field(
            params["db"], params["table"], spec.get("name"), spec.get("type"), spec.get("nullable", True),
            spec.get("precision"), spec.get("scale"), spec.get("declared_type"), spec.get("format"),
            spec.get("default")))

    def patch_field(self, params: Dict[str, str], query: Mapping[str, str], body: Any) -> bytes:
        spec = _body_object(body)
        return orjson.dumps(self.state.store.set_field(
            params["db"], params["table"], params["name"], type=spec.get("type"), nullable=spec.get("nullable"),
            precision=spec.get("precision"), scale=spec.get("scale"), declared_type=spec.get("declared_type"),
            format=spec.get("format")))

    def post_null_cursors(self, params: Dict[str, str], query: Mapping[str, str], body: Any) -> bytes:
        return orjson.dumps(self.state.store.serve_null_cursors(params["db"], params["table"]))
