"""The key check of a table's first load (dbsync.run.first_load): a key seen twice, in one batch
or across batches, in order or not, is always noticed; anything it cannot compare counts as seen
(merging is always correct)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from dbsync.config.model import DeleteSettings
from dbsync.run import first_load
from dbsync.run.first_load import FirstLoad, KeysSeen, batch_keys, plan_first_loads


def test_ordered_batches_without_repeats_pass_and_a_repeat_is_seen():
    keys = KeysSeen()
    assert not keys.add(pa.array([1, 2, 3]))
    assert not keys.add(pa.array([4, 5]))
    assert not keys.add(pa.array([9, 6]))
    assert keys.add(pa.array([10, 5]))  # 5 came in the second batch


@pytest.mark.parametrize("batch", [[7, 8, 7], ["a", "b", "a"]])
def test_a_repeat_inside_one_batch_is_seen(batch):
    assert KeysSeen().add(pa.array(batch))


def test_overlapping_ranges_are_compared_key_by_key():
    keys = KeysSeen()
    assert not keys.add(pa.array([1, 10, 20]))
    assert not keys.add(pa.array([5, 15]))  # inside the first range, no repeat
    assert keys.add(pa.array([2, 15]))


def test_too_many_overlapping_keys_count_as_seen(monkeypatch):
    monkeypatch.setattr(first_load, "MAX_OVERLAP_KEYS", 5)
    keys = KeysSeen()
    assert not keys.add(pa.array([1, 10, 20]))
    assert keys.add(pa.array([5, 15, 16]))  # no repeat, but more than 5 keys compared


def test_nulls_and_keys_that_do_not_compare_count_as_seen():
    assert KeysSeen().add(pa.array([1, None]))
    keys = KeysSeen()
    assert not keys.add(pa.array([1, 2]))
    assert keys.add(pa.array(["1", "x"]))  # another type: cannot be compared, so merge


def test_composite_keys_are_unambiguous():
    table = pa.table({"a": ["x:1", "x"], "b": ["2", ":12"]})
    keys = batch_keys(table, ["a", "b"])
    assert len(set(keys.to_pylist())) == 2  # "x:1"+"2" and "x"+":12" stay apart
    assert batch_keys(table, ["a", "missing"]) is None


def test_tombstones_are_dropped_while_appending_and_kept_once_merging():
    load = FirstLoad("t", ["id"], "deleted")
    table = pa.table({"id": [1, 2, 3], "deleted": pa.array([None, True, None], pa.bool_())})
    appended, disposition, hints = load.prepare(table)
    assert disposition == "append" and appended.column("id").to_pylist() == [1, 3]
    assert hints["deleted"] == {"hard_delete": False} and hints["_dbsync_synced_at"] == {"dedup_sort": None}
    merged, disposition, hints = load.prepare(pa.table({"id": [3, 4], "deleted": pa.array([True, None], pa.bool_())}))
    assert disposition == "merge" and merged.num_rows == 2  # the tombstone of 3 deletes the appended row
    assert hints["deleted"] == {"hard_delete": True} and hints["_dbsync_synced_at"] == {"dedup_sort": "desc"}
    assert load.prepare(pa.table({"id": [9], "deleted": pa.array([None], pa.bool_())}))[1] == "merge"  # sticky


class _Job:
    def __init__(self, resource, table, pk=("id",), disposition="merge", history=False):
        self.resource_name, self.table_name, self.primary_key = resource, table, pk
        self.write_disposition, self.history = disposition, history


def test_only_merge_tables_with_a_key_and_no_history_missing_for_all_their_resources_qualify():
    jobs = [_Job("a", "a"), _Job("b", "b", pk=()), _Job("c", "c", disposition="append"), _Job("d", "d", history=True),
            _Job("u1", "u"), _Job("u2", "u"), _Job("v1", "v"), _Job("v2", "v")]
    plans = plan_first_loads(jobs, {"a", "b", "c", "d", "u1", "u2", "v1"}, DeleteSettings(mode="mark"))
    assert sorted(plans) == ["a", "u1", "u2"]
    assert plans["u1"] is plans["u2"]  # one table, one key check
    assert plans["a"].deleted_field is None  # deletes: mark sends tombstones to the side table
