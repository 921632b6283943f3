"""Where secrets come from: dlt's secrets (``.dlt/secrets.toml`` or environment variables).

A config *file* must never hold a secret: files get committed, copied and pasted into tickets.
The secret field of each auth type is looked up, in order, as:

1. the value in the Python dict (library use: ``"api_key": dlt.secrets["api_key"]``);
2. ``sources.dbsync.<field>``: ``[sources.dbsync] api_key = "..."`` in ``.dlt/secrets.toml``, or
   the environment variable ``SOURCES__DBSYNC__API_KEY``;
3. ``<field>`` at the top level (``api_key = "..."``, env ``API_KEY``), as the original
   rest_api integration read it with ``dlt.secrets["api_key"]``.

Every resolved secret value is returned too, so redaction can remove it from everything we print
or write.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from dbsync.errors import ConfigError

# the secret field of each dlt auth type (rest_api's AUTH_MAP names)
SECRET_FIELDS: Dict[str, Tuple[str, ...]] = {
    "api_key": ("api_key",),
    "bearer": ("token",),
    "http_basic": ("password",),
    "oauth2_client_credentials": ("client_secret",),
}
OPTIONAL_SECRET_FIELDS = ("access_token",)
ENV_HINT = "SOURCES__DBSYNC__{upper}"
DEFAULT_AUTH_TYPE = "bearer"  # rest_api's default when client.auth names no type
# how hints name each auth type's credentials, and the non-secret config fields that go with them
_CREDENTIAL_WORDS: Dict[str, Tuple[str, Tuple[str, ...]]] = {
    "api_key": ("the API key", ()),
    "bearer": ("the token", ()),
    "http_basic": ("the password", ("client.auth.username",)),
    "oauth2_client_credentials": ("the client secret", ("client.auth.client_id",)),
}


def secret_variable(field: str) -> str:
    """The environment variable that holds secret ``field``: ``SOURCES__DBSYNC__API_KEY``..."""
    return ENV_HINT.format(upper=field.upper())


def auth_type_of(auth: Any) -> Optional[str]:
    """The rest_api auth type of a config's ``client.auth`` (a name, a dict or a ready auth object),
    or None without auth or for an auth class dlt does not name."""
    if auth is None:
        return None
    if isinstance(auth, str):
        return auth
    if isinstance(auth, dict):
        return str(auth.get("type", DEFAULT_AUTH_TYPE))
    from dlt.sources.rest_api.config_setup import AUTH_MAP

    for name, cls in AUTH_MAP.items():
        if isinstance(auth, cls):
            return name
    return None


def credentials_hint(auth: Any) -> str:
    """What to check when the API turns the credentials down (or answers as if it did not know
    them): the one place every "check the key" hint comes from, so each names the variable of the
    configured auth type (``SOURCES__DBSYNC__PASSWORD`` for http_basic, not always ``..._API_KEY``)."""
    auth_type = auth_type_of(auth)
    if auth is None:
        return "the config has no client.auth: add one if the API needs credentials"
    if auth_type not in _CREDENTIAL_WORDS:
        return "check the credentials in client.auth and in .dlt/secrets.toml"
    what, fields = _CREDENTIAL_WORDS[auth_type]
    field = SECRET_FIELDS[auth_type][0]
    text = f"check {what} in {secret_variable(field)} or [sources.dbsync] {field} in .dlt/secrets.toml"
    if fields:
        text += " and " + " and ".join(fields) + " in the config"
    return text


def lookup_secret(field: str) -> Optional[str]:
    """Find a secret in dlt's providers (env vars, .dlt/secrets.toml)."""
    import dlt

    for key in (f"sources.dbsync.{field}", field):
        value = dlt.secrets.get(key)
        if value is not None and str(value) != "":
            return str(value)
    return None


def resolve_auth_secrets(
    auth: Any,
    *,
    key: str,
    source_name: Optional[str],
    from_file: bool,
    resolve: bool = True,
) -> Tuple[Any, Tuple[str, ...]]:
    """Fill the auth config's secret from dlt secrets; return (auth, secret values)."""
    if auth is None:
        return None, ()
    if isinstance(auth, str):
        auth = {"type": auth}
    if not isinstance(auth, dict):
        # a ready auth object (library use): collect its secrets for redaction
        return auth, _secrets_of_object(auth)

    auth = dict(auth)
    auth_type = auth.get("type", DEFAULT_AUTH_TYPE)
    from dlt.sources.rest_api.config_setup import AUTH_MAP

    if auth_type not in AUTH_MAP:
        raise ConfigError(
            f"unknown auth type {auth_type!r}; known: {', '.join(sorted(AUTH_MAP))}",
            key=f"{key}.type",
            source=source_name,
        )
    if auth_type == "api_key" and auth.get("location", "header") not in ("header", "query", "param", "cookie"):
        raise ConfigError(
            f"location must be header, query or param, got {auth.get('location')!r}",
            key=f"{key}.location",
            source=source_name,
        )
    secrets: List[str] = []
    for field in SECRET_FIELDS.get(auth_type, ()) + OPTIONAL_SECRET_FIELDS:
        present = auth.get(field)
        if present not in (None, ""):
            if from_file:
                raise ConfigError(
                    "secrets must not be written in the config file",
                    key=f"{key}.{field}",
                    source=source_name,
                    hint=f"remove it and set {secret_variable(field)} or "
                    f"[sources.dbsync] {field} = \"...\" in .dlt/secrets.toml",
                )
            secrets.append(str(present))
            continue
        if field in OPTIONAL_SECRET_FIELDS:
            continue
        if not resolve:
            continue
        found = lookup_secret(field)
        if found is None:
            raise ConfigError(
                f"no {field.replace('_', ' ')} found for auth type '{auth_type}'",
                key=f"{key}.{field}",
                source=source_name,
                hint=f"set {secret_variable(field)} or [sources.dbsync] {field} = \"...\" "
                "in .dlt/secrets.toml",
            )
        auth[field] = found
        secrets.append(found)
    # usernames and client ids are not secret, but some people put secrets there; redact them too
    return auth, tuple(s for s in secrets if s)


def _secrets_of_object(auth: Any) -> Tuple[str, ...]:
    found = []
    for attr in ("api_key", "token", "password", "client_secret", "access_token"):
        value = getattr(auth, attr, None)
        if isinstance(value, str) and value:
            found.append(value)
    return tuple(found)
