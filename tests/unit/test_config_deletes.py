"""``deletes.detect``/``every``/``keys`` and ``tables.list[].deletes``: every key read, every
mistake one line naming the key; a scan needs a key, a merged table and (for ``keys.limit``)
an offset paginator."""

from __future__ import annotations

import copy

import pytest

from dbsync.config import parse_config
from dbsync.discovery.catalog import Catalog, DatabaseInfo, TableInfo
from dbsync.errors import ConfigError
from dbsync.source.jobs import build_jobs
from support import config_error_line, original_config, reference_config

REF = reference_config("http://api.example.com")
CATALOG = Catalog(databases=(DatabaseInfo(id="acme", tables=(
    TableInfo("orders", primary_key=("id",), cursor_field="updated_at"),
    TableInfo("notes", primary_key=(), cursor_field="updated_at"))),))


@pytest.fixture(autouse=True)
def secrets_env(monkeypatch):
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", "test-key-123")


def with_deletes(deletes, **overrides):
    config = copy.deepcopy(REF)
    config["deletes"] = deletes
    config.update(overrides)
    return config


def test_every_key_is_read():
    cfg = parse_config(with_deletes({"detect": "keys", "every": "6h", "mode": "mark",
                                     "keys": {"params": {"fields": "id"}, "limit": 500}}))
    scan = cfg.deletes.scan
    assert (scan.detect, scan.every, dict(scan.params), scan.limit) == ("keys", 6 * 3600, {"fields": "id"}, 500)
    assert cfg.deletes.mode == "mark" and cfg.deletes.field == "deleted"
    assert not parse_config(copy.deepcopy(REF)).deletes.scan.scans, "tombstones by default"
    full = parse_config(with_deletes({"detect": "full_read"})).deletes.scan
    assert full.scans and full.every is None and full.limit is None


@pytest.mark.parametrize("deletes,key,words", [
    ({"detect": "key"}, "deletes.detect", "tombstones, keys, full_read"),
    ({"detect": "keys", "every": "often"}, "deletes.every", "duration"),
    ({"keys": {"params": {"fields": "id"}}}, "deletes.keys", "detect: keys"),
    ({"every": "1h"}, "deletes.every", "detect"),
    ({"detect": "keys", "mode": "ignore"}, "deletes.detect", "mode: ignore"),
    ({"detect": "keys", "keys": {"limit": 0}}, "deletes.keys.limit", ""),
    ({"detect": "keys", "keys": {"page_size": 10}}, "deletes.keys", "page_size"),
    ({"detect": "keys", "keys": {"params": {"fields": ["id"]}}}, "deletes.keys.params.fields", "plain value"),
    ({"detect": "keys", "evry": "1h"}, "deletes", "evry"),
])
def test_mistakes_are_one_line_naming_the_key(deletes, key, words):
    message = config_error_line(with_deletes(deletes))
    assert key in message and words in message, message


def test_per_table_detection_overrides_the_top_level_one():
    config = with_deletes({"mode": "delete"})
    config["tables"]["list"] = [{"name": "orders", "deletes": {"detect": "keys", "every": "1h"}}, "notes"]
    cfg = parse_config(config)
    jobs = {j.table.name: j for j in build_jobs(cfg, Catalog(databases=(DatabaseInfo(id="acme", tables=(
        TableInfo("orders", primary_key=("id",), cursor_field="updated_at"),
        TableInfo("notes", primary_key=("id",), cursor_field="updated_at"))),)))}
    assert jobs["orders"].scan is not None and jobs["orders"].scan.every == 3600
    assert jobs["notes"].scan is None
    config["tables"]["list"][0]["deletes"] = {"every": "1h"}
    assert "tables.list[0].deletes.detect" in config_error_line(config)
    config["tables"]["list"][0]["deletes"] = {"detect": "keys"}
    config["deletes"] = {"mode": "ignore"}
    assert "tables.list[0].deletes.detect" in config_error_line(config)


def test_a_table_without_a_key_cannot_be_scanned():
    config = with_deletes({"detect": "keys"})
    del config["resource_defaults"]["primary_key"]  # notes has none of its own
    cfg = parse_config(config)
    with pytest.raises(ConfigError) as info:
        build_jobs(cfg, CATALOG)
    assert "acme.notes" in info.value.one_line() and "primary key" in info.value.one_line()


def test_a_scan_needs_a_merged_table_and_limit_an_offset_paginator():
    config = original_config("http://api.example.com")
    config["deletes"] = {"detect": "keys"}
    config["resource_defaults"]["write_disposition"] = "append"
    with pytest.raises(ConfigError) as info:
        build_jobs(parse_config(config), Catalog(databases=()))
    assert "write_disposition: merge" in info.value.one_line()
    config["resource_defaults"]["write_disposition"] = "merge"
    config["deletes"]["keys"] = {"limit": 500}
    config["resources"][0]["endpoint"]["paginator"] = {"type": "page_number", "base_page": 1,
                                                       "total_path": None, "maximum_page": 100}
    with pytest.raises(ConfigError) as info:
        build_jobs(parse_config(config), Catalog(databases=()))
    assert "deletes.keys.limit" in info.value.one_line() and "params" in info.value.one_line()
    config["resources"][0]["endpoint"]["paginator"] = {"type": "offset", "limit": 100}
    [job] = build_jobs(parse_config(config), Catalog(databases=()))
    assert job.scan is not None and job.scan.limit == 500
