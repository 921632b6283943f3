"""Config validation: a table of valid and invalid configs, each invalid one with the key it must
name; configs are never modified in place; secrets come from dlt secrets, never from files."""

from __future__ import annotations

import copy

import pytest

from dbsync.config import parse_config
from dbsync.errors import ConfigError
from support import config_error_line, original_config, reference_config

BASE = "http://api.example.com"


@pytest.fixture(autouse=True)
def secrets_env(monkeypatch):
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", "test-key-123")
    monkeypatch.setenv("SOURCES__DBSYNC__TOKEN", "test-token-123")


def with_(config, path, value):
    config = copy.deepcopy(config)
    node = config
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is DELETE:
        del node[parts[-1]]
    else:
        node[int(parts[-1]) if isinstance(node, list) else parts[-1]] = value
    return config


DELETE = object()
REF = reference_config(BASE)
ORIG = original_config(BASE)

VALID = [
    ("original", ORIG),
    ("reference", REF),
    ("listed-databases", with_(REF, "databases", {"list": ["a", "b"]})),
    ("listed-tables", with_(REF, "tables", {"list": ["orders", {"name": "x", "primary_key": ["a", "b"]}]})),
    ("union", with_(REF, "layout", "union")),
    ("no-incremental", with_(REF, "incremental", False)),
    ("page-number", with_(ORIG, "resources.0.endpoint.paginator", {"type": "page_number", "base_page": 1, "total_path": "pages"})),
    ("json-link", with_(ORIG, "resources.0.endpoint.paginator", {"type": "json_link", "next_url_path": "next"})),
    ("header-link", with_(ORIG, "resources.0.endpoint.paginator", "header_link")),
    ("cursor", with_(ORIG, "resources.0.endpoint.paginator", {"type": "cursor", "cursor_path": "next", "cursor_param": "c"})),
    ("bearer", with_(ORIG, "client.auth", {"type": "bearer"})),
    ("header-key", with_(ORIG, "client.auth", {"type": "api_key", "name": "X-Key", "location": "header"})),
    ("types", with_(REF, "types", {"money": "decimal", "geo": "json"})),
    ("string-resource", with_(ORIG, "resources", ["items"])),
    ("incremental-params", with_(REF, "incremental", {"params": {"filter": "updated >= '{cursor}'", "sort": "updated,id"}})),
    ("incremental-params-cursor-field", with_(REF, "incremental", {"cursor_field": "updated_at", "params": {"{cursor_field}__gte": "{cursor}", "_sort": "{cursor_field}"}})),
    ("fields-endpoint", with_(REF, "tables.discover.fields_endpoint", {"path": "/{database}.json", "params": {"sql": "select 1", "t": "{table}"}, "data_selector": "rows", "field": {"name": "name", "type": "type", "required": "notnull"}})),
    ("field-hidden", with_(REF, "tables.discover.field", {"name": "name", "type": "type", "required": "required", "hidden": "hidden"})),
    ("tables-only-fields-endpoint", with_(with_(REF, "databases", DELETE), "tables", {"discover": {"path": "/schema", "fields_endpoint": {"path": "/fields/{table}"}}}) | {"resources": [{"name": "{table}", "endpoint": {"path": "/records/{table}"}}]}),
]

INVALID = [
    ("not-a-mapping", ["a"], None, "mapping"),
    ("no-client", with_(ORIG, "client", DELETE), "client", "missing"),
    ("no-resources", with_(ORIG, "resources", DELETE), "resources", "missing"),
    ("empty-resources", with_(ORIG, "resources", []), "resources", "non-empty"),
    ("unknown-top", with_(ORIG, "resource_default", {}), "resource_default", "did you mean 'resource_defaults'"),
    ("bad-url", with_(ORIG, "client.base_url", "api.example.com"), "client.base_url", "http(s) URL"),
    ("url-not-str", with_(ORIG, "client.base_url", 5), "client.base_url", "non-empty string"),
    ("auth-type", with_(ORIG, "client.auth.type", "apikey"), "client.auth.type", "unknown auth type"),
    ("auth-location", with_(ORIG, "client.auth.location", "body"), "client.auth.location", "header, query or param"),
    ("paginator-type", with_(ORIG, "resources.0.endpoint.paginator.type", "offst"), "resources[0].endpoint.paginator", "offst"),
    ("paginator-missing-limit", with_(ORIG, "resources.0.endpoint.paginator", {"type": "offset"}), "resources[0].endpoint.paginator", "limit"),
    ("endpoint-typo", with_(ORIG, "resources.0.endpoint.data_selectr", "data"), "resources[0].endpoint.data_selectr", "did you mean 'data_selector'"),
    ("defaults-typo", with_(ORIG, "resource_defaults.primary_kye", "id"), "resource_defaults.primary_kye", "did you mean 'primary_key'"),
    ("paginator-key-typo", with_(ORIG, "resources.0.endpoint.paginator.limit_parm", "_limit"), "resources[0].endpoint.paginator.limit_parm", "did you mean 'limit_param'"),
    ("resource-typo", with_(ORIG, "resources.0.primary_ky", "id"), "resources[0].primary_ky", "did you mean 'primary_key'"),
    ("write-disposition", with_(ORIG, "resources.0.write_disposition", "mrge"), "resources[0].write_disposition", "mrge"),
    ("unknown-placeholder", with_(REF, "resources.0.endpoint.params.table", "{tabel}"), "resources[0]", "{tabel}"),
    ("database-without-section", with_(REF, "databases", DELETE), "resources[0].endpoint", "databases"),
    ("tables-without-placeholder", with_(ORIG, "tables", {"list": ["a"]}), "resources", "{table}"),
    ("schema-without-database", with_(REF, "tables.discover.path", "/v1/schema"), "tables.discover.path", "{database}"),
    ("databases-both", with_(REF, "databases.list", ["a"]), "databases", "not both"),
    ("databases-neither", with_(REF, "databases", {"include": ["a"]}), "databases", "either"),
    ("layout", with_(REF, "layout", "mixed"), "layout", "per_database"),
    ("deletes-mode", with_(REF, "deletes.mode", "purge"), "deletes.mode", "delete, mark or ignore"),
    ("types-target", with_(REF, "types", {"money": "money"}), "types.money", "not a dlt data type"),
    ("retries-attempts", with_(REF, "retries", {"attempts": 0}), "retries.attempts", "at least 1"),
    ("retries-statuses", with_(REF, "retries", {"retry_statuses": [200]}), "retries.retry_statuses", "status codes"),
    ("concurrency", with_(REF, "performance", {"concurrency": "many"}), "performance.concurrency", "number"),
    ("lag", with_(REF, "incremental.lag", -1), "incremental.lag", "at least 0"),
    ("pipeline-name", with_(REF, "pipeline.name", "my pipeline"), "pipeline.name", "letters"),
    ("rest-api-incremental", with_(ORIG, "resources.0.endpoint.incremental", {"cursor_path": "u"}), "resources[0].endpoint.incremental", "incremental"),
    ("resolve-param", with_(ORIG, "resources.0.endpoint.params", {"x": {"type": "resolve", "resource": "a", "field": "b"}}), "resources[0].endpoint.params.x", "not supported"),
    ("response-action", with_(ORIG, "resources.0.endpoint.response_actions", [{"status_code": 404, "action": "retry"}]), "resources[0].endpoint.response_actions[0].action", "ignore"),
    ("incremental-param-and-params", with_(REF, "incremental", {"param": "since", "params": {"since": "{cursor}"}}), "incremental", "not both"),
    ("incremental-params-no-cursor", with_(REF, "incremental", {"params": {"sort": "updated"}}), "incremental.params", "{cursor}"),
    ("incremental-params-empty", with_(REF, "incremental", {"params": {}}), "incremental.params", "at least one"),
    ("incremental-params-placeholder", with_(REF, "incremental", {"params": {"since": "{cursr}"}}), "incremental.params.since", "{cursr}"),
    ("incremental-params-not-text", with_(REF, "incremental", {"params": {"since": ["{cursor}"]}}), "incremental.params.since", "string template"),
    ("fields-endpoint-no-table", with_(REF, "tables.discover.fields_endpoint", {"path": "/{database}/fields"}), "tables.discover.fields_endpoint", "{table}"),
    ("fields-endpoint-no-database", with_(REF, "tables.discover.fields_endpoint", {"path": "/fields/{table}"}), "tables.discover.fields_endpoint", "{database}"),
    ("fields-endpoint-typo", with_(REF, "tables.discover.fields_endpoint", {"path": "/{database}/{table}", "data_selectr": "x"}), "tables.discover.fields_endpoint.data_selectr", "did you mean 'data_selector'"),
    ("fields-endpoint-no-path", with_(REF, "tables.discover.fields_endpoint", {"params": {"t": "{table}"}}), "tables.discover.fields_endpoint.path", "non-empty string"),
    ("field-hidden-not-text", with_(REF, "tables.discover.field", {"hidden": True}), "tables.discover.field.hidden", "non-empty string"),
]


@pytest.mark.parametrize("name, config", VALID, ids=[v[0] for v in VALID])
def test_valid_configs_parse_and_are_not_modified(name, config):
    before = copy.deepcopy(config)
    parsed = parse_config(config)
    assert config == before
    assert parsed.client["base_url"] == BASE
    assert parsed.resources


@pytest.mark.parametrize("name, config, key, words", INVALID, ids=[v[0] for v in INVALID])
def test_invalid_configs_name_the_key_and_what_is_wrong(name, config, key, words):
    message = config_error_line(config)
    if key is not None:
        assert f"config key '{key}'" in message, message
    assert words.lower() in message.lower(), message


def test_secrets_come_from_dlt_secrets_in_order(monkeypatch):
    monkeypatch.delenv("SOURCES__DBSYNC__API_KEY")
    monkeypatch.setenv("API_KEY", "top-level-key")
    assert parse_config(ORIG).client["auth"]["api_key"] == "top-level-key"
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", "section-key")
    parsed = parse_config(ORIG)
    assert parsed.client["auth"]["api_key"] == "section-key"
    assert parsed.secrets == ("section-key",)
    explicit = with_(ORIG, "client.auth.api_key", "explicit-key")
    assert parse_config(explicit).client["auth"]["api_key"] == "explicit-key"


def test_a_file_may_not_hold_a_secret():
    with pytest.raises(ConfigError) as info:
        parse_config(with_(ORIG, "client.auth.api_key", "leaked"), from_file=True, source_name="dbsync.yaml")
    assert "must not be written in the config file" in str(info.value)
    assert "leaked" not in str(info.value)


@pytest.mark.parametrize("auth, field, env", [
    ({"type": "bearer"}, "token", "SOURCES__DBSYNC__TOKEN"),
    ({"type": "http_basic", "username": "u"}, "password", "SOURCES__DBSYNC__PASSWORD"),
])
def test_every_auth_type_takes_its_secret_from_the_environment(monkeypatch, auth, field, env):
    monkeypatch.setenv(env, "s3cret-value")
    parsed = parse_config(with_(ORIG, "client.auth", auth))
    assert parsed.client["auth"][field] == "s3cret-value"
    assert "s3cret-value" in parsed.secrets


def test_missing_secret_says_where_to_put_it(monkeypatch):
    monkeypatch.delenv("SOURCES__DBSYNC__API_KEY")
    monkeypatch.delenv("API_KEY", raising=False)
    with pytest.raises(ConfigError) as info:
        parse_config(ORIG)
    assert "SOURCES__DBSYNC__API_KEY" in str(info.value) and ".dlt/secrets.toml" in str(info.value)


def test_base_url_can_be_overridden_per_environment(monkeypatch):
    monkeypatch.setenv("SOURCES__DBSYNC__BASE_URL", "https://staging.example.com")
    assert parse_config(ORIG).client["base_url"] == "https://staging.example.com"


def test_resource_defaults_merge_under_resources():
    config = with_(ORIG, "resource_defaults", {"primary_key": "id", "write_disposition": "merge",
                                               "endpoint": {"params": {"a": 1}, "data_selector": "data"}})
    config = with_(config, "resources.0.endpoint.params", {"b": 2})
    parsed = parse_config(config)
    endpoint = parsed.resources[0]["endpoint"]
    assert endpoint["params"] == {"a": 1, "b": 2}
    assert parsed.resources[0]["primary_key"] == "id"


def test_incremental_param_is_the_shorthand_for_params():
    assert parse_config(with_(REF, "incremental", {"param": "since"})).incremental.params == {"since": "{cursor}"}
    assert parse_config(with_(REF, "incremental", {})).incremental.params == {"updated_since": "{cursor}"}
    parsed = parse_config(with_(REF, "incremental", {"params": {"filter": "updated >= '{cursor}'", "n": 5}}))
    assert parsed.incremental.params == {"filter": "updated >= '{cursor}'", "n": "5"}


def test_fields_endpoint_and_hidden_flag_are_parsed():
    config = with_(REF, "tables.discover.fields_endpoint", {
        "path": "/{database}.json", "params": {"t": "{table}"}, "data_selector": "rows",
        "field": {"name": "n", "type": "t", "required": "notnull", "hidden": "secret"}})
    ep = parse_config(config).tables.discover.fields_endpoint
    assert (ep.path, dict(ep.params), ep.data_selector) == ("/{database}.json", {"t": "{table}"}, "rows")
    assert (ep.field.name, ep.field.type, ep.field.required, ep.field.nullable, ep.field.hidden) == (
        "n", "t", "notnull", None, "secret")
    assert parse_config(REF).tables.discover.fields_endpoint is None


def test_incremental_param_names_the_plain_cursor_parameter_of_params():
    plain = parse_config(with_(REF, "incremental", {"params": {"since": "{cursor}", "order": "asc"}}))
    assert plain.incremental.param == "since"
    template = parse_config(with_(REF, "incremental", {"params": {"filter": "updated >= '{cursor}'"}}))
    assert template.incremental.param is None



@pytest.mark.parametrize("name", ["reference/dbsync.yaml", "reference/original.yaml", "datasette/dbsync.yaml",
                                  "pocketbase/dbsync.yaml"])
def test_example_configs_are_valid(name):
    """The configs users copy from examples/ parse (a key put in a file would be refused)."""
    from pathlib import Path

    from dbsync.config.files import read_config_file

    path = Path(__file__).resolve().parents[2] / "examples" / name
    config = parse_config(read_config_file(path), source_name=name, from_file=True, resolve_secrets=False)
    assert config.rest_api["resources"]
