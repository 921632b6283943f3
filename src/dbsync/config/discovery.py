"""The ``discovery`` section: reusing discovery answers across runs.

``discovery: {cache: 10m}`` reuses each answer for that long without asking; ``cache: off``
turns reuse off entirely (not even ETag/If-None-Match revalidation); without the section,
answers that carry an ETag or Last-Modified are revalidated every run and nothing else is kept.
"""

from __future__ import annotations

from typing import Any

from dbsync.config.durations import parse_duration
from dbsync.config.model import DiscoverySettings

DISCOVERY_KEYS = ("cache",)
_OFF = ("off", "false", "no", "none")


def parse_discovery(ctx: Any, value: Any) -> DiscoverySettings:
    """``ctx`` is the parser's context (its ``error(key, message, hint)`` builds the ConfigError)."""
    if value is None:
        return DiscoverySettings()
    if not isinstance(value, dict):
        raise ctx.error("discovery", f"must be a mapping (e.g. {{cache: 10m}}), got {type(value).__name__}")
    unknown = [k for k in value if k not in DISCOVERY_KEYS]
    if unknown:
        raise ctx.error(f"discovery.{unknown[0]}", "unknown key (known: cache)")
    cache = value.get("cache")
    if cache is None:
        return DiscoverySettings()
    if cache is False or (isinstance(cache, str) and cache.strip().lower() in _OFF):
        return DiscoverySettings(enabled=False)
    try:
        ttl = parse_duration(cache)
    except ValueError as exc:
        raise ctx.error("discovery.cache", f"{exc} (or off)") from None
    return DiscoverySettings(cache_ttl=ttl or None)
