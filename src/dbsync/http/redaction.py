"""Remove secret values from every string we print, log or raise, wherever they appear.

dlt's own redaction hides a fixed list of query-parameter names in some code paths. That misses
connection errors, ``raise_for_status`` messages, DEBUG request logs and secrets sent under other
names. dbsync instead registers the secret *values* themselves (and their URL- and
base64-encoded forms) and scrubs them from:

- every log record, through a LogRecord factory (so it covers dlt, urllib3 and any handler,
  including ones created later);
- every exception message dbsync raises (the HTTP layer builds messages only through
  :func:`redact`);
- tracebacks printed with ``--debug``.
"""

from __future__ import annotations

import base64
import logging
import threading
from typing import Any, List, Set
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter values would redact ordinary words; such keys are refused anyway

_lock = threading.Lock()
_needles: List[str] = []  # longest first, so a secret's encoded form is not half-replaced
_secrets: Set[str] = set()
_factory_installed = False


def _variants(secret: str) -> Set[str]:
    out = {secret, quote(secret, safe=""), quote_plus(secret, safe="")}
    try:
        out.add(base64.b64encode(secret.encode()).decode())
    except Exception:  # pragma: no cover - any str encodes
        pass
    return {v for v in out if len(v) >= MIN_SECRET_LENGTH}


def register_secret(*secrets: str) -> None:
    """Add secret values to redact from now on (process-wide)."""
    global _needles
    with _lock:
        for secret in secrets:
            if not secret or len(secret) < MIN_SECRET_LENGTH or secret in _secrets:
                continue
            _secrets.add(secret)
            variants = set(_needles) | _variants(secret)
            # basic auth puts base64("user:password") in a header: cover it when both are known
            _needles = sorted(variants, key=len, reverse=True)
    install_log_redaction()


def register_basic_auth(username: str, password: str) -> None:
    """Basic auth sends base64("user:password"): redact that header value as well."""
    if username and password:
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        register_secret(password)
        with _lock:
            global _needles
            _needles = sorted(set(_needles) | {token}, key=len, reverse=True)


def registered_secrets() -> Set[str]:
    with _lock:
        return set(_secrets)


def redact(value: Any) -> str:
    """``str(value)`` with every registered secret replaced by ``***``."""
    text = value if isinstance(value, str) else str(value)
    needles = _needles
    if not needles:
        return text
    for needle in needles:
        if needle in text:
            text = text.replace(needle, MASK)
    return text


def install_log_redaction() -> None:
    """Wrap the LogRecord factory so every record's final message is redacted at creation."""
    global _factory_installed
    with _lock:
        if _factory_installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if _needles:
                _scrub_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _factory_installed = True


def _scrub_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: keep what we have, redacted
        message = f"{record.msg} {record.args}"
    record.msg = redact(message)
    record.args = None
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        record.exc_info = None
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
