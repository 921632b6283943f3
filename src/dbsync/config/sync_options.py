"""The sections that tune a sync: ``incremental``, ``deletes``, ``retries``, ``performance``, ``verify``,
``pipeline``.

Each reads into its own settings dataclass (dbsync.config.model) with the defaults there; a cursor
field (a name, or a list compared as the first non-empty value) is read here for ``incremental``
and for ``tables.list[].cursor_field`` alike.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Optional

from dbsync.config.context import _bool, _check_keys, _Ctx, _mapping, _number, _str, _str_list
from dbsync.config.model import (
    CURSOR_PLACEHOLDERS,
    DeleteSettings,
    IncrementalSettings,
    KeyScanSettings,
    PerformanceSettings,
    CountRequest,
    PipelineSettings,
    RetrySettings,
    VerifySettings,
)
from dbsync.config.durations import parse_duration
from dbsync.config.placeholders import _placeholders_in


def _parse_incremental(ctx: _Ctx, value: Any) -> IncrementalSettings:
    if value is False:
        return IncrementalSettings(enabled=False)
    section = _mapping(ctx, "incremental", value)
    allowed = ("enabled", "cursor_field", "param", "params", "initial_value", "lag", "value_format")
    _check_keys(ctx, "incremental", section, allowed)
    fmt = section.get("value_format", "iso")
    if fmt not in ("iso", "epoch_seconds", "epoch_millis"):
        raise ctx.error("incremental.value_format", f"must be iso, epoch_seconds or epoch_millis, got {fmt!r}")
    if "param" in section and "params" in section:
        raise ctx.error("incremental", "give either 'param' (one query parameter) or 'params' (templates), not both")
    param: Optional[str] = _str(ctx, "incremental.param", section.get("param", "updated_since"))
    if "params" in section:
        params = _parse_cursor_params(ctx, section["params"])
        param = next((k for k, v in params.items() if v == "{cursor}" and "{" not in k), None)
    else:
        params = {param: "{cursor}"}
    return IncrementalSettings(
        enabled=bool(section.get("enabled", True)),
        cursor_field=_cursor_field(ctx, "incremental.cursor_field", section.get("cursor_field")),
        param=param,
        params=params,
        initial_value=None if section.get("initial_value") is None else str(section["initial_value"]),
        lag_seconds=_number(ctx, "incremental.lag", section.get("lag", 0)),
        value_format=fmt,
    )


_INDEXED_CURSOR_FIELD = re.compile(r"cursor_field\[(\d+)\]")


def _cursor_field(ctx: _Ctx, key: str, value: Any) -> Any:
    """A cursor field: a name, or a list of names compared as the first non-empty value."""
    if value is None or isinstance(value, str):
        return _str(ctx, key, value, allow_none=True)
    names = _str_list(ctx, key, value)
    if not names:
        raise ctx.error(key, "must name at least one field")
    if len(set(names)) != len(names):
        raise ctx.error(key, f"names a field twice: {list(names)}")
    return names[0] if len(names) == 1 else names


def _parse_cursor_params(ctx: _Ctx, value: Any) -> Dict[str, str]:
    """``incremental.params``: query parameter templates; one of them must carry ``{cursor}``,
    else the filter would never move on."""
    params = _mapping(ctx, "incremental.params", value)
    if not params:
        raise ctx.error("incremental.params", "must hold at least one query parameter, e.g. {updated_since: '{cursor}'}")
    out: Dict[str, str] = {}
    for name, template in params.items():
        key = f"incremental.params.{name}"
        if isinstance(template, bool) or not isinstance(template, (str, int, float)):
            raise ctx.error(key, f"must be a string template like \"{{cursor}}\", got {template!r}")
        for ph in _placeholders_in([str(name), str(template)]):
            if ph not in CURSOR_PLACEHOLDERS and not _INDEXED_CURSOR_FIELD.fullmatch(ph):
                raise ctx.error(key, f"unknown placeholder '{{{ph}}}': only {{cursor}}, {{cursor_field}} and "
                                     "{cursor_field[N]} (the N-th cursor field, from 0) are filled in")
        out[str(name)] = str(template)
    if not any("cursor" in _placeholders_in(t) for t in out.values()):
        raise ctx.error("incremental.params", "no parameter uses {cursor}: the filter would never move on",
                        hint="e.g. params: {filter: \"updated >= '{cursor}'\"}")
    return out


def _parse_deletes(ctx: _Ctx, value: Any) -> DeleteSettings:
    if value is False:
        return DeleteSettings(mode="ignore")
    section = _mapping(ctx, "deletes", value)
    _check_keys(ctx, "deletes", section, ("field", "value", "mode", "detect", "every", "keys"))
    mode = section.get("mode", "delete")
    if mode not in ("delete", "mark", "ignore"):
        raise ctx.error("deletes.mode", f"must be delete, mark or ignore, got {mode!r}")
    scan = _parse_key_scan(ctx, "deletes", section)
    if scan.scans and mode == "ignore":
        raise ctx.error("deletes.detect", f"detect: {scan.detect} finds deletes, and mode: ignore drops them",
                        hint="use mode: delete or mark, or leave detect out")
    return DeleteSettings(
        field=_str(ctx, "deletes.field", section.get("field", "deleted")),
        value=section.get("value", True),
        mode=mode,
        scan=scan,
    )


DELETE_DETECT = ("tombstones", "keys", "full_read")


def _parse_key_scan(ctx: _Ctx, key: str, section: Dict[str, Any]) -> KeyScanSettings:
    """``detect``/``every``/``keys`` of ``deletes`` (or of ``tables.list[].deletes``)."""
    detect = section.get("detect", "tombstones")
    if detect not in DELETE_DETECT:
        raise ctx.error(f"{key}.detect", f"must be one of {', '.join(DELETE_DETECT)}, got {detect!r}")
    every = None
    if section.get("every") is not None:
        try:
            every = parse_duration(section["every"])
        except ValueError as exc:
            raise ctx.error(f"{key}.every", str(exc)) from None
    keys = _mapping(ctx, f"{key}.keys", section.get("keys") or {})
    _check_keys(ctx, f"{key}.keys", keys, ("params", "limit"))
    params = _mapping(ctx, f"{key}.keys.params", keys.get("params") or {})
    for name, param in params.items():
        if isinstance(param, (dict, list)):
            raise ctx.error(f"{key}.keys.params.{name}", f"must be a plain value, got {param!r}")
    limit = keys.get("limit")
    if limit is not None:
        limit = _number(ctx, f"{key}.keys.limit", limit, minimum=1, integer=True)
    if detect != "keys" and keys:
        raise ctx.error(f"{key}.keys", f"is the key listing of detect: keys, and detect is {detect}",
                        hint="set detect: keys, or leave keys out")
    if detect == "tombstones" and every is not None:
        raise ctx.error(f"{key}.every", "says how often to scan for deletes: it needs detect: keys or full_read")
    return KeyScanSettings(detect=detect, every=every, params=params, limit=limit)


def _parse_retries(ctx: _Ctx, value: Any) -> RetrySettings:
    section = _mapping(ctx, "retries", value)
    allowed = ("attempts", "max_total_wait", "backoff_base", "backoff_max", "retry_statuses", "timeout")
    _check_keys(ctx, "retries", section, allowed)
    d = RetrySettings()
    statuses = section.get("retry_statuses", d.retry_statuses)
    if not isinstance(statuses, (list, tuple)) or not all(isinstance(s, int) and 400 <= s <= 599 for s in statuses):
        raise ctx.error("retries.retry_statuses", f"must be a list of HTTP status codes, got {statuses!r}")
    return RetrySettings(
        attempts=_number(ctx, "retries.attempts", section.get("attempts", d.attempts), minimum=1, integer=True),
        max_total_wait=_number(ctx, "retries.max_total_wait", section.get("max_total_wait", d.max_total_wait)),
        backoff_base=_number(ctx, "retries.backoff_base", section.get("backoff_base", d.backoff_base)),
        backoff_max=_number(ctx, "retries.backoff_max", section.get("backoff_max", d.backoff_max)),
        retry_statuses=tuple(statuses),
        timeout=_number(ctx, "retries.timeout", section.get("timeout", d.timeout), minimum=0.001),
    )


def _parse_performance(ctx: _Ctx, value: Any) -> PerformanceSettings:
    section = _mapping(ctx, "performance", value)
    _check_keys(ctx, "performance", section, ("concurrency", "prefetch_pages", "batch_rows", "duckdb_memory_limit",
                                              "processes"))
    d = PerformanceSettings()
    concurrency = _number(ctx, "performance.concurrency", section.get("concurrency", d.concurrency), minimum=1, integer=True)
    return PerformanceSettings(
        concurrency=concurrency,
        prefetch_pages=max(concurrency, _number(ctx, "performance.prefetch_pages", section.get("prefetch_pages", d.prefetch_pages), minimum=1, integer=True)),
        batch_rows=_number(ctx, "performance.batch_rows", section.get("batch_rows", d.batch_rows), minimum=1, integer=True),
        duckdb_memory_limit=_memory_size(ctx, "performance.duckdb_memory_limit",
                                         section.get("duckdb_memory_limit", d.duckdb_memory_limit)),
        processes=None if section.get("processes") is None else _number(
            ctx, "performance.processes", section["processes"], minimum=0, integer=True),
    )


def _memory_size(ctx: _Ctx, key: str, value: Any) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str) or not re.match(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", value, re.I):
        raise ctx.error(key, f"must be a size like '256MB' or '2GB' (or null), got {value!r}")
    return value.strip()


def _parse_verify(ctx: _Ctx, value: Any) -> VerifySettings:
    """``verify``: the proof of sync; ``false`` turns the count comparison off."""
    if value is False:
        return VerifySettings(counts=False, heal=False)
    section = _mapping(ctx, "verify", value)
    _check_keys(ctx, "verify", section, ("counts", "heal", "sample", "count"))
    d = VerifySettings()
    counts = _bool(ctx, "verify.counts", section.get("counts"))
    heal = _bool(ctx, "verify.heal", section.get("heal"))
    return VerifySettings(
        count=_parse_count_request(ctx, section.get("count")),
        counts=d.counts if counts is None else counts,
        heal=d.heal if heal is None else heal,
        sample=_number(ctx, "verify.sample", section.get("sample", d.sample), minimum=0, integer=True),
    )


def _parse_count_request(ctx: _Ctx, value: Any) -> Optional[CountRequest]:
    """``verify.count``: where the source tells a table's count (see CountRequest)."""
    if value is None:
        return None
    section = _mapping(ctx, "verify.count", value)
    _check_keys(ctx, "verify.count", section, ("path", "params", "method", "header", "total_path"))
    method = str(section.get("method", "GET")).upper()
    if method not in ("GET", "HEAD"):
        raise ctx.error("verify.count.method", f"must be GET or HEAD, got {section.get('method')!r}")
    header = _str(ctx, "verify.count.header", section.get("header"), allow_none=True)
    total_path = _str(ctx, "verify.count.total_path", section.get("total_path"), allow_none=True)
    if header is None and total_path is None:
        raise ctx.error("verify.count", "says where the total is: give header (a response header) or total_path "
                                        "(a path in the body)")
    if method == "HEAD" and total_path is not None:
        raise ctx.error("verify.count.total_path", "a HEAD answer has no body: read the total from a header")
    params = _mapping(ctx, "verify.count.params", section.get("params") or {})
    for name, param in params.items():
        if isinstance(param, (dict, list)):
            raise ctx.error(f"verify.count.params.{name}", f"must be a plain value, got {param!r}")
    return CountRequest(path=_str(ctx, "verify.count.path", section.get("path"), allow_none=True), params=params,
                        method=method, header=header, total_path=total_path)


def _parse_pipeline(ctx: _Ctx, value: Any) -> PipelineSettings:
    section = _mapping(ctx, "pipeline", value)
    _check_keys(ctx, "pipeline", section, ("name", "dataset", "destination"))
    name = _str(ctx, "pipeline.name", section.get("name", "dbsync"))
    if not re.match(r"^[A-Za-z0-9_.-]+$", name):
        raise ctx.error("pipeline.name", f"may only hold letters, digits, '_', '-', '.', got {name!r}")
    return PipelineSettings(
        name=name,
        dataset=_str(ctx, "pipeline.dataset", section.get("dataset"), allow_none=True),
        destination=_str(ctx, "pipeline.destination", section.get("destination", "duckdb")),
    )
