"""The API client: dlt's RESTClient (auth, base URL, headers) plus retries, pacing and clear errors.

Every request goes through :meth:`ApiClient.get_json`, which

- waits for the shared :class:`AdaptiveLimiter` (concurrency, Retry-After, rate-limit headers);
- retries 429/5xx, timeouts, dropped connections and truncated bodies with exponential backoff
  and jitter, logging each retry at WARNING with its reason;
- maps everything else to one ``DbsyncError`` that names database, table and page, says what to
  do, and never contains the API key (messages are redacted and lower-level exceptions are not
  chained).
"""

from __future__ import annotations

import logging
import random
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple, Union

import requests
import urllib3
from requests.adapters import HTTPAdapter

from dbsync import jsonio
from dbsync.config.model import RetrySettings, SyncConfig
from dbsync.config.secrets import credentials_hint
from dbsync.errors import (
    ApiError,
    ApiUnreachableError,
    AuthError,
    ConfigError,
    DbsyncError,
    NotFoundError,
    PermissionDeniedError,
    ResponseFormatError,
    RetriesExhaustedError,
    Where,
)
from dbsync.http.ratelimit import AdaptiveLimiter
from dbsync.http.redaction import redact, register_basic_auth, register_secret
from dbsync.http.retry import backoff_delay, parse_retry_after

logger = logging.getLogger("dbsync.http")

# connection refused is retried briefly only: a server that is down will not come back in time
REFUSED_ATTEMPTS = 3


@dataclass
class RequestStats:
    """Counters for the run summary; shared by all threads."""

    requests: int = 0
    retries: Counter = field(default_factory=Counter)  # reason -> count
    bytes_received: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_request(self, nbytes: int) -> None:
        with self._lock:
            self.requests += 1
            self.bytes_received += nbytes

    def count_retry(self, reason: str) -> None:
        with self._lock:
            self.retries[reason] += 1

    @property
    def total_retries(self) -> int:
        return sum(self.retries.values())


@dataclass(frozen=True)
class Page:
    """One parsed response: the JSON document and what we need from the response."""

    doc: Any
    status: int
    headers: Mapping[str, str]
    url: str  # redacted
    response: Any = field(default=None, repr=False, compare=False)
    ignored: bool = False  # a response_action said to ignore this response: no data
    ignored_by: Optional[Mapping[str, Any]] = None  # the response action that matched

    def response_for_paginator(self) -> requests.Response:
        """The response, with ``.json()`` answering from the already parsed document, so dlt's
        paginators (which call it for totals and cursors) do not parse the body again."""
        doc = self.doc
        self.response.json = lambda **_: doc
        return self.response


class _Retriable(Exception):
    """Internal: this attempt failed in a way worth retrying."""

    def __init__(self, reason: str, retry_after: Optional[float] = None, refused: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.refused = refused


class ApiClient:
    """Talks to one database API. Thread-safe: pages of many tables are fetched concurrently."""

    def __init__(self, config: SyncConfig, *, limiter: Optional[AdaptiveLimiter] = None,
                 stats: Optional[RequestStats] = None, rng: Optional[random.Random] = None):
        from dlt.sources.helpers.rest_client import RESTClient
        from dlt.sources.rest_api.config_setup import create_auth

        self.config = config
        self.retry: RetrySettings = config.retries
        self.limiter = limiter or AdaptiveLimiter(config.performance.concurrency)
        self.stats = stats or RequestStats()
        # the server's clock (its Date header) at the first response of this client: a run's
        # start as the API sees it (dbsync.source.incremental.settle_cursor)
        self.first_server_time: Optional[datetime] = None
        self._rng = rng or random.Random()
        register_secret(*config.secrets)
        client_cfg = config.client
        self.credentials_hint = credentials_hint(client_cfg.get("auth"))  # names the auth type's variable
        try:
            auth = create_auth(client_cfg.get("auth"))
        except Exception as exc:
            raise ConfigError(f"invalid auth: {redact(exc)}", key="client.auth", source=config.source_name) from None
        self._register_auth_secrets(auth)
        self.session = requests.Session()
        pool = max(10, config.performance.concurrency + 4)
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.trust_env = False  # no proxy/netrc lookups per request; proxies via config only
        self.rest = RESTClient(
            base_url=client_cfg["base_url"],
            headers=client_cfg.get("headers"),
            auth=auth,
            session=self.session,
        )

    @staticmethod
    def _register_auth_secrets(auth: Any) -> None:
        for attr in ("api_key", "token", "password", "client_secret", "access_token"):
            value = getattr(auth, attr, None)
            if isinstance(value, str) and value:
                register_secret(value)
        username, password = getattr(auth, "username", None), getattr(auth, "password", None)
        if isinstance(username, str) and isinstance(password, str):
            register_basic_auth(username, password)

    def close(self) -> None:
        self.session.close()

    # -- the one way to make a request -------------------------------------------------------------
    def get_json(
        self,
        path: str,
        params: Optional[Dict[str, Any]] = None,
        *,
        where: Where,
        method: str = "GET",
        json: Optional[Dict[str, Any]] = None,
        ignore: Optional[Sequence[Mapping[str, Any]]] = None,
        parse: Optional[Callable[[bytes], Any]] = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> Page:
        """Request ``path`` and return the parsed JSON, retrying what is worth retrying.

        ``ignore``: rest_api-style response actions (``{status_code, content, action: ignore}``);
        a matching response comes back as an empty, ``ignored`` page. ``parse`` turns the body
        into ``Page.doc`` (default: orjson); returning ``ApiClient.INVALID`` marks a body cut short
        in transit, which is retried like a dropped connection. ``headers`` are sent with this
        request only, on top of client.headers (a resource's endpoint.headers; discovery's
        ``If-None-Match``/``If-Modified-Since``: a ``304 Not Modified`` comes back as a page with
        ``status`` 304 and no ``doc``)."""
        foreign = self._foreign_origin(path)
        if foreign is not None:
            # a next-page link (or a configured path) pointing elsewhere: following it would send
            # the credentials to a host nobody configured
            raise ResponseFormatError(
                f"the API pointed to {foreign}, another host than client.base_url ({self._origin_text()}); "
                "dbsync sends requests and credentials only to the configured API",
                where=where, hint="if the API really lives there, set client.base_url to it")
        attempts = self.retry.attempts
        waited = 0.0
        last_reason = ""
        for attempt in range(1, attempts + 1):
            outcome = self._attempt(path, params, method, json, where, ignore, parse, headers)
            if isinstance(outcome, Page):
                return outcome
            if isinstance(outcome, DbsyncError):
                raise outcome
            retriable = outcome
            last_reason = retriable.reason
            if retriable.refused and attempt >= REFUSED_ATTEMPTS:
                raise ApiUnreachableError(
                    f"cannot connect to {self._base()}: {retriable.reason}",
                    where=where,
                    hint="is the server running and client.base_url right?",
                )
            if attempt == attempts:
                break
            delay = backoff_delay(self.retry, attempt, self._rng)
            if retriable.retry_after is not None:
                delay = max(delay, retriable.retry_after)
            if waited + delay > self.retry.max_total_wait:
                raise RetriesExhaustedError(
                    f"gave up after {attempt} attempts and {waited:.1f}s of waiting: {last_reason}",
                    where=where,
                    hint=f"the next wait ({delay:.0f}s) would pass retries.max_total_wait "
                    f"({self.retry.max_total_wait:.0f}s); try again later or raise it",
                )
            self.stats.count_retry(_reason_kind(retriable.reason))
            logger.warning(
                "%s: %s; retry %d/%d in %.2fs",
                where.describe() or path, retriable.reason, attempt, attempts - 1, delay,
            )
            time.sleep(delay)
            waited += delay
        raise RetriesExhaustedError(
            f"gave up after {attempts} attempts: {last_reason}",
            where=where,
            hint="the API kept failing; try again later or raise retries.attempts",
        )

    def _base(self) -> str:
        return redact(self.config.client["base_url"])

    def _foreign_origin(self, path: str) -> Optional[str]:
        """``scheme://host:port`` of an absolute ``path`` on another origin than the base URL."""
        if "://" not in path[:12]:
            return None
        target, base = _origin(path), _origin(self.config.client["base_url"])
        return None if target == base else redact(f"{target[0]}://{target[1]}:{target[2]}")

    def _origin_text(self) -> str:
        scheme, host, port = _origin(self.config.client["base_url"])
        return redact(f"{scheme}://{host}:{port}")

    def _attempt(self, path: str, params: Optional[Dict[str, Any]], method: str, json: Optional[Dict[str, Any]],
                 where: Where, ignore: Optional[Sequence[Mapping[str, Any]]] = None,
                 parse: Optional[Callable[[bytes], Any]] = None,
                 extra_headers: Optional[Mapping[str, str]] = None) -> Union[Page, _Retriable, DbsyncError]:
        """One request. Failures are *returned*, never raised from inside an ``except`` block:
        a raised error would chain to the requests exception, whose text holds the full URL
        (and with it a query-string key), and dlt pickles exception chains into its trace."""
        ticket = self.limiter.acquire()
        status: Optional[int] = None
        headers: Optional[Mapping[str, str]] = None
        retry_after: Optional[float] = None
        try:
            sent = self._send(path, params, method, json, where, extra_headers)
            if not isinstance(sent, tuple):
                return sent
            response, content = sent
            status = response.status_code
            headers = response.headers
            if self.first_server_time is None:
                self.first_server_time = _http_date(headers.get("Date"))
            self.stats.count_request(len(content))
            action = _matches_action(ignore, status, content) if ignore else None
            if action is not None:
                return Page(doc=None, status=status, headers=headers, url=redact(response.url), response=response,
                            ignored=True, ignored_by=action)
            if status == 304 and extra_headers:
                return Page(doc=None, status=status, headers=headers, url=redact(response.url), response=response)
            if status in self.retry.retry_statuses:
                retry_after = parse_retry_after(headers.get("Retry-After"))
                reason = f"HTTP {status} {response.reason or ''}".strip()
                if retry_after is not None:
                    reason += f" (Retry-After {retry_after:.0f}s)"
                return _Retriable(reason, retry_after=retry_after)
            if status >= 400:
                return self._status_error(status, response.reason, content, path, where)
        finally:
            # a wait longer than any request may wait (this one gives up) pauses no other request
            pause = retry_after if retry_after is not None and retry_after <= self.retry.max_total_wait else None
            self.limiter.release(ticket, status=status, headers=headers, retry_after=pause)
        if method.upper() == "HEAD":  # headers only (a total announced in a header): no body to parse
            return Page(doc=None, status=status, headers=headers, url=redact(response.url), response=response)
        # parsed after the request's slot is free: parsing may take longer than the request
        doc = (parse or _loads)(content)
        if doc is _INVALID:
            return self._not_json(content, headers, path, where)
        return Page(doc=doc, status=status, headers=headers, url=redact(response.url), response=response)

    def _send(self, path: str, params: Optional[Dict[str, Any]], method: str, json: Optional[Dict[str, Any]],
              where: Where, extra_headers: Optional[Mapping[str, str]] = None,
              ) -> Union[Tuple[requests.Response, bytes], _Retriable, DbsyncError]:
        failure: Union[_Retriable, DbsyncError, None] = None
        try:
            # stream, then read the body in one call: requests' own .content reads it in 10 KB
            # chunks, which costs more CPU than parsing on pages of a few hundred KB
            response = self.rest.request(path, method=method, params=params, json=json, timeout=self.retry.timeout,
                                         stream=True, headers=dict(extra_headers) if extra_headers else None)
            content = response.raw.read(decode_content=True)  # a cut connection raises here
            response._content = content
            response._content_consumed = True
            response.close()  # hands the connection back to the pool
            return response, content
        except urllib3.exceptions.HTTPError as exc:  # raised by raw.read(): the body was cut
            failure = _Retriable(f"connection dropped mid-body ({_short(exc)})")
        except requests.exceptions.Timeout:
            failure = _Retriable(f"timed out after {self.retry.timeout:g}s")
        except requests.exceptions.ConnectionError as exc:
            refused = _is_refused(exc)
            failure = _Retriable("connection refused" if refused else f"connection dropped ({_short(exc)})",
                                 refused=refused)
        except requests.exceptions.ChunkedEncodingError as exc:
            failure = _Retriable(f"connection dropped mid-body ({_short(exc)})")
        except requests.exceptions.HTTPError as exc:  # only auth raises it: an OAuth2 token request refused
            code = exc.response.status_code if exc.response is not None else None
            if code in (400, 401, 403):
                failure = AuthError(f"the token endpoint refused the client credentials (HTTP {code})",
                                    status=code, where=where, hint=self.credentials_hint)
            else:
                failure = ApiError(f"the token request failed: {redact(exc)}", status=code, where=where)
        except requests.exceptions.InvalidURL as exc:
            failure = ConfigError(f"invalid URL for path {path!r}: {redact(exc)}", key="client.base_url")
        except requests.exceptions.RequestException as exc:
            failure = ApiError(f"request failed: {type(exc).__name__}: {redact(exc)}", where=where)
        return failure

    def _not_json(self, content: bytes, headers: Mapping[str, str], path: str, where: Where) -> Union[_Retriable, DbsyncError]:
        content_type = headers.get("Content-Type", "unknown")
        if content and content.lstrip()[:1] in (b"{", b"["):
            # a body that starts like JSON but does not parse: cut short in transit
            return _Retriable(f"truncated or invalid JSON body ({len(content)} bytes)")
        start = content[:40].decode("utf-8", "replace") if content else ""
        return ResponseFormatError(
            f"the response is not JSON (Content-Type {content_type}, {len(content)} bytes"
            + (f", starts with {redact(start)!r}" if start.strip() else ", empty") + ")",
            where=where,
            hint=f"check that path {path!r} is the JSON API endpoint",
        )

    def _shown_url(self, path: str) -> str:
        """The URL a request went to, as errors name it: the base URL's own path included (a 404
        at ``/records`` says little when the base URL is ``https://host/api/v2``), no query
        string, secrets redacted."""
        from dlt.sources.helpers.rest_client.utils import join_url

        url = path if "://" in path[:12] else join_url(self.config.client["base_url"], path)
        return redact(url.split("?", 1)[0])

    def first_page_missing(self, page: Page, path: str, where: Where) -> Optional[ApiError]:
        """A table's first page answered 404, which a response action (by status alone) ignores:
        such actions end paging past the last page; on the first page the table is not there (a
        wrong name, or a case that differs), and an empty table would be a silent lie."""
        action = page.ignored_by or {}
        if page.status != 404 or action.get("content") is not None:
            return None
        error = self._status_error(404, None, b"", path, where)
        error.hint = ("response_actions ignore 404 for pages past the end, not for the table's first page: check "
                      "the path and the table's name (case included); to ignore a 404 for an empty table, match its "
                      "body with the action's content")
        return NotFoundError(error.message, status=404, where=where, hint=error.hint)

    def _status_error(self, status: int, reason: Optional[str], content: bytes, path: str, where: Where) -> ApiError:
        path = self._shown_url(path)
        detail = _error_detail(content)
        said = f": server said {detail!r}" if detail else ""
        if status == 401:
            return AuthError(f"the API rejected the credentials (401 Unauthorized){said}", status=status, where=where,
                             hint=self.credentials_hint)
        if status == 403:
            return PermissionDeniedError(f"access denied (403 Forbidden){said}", status=status, where=where,
                                         hint="the credentials lack a grant for this; ask for access or exclude it from the sync")
        if status == 404:
            return NotFoundError(f"not found (404) at {path}{said}", status=status, where=where,
                                 hint="check the path in the config and that the database/table exists")
        if status == 400:
            return ApiError(f"bad request (400) at {path}{said}", status=status, where=where,
                            hint="check the endpoint params in the config")
        return ApiError(f"HTTP {status} {reason or ''} at {path}{said}", status=status, where=where)


_INVALID = object()


def _http_date(value: Optional[str]) -> Optional[datetime]:
    if not value:
        return None
    try:
        from email.utils import parsedate_to_datetime

        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _matches_action(actions: Sequence[Mapping[str, Any]], status: int, content: bytes
                    ) -> Optional[Mapping[str, Any]]:
    """The first response action matching the response, or None."""
    for action in actions:
        code = action.get("status_code")
        text = action.get("content")
        if code is not None and str(code) != str(status):
            continue
        if text is not None and str(text).encode() not in content:
            continue
        return action
    return None


def _loads(content: bytes) -> Any:
    try:
        return jsonio.loads(content)
    except jsonio.JSONDecodeError:
        return _INVALID


def _error_detail(content: bytes, limit: int = 200) -> str:
    """The server's own error message, if it sent one, redacted and kept short."""
    if not content:
        return ""
    try:
        doc = jsonio.loads(content)
    except jsonio.JSONDecodeError:
        doc = None
    if doc is None:
        text = content[:limit].decode("utf-8", "replace")
        title = _html_title(content)
        return redact(title if title is not None else " ".join(text.split()))
    msg: Any = doc
    if isinstance(doc, dict):
        err = doc.get("error", doc)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("detail") or err.get("code") or err
        else:
            msg = doc.get("message") or doc.get("detail") or err
    text = msg if isinstance(msg, str) else jsonio.dumps(msg).decode()
    text = " ".join(text.split())
    return redact(text if len(text) <= limit else text[: limit - 1] + "…")


def _html_title(content: bytes) -> Optional[str]:
    """An HTML error page's <title> ("Forbidden"), rather than its first bytes of markup."""
    import re

    head = content[:4096].decode("utf-8", "replace")
    if not head.lstrip().startswith("<"):
        return None
    match = re.search(r"<title[^>]*>(.*?)</title>", head, re.IGNORECASE | re.DOTALL)
    title = " ".join(match.group(1).split()) if match else ""
    return title[:200] or None


def _is_refused(exc: BaseException) -> bool:
    text = repr(exc)
    return "Connection refused" in text or "NewConnectionError" in text or "Errno 111" in text


def _short(exc: BaseException) -> str:
    """A short, secret-free description of a low-level network error (no URLs)."""
    text = repr(exc)
    for marker in ("RemoteDisconnected", "Connection reset by peer", "IncompleteRead", "Connection aborted",
                   "ProtocolError", "BrokenPipe", "Read timed out", "InvalidChunkLength"):
        if marker in text:
            return marker
    return type(exc).__name__


def _reason_kind(reason: str) -> str:
    """Group retry reasons for the summary: 'HTTP 503', 'connection dropped', ..."""
    if reason.startswith("HTTP "):
        return " ".join(reason.split()[:2])
    if reason.startswith("connection dropped"):
        return "connection dropped"
    if reason.startswith("truncated"):
        return "truncated body"
    if reason.startswith("timed out"):
        return "timeout"
    return reason.split(" (")[0]

ApiClient.INVALID = _INVALID  # what a parse function returns for a body that is not (complete) JSON


def _origin(url: str) -> Tuple[str, str, int]:
    """(scheme, host, port) of a URL, the port filled in from the scheme when left out."""
    parts = urllib.parse.urlsplit(url)
    scheme = (parts.scheme or "http").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or (443 if scheme == "https" else 80)
