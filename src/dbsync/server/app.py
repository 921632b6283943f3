"""The ASGI application: routing, faults, rate limits, request log, responses.

A raw ASGI callable rather than a framework: the hot path (``/v1/resource`` with a cached page)
is a query parse, a dict lookup and two ``send`` calls, which is what lets one Python process
serve well over 100,000 rows per second. Handlers live in :mod:`dbsync.server.api` and
:mod:`dbsync.server.admin`; this module adds what applies around them:

* faults (:mod:`dbsync.server.faults`) decided on arrival, before any ``await``;
* ``latency_ms``: every answer but ``/health``'s and ``/admin``'s starts that much later (an
  ``asyncio.sleep``, so concurrent requests wait side by side);
* the per-key rate limit and its ``RateLimit-*`` headers on every ``/v1`` answer;
* JSON errors that never contain the API key (unless ``echo_key_in_errors`` asks for it);
* ``ETag``/``If-None-Match`` (304) on the discovery endpoints (:mod:`dbsync.server.conditional`);
* one request-log entry per non-admin request.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import sys
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from dbsync.server.admin import AdminHandlers
from dbsync.server.api import ApiHandlers, is_discovery_path, parse_query
from dbsync.server.conditional import conditional_status
from dbsync.server.problems import STATUS_CODES, Problem, error_body
from dbsync.server.requestlog import RequestLogEntry, key_fingerprint, mask_query
from dbsync.server.settings import ServerSettings
from dbsync.server.state import ServerState

__all__ = ["ReferenceApp", "create_app"]

logger = logging.getLogger("dbsync.server")

Headers = List[Tuple[bytes, bytes]]
Send = Callable[[Dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[Dict[str, Any]]]

_JSON = (b"content-type", b"application/json")
_HEALTH = b'{"status":"ok"}'
TOKEN_PATH = "/oauth/token"  # OAuth2 client-credentials token endpoint


MAINTENANCE_PAGE = b"<!DOCTYPE html><html><head><title>Down for maintenance</title></head><body>Back soon.</body></html>"

class ReferenceApp:
    """ASGI app of the reference server; ``state`` holds its data, faults and log."""

    def __init__(self, settings: Optional[ServerSettings] = None):
        self.state = ServerState(settings or ServerSettings())
        self.api = ApiHandlers(self.state.settings, self.state.store)
        self.admin = AdminHandlers(self.state)

    async def __call__(self, scope: Dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan is off; websockets are not served
            return
        path: str = scope["path"]
        if path == "/admin" or path.startswith("/admin/"):
            await self._admin(scope, receive, send)
        elif path == TOKEN_PATH:
            await self._token(receive, self._with_latency(send))
        else:
            await self._api(scope, send)

    def _with_latency(self, send: Send) -> Send:
        """``send``, or with ``latency_ms`` set, one that waits that long before the answer
        starts (an ``asyncio.sleep``: the event loop answers other requests meanwhile)."""
        delay = self.state.settings.latency_ms / 1000.0
        return _after_delay(delay, send) if delay > 0 else send

    # ------------------------------------------------------------------ /v1, /health, anything else

    async def _api(self, scope: Dict[str, Any], send: Send) -> None:
        started = time.perf_counter()
        path: str = scope["path"]
        method: str = scope["method"]
        raw_query: bytes = scope["query_string"]
        query = parse_query(raw_query) if raw_query else {}
        key = query.get("api_key")
        if key is None:
            key = header_credential(scope["headers"])
        state = self.state
        decision = state.faults.decide(path)  # arrival order: before any await
        fault = decision.kind if decision else None
        headers: Headers = []
        status: Optional[int]
        raw_send = send
        if path != "/health":
            send = self._with_latency(send)
        sent = 0
        if decision is not None and decision.kind == "drop":
            if send is not raw_send:
                await wait_at_least(state.settings.latency_ms / 1000.0)
            self._drop(raw_send)  # needs uvicorn's own send (its transport)
            status = None
        elif decision is not None and decision.kind == "html":
            # what a misconfigured proxy or a maintenance page sends: 200, but not the API's JSON
            status = 200
            sent = await self._send(send, 200, MAINTENANCE_PAGE, [], method,
                                    content_type=b"text/html; charset=utf-8")
        elif decision is not None and decision.kind == "status":
            status = decision.status or 503
            code = STATUS_CODES.get(status, "injected_error")
            message = f"injected fault: HTTP {status}"
            if decision.retry_after is not None:
                headers.append((b"retry-after", self._retry_after(decision.retry_after)))
                message += f", retry after {decision.retry_after:g} seconds"
            sent = await self._send(send, status, error_body(code, self._maybe_echo(message, key)), headers, method)
        else:
            if decision is not None and decision.kind == "slow":
                await asyncio.sleep(decision.seconds)
            status, body, fault = self._answer(method, path, query, key, headers, fault, _base_url(scope),
                                               scope["headers"])
            if decision is not None and decision.kind == "truncate":
                body = body[:len(body) // 2]
            sent = await self._send(send, status, body, headers, method)
        state.log.append(RequestLogEntry(  # interned: a million entries share a handful of paths
            time=time.time(), method=sys.intern(method), path=sys.intern(path),
            query=mask_query(raw_query.decode("utf-8", "replace")) if raw_query else "",
            status=status, fault=fault, key_fingerprint=key_fingerprint(key),
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            headers=_logged_headers(scope["headers"], state.settings.log_headers), bytes=sent))

    def _answer(self, method: str, path: str, query: Dict[str, str], key: Optional[str], headers: Headers,
                fault: Optional[str], base_url: str = "",
                request_headers: Headers = ()) -> Tuple[int, bytes, Optional[str]]:
        """Status and body of a non-faulted (or slow/truncated) request; fills ``headers``."""
        try:
            if path == "/health":
                return 200, _HEALTH, fault
            if not (path == "/v1" or path.startswith("/v1/")):
                raise Problem.not_found(f"no such endpoint: {path}")
            grant = self.api.authenticate(key)
            limiter = self.state.limiter
            if limiter is not None:
                rate = limiter.check(key)  # type: ignore[arg-type]  # authenticate() guarantees a key
                if self.state.fault_settings.rate_limit_headers:
                    headers += [(b"ratelimit-limit", b"%d" % rate.limit),
                                (b"ratelimit-remaining", b"%d" % rate.remaining),
                                (b"ratelimit-reset", b"%d" % rate.reset_seconds)]
                if not rate.allowed:
                    headers.append((b"retry-after", self._retry_after(rate.retry_after)))
                    fault = "rate_limit"
                    raise Problem(429, f"rate limit of {limiter.rate:g} requests per second "
                                       f"(burst {limiter.burst}) exceeded; retry after "
                                       f"{math.ceil(rate.retry_after)} seconds")
            body = self.api.route(method, path, query, grant, headers, base_url)
            if self.state.settings.etags and is_discovery_path(path):
                status = conditional_status(body, request_headers, headers)
                return status, (body if status == 200 else b""), fault
            return 200, body, fault
        except Problem as problem:
            return problem.status, error_body(problem.code, self._maybe_echo(problem.message, key)), fault
        except Exception as exc:  # a bug: answer like a server would, keep the details in the log
            logger.exception("unexpected error answering %s %s", method, path)
            return 500, error_body("internal_error", f"internal error: {type(exc).__name__}"), fault

    def _maybe_echo(self, message: str, key: Optional[str]) -> str:
        """Add the received API key to an error message when ``echo_key_in_errors`` is on: a
        misbehaving API, so tests can check that clients redact what they log."""
        if key and self.state.fault_settings.echo_key_in_errors:
            return f"{message} (request api_key={key})"
        return message

    def _retry_after(self, seconds: float) -> bytes:
        whole = max(0, math.ceil(seconds - 1e-9))
        if self.state.fault_settings.retry_after_format == "http-date":
            return email.utils.formatdate(math.ceil(time.time()) + whole, usegmt=True).encode()
        return b"%d" % whole

    @staticmethod
    def _drop(send: Send) -> None:
        """Close the connection without answering. With uvicorn's protocols ``send`` is a bound
        method of the request cycle, which holds the asyncio transport; marking the cycle
        disconnected stops uvicorn from sending its own 500 afterwards."""
        cycle = getattr(send, "__self__", None)
        transport = getattr(cycle, "transport", None)
        if transport is None:
            raise ConnectionAbortedError("injected drop (no transport to close)")
        transport.close()
        if hasattr(cycle, "disconnected"):
            cycle.disconnected = True

    @staticmethod
    async def _send(send: Send, status: int, body: bytes, headers: Headers, method: str = "GET",
                    content_type: Optional[bytes] = None) -> int:
        """Answer ``body`` (none to a HEAD); returns the body bytes sent."""
        kind = _JSON if content_type is None else (b"content-type", content_type)
        all_headers = [kind, (b"content-length", b"%d" % len(body))]
        all_headers += headers
        await send({"type": "http.response.start", "status": status, "headers": all_headers})
        sent = b"" if method == "HEAD" else body
        await send({"type": "http.response.body", "body": sent})
        return len(sent)

    # ------------------------------------------------------------------ /oauth/token

    async def _token(self, receive: Receive, send: Send) -> None:
        """OAuth2 client credentials: ``POST /oauth/token`` with ``client_secret`` = an API key
        (any ``client_id``) answers that key as the bearer access token; an unknown secret is
        401 ``invalid_client`` (or, with ``unknown_keys_empty``, a token for an empty account)."""
        from urllib.parse import parse_qsl

        body = await _read_body(receive)
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        secret = form.get("client_secret") or ""
        known = secret in self.state.settings.api_keys or (secret and self.state.settings.unknown_keys_empty)
        if form.get("grant_type") != "client_credentials" or not known:
            await self._send(send, 401, error_body("invalid_client", "unknown client credentials"), [])
            return
        import orjson

        await self._send(send, 200, orjson.dumps({"access_token": secret, "token_type": "Bearer",
                                                  "expires_in": 3600}), [])

    # ------------------------------------------------------------------ /admin

    async def _admin(self, scope: Dict[str, Any], receive: Receive, send: Send) -> None:
        admin_key = None
        for name, value in scope["headers"]:
            if name == b"x-admin-key":
                admin_key = value.decode("latin-1")
        body = await _read_body(receive)
        if not self.admin.authorized(admin_key):
            problem = Problem(401, "admin endpoints need the X-Admin-Key header with the admin key")
            await self._send(send, 401, problem.body(), [])
            return
        query = parse_query(scope["query_string"]) if scope["query_string"] else {}
        try:
            status, out = self.admin.handle(scope["method"], scope["path"], query, body)
        except Problem as problem:
            status, out = problem.status, problem.body()
        except Exception as exc:
            logger.exception("unexpected error answering admin %s %s", scope["method"], scope["path"])
            status, out = 500, error_body("internal_error", f"internal error: {type(exc).__name__}: {exc}")
        await self._send(send, status, out, [])


def _after_delay(delay: float, send: Send) -> Send:
    """Wrap ``send`` so that the first message (the response start) waits ``delay`` seconds."""
    waited = False

    async def delayed(message: Dict[str, Any]) -> None:
        nonlocal waited
        if not waited:
            waited = True
            await wait_at_least(delay)
        await send(message)

    return delayed


async def wait_at_least(seconds: float) -> None:
    """``asyncio.sleep`` that never ends early (the event loop's timers may fire a little
    before their time, and a server promising a latency must not answer sooner)."""
    deadline = time.perf_counter() + seconds
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            return
        await asyncio.sleep(left)


def _logged_headers(headers: Headers, names: Tuple[str, ...]) -> Optional[Dict[str, str]]:
    """The request headers ``ServerSettings.log_headers`` asks the request log to keep."""
    if not names:
        return None
    wanted = {n.encode() for n in names}
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in headers if name in wanted}


def _base_url(scope: Dict[str, Any]) -> str:
    """``scheme://host:port`` as the client addressed the server (for next-page URLs)."""
    for name, value in scope.get("headers") or ():
        if name == b"host":
            return f"{scope.get('scheme', 'http')}://{value.decode('latin-1')}"
    server = scope.get("server") or ("127.0.0.1", 0)
    return f"{scope.get('scheme', 'http')}://{server[0]}:{server[1]}"


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


def header_credential(headers: Headers) -> Optional[str]:
    """The API key sent in a header: ``Authorization: Bearer KEY``, ``Authorization: Basic``
    with KEY as the password (any username), a bare ``Authorization: KEY``, or ``X-API-Key``."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, rest = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "bearer":
                return rest.strip()
            if scheme.lower() == "basic":
                import base64
                import binascii

                try:
                    decoded = base64.b64decode(rest.strip(), validate=True).decode("utf-8")
                except (binascii.Error, UnicodeDecodeError):
                    return ""  # a malformed basic credential: answered like a missing key
                return decoded.partition(":")[2]
            return value.decode("latin-1").strip()
        if name == b"x-api-key":
            return value.decode("latin-1").strip()
    return None


def create_app(settings: Optional[ServerSettings] = None) -> ReferenceApp:
    """The ASGI app for ``settings`` (defaults when None), for any ASGI server."""
    return ReferenceApp(settings)
