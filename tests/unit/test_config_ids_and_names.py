"""Placeholder rules for APIs of ids: ``{database}``/``{table}`` are ids, ``{database_name}`` and
``{table_name}`` names; a fields endpoint needs no ``{database}`` when table ids are global."""

from __future__ import annotations

import copy

import pytest

from dbsync.config import parse_config
from dbsync.discovery.catalog import Catalog, DatabaseInfo, TableInfo
from dbsync.errors import ConfigError
from dbsync.source.jobs import build_jobs
from support import reference_config

REF = reference_config("http://api.example.com")


@pytest.fixture(autouse=True)
def secrets_env(monkeypatch):
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", "test-key-123")


def config_with(table_id=None, fields_path=None, name=None):
    config = copy.deepcopy(REF)
    if table_id is not None:
        config["tables"]["discover"]["table_id"] = table_id
    if fields_path is not None:
        config["tables"]["discover"]["fields_endpoint"] = {"path": fields_path}
    if name is not None:
        config["resources"][0]["name"] = name
    return config


def test_a_fields_endpoint_with_only_table_is_accepted_when_table_ids_are_global():
    cfg = parse_config(config_with(table_id="id", fields_path="/v1/tables/{table}/fields"))
    assert cfg.tables.discover.table_id == "id"
    assert cfg.tables.discover.fields_endpoint.path == "/v1/tables/{table}/fields"


def test_a_fields_endpoint_with_only_table_is_refused_when_tables_are_known_by_name():
    with pytest.raises(ConfigError, match=r"must use \{database\} when several databases are synced .*table_id"):
        parse_config(config_with(fields_path="/v1/tables/{table}/fields"))


def test_a_fields_endpoint_may_use_the_database_name():
    cfg = parse_config(config_with(table_id="id", fields_path="/v1/{database_name}/tables/{table}/fields"))
    assert "{database_name}" in cfg.tables.discover.fields_endpoint.path


def test_name_placeholders_are_known_and_typos_are_not():
    parse_config(config_with(name="{database_name}__{table_name}"))
    with pytest.raises(ConfigError, match=r"unknown placeholder '\{table_title\}'.*\{database_name\} and \{table_name\}"):
        parse_config(config_with(name="{database}__{table_title}"))


def test_table_id_must_be_a_key():
    bad = config_with()
    bad["tables"]["discover"]["table_id"] = 3
    with pytest.raises(ConfigError, match="tables.discover.table_id"):
        parse_config(bad)


CATALOG = Catalog(databases=(
    DatabaseInfo(id="p2ofizxd", name="crm", tables=(TableInfo(name="customers", id="mhcsag29"),)),
))


def test_jobs_fill_ids_into_requests_and_names_into_destination_tables():
    cfg = parse_config(config_with(table_id="id", name="records"))
    [job] = build_jobs(cfg, CATALOG)
    assert job.params["database"] == "p2ofizxd" and job.params["table"] == "mhcsag29"
    assert job.table_name == job.resource_name == "crm__customers"
    assert job.label == "crm.customers"


def test_without_table_ids_default_names_stay_ids():
    """A database list's display name must not rename existing tables: without table_id the
    default stays {database}__{table}."""
    cfg = parse_config(config_with(name="records"))
    catalog = Catalog(databases=(DatabaseInfo(id="acme", name="Acme Corp", tables=(TableInfo(name="orders"),)),))
    [job] = build_jobs(cfg, catalog)
    assert job.table_name == "acme__orders" and job.label == "acme.orders"
