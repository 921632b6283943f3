"""The rest_api ``client`` section: base URL, headers, paginator and auth.

The base URL may be overridden from dlt config (one config file for staging and production), and
auth secrets are resolved here (dbsync.config.secrets) so that no request is made with a missing
or inline secret. What dlt's own RESTClient accepts is checked against dbsync.config.resource_keys.
"""

from __future__ import annotations

import re
from typing import Any, Dict

from dbsync.config import resource_keys
from dbsync.config.context import _check_keys, _Ctx, _mapping, _str, _validate_paginator
from dbsync.config.secrets import resolve_auth_secrets


def _parse_client(ctx: _Ctx, value: Any, *, from_file: bool, resolve_secrets: bool) -> Dict[str, Any]:
    client = _mapping(ctx, "client", value)
    _check_keys(ctx, "client", client, tuple(resource_keys.CLIENT_KEYS))
    resource_keys.check_keys(ctx.error, "client", client, resource_keys.CLIENT_KEYS)
    base_url = _override_base_url(client.get("base_url"))
    base_url = _str(ctx, "client.base_url", base_url)
    if not re.match(r"^https?://[^/\s]+", base_url):
        raise ctx.error("client.base_url", f"must be an http(s) URL like https://api.example.com, got {base_url!r}")
    client["base_url"] = base_url
    _validate_paginator(ctx, "client.paginator", client.get("paginator"), allow_total=True)
    if client.get("headers") is not None:
        headers = _mapping(ctx, "client.headers", client["headers"])
        client["headers"] = {str(k): v for k, v in headers.items()}
    auth, secrets = resolve_auth_secrets(
        client.get("auth"), key="client.auth", source_name=ctx.source_name, from_file=from_file,
        resolve=resolve_secrets,
    )
    if auth is not None:
        client["auth"] = auth
    client["_dbsync_secrets"] = secrets
    return client


def _override_base_url(configured: Any) -> Any:
    """``SOURCES__DBSYNC__BASE_URL`` (or ``[sources.dbsync] base_url``) overrides the file, so one
    config can point at staging and production."""
    import dlt

    override = dlt.config.get("sources.dbsync.base_url")
    return override if override else configured
