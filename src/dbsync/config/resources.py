"""The rest_api ``resources`` and ``resource_defaults`` sections: the records endpoints.

Each resource is merged over ``resource_defaults``, its keys checked against what dbsync honours or
refuses (dbsync.config.resource_keys), its ``response_actions`` and paginator validated; then the
whole rest_api part goes through dlt's own TypedDict validation, whose error tree is reduced to the
one most precise message so the user reads one line naming the key.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Dict, List, Mapping, Tuple

from dbsync.config import resource_keys
from dbsync.config.context import _check_keys, _Ctx, _validate_paginator
from dbsync.config.paging import for_dlt_validation
from dbsync.config.secrets import DEFAULT_AUTH_TYPE, SECRET_FIELDS

ENDPOINT_KEYS = tuple(resource_keys.ENDPOINT_KEYS)  # dlt's Endpoint keys: honoured or refused there


def _parse_resources(
    ctx: _Ctx, value: Any, defaults: Mapping[str, Any]
) -> List[Dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise ctx.error("resources", "must be a non-empty list of resources")
    out: List[Dict[str, Any]] = []
    names = set()
    _check_keys(ctx, "resource_defaults", defaults, _resource_keys())  # a typo there is named there
    for i, item in enumerate(value):
        key = f"resources[{i}]"
        if isinstance(item, str):
            item = {"name": item, "endpoint": {"path": item}}
        if not isinstance(item, Mapping):
            raise ctx.error(key, "must be a resource name or a mapping with 'name' and 'endpoint'")
        resource = _merge_resource(defaults, item)
        _check_keys(ctx, key, resource, _resource_keys())
        resource_keys.check_keys(ctx.error, key, resource, resource_keys.RESOURCE_KEYS, own=item,
                                 defaults_prefix="resource_defaults")
        if "write_disposition" in resource:
            resource_keys.check_write_disposition(
                ctx.error, f"{key if 'write_disposition' in item else 'resource_defaults'}.write_disposition",
                resource["write_disposition"])
        if "columns" in resource:
            resource["columns"] = resource_keys.parse_columns(
                ctx.error, f"{key if 'columns' in item else 'resource_defaults'}.columns", resource["columns"])
        name = resource.get("name")
        if not isinstance(name, str) or not name:
            raise ctx.error(f"{key}.name", "missing: every resource needs a name")
        endpoint = resource.get("endpoint")
        if isinstance(endpoint, str):
            endpoint = {"path": endpoint}
        if not isinstance(endpoint, Mapping):
            raise ctx.error(f"{key}.endpoint", "missing: give the records endpoint (path, data_selector, paginator)")
        endpoint = dict(endpoint)
        endpoint.setdefault("path", name)
        _check_keys(ctx, f"{key}.endpoint", endpoint, ENDPOINT_KEYS)
        own_endpoint = item.get("endpoint")
        resource_keys.check_keys(ctx.error, f"{key}.endpoint", endpoint, resource_keys.ENDPOINT_KEYS,
                                 own=own_endpoint if isinstance(own_endpoint, Mapping) else {"path": None},
                                 defaults_prefix="resource_defaults.endpoint")
        if "headers" in endpoint:
            endpoint["headers"] = resource_keys.parse_endpoint_headers(ctx.error, f"{key}.endpoint.headers",
                                                                       endpoint["headers"])
        if endpoint.get("method", "GET").upper() not in ("GET", "POST"):
            raise ctx.error(f"{key}.endpoint.method", "must be GET or POST")
        for p_name, p_value in (endpoint.get("params") or {}).items():
            if isinstance(p_value, Mapping) and "type" in p_value:
                raise ctx.error(
                    f"{key}.endpoint.params.{p_name}",
                    f"params of type '{p_value['type']}' (rest_api's resolve/incremental params) are not "
                    "supported: dbsync fills {database} and {table} itself and manages incremental "
                    "state with the 'incremental' section",
                )
        _validate_paginator(ctx, f"{key}.endpoint.paginator", endpoint.get("paginator"), allow_total=True)
        _validate_response_actions(ctx, f"{key}.endpoint.response_actions", endpoint.get("response_actions"))
        resource["endpoint"] = endpoint
        if name in names:
            raise ctx.error(f"{key}.name", f"duplicate resource name {name!r}")
        names.add(name)
        out.append(resource)
    return out


def _resource_keys() -> Tuple[str, ...]:
    from typing import get_type_hints

    from dlt.sources.rest_api.typing import EndpointResource

    return tuple(get_type_hints(EndpointResource))


def _validate_response_actions(ctx: _Ctx, key: str, actions: Any) -> None:
    """rest_api's response_actions: dbsync supports ``action: ignore`` (treat the response as an
    empty page) matched on ``status_code`` and/or ``content``."""
    if actions is None:
        return
    if not isinstance(actions, list):
        raise ctx.error(key, "must be a list of {status_code, content, action} mappings")
    for i, action in enumerate(actions):
        if not isinstance(action, Mapping):
            raise ctx.error(f"{key}[{i}]", "must be a mapping (callables are not supported by dbsync)")
        _check_keys(ctx, f"{key}[{i}]", action, ("status_code", "content", "action"))
        if action.get("action") != "ignore":
            raise ctx.error(f"{key}[{i}].action", f"only 'ignore' is supported, got {action.get('action')!r}")
        if action.get("status_code") is None and action.get("content") is None:
            raise ctx.error(f"{key}[{i}]", "give status_code and/or content to match")


def _merge_resource(defaults: Mapping[str, Any], resource: Mapping[str, Any]) -> Dict[str, Any]:
    """resource_defaults under the resource, one level deep for endpoint and its params."""
    merged: Dict[str, Any] = copy.deepcopy(dict(defaults))
    for k, v in resource.items():
        if k == "endpoint" and isinstance(v, Mapping) and isinstance(merged.get("endpoint"), Mapping):
            endpoint = dict(merged["endpoint"])
            for ek, ev in v.items():
                if ek == "params" and isinstance(ev, Mapping) and isinstance(endpoint.get("params"), Mapping):
                    endpoint["params"] = {**endpoint["params"], **ev}
                else:
                    endpoint[ek] = copy.deepcopy(ev)
            merged["endpoint"] = endpoint
        else:
            merged[k] = copy.deepcopy(v)
    return merged


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _validate_with_dlt(ctx: _Ctx, rest_api: Dict[str, Any]) -> None:
    """Run dlt's own TypedDict validation of the rest_api part, reporting the most precise error."""
    from dlt.common.exceptions import DictValidationException
    from dlt.common.validation import validate_dict
    from dlt.sources.rest_api.typing import RESTAPIConfig

    doc = copy.deepcopy({k: v for k, v in rest_api.items() if v is not None})
    doc["client"] = {k: v for k, v in doc["client"].items() if not k.startswith("_dbsync")}
    auth = doc["client"].get("auth")
    if isinstance(auth, dict):
        for secret_key in ("api_key", "token", "password", "client_secret", "access_token"):
            if secret_key in auth:
                auth[secret_key] = "***"
        # a config read without its secrets (`dbsync status`, `discover --offline`) is still valid:
        # dlt requires the secret field, which only the secrets provide
        for secret_key in SECRET_FIELDS.get(str(auth.get("type", DEFAULT_AUTH_TYPE)), ()):
            auth.setdefault(secret_key, "***")
    _paginators_for_dlt(doc)
    try:
        validate_dict(RESTAPIConfig, doc, path=".")
    except DictValidationException as exc:
        leaf = _best_leaf(exc)
        path = leaf.path.strip("./").replace("/", ".")
        key = ".".join(p for p in (path, leaf.field or "") if p)
        raise ctx.error(key or None, _one_line(_humanize_dlt_message(leaf.msg))) from None


def _paginators_for_dlt(doc: Dict[str, Any]) -> None:
    """Paginators as dlt's types accept them (already validated by dbsync.config.paging)."""
    holders = [doc.get("client"), (doc.get("resource_defaults") or {}).get("endpoint")]
    holders += [r.get("endpoint") for r in doc.get("resources") or [] if isinstance(r, dict)]
    for holder in holders:
        if isinstance(holder, dict) and holder.get("paginator") is not None:
            holder["paginator"] = for_dlt_validation(holder["paginator"])


def _best_leaf(exc: Any) -> Any:
    """dlt reports a failed union as a tree of attempts; pick the deepest, most specific one."""
    leaves: List[Any] = []

    def walk(e: Any) -> None:
        nested = getattr(e, "nested_exceptions", None) or []
        if not nested:
            leaves.append(e)
        for n in nested:
            walk(n)

    walk(exc)

    def score(e: Any) -> Tuple[int, int, int]:
        depth = (e.path or "").count("/") + (1 if e.field else 0)
        if "is not one of" in e.msg and not isinstance(getattr(e, "value", None), (dict, list)):
            specific = 3
        elif "unexpected fields" in e.msg or "missing required" in e.msg:
            specific = 2
        elif "while `str` is expected" in e.msg or "expects `callable`" in e.msg or "expects class" in e.msg:
            specific = -1  # the shorthand alternatives of a union: rarely what the user meant
        else:
            specific = 1 if e.field else 0
        return specific, depth, -len(e.msg)

    return max(leaves, key=score)


def _humanize_dlt_message(msg: str) -> str:
    msg = re.sub(r"field `([^`=]+)=([^`]*)`", r"\2", msg)
    return msg.replace("`", "'")
