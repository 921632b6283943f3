"""``dbsync discover`` shows what a run will use: the effective primary key and cursor (from
discovery, else resource_defaults/resources and incremental.cursor_field), never "database None"."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from support import original_config


def dbsync(*args, env, cwd):
    full_env = dict(os.environ, RUNTIME__DLTHUB_TELEMETRY="false", **env)
    return subprocess.run([sys.executable, "-m", "dbsync", *args], env=full_env, cwd=cwd,
                          capture_output=True, text=True, timeout=240)


def no_databases_config(base_url):
    """Tables of one account (no databases section); the table list names no key and no cursor:
    those come from resource_defaults and incremental."""
    return {
        "client": {"base_url": base_url, "auth": {"type": "api_key", "name": "api_key", "location": "query"}},
        "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
        "resources": [{"name": "{table}", "endpoint": {
            "path": "/v1/resource", "params": {"database": "acme", "table": "{table}"}, "data_selector": "data",
            "paginator": {"type": "offset", "limit": 100}}}],
        "tables": {"discover": {"path": "/v1/databases/acme/schema", "primary_key": None, "cursor_field": None}},
        "incremental": {"cursor_field": "updated_at"},
    }


@pytest.fixture
def project(tmp_path, reference_server):
    (tmp_path / "dbsync.yaml").write_text(yaml.safe_dump(no_databases_config(reference_server.base_url)))
    return tmp_path


def test_discover_shows_the_effective_key_and_cursor_without_a_databases_section(project, reference_server):
    env = {"SOURCES__DBSYNC__API_KEY": reference_server.api_key}
    human = dbsync("discover", cwd=project, env=env)
    assert human.returncode == 0, human.stderr
    assert "None" not in human.stdout
    assert "3 tables" in human.stdout.splitlines()[0]
    for table in ("orders", "customers", "products"):
        assert f"{table}  pk=id  cursor=updated_at" in human.stdout, human.stdout
    assert "pk=-" not in human.stdout and "cursor=-" not in human.stdout

    machine = dbsync("discover", "--json", "-t", "orders", cwd=project, env=env)
    assert machine.returncode == 0, machine.stderr
    doc = json.loads(machine.stdout)
    [db] = doc["databases"]
    [orders] = db["tables"]
    assert (orders["name"], orders["primary_key"], orders["cursor_field"]) == ("orders", ["id"], "updated_at")


def test_discover_of_a_config_without_discovery_shows_its_resources(tmp_path, reference_server):
    (tmp_path / "dbsync.yaml").write_text(yaml.safe_dump(original_config(reference_server.base_url)))
    env = {"SOURCES__DBSYNC__API_KEY": reference_server.api_key}
    human = dbsync("discover", cwd=tmp_path, env=env)
    assert human.returncode == 0, human.stderr
    assert "resource database_resource  pk=id  cursor=-" in human.stdout, human.stdout
    doc = json.loads(dbsync("discover", "--json", cwd=tmp_path, env=env).stdout)
    assert doc["resources"] == [{"name": "database_resource", "primary_key": ["id"], "cursor_field": None}]


def test_discover_help_says_it_asks_afresh():
    proc = subprocess.run([sys.executable, "-m", "dbsync", "discover", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "Always asks the API afresh" in " ".join(proc.stdout.split())
