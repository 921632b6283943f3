"""Every rest_api key the config accepts is honoured or refused (dbsync.config.resource_keys):
refused keys give one line naming the key and what to use instead; nothing is dropped silently;
the config dict is never modified."""

from __future__ import annotations

import copy
import subprocess
import sys
from typing import get_type_hints

import pytest
import yaml

from dbsync.config import parse_config, resource_keys
from dbsync.errors import ConfigError
from dbsync.source.jobs import _columns
from dbsync.discovery.catalog import FieldInfo, TableInfo
from support import config_error_line, original_config, reference_config

BASE = "http://api.example.com"


@pytest.fixture(autouse=True)
def secrets_env(monkeypatch):
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", "test-key-123")


def test_the_table_covers_every_key_of_dlts_rest_api_types():
    """A dlt upgrade that adds a key fails here until the key is honoured or refused."""
    from dlt.sources.rest_api.typing import ClientConfig, Endpoint, EndpointResource

    assert set(resource_keys.RESOURCE_KEYS) == set(get_type_hints(EndpointResource))
    assert set(resource_keys.ENDPOINT_KEYS) == set(get_type_hints(Endpoint))
    assert set(resource_keys.CLIENT_KEYS) == set(get_type_hints(ClientConfig))


REFUSED_RESOURCE = {
    "table_name": "orders", "merge_key": "id", "parent_table_name": "x", "nested_hints": {},
    "include_from_parent": ["id"], "processing_steps": [], "parallelized": True,
    "schema_contract": "freeze", "table_format": "delta", "file_format": "jsonl",
    "references": [], "max_table_nesting": 2, "selected": False,
}


def _refusals():
    cases = []
    for key in resource_keys.RESOURCE_KEYS:
        if resource_keys.RESOURCE_KEYS[key] is not None or key in ("max_table_nesting", "selected"):
            cases.append((f"resources.{key}", f"resources[0].{key}", key))
    for key, note in resource_keys.ENDPOINT_KEYS.items():
        if note is not None:
            cases.append((f"endpoint.{key}", f"resources[0].endpoint.{key}", key))
    cases.append(("client.session", "client.session", "session"))
    return cases


REFUSED_ENDPOINT = {"data": {"a": 1}, "auth": {"type": "bearer", "token": "x"}, "incremental": {"cursor_path": "u"}}


@pytest.mark.parametrize("where, key, name", _refusals(), ids=[c[0] for c in _refusals()])
def test_a_refused_key_names_itself_and_what_to_use_instead(where, key, name):
    config = original_config(BASE)
    if where.startswith("resources."):
        config["resources"][0][name] = REFUSED_RESOURCE[name]
    elif where.startswith("endpoint."):
        config["resources"][0]["endpoint"][name] = REFUSED_ENDPOINT[name]
    else:
        config["client"][name] = {"verify": False}
    message = config_error_line(config)
    assert message.startswith(f"dbsync.yaml: config key '{key}': "), message
    assert len(message) > len(f"dbsync.yaml: config key '{key}': ") + 20, message  # says what to do


def test_a_refused_key_in_resource_defaults_is_named_there():
    config = original_config(BASE)
    config["resource_defaults"]["table_name"] = "x"
    with pytest.raises(ConfigError, match=r"config key 'resource_defaults\.table_name'"):
        parse_config(config)
    config = original_config(BASE)
    config["resource_defaults"]["endpoint"] = {"data": {"a": 1}}
    with pytest.raises(ConfigError, match=r"config key 'resource_defaults\.endpoint\.data'"):
        parse_config(config)


@pytest.mark.parametrize("value, key, words", [
    ({"disposition": "merge", "strategy": "scd2"}, "resources[0].write_disposition.strategy", "delete-insert"),
    ({"disposition": "merge", "validity_column_names": ["a"]}, "resources[0].write_disposition.validity_column_names",
     "append, replace or merge"),
    ({"disposition": "replace", "strategy": "staging-optimized"}, "resources[0].write_disposition.strategy",
     "delete-insert"),
])
def test_write_disposition_strategies_other_than_dbsyncs_merge_are_refused(value, key, words):
    config = original_config(BASE)
    config["resources"][0]["write_disposition"] = value
    with pytest.raises(ConfigError) as info:
        parse_config(config)
    assert f"config key '{key}'" in info.value.one_line() and words in info.value.one_line()


@pytest.mark.parametrize("resource", [
    {"max_table_nesting": 0}, {"selected": True},
    {"write_disposition": {"disposition": "merge", "strategy": "delete-insert"}},
    {"write_disposition": {"disposition": "merge"}},
    {"columns": {"amount": {"data_type": "decimal", "precision": 12, "scale": 2}, "note": {"nullable": True}}},
    {"columns": [{"name": "amount", "data_type": "decimal", "precision": 12, "scale": 2}]},
])
def test_honoured_values_parse_and_leave_the_config_alone(resource):
    config = original_config(BASE)
    config["resources"][0].update(copy.deepcopy(resource))
    config["resources"][0]["endpoint"]["headers"] = {"X-Tenant": "t1", "X-Page-Size": 100}
    before = copy.deepcopy(config)
    parsed = parse_config(config)
    assert config == before
    assert parsed.resources[0]["endpoint"]["headers"] == {"X-Tenant": "t1", "X-Page-Size": "100"}
    if "columns" in resource:
        assert parsed.resources[0]["columns"]["amount"] == {"data_type": "decimal", "precision": 12, "scale": 2}


@pytest.mark.parametrize("columns, key, words", [
    ({"amount": {"data_type": "money"}}, "resources[0].columns.amount.data_type", "must be one of"),
    ({"amount": {"data_type": "decimal", "unique": True}}, "resources[0].columns.amount.unique", "data_type, nullable"),
    ({"amount": {"data_type": "text", "scale": 2}}, "resources[0].columns.amount", "data_type: decimal"),
    ({"amount": {"data_type": "decimal", "precision": 4, "scale": 6}}, "resources[0].columns.amount.scale",
     "must not exceed"),
    ({"amount": {"nullable": "yes"}}, "resources[0].columns.amount.nullable", "true or false"),
    ({"amount": "decimal"}, "resources[0].columns.amount", "mapping"),
    ("amount", "resources[0].columns", "mapping"),
    ([{"data_type": "text"}], "resources[0].columns[0]", "name"),
])
def test_bad_column_hints_name_the_hint(columns, key, words):
    config = original_config(BASE)
    config["resources"][0]["columns"] = columns
    with pytest.raises(ConfigError) as info:
        parse_config(config)
    assert f"config key '{key}'" in info.value.one_line(), info.value.one_line()
    assert words in info.value.one_line()


def test_endpoint_headers_must_be_text():
    config = original_config(BASE)
    config["resources"][0]["endpoint"]["headers"] = {"X-A": {"nested": 1}}
    with pytest.raises(ConfigError, match=r"config key 'resources\[0\]\.endpoint\.headers\.X-A'"):
        parse_config(config)


def test_a_template_resource_hints_only_the_tables_whose_schema_has_the_column():
    hints = {"amount": {"data_type": "decimal"}}
    with_field = TableInfo("a", fields=(FieldInfo("amount", "string"),))
    without = TableInfo("b", fields=(FieldInfo("id", "integer"),))
    undiscovered = TableInfo("c")
    assert _columns(hints, with_field) == hints
    assert _columns(hints, without) is None
    assert _columns(hints, undiscovered) == hints


def test_the_cli_exits_2_before_any_request(tmp_path):
    config = reference_config("http://127.0.0.1:9")  # nothing listens there: a request would fail otherwise
    config["resources"][0]["table_name"] = "orders"
    path = tmp_path / "dbsync.yaml"
    path.write_text(yaml.safe_dump(config))
    out = subprocess.run([sys.executable, "-m", "dbsync", "run", "-c", str(path)], capture_output=True, text=True,
                         cwd=tmp_path, env={"SOURCES__DBSYNC__API_KEY": "k", "PATH": "/usr/bin:/bin",
                                            "PYTHONPATH": _src()}, timeout=120)
    assert out.returncode == 2, out.stderr
    lines = [line for line in out.stderr.splitlines() if "resources[0].table_name" in line]
    assert len(lines) == 1 and "name" in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def _src() -> str:
    import dbsync
    from pathlib import Path

    return str(Path(dbsync.__file__).resolve().parents[1])
