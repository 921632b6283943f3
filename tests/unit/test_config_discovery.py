"""The ``discovery`` section: durations in one helper, one-line errors naming the key."""

from __future__ import annotations

import copy

import pytest

from dbsync.config import parse_config
from dbsync.config.durations import parse_duration
from dbsync.errors import ConfigError
from support import reference_config

BASE = "http://api.example.com"
REF = reference_config(BASE)


@pytest.fixture(autouse=True)
def secrets_env(monkeypatch):
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", "test-key-123")


def with_discovery(value):
    config = copy.deepcopy(REF)
    config["discovery"] = value
    return config


@pytest.mark.parametrize("text, seconds", [
    ("10m", 600), ("1h", 3600), ("30s", 30), ("1h30m", 5400), ("1d", 86400), ("250ms", 0.25), (90, 90),
    ("45", 45), (" 2 m ", 120),
])
def test_durations_read_as_people_write_them(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("value, ttl, enabled", [
    (None, None, True),               # no section: ETag/Last-Modified revalidation only
    ({}, None, True),
    ({"cache": "10m"}, 600.0, True),
    ({"cache": "1h"}, 3600.0, True),
    ({"cache": 30}, 30.0, True),
    ({"cache": 0}, None, True),       # no time to live: revalidate every run
    ({"cache": False}, None, False),  # YAML `off`
    ({"cache": "off"}, None, False),
])
def test_valid_discovery_sections(value, ttl, enabled):
    config = REF if value is None else with_discovery(value)
    parsed = parse_config(config)
    assert parsed.discovery.cache_ttl == ttl and parsed.discovery.enabled is enabled


@pytest.mark.parametrize("value, key, words", [
    ("10m", "discovery", "must be a mapping"),
    ({"cache": "10 minutes"}, "discovery.cache", "must be a duration such as 10m"),
    ({"cache": "5y"}, "discovery.cache", "units: ms, s, m, h, d"),
    ({"cache": -5}, "discovery.cache", "must not be negative"),
    ({"cache": True}, "discovery.cache", "must be a duration"),
    ({"cache": [1]}, "discovery.cache", "must be a duration"),
    ({"ttl": "10m"}, "discovery.ttl", "unknown key (known: cache)"),
])
def test_invalid_discovery_sections_name_the_key(value, key, words):
    config = with_discovery(value)
    before = copy.deepcopy(config)
    with pytest.raises(ConfigError) as info:
        parse_config(config, source_name="dbsync.yaml")
    message = info.value.one_line()
    assert config == before
    assert "\n" not in message and message.startswith("dbsync.yaml: ")
    assert f"config key '{key}'" in message, message
    assert words.lower() in message.lower(), message
