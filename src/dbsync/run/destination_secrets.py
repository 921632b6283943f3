"""Scrub the destination's password from dbsync's logs and error messages, like the API key.

dlt resolves destination credentials from its config (``DESTINATION__POSTGRES__CREDENTIALS``,
``.dlt/secrets.toml``); a connection string can end up in an error text (a driver echoing a
DSN, dlt describing its configuration). Registering the password with
:mod:`dbsync.http.redaction` makes every log record and dbsync error one-liner replace it.
"""

from __future__ import annotations

import logging
from typing import Any

from dbsync.http.redaction import register_secret

logger = logging.getLogger("dbsync.run")


def register_destination_secrets(pipeline: Any) -> None:
    """Register the password of the pipeline's destination credentials, if it has one.

    Resolving the configuration opens no connection; a destination without credentials (or
    whose credentials are missing, which dlt reports later with its own message) is skipped."""
    if pipeline.destination is None:
        return
    try:
        credentials = pipeline.destination_client().config.credentials
    except Exception:  # missing or invalid config: the load step will say so
        logger.debug("destination credentials not resolved yet; nothing to register")
        return
    password = getattr(credentials, "password", None)
    if isinstance(password, str) and password:
        register_secret(password)
