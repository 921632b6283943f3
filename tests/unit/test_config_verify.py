"""The ``verify`` section and ``tables.gone``: what they accept, and one clear line for the rest."""

from __future__ import annotations

import pytest

from dbsync.config import parse_config
from dbsync.config.model import CountRequest, VerifySettings
from support import config_error_line, reference_config

BASE = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", "unit-test-key")


def test_defaults_and_off():
    assert parse_config(reference_config(BASE), resolve_secrets=False).verify == VerifySettings()
    off = parse_config(reference_config(BASE, verify=False), resolve_secrets=False).verify
    assert (off.counts, off.heal) == (False, False)


def test_a_count_request():
    cfg = parse_config(reference_config(BASE, verify={"sample": 50, "count": {
        "method": "head", "header": "Total-Records"}}), resolve_secrets=False)
    assert cfg.verify.sample == 50
    assert cfg.verify.count == CountRequest(method="HEAD", header="Total-Records")
    cfg = parse_config(reference_config(BASE, verify={"count": {
        "path": "/v1/count/{database}/{table}", "params": {"x": 1}, "total_path": "meta.count"}}),
        resolve_secrets=False)
    from dbsync.discovery.catalog import Catalog, DatabaseInfo, TableInfo
    from dbsync.source.jobs import build_jobs

    jobs = build_jobs(cfg, Catalog((DatabaseInfo(id="acme", name="acme", tables=(TableInfo("orders", ("id",)),)),)))
    assert (jobs[0].count_path, jobs[0].count_params) == ("/v1/count/acme/orders", {"x": 1})


@pytest.mark.parametrize("section,words", [
    ({"sample": -1}, "config key 'verify.sample': must be at least 0"),
    ({"heal": "yes"}, "config key 'verify.heal': must be true or false"),
    ({"samples": 3}, "config key 'verify.samples': unknown key (did you mean 'sample'?)"),
    ({"count": {"method": "POST", "header": "X"}}, "config key 'verify.count.method': must be GET or HEAD"),
    ({"count": {"params": {"count": 1}}}, "config key 'verify.count': says where the total is"),
    ({"count": {"method": "HEAD", "total_path": "count"}}, "a HEAD answer has no body"),
    ({"count": {"header": "X", "params": {"a": [1]}}}, "config key 'verify.count.params.a': must be a plain value"),
])
def test_bad_verify_sections_are_one_line(section, words):
    assert words in config_error_line(reference_config(BASE, verify=section))


def test_tables_gone():
    config = reference_config(BASE)
    config["tables"]["gone"] = "drop"
    assert parse_config(config, resolve_secrets=False).tables.gone == "drop"
    config["tables"]["gone"] = "remove"
    assert "config key 'tables.gone': must be keep, mark or drop" in config_error_line(config)
    config["tables"]["gone"] = "mark"
    assert "needs" not in config_error_line(config) and "deletes.mode: mark" in config_error_line(config)
    config["deletes"] = {"mode": "mark"}
    assert parse_config(config, resolve_secrets=False).tables.gone == "mark"
