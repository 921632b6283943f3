"""Partition names and shards: deterministic, stable across processes, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dbsync.errors import ConfigError
from dbsync.run.partition import Shard, check_unique_partitions, partition_name, shard_of


def test_partition_name_is_the_pipeline_and_the_normalized_database():
    assert partition_name("dbsync", "acme") == "dbsync__acme"
    assert partition_name("My-API", "Sales EU") == "my_api__sales_eu"


@pytest.mark.parametrize("text,expected", [("2/8", Shard(2, 8)), (" 1 / 1 ", Shard(1, 1)), ("8/8", Shard(8, 8))])
def test_shard_parses(text, expected):
    assert Shard.parse(text) == expected


@pytest.mark.parametrize("text", ["0/8", "9/8", "2/0", "abc", "2-8", "", "1/", "-1/4"])
def test_bad_shard_is_a_one_line_config_error(text):
    with pytest.raises(ConfigError) as info:
        Shard.parse(text)
    assert "\n" not in str(info.value) and "--shard" in str(info.value)


def test_every_database_is_in_exactly_one_shard_and_the_split_is_roughly_even():
    ids = [f"db_{i:03d}" for i in range(400)]
    for count in (1, 2, 3, 8):
        owners = {db: [k for k in range(1, count + 1) if Shard(k, count).owns(db)] for db in ids}
        assert all(len(o) == 1 for o in owners.values())
        sizes = [sum(1 for o in owners.values() if o == [k]) for k in range(1, count + 1)]
        assert min(sizes) > 0.6 * len(ids) / count, sizes


def test_shard_assignment_is_stable_across_processes():
    ids = ["acme", "globex", "initech", "db_42", "Sales-EU"]
    here = [shard_of(i, 8) for i in ids]
    code = f"from dbsync.run.partition import shard_of; print([shard_of(i, 8) for i in {ids!r}])"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "12345", "PATH": ""}).stdout.strip()
    assert other == str(here)
    assert here == [1, 8, 4, 1, 4], "a changed assignment would move databases between workers"


def test_ids_that_normalize_alike_are_refused():
    with pytest.raises(ConfigError, match="share the partition"):
        check_unique_partitions(["Sales-EU", "sales_eu"], "dbsync")
    check_unique_partitions(["acme", "globex"], "dbsync")
