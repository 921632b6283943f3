"""``dbsync serve``: run the reference database API server in the foreground.

The one definition of the server's command-line options: ``python -m dbsync.server`` builds
a one-command Typer app from this same function, so both entry points parse alike.
"""

from __future__ import annotations

from typing import Annotated, List, Optional

import typer

__all__ = ["register", "serve", "build_settings"]

HELP = """Run the reference database API server: generated, deterministic databases behind the database API that dbsync syncs, with optional rate limits and injected faults. Use it for demos and to test a sync config before pointing it at the real API.

It listens on 127.0.0.1 only and prints one line, `dbsync reference server listening on http://127.0.0.1:PORT`, once ready; Ctrl-C or SIGTERM stops it.

Example:

    dbsync serve --port 8765 --rows 5000 --error-rate 0.05 --rate-limit 20

    curl 'http://127.0.0.1:8765/v1/resource?api_key=dbsync-demo-key&limit=2'

See docs/reference-server.md for the API, the admin API and every option.
"""


def build_settings(
    *, settings_json: Optional[str] = None, seed: Optional[int] = None, databases: Optional[int] = None,
    tables: Optional[int] = None, rows: Optional[int] = None, default_rows: Optional[int] = None,
    api_key: Optional[List[str]] = None, admin_key: Optional[str] = None, rate_limit: Optional[float] = None,
    rate_limit_burst: Optional[int] = None, retry_after_format: Optional[str] = None,
    error_rate: Optional[float] = None, drop_rate: Optional[float] = None, truncate_rate: Optional[float] = None,
    slow_rate: Optional[float] = None, slow_seconds: Optional[float] = None, fault_seed: Optional[int] = None,
    unknown_keys_empty: Optional[bool] = None, tombstones: Optional[bool] = None,
    latency_ms: Optional[float] = None,
):
    """Server settings from options: the JSON settings (or the defaults) with every given option on top."""
    import json

    from dbsync.server.settings import FaultSettings, ServerSettings, parse_api_key_option

    data = json.loads(settings_json) if settings_json else {}
    faults = dict(data.pop("faults", None) or {})
    for name, value in (("seed", seed), ("databases", databases), ("tables_per_database", tables),
                        ("rows_per_table", rows), ("default_table_rows", default_rows), ("admin_key", admin_key),
                        ("unknown_keys_empty", unknown_keys_empty), ("tombstones", tombstones),
                        ("latency_ms", latency_ms)):
        if value is not None:
            data[name] = value
    if api_key:
        data["api_keys"] = parse_api_key_option(api_key)
    for name, value in (("rate_limit_per_second", rate_limit), ("rate_limit_burst", rate_limit_burst),
                        ("retry_after_format", retry_after_format), ("error_rate", error_rate),
                        ("drop_rate", drop_rate), ("truncate_rate", truncate_rate), ("slow_rate", slow_rate),
                        ("slow_seconds", slow_seconds), ("seed", fault_seed)):
        if value is not None:
            faults[name] = value
    data["faults"] = FaultSettings.from_dict(faults)
    return ServerSettings.from_dict(data)


def serve(
    host: Annotated[str, typer.Option(help="Loopback address to listen on (anything else is refused).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one (printed on start).")] = 8765,
    seed: Annotated[Optional[int], typer.Option(help="Data seed: same seed, same bytes served.", show_default="42")]
    = None,
    databases: Annotated[Optional[int], typer.Option(help="Number of databases (tenants).", show_default="3")] = None,
    tables: Annotated[Optional[int], typer.Option(help="Tables per database.", show_default="3")] = None,
    rows: Annotated[Optional[int], typer.Option(help="Rows per table.", show_default="1000")] = None,
    default_rows: Annotated[Optional[int], typer.Option(
        help="Rows of the default table (first database's orders) only.", show_default="--rows")] = None,
    api_key: Annotated[Optional[List[str]], typer.Option(
        help="API key to accept, repeatable: KEY (all databases) or KEY=db1,db2 (only those).",
        metavar="KEY[=DB,...]", show_default="dbsync-demo-key, dbsync-limited-key=acme")] = None,
    admin_key: Annotated[Optional[str], typer.Option(
        help="Key for the /admin API (X-Admin-Key header).", show_default="dbsync-admin-key")] = None,
    unknown_keys_empty: Annotated[Optional[bool], typer.Option(
        "--unknown-keys-empty", help="Answer an unknown key as an empty account (200, no databases) instead of 401, "
        "as HTTP basic auth servers do where any user/password is a new user.", show_default="off")] = None,
    tombstones: Annotated[Optional[bool], typer.Option(
        "--tombstones/--no-tombstones", help="Serve deleted records as tombstones in the updated_since listing; "
        "--no-tombstones forgets them entirely, as most real APIs do.", show_default="on")] = None,
    rate_limit: Annotated[Optional[float], typer.Option(
        help="Requests per second allowed per API key (token bucket); over it: 429.", show_default="none")] = None,
    rate_limit_burst: Annotated[Optional[int], typer.Option(help="Token bucket size.", show_default="10")] = None,
    retry_after_format: Annotated[Optional[str], typer.Option(
        help="Retry-After as 'seconds' or 'http-date'.", show_default="seconds")] = None,
    error_rate: Annotated[Optional[float], typer.Option(
        help="Fraction of API requests answering 500/502/503/504.", show_default="0")] = None,
    drop_rate: Annotated[Optional[float], typer.Option(
        help="Fraction of API requests whose connection is closed with no answer.", show_default="0")] = None,
    truncate_rate: Annotated[Optional[float], typer.Option(
        help="Fraction of API requests answering a body cut in half (invalid JSON).", show_default="0")] = None,
    slow_rate: Annotated[Optional[float], typer.Option(
        help="Fraction of API requests delayed by --slow-seconds.", show_default="0")] = None,
    slow_seconds: Annotated[Optional[float], typer.Option(help="Delay of slow requests.", show_default="1")] = None,
    fault_seed: Annotated[Optional[int], typer.Option(
        help="Seed of the fault RNG (faults are drawn in request order).", show_default="0")] = None,
    latency_ms: Annotated[Optional[float], typer.Option(
        help="Answer every API request this many milliseconds after it arrived (a network's round trip; "
             "concurrent requests wait side by side).", show_default="0")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level (debug, info, warning, error).")] = "warning",
    settings_json: Annotated[Optional[str], typer.Option(
        hidden=True, help="Full ServerSettings as JSON (used by the process-mode handle); options override it.")]
    = None,
) -> None:
    from dbsync.server.runner import check_loopback, serve_forever

    try:
        check_loopback(host)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--host") from None
    try:
        settings = build_settings(
            settings_json=settings_json, seed=seed, databases=databases, tables=tables, rows=rows,
            default_rows=default_rows, api_key=api_key, admin_key=admin_key, rate_limit=rate_limit,
            rate_limit_burst=rate_limit_burst, retry_after_format=retry_after_format, error_rate=error_rate,
            drop_rate=drop_rate, truncate_rate=truncate_rate, slow_rate=slow_rate, slow_seconds=slow_seconds,
            fault_seed=fault_seed, unknown_keys_empty=unknown_keys_empty, tombstones=tombstones,
            latency_ms=latency_ms,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        serve_forever(settings, host, port, log_level=log_level.lower())
    except OSError as exc:
        raise typer.BadParameter(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                                 param_hint="--port") from None


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to the dbsync CLI."""
    app.command("serve", help=HELP)(serve)
