"""dlt settings dbsync chooses for its users, applied before dlt reads them.

dlt resolves its runtime settings (telemetry, log level) once, the first time anything asks it
for a config value: in dbsync that is the config parser looking up ``sources.dbsync.base_url``,
long before a pipeline exists. A default set after that moment is never read: dbsync used to
set ``RUNTIME__DLTHUB_TELEMETRY=false`` in ``run_sync`` and dlt still looked up its telemetry
host four times per run. So every library entry point (``parse_config``, ``dbsync_source``,
``run_sync``, discovery, check, status) calls :func:`apply_dlt_defaults` first, and if dlt had
already started its telemetry (a caller who made a ``dlt.pipeline`` before asking dbsync for a
source), it is stopped and dlt's runtime is set up again with the new settings.

A user's explicit setting always wins: an environment variable, or the key in any of dlt's
config files (``.dlt/config.toml``, ``.dlt/secrets.toml``, the global ``~/.dlt`` ones), found with
dlt's own providers so the same files and sections count.
"""

from __future__ import annotations

import os
from typing import Any, List, Optional, Tuple

# (environment variable, config section, key, dbsync's value)
DLT_DEFAULTS: Tuple[Tuple[str, str, str, str], ...] = (
    # no telemetry: dbsync talks to the configured API and destination, nothing else
    ("RUNTIME__DLTHUB_TELEMETRY", "runtime", "dlthub_telemetry", "false"),
    ("RUNTIME__LOG_LEVEL", "runtime", "log_level", "WARNING"),
    # dlt's default of 20 loads every table at once: into DuckDB, eight 125,000-row merges at a
    # time doubled the peak memory for no gain in speed
    ("LOAD__WORKERS", "load", "workers", "2"),
    # one table after another, not dlt's round robin over every table's generator: dbsync's
    # page scheduler fetches ahead for the table dlt reads and prefetches the others' first
    # pages; switching tables at every batch spread the prefetch budget over all of them and
    # left the table being read short of requests (1,000,000 rows over 8 tables: wall x0.84)
    ("EXTRACT__NEXT_ITEM_MODE", "extract", "next_item_mode", "fifo"),
)


def apply_dlt_defaults() -> None:
    """Set dbsync's dlt defaults as environment variables where the user set nothing.

    Cheap once done (the variables are then present); safe to call from every entry point."""
    missing = [d for d in DLT_DEFAULTS if d[0] not in os.environ]
    if not missing:
        return
    providers = _file_providers()
    applied = False
    for env_name, section, key, value in missing:
        if not _set_in_files(providers, section, key):
            os.environ[env_name] = value
            applied = True
    if applied:
        _reinitialize_started_telemetry()


def _file_providers() -> List[Any]:
    """dlt's config providers other than the environment, without starting dlt's runtime.

    Reading them through the container would resolve the runtime settings right now (with
    telemetry on); a free-standing run context finds the same files and starts nothing."""
    from dlt.common.configuration.container import Container
    from dlt.common.configuration.providers import EnvironProvider
    from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

    container = Container()
    context = container[PluggableRunContext] if PluggableRunContext in container else PluggableRunContext()
    return [p for p in context.providers.providers if not isinstance(p, EnvironProvider)]


def _set_in_files(providers: List[Any], section: str, key: str) -> bool:
    for provider in providers:
        try:
            value, _ = provider.get_value(key, Any, None, section)
        except Exception:  # an unreadable provider sets nothing dbsync could honour
            continue
        if value is not None:
            return True
    return False


def _reinitialize_started_telemetry() -> None:
    """dlt read its settings before dbsync was asked (the caller touched dlt first): stop what it
    started and set its runtime up again, so the new defaults hold from now on."""
    from dlt.common.runtime.telemetry import is_telemetry_started, stop_telemetry

    if not is_telemetry_started():
        return
    from dlt.common.configuration.container import Container
    from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

    stop_telemetry()
    container = Container()
    context: Optional[PluggableRunContext] = container[PluggableRunContext] if PluggableRunContext in container else None
    if context is not None:
        context.initialize_runtime()
