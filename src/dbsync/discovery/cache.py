"""Discovery answers kept between runs, so a run where nothing changed does not describe the
whole account again.

What is kept is each discovery *response* (the database list, a database's schema, a table's
fields), not the catalog built from them: every run still parses, filters and selects from the
answers, so a changed ``include``/``exclude``, ``-t`` or field shape in the config applies at
once, and the cache can never hand a run a table its selection left out.

Two ways an answer is reused:

- **Validators** (always, unless ``discovery: {cache: off}``): an answer that came with an
  ``ETag`` or ``Last-Modified`` is asked for again with ``If-None-Match``/``If-Modified-Since``;
  a ``304 Not Modified`` reuses the kept answer. The server decides, so a schema change is seen
  on the very next run.
- **Time** (opt-in, ``discovery: {cache: 10m}``): an answer younger than that is reused without
  any request; older ones are revalidated (or fetched again) as above.

The file lives next to dlt's pipeline state (``<pipelines dir>/.<pipeline>.dbsync.discovery.json``,
beside the run-info side file), never in the destination. It holds no secret: the answers are
the API's descriptions of tables, request keys are hashes, and the config fingerprint that ties
the file to a connection is a hash of the config with its secret values blanked out. A run with
another fingerprint (base URL, auth type, discovery sections changed) starts from nothing.
``--full-refresh`` does not reuse anything (and keeps the fresh answers); ``dbsync discover``
does not use the cache at all.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

import requests
from requests.structures import CaseInsensitiveDict

from dbsync.config.model import SyncConfig
from dbsync.errors import Where
from dbsync.http.client import ApiClient, Page
from dbsync.http.redaction import redact

logger = logging.getLogger("dbsync.discovery")

FORMAT_VERSION = 1
# answers no run has used (asked for, revalidated or fetched) for this long are dropped, so the
# file does not keep tables and databases that are long gone
UNUSED_MAX_AGE = 30 * 86400.0
# response headers a paginator may read from a kept page (links, cursors, totals); nothing else
# of a response is kept (no cookies, nothing an auth scheme sends back)
_UNSAFE_HEADER_WORDS = ("cookie", "auth", "token", "key", "secret", "session")


def cache_path(pipelines_dir: str, pipeline_name: str) -> Path:
    """Beside dlt's pipeline folders, like :func:`dbsync.run.run_info.run_info_path`."""
    return Path(pipelines_dir) / f".{pipeline_name}.dbsync.discovery.json"


def config_fingerprint(config: SyncConfig) -> str:
    """A hash of what discovery depends on (client, databases, tables), secrets blanked out
    before hashing, so neither the file nor the fingerprint can give a key away."""
    doc = {
        "client": config.client,
        "databases": _plain(config.databases),
        "tables": _plain(config.tables),
    }
    # objects (an auth instance passed from Python) count by their type only: their repr may
    # hold a secret that config.secrets does not list
    text = json.dumps(doc, sort_keys=True, default=lambda o: f"<{type(o).__name__}>")
    for secret in sorted(config.secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: Any) -> Any:
    return asdict(value) if is_dataclass(value) and not isinstance(value, type) else value


class DiscoveryCache:
    """The kept answers of one pipeline. Thread-safe (databases are described concurrently)."""

    def __init__(self, path: Path, fingerprint: str, *, ttl: Optional[float] = None, reuse: bool = True,
                 clock: Callable[[], float] = time.time):
        self.path = path
        self.fingerprint = fingerprint
        self.ttl = ttl
        self.reuse = reuse
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: Dict[str, Dict[str, Any]] = self._load() if reuse else {}
        self._dirty = False
        self.hits = 0  # answers reused without a request (time)
        self.not_modified = 0  # answers reused after a 304
        self.fetched = 0  # answers fetched in full

    @classmethod
    def for_pipeline(cls, config: SyncConfig, pipelines_dir: str, pipeline_name: str, *,
                     reuse: bool = True) -> Optional["DiscoveryCache"]:
        """The cache of a pipeline, or None when the config turns it off (``cache: off``)."""
        settings = config.discovery
        if not settings.enabled:
            return None
        return cls(cache_path(pipelines_dir, pipeline_name), config_fingerprint(config),
                   ttl=settings.cache_ttl, reuse=reuse)

    # -- the file ---------------------------------------------------------------------------------
    def _load(self) -> Dict[str, Dict[str, Any]]:
        try:
            doc = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            logger.warning("discovery cache %s is unreadable (%s): discovering afresh", self.path, type(exc).__name__)
            return {}
        if not isinstance(doc, dict) or doc.get("version") != FORMAT_VERSION or doc.get("config") != self.fingerprint:
            return {}  # another connection's (or an older dbsync's) answers
        entries = doc.get("entries")
        return entries if isinstance(entries, dict) else {}

    def save(self) -> None:
        """Write the kept answers (atomically: a crash leaves the old file or the new one)."""
        logger.info("discovery answers: %d reused, %d reused after 304 Not Modified, %d fetched",
                    self.hits, self.not_modified, self.fetched)
        with self._lock:
            if not self._dirty:
                return
            oldest = self._clock() - max(UNUSED_MAX_AGE, self.ttl or 0.0)
            self._entries = {k: e for k, e in self._entries.items() if float(e.get("stored_at", 0)) >= oldest}
            doc = {"version": FORMAT_VERSION, "config": self.fingerprint, "entries": self._entries}
            self._dirty = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name, suffix=".tmp", dir=str(self.path.parent))
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(doc, handle, separators=(",", ":"))
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # -- requests ---------------------------------------------------------------------------------
    def wrap(self, client: ApiClient) -> "CachingClient":
        return CachingClient(client, self)

    @staticmethod
    def request_key(method: str, path: str, params: Optional[Mapping[str, Any]], body: Any) -> str:
        text = json.dumps([method.upper(), path, sorted((str(k), str(v)) for k, v in (params or {}).items()), body],
                          sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def lookup(self, key: str) -> Optional[Dict[str, Any]]:
        if not self.reuse:
            return None
        with self._lock:
            entry = self._entries.get(key)
            return copy.deepcopy(entry) if entry is not None else None

    def is_fresh(self, entry: Mapping[str, Any]) -> bool:
        return self.ttl is not None and self._clock() - float(entry.get("stored_at", 0)) < self.ttl

    def store(self, key: str, page: Page) -> None:
        etag = page.headers.get("ETag")
        last_modified = page.headers.get("Last-Modified")
        if not etag and not last_modified and self.ttl is None:
            return  # nothing would make it reusable
        entry = {
            "doc": page.doc,
            "etag": etag,
            "last_modified": last_modified,
            "headers": _safe_headers(page.headers),
            "stored_at": self._clock(),
        }
        with self._lock:
            self._entries[key] = entry
            self._dirty = True

    def touch(self, key: str) -> None:
        """A 304: the kept answer is current as of now (its time to live starts again)."""
        with self._lock:
            if key in self._entries:
                self._entries[key]["stored_at"] = self._clock()
                self._dirty = True


class CachingClient:
    """An :class:`ApiClient` for discovery requests: answers from the cache where it may, asks
    conditionally where the kept answer has validators, keeps what comes back. Everything else
    (``rest``, ``stats``, ``credentials_hint``...) is the wrapped client's."""

    def __init__(self, client: ApiClient, cache: DiscoveryCache):
        self._client = client
        self._cache = cache

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_json(self, path: str, params: Optional[Dict[str, Any]] = None, *, where: Where, method: str = "GET",
                 json: Optional[Dict[str, Any]] = None, ignore: Optional[Sequence[Mapping[str, Any]]] = None,
                 parse: Optional[Callable[[bytes], Any]] = None,
                 headers: Optional[Mapping[str, str]] = None) -> Page:
        cache = self._cache
        key = cache.request_key(method, path, params, json)
        entry = cache.lookup(key)
        if entry is not None and cache.is_fresh(entry):
            cache.hits += 1
            return _kept_page(entry, path)
        conditional: Dict[str, str] = dict(headers or {})
        if entry is not None and entry.get("etag"):
            conditional["If-None-Match"] = entry["etag"]
        if entry is not None and entry.get("last_modified"):
            conditional["If-Modified-Since"] = entry["last_modified"]
        page = self._client.get_json(path, params, where=where, method=method, json=json, ignore=ignore,
                                     parse=parse, headers=conditional or None)
        if page.status == 304 and entry is not None:
            cache.not_modified += 1
            cache.touch(key)
            return _kept_page(entry, path)
        if not page.ignored and page.status == 200:
            cache.fetched += 1
            cache.store(key, page)
        return page


def _safe_headers(headers: Mapping[str, str]) -> Dict[str, str]:
    return {k: redact(v) for k, v in headers.items()
            if not any(w in k.lower() for w in _UNSAFE_HEADER_WORDS)}


def _kept_page(entry: Mapping[str, Any], path: str) -> Page:
    """A page from a kept answer, with a response object the paginators can read (headers for
    link/cursor paginators, ``.json()`` for totals)."""
    response = requests.Response()
    response.status_code = 200
    response.headers = CaseInsensitiveDict(entry.get("headers") or {})
    response._content = b""
    response.url = path
    return Page(doc=entry["doc"], status=200, headers=response.headers, url=redact(path), response=response)
