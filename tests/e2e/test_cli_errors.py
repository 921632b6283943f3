"""Issue 12, items 9 and 10: the words of errors, run through the CLI as users run it (a
subprocess) against the reference server. Wrong credentials name the configured auth type's
variable, an account that lists nothing says so, `status` needs no secret, a usage error is one
line with exit 2, and a destination error is complete under --debug and says "rerun" only when a
rerun can help."""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb
import pytest
import yaml

from dbsync import errors
from dbsync.server import ServerSettings
from support import assert_same_rows, field_types, reference_config

COMMANDS = ["run", "check", "discover", "status", "verify", "serve", "demo"]
SECRET_VARS = {
    "api_key": "SOURCES__DBSYNC__API_KEY",
    "bearer": "SOURCES__DBSYNC__TOKEN",
    "http_basic": "SOURCES__DBSYNC__PASSWORD",
    "oauth2_client_credentials": "SOURCES__DBSYNC__CLIENT_SECRET",
}


def dbsync(*args, env=None, cwd=None, timeout=240):
    """The CLI with only the given secrets: none of the test process's dbsync variables leak in."""
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith("SOURCES__DBSYNC__") and k not in ("API_KEY", "TOKEN", "PASSWORD")}
    full_env["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "dbsync", *args], env=full_env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def error_line(proc) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.startswith("dbsync: ")]
    assert lines, proc.stderr[-3000:]
    return lines[-1]


def auth_config(auth_type: str, base_url: str, **overrides):
    config = reference_config(base_url, **overrides)
    config["client"]["auth"] = {
        "api_key": {"type": "api_key", "name": "api_key", "location": "query"},
        "bearer": {"type": "bearer"},
        "http_basic": {"type": "http_basic", "username": "me"},
        "oauth2_client_credentials": {"type": "oauth2_client_credentials", "client_id": "me",
                                      "access_token_url": f"{base_url}/oauth/token"},
    }[auth_type]
    config["pipeline"] = {"name": "errs", "dataset": "synced"}
    return config


def write_project(tmp_path, config):
    (tmp_path / "dbsync.yaml").write_text(yaml.safe_dump(config))
    return ["--pipelines-dir", str(tmp_path / "pipelines")]


def assert_synced(tmp_path, server, databases=("acme", "globex")):
    """The destination holds every row of every table, every value equal (by key)."""
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        for db in databases:
            schema = server.schema(db)
            for table in schema["tables"]:
                rel = con.sql(f'SELECT * FROM synced."{db}__{table["name"]}"')
                rows = [dict(zip(rel.columns, r)) for r in rel.fetchall()]
                assert_same_rows(rows, server.records(db, table["name"]), field_types(schema, table["name"]))


@pytest.fixture
def small_server(server_factory):
    def make(**settings):
        return server_factory(ServerSettings(databases=2, tables_per_database=1, rows_per_table=60, **settings))
    return make


# --- item 9: wrong credentials, the right words -------------------------------------------------


@pytest.mark.parametrize("auth_type", list(SECRET_VARS))
def test_a_rejected_credential_names_the_auth_types_variable(auth_type, tmp_path, small_server):
    server = small_server()
    common = write_project(tmp_path, auth_config(auth_type, server.base_url))
    var = SECRET_VARS[auth_type]
    wrong = dbsync("run", "--no-progress", *common, "--destination", "w.duckdb", env={var: "not-the-key"},
                   cwd=tmp_path)
    assert wrong.returncode == errors.AuthError.exit_code, wrong.stderr[-3000:]
    line = error_line(wrong)
    assert var in line, line
    assert all(other not in line for other in SECRET_VARS.values() if other != var), line
    assert "Traceback" not in wrong.stderr
    # the right secret through the same auth type syncs everything
    right = dbsync("run", "--no-progress", *common, "--destination", "w.duckdb", env={var: server.api_key},
                   cwd=tmp_path)
    assert right.returncode == 0, right.stderr[-3000:]
    assert_synced(tmp_path, server)


def test_wrong_basic_auth_password_answered_with_an_empty_account(tmp_path, small_server):
    """Like servers where any user/password pair is a new, empty user: 200 and no databases."""
    server = small_server(unknown_keys_empty=True)
    common = write_project(tmp_path, auth_config("http_basic", server.base_url))
    wrong = {"SOURCES__DBSYNC__PASSWORD": "not-the-password"}
    for args in (["run", "--no-progress", *common, "--destination", "w.duckdb"], ["check"], ["discover"]):
        proc = dbsync(*args, env=wrong, cwd=tmp_path)
        assert proc.returncode == errors.AuthError.exit_code, (args, proc.stderr[-3000:])
        line = error_line(proc)
        for words in ("listed 0 databases", "credentials", "SOURCES__DBSYNC__PASSWORD", "client.auth.username"):
            assert words in line, (args, line)
        assert "include" not in line, line
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "w.duckdb").exists()
    right = dbsync("run", "--no-progress", *common, "--destination", "w.duckdb",
                   env={"SOURCES__DBSYNC__PASSWORD": server.api_key}, cwd=tmp_path)
    assert right.returncode == 0, right.stderr[-3000:]
    assert_synced(tmp_path, server)


def test_databases_filtered_away_say_how_many_the_api_listed(tmp_path, small_server):
    server = small_server()
    config = auth_config("api_key", server.base_url)
    config["databases"]["include"] = ["nope*"]
    write_project(tmp_path, config)
    proc = dbsync("check", env={"SOURCES__DBSYNC__API_KEY": server.api_key}, cwd=tmp_path)
    assert proc.returncode == errors.NotFoundError.exit_code, proc.stderr
    line = error_line(proc)
    assert "the API listed 2, none matched include ['nope*']" in line and "credentials" not in line, line


def test_status_reads_an_http_basic_config_without_its_password(tmp_path, small_server):
    server = small_server()
    common = write_project(tmp_path, auth_config("http_basic", server.base_url))
    run = dbsync("run", "--no-progress", *common, "--destination", "w.duckdb",
                 env={"SOURCES__DBSYNC__PASSWORD": server.api_key}, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    for args in (["status", "-c", "dbsync.yaml", *common], ["status", *common]):
        proc = dbsync(*args, cwd=tmp_path)  # no password anywhere
        assert proc.returncode == 0, (args, proc.stderr)
        assert "pipeline errs" in proc.stdout and "acme__orders" in proc.stdout, proc.stdout
        assert " 60 " in proc.stdout, proc.stdout


def test_status_with_a_broken_config_here_says_so(tmp_path):
    """A dbsync.yaml in the folder that does not parse is its error, not "no pipeline named dbsync"."""
    (tmp_path / "dbsync.yaml").write_text("client: [unclosed\n")
    proc = dbsync("status", "--pipelines-dir", str(tmp_path / "p"), cwd=tmp_path)
    assert proc.returncode == errors.ConfigError.exit_code
    assert "invalid YAML" in error_line(proc) and "no pipeline" not in proc.stderr


# --- item 10: usage errors ----------------------------------------------------------------------


@pytest.mark.parametrize("command", [""] + COMMANDS)
def test_an_unknown_option_is_a_usage_error_on_one_line(command, tmp_path):
    proc = dbsync(*([command] if command else []), "--bogus", cwd=tmp_path, timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "No such option: --bogus" in lines[0] and "internal error" not in lines[0], lines[0]
    assert f"dbsync {command} --help".replace("  ", " ") in lines[0], lines[0]
    assert proc.stdout == ""


@pytest.mark.parametrize("args,words", [
    (["nonsense"], "No such command 'nonsense'"),
    (["run", "-c"], "requires an argument"),
    (["serve", "--port", "abc"], "Invalid value for '--port'"),
    (["serve", "--host", "10.1.2.3", "--port", "0"], "only binds loopback"),
])
def test_other_usage_errors_are_one_line_exit_2(args, words, tmp_path):
    proc = dbsync(*args, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "internal error" not in lines[0], proc.stderr


def test_pipelines_dir_help_states_dlts_rule():
    proc = dbsync("run", "--help", env={"COLUMNS": "300"})
    text = " ".join(proc.stdout.replace("│", " ").split())
    for words in ("DLT_DATA_DIR", "/var/dlt/pipelines when run as root", "~/.dlt/pipelines", "XDG_DATA_HOME"):
        assert words in text, text


# --- item 10: destination errors ----------------------------------------------------------------


def test_a_destination_type_error_is_complete_under_debug_and_never_says_rerun(tmp_path, small_server):
    server = small_server()
    common = write_project(tmp_path, auth_config("api_key", server.base_url))
    env = {"SOURCES__DBSYNC__API_KEY": server.api_key}
    args = ["run", "--no-progress", *common, "--destination", "w.duckdb", "-d", "acme"]
    assert dbsync(*args, env=env, cwd=tmp_path).returncode == 0
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:  # the warehouse changed a column's type
        con.execute("DELETE FROM synced.acme__orders")
        con.execute("ALTER TABLE synced.acme__orders ALTER customer_name TYPE INTEGER USING NULL")
    long_name = "Zeta " + "y" * 600
    server.update("acme", "orders", 3, {"customer_name": long_name})

    plain = dbsync(*args, env=env, cwd=tmp_path)
    assert plain.returncode == errors.DestinationError.exit_code, plain.stderr[-3000:]
    assert len(plain.stderr.strip().splitlines()) == 1 and "Traceback" not in plain.stderr, plain.stderr[-3000:]
    line = error_line(plain)
    assert "acme__orders" in line and "Conversion Error" in line and "customer_name" in line, line
    assert "rerun to retry" not in line and "a rerun repeats this error" in line, line
    assert len(line) < 700, line

    debug = dbsync(*args, "--debug", env=env, cwd=tmp_path)
    assert debug.returncode == errors.DestinationError.exit_code
    final = debug.stderr[debug.stderr.rindex("dbsync: error: "):]
    assert long_name in final, final[:2000]  # the destination's message, not cut
    assert "…" not in final and "rerun to retry" not in final, final[:2000]


def test_a_locked_destination_says_rerun_and_a_rerun_repairs(tmp_path, small_server):
    server = small_server()
    common = write_project(tmp_path, auth_config("api_key", server.base_url))
    env = {"SOURCES__DBSYNC__API_KEY": server.api_key}
    args = ["run", "--no-progress", *common, "--destination", "w.duckdb"]
    assert dbsync(*args, env=env, cwd=tmp_path).returncode == 0
    server.update("acme", "orders", 3, {"customer_name": "changed while locked"})
    with duckdb.connect(str(tmp_path / "w.duckdb")):  # another process holds the file
        locked = dbsync(*args, env=env, cwd=tmp_path)
    assert locked.returncode == errors.DestinationError.exit_code, locked.stderr[-3000:]
    line = error_line(locked)
    assert "lock" in line and "rerun to retry" in line, line
    rerun = dbsync(*args, env=env, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert_synced(tmp_path, server)


def test_without_databases_the_table_list_is_the_account(tmp_path, small_server):
    """No databases section: the table list is the account-wide listing. A wrong basic-auth
    password there is the credentials error with the password's variable; tables that
    include/exclude all filter away say how many the API listed instead of syncing nothing."""
    server = small_server(unknown_keys_empty=True)
    config = auth_config("http_basic", server.base_url, databases=None)
    config["tables"]["discover"]["path"] = "/v1/databases/acme/schema"
    config["resources"][0]["endpoint"]["params"]["database"] = "acme"
    config["resources"][0]["name"] = "acme__{table}"
    write_project(tmp_path, config)
    wrong = dbsync("check", env={"SOURCES__DBSYNC__PASSWORD": "not-the-password"}, cwd=tmp_path)
    assert wrong.returncode == errors.AuthError.exit_code, wrong.stderr
    line = error_line(wrong)
    assert "the table list" in line and "SOURCES__DBSYNC__PASSWORD" in line, line
    config["tables"]["include"] = ["nope*"]
    common = write_project(tmp_path, config)
    filtered = dbsync("run", "--no-progress", *common, "--destination", "w.duckdb",
                      env={"SOURCES__DBSYNC__PASSWORD": server.api_key}, cwd=tmp_path)
    assert filtered.returncode == errors.NotFoundError.exit_code, filtered.stderr[-3000:]
    assert "no tables to sync: the API listed 1, none matched include ['nope*']" in error_line(filtered)
    del config["tables"]["include"]
    write_project(tmp_path, config)
    right = dbsync("run", "--no-progress", *common, "--destination", "w.duckdb",
                   env={"SOURCES__DBSYNC__PASSWORD": server.api_key}, cwd=tmp_path)
    assert right.returncode == 0, right.stderr[-3000:]
    assert_synced(tmp_path, server, databases=("acme",))
