"""Issue 6.5: bad input gets a clear error. Each row is one case, run through the CLI as users
run it: a one-line message naming what and where, and a non-zero exit — or, where users would
expect it, a warning with the data kept. Then the cause is fixed and a plain rerun repairs
everything (the destination equals the server's data): no half-written state survives."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import pytest
import yaml

from reliability_helpers import assert_destination_equals_server, cli_env, run_cli
from support import reference_config

DATABASES = ["acme", "globex"]


@dataclass
class Case:
    name: str
    exit_code: int  # 0: the data is kept, with a warning
    words: List[str]  # in the error line (or in the warning)
    config: Optional[Callable[[Dict[str, Any], Any], Any]] = None  # changes the config (may return raw text)
    server: Optional[Callable[[Any], None]] = None  # changes the server before the run
    env: Dict[str, Optional[str]] = field(default_factory=dict)
    fix_server: Optional[Callable[[Any], None]] = None  # undoes the server change before the rerun
    check: Optional[Callable[[Any, Any], None]] = None  # extra checks after the run (data kept...)
    # after the fix, the destination equals the server, but for these fields of these rows,
    # (db, table, id) -> fields, whose values the case leaves in another column on purpose
    unchecked: Dict[Any, List[str]] = field(default_factory=dict)
    rerun_args: List[str] = field(default_factory=list)  # what a user adds to the rerun (a changed key: --full-refresh)
    settings: Dict[str, Any] = field(default_factory=dict)  # server settings (unknown_keys_empty...)
    run_args: List[str] = field(default_factory=list)  # added to the failing run only (a typo'd option)


def set_path(config, path, value):
    node = config
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[int(parts[-1]) if isinstance(node, list) else parts[-1]] = value
    return config


def endpoint(config):
    return config["resources"][0]["endpoint"]


def free_port_url(config, server):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return set_path(config, "client.base_url", f"http://127.0.0.1:{port}")


def with_tables(config, spec):
    config["tables"]["list"] = spec
    return config


CASES = [
    # -- configuration: nothing is requested, nothing is written
    Case("yaml syntax", 2, ["invalid yaml", "line"], config=lambda c, s: "client: [unclosed\n"),
    Case("empty file", 2, ["empty"], config=lambda c, s: ""),
    Case("missing client", 2, ["'client'", "missing"], config=lambda c, s: {k: v for k, v in c.items() if k != "client"}),
    Case("unknown key", 2, ["resourcs", "did you mean 'resources'"],
         config=lambda c, s: {("resourcs" if k == "resources" else k): v for k, v in c.items()}),
    Case("bad paginator", 2, ["paginator", "offst"], config=lambda c, s: set_path(c, "resources.0.endpoint.paginator.type", "offst")),
    Case("secret in file", 2, ["client.auth.api_key", "must not be written"], config=lambda c, s: set_path(c, "client.auth.api_key", "x")),
    Case("no secret", 2, ["no api key", "SOURCES__DBSYNC__API_KEY"], env={"SOURCES__DBSYNC__API_KEY": None, "API_KEY": None}),
    Case("base_url not a url", 2, ["client.base_url", "http(s) url"], config=lambda c, s: set_path(c, "client.base_url", "localhost:80")),
    Case("unknown placeholder", 2, ["{db}"], config=lambda c, s: set_path(c, "resources.0.endpoint.params.database", "{db}")),
    Case("negative lag", 2, ["incremental.lag"], config=lambda c, s: set_path(c, "incremental.lag", -5)),
    Case("unknown CLI option", 2, ["no such option: --bogus", "usage: see `dbsync run --help`"], run_args=["--bogus"]),
    # -- the API says no
    Case("wrong key (401)", 4, ["401", "api key"], env={"SOURCES__DBSYNC__API_KEY": "not-the-key"}),
    Case("missing grant (403)", 5, ["403", "globex"], env={"SOURCES__DBSYNC__API_KEY": "dbsync-limited-key"},
         config=lambda c, s: set_path(c, "databases", {"list": DATABASES})),
    Case("unknown path (404)", 6, ["404", "/v1/nope", "table 'orders'"], config=lambda c, s: set_path(c, "resources.0.endpoint.path", "/v1/nope")),
    Case("unknown database (404)", 6, ["nope"], config=lambda c, s: set_path(c, "databases", {"list": ["acme", "nope"]})),
    Case("wrong key answered as an empty account (200)", 4, ["listed 0 databases", "credentials", "SOURCES__DBSYNC__API_KEY"],
         env={"SOURCES__DBSYNC__API_KEY": "not-the-key"}, settings={"unknown_keys_empty": True}),
    Case("include matches no database", 6, ["the api listed 2", "none matched include"],
         config=lambda c, s: set_path(c, "databases.include", ["nope*"])),
    Case("server down", 9, ["cannot connect"], config=free_port_url),
    # -- the API answers, but not with what the config says
    Case("not json (html page)", 8, ["not json", "text/html"],
         server=lambda s: s.fail_next(1, kind="html", path_prefix="/v1/resource")),
    Case("missing data selector", 8, ["data_selector 'records'", "total"], config=lambda c, s: set_path(c, "resources.0.endpoint.data_selector", "records")),
    Case("page not a list", 8, ["not a list"], config=lambda c, s: set_path(c, "resources.0.endpoint.data_selector", "total")),
    Case("truncated bodies, always", 7, ["truncated", "attempts"],
         server=lambda s: s.fail_next(60, kind="truncate", path_prefix="/v1/resource"),
         fix_server=lambda s: s.clear_fail_next()),
    Case("retry-after too long", 7, ["max_total_wait", "try again later or raise it"],
         server=lambda s: s.fail_next(1, kind="status", status=429, retry_after=3600, path_prefix="/v1/resource")),
    # -- the records break the contract
    Case("records without the primary key", 10, ["primary key 'sku'"],
         config=lambda c, s: with_tables(c, [{"name": "orders", "primary_key": "sku"}])),
    # the source's rows cannot all be kept: one row per key is, and the run is not ok (the proof of sync)
    Case("duplicate keys in a page", 13, ["under a primary key another row has", "is the primary key 'quantity' right?"],
         config=lambda c, s: with_tables(c, [{"name": "orders", "primary_key": "quantity"}]),
         check=lambda ws, s: _assert_one_row_per_key(ws, "acme__orders", "quantity", s.records("acme", "orders")),
         rerun_args=["--full-refresh"]),
    # -- what users expect to be kept, with a warning
    Case("a field whose type changes", 0, ["do not fit its type", "discount__v_text"],
         server=lambda s: s.update("acme", "orders", 5, {"discount": "ten percent"}, raw=True),
         check=lambda ws, s: _assert_value(ws, "acme__orders", 5, "discount__v_text", "ten percent"),
         unchecked={("acme", "orders", 5): ["discount"]}),
    Case("schema lies about nullability", 0, ["declared not nullable", "made nullable"],
         server=lambda s: (s.set_field("acme", "orders", "email", nullable=False)),
         check=lambda ws, s: _assert_nullable(ws, "acme__orders", "email"),
         fix_server=lambda s: s.set_field("acme", "orders", "email", nullable=True)),
    Case("huge and unicode values", 0, [],
         server=lambda s: s.update("acme", "orders", 7, {"customer_name": "\u202eñ🙂\u200b" + "x" * 2_000_000,
                                                         "big_counter": 2 ** 70}, raw=True),
         check=lambda ws, s: (_assert_value(ws, "acme__orders", 7, "big_counter__v_text", str(2 ** 70)),
                              _assert_value(ws, "acme__orders", 7, "customer_name",
                                            "\u202eñ🙂\u200b" + "x" * 2_000_000)),
         unchecked={("acme", "orders", 7): ["big_counter"]}),
]


def _assert_value(workspace, table, key, column, expected):
    rows = {r["id"]: r for r in workspace.rows(table)}
    assert rows[key][column] == expected, (table, key, column, str(rows[key][column])[:80])


def _assert_one_row_per_key(workspace, table, key, records):
    """One row per value of the (non-unique) key, and each is one of the server's records."""
    rows = workspace.rows(table)
    assert sorted(r[key] for r in rows) == sorted({r[key] for r in records})
    ids_by_key = {}
    for record in records:
        ids_by_key.setdefault(record[key], set()).add(record["id"])
    assert all(r["id"] in ids_by_key[r[key]] for r in rows)


def _assert_nullable(workspace, table, column):
    assert workspace.columns(table)[column][1] is True, workspace.columns(table)[column]
    assert any(r[column] is None for r in workspace.rows(table))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, make_server, workspace, secret, secret_watch):
    server = make_server(seed=41, databases=2, tables_per_database=1, rows_per_table=300,
                         extra_keys={"dbsync-limited-key": ["acme"]}, **case.settings)
    config = reference_config(server.base_url, retries={"attempts": 3, "backoff_base": 0.01, "backoff_max": 0.02,
                                                         "max_total_wait": 30})
    config["pipeline"] = {"name": "bad_input", "dataset": "synced"}
    original = yaml.safe_dump(config)
    changed = case.config(yaml.safe_load(original), server) if case.config else config
    path = workspace.root / "dbsync.yaml"
    path.write_text(changed if isinstance(changed, str) else yaml.safe_dump(changed))
    if case.server:
        case.server(server)
    env = cli_env(secret, **{k: v for k, v in case.env.items() if v is not None})
    for k, v in case.env.items():
        if v is None:
            env.pop(k, None)
    args = ["run", "--no-progress", "--pipelines-dir", str(workspace.root / "pipelines"),
            "--destination", str(workspace.duckdb), "--dataset", "synced"]
    proc = run_cli(args + case.run_args, env, workspace.root)
    secret_watch.add(proc.stdout, proc.stderr)
    assert proc.returncode == case.exit_code, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    if case.exit_code:
        lines = [line for line in proc.stdout.splitlines() + proc.stderr.splitlines()
                 if line.startswith(("dbsync: error", "failed ", "drift "))]
        assert lines, proc.stdout + proc.stderr
        message = lines[0]
        assert len(message) < 700
        for word in case.words:
            assert word.lower() in message.lower(), message
        if case.exit_code == 2:
            assert not workspace.duckdb.exists(), "a config error must not write anything"
        elif case.exit_code == 13:  # loaded, and said to differ from the source: the case says how
            case.check(workspace, server)
        elif workspace.duckdb.exists():
            # a run that failed a table: the tables it loaded equal the source, the failed ones are absent
            assert_destination_equals_server(workspace, server, DATABASES, missing_ok=True)
    else:
        warnings = proc.stderr.lower()
        for word in case.words:
            assert word.lower() in warnings, proc.stderr[-2000:]
        if case.check:
            case.check(workspace, server)
    # fix the cause, run again: everything is repaired
    path.write_text(original)
    if case.fix_server:
        case.fix_server(server)
    rerun = run_cli(args + case.rerun_args, cli_env(secret), workspace.root)
    secret_watch.add(rerun.stdout, rerun.stderr)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert_destination_equals_server(workspace, server, DATABASES, unchecked=case.unchecked)
