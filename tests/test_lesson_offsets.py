"""helpers.offsets and helpers.topics on the real broker."""
from __future__ import annotations

import time

import pytest

from helpers import WorkbookError, admin, offsets, topics


def test_read_from_offset_timestamp_and_twice(bootstrap, topic):
    t0 = (int(time.time()) - 60) * 1000
    topics.send(bootstrap, topic, [(None, f"e{i}") for i in range(10)], timestamps=[t0 + i * 1000 for i in range(10)])
    assert [r.value for r in offsets.read(bootstrap, topic, start=7)] == ["e7", "e8", "e9"]
    assert [r.offset for r in offsets.read(bootstrap, topic, start={"timestamp": t0 + 5500})] == [6, 7, 8, 9]
    assert offsets.read(bootstrap, topic, start={"timestamp": t0 + 99_000}) == []
    assert offsets.read(bootstrap, topic, limit=3)[-1].value == "e2"
    first, second = offsets.read(bootstrap, topic), offsets.read(bootstrap, topic)
    assert first == second and len(first) == 10
    assert offsets.watermarks(bootstrap, topic) == {0: (0, 10)}
    with pytest.raises(WorkbookError):
        offsets.read(bootstrap, topic, start="middle")
    with pytest.raises(WorkbookError, match="does not exist"):
        offsets.read(bootstrap, admin.unique_topic("t-nope"))


def test_earliest_and_latest_for_a_new_group(bootstrap, topic):
    topics.send(bootstrap, topic, [(None, "old")])
    assert offsets.new_group_reads(bootstrap, topic, "earliest", ["new-1"]) == ["old", "new-1"]
    assert offsets.new_group_reads(bootstrap, topic, "latest", ["new-2"]) == ["new-2"]


def test_consume_commit_lag_and_delete_groups(bootstrap, topic):
    g1, g2, never = (admin.unique_topic(p) for p in ("t-g1", "t-g2", "t-never"))
    topics.send(bootstrap, topic, [("k", str(i)) for i in range(8)])
    assert [r.offset for r in offsets.consume_n(bootstrap, topic, g1, 3)] == [0, 1, 2]
    assert offsets.committed(bootstrap, g1, topic) == {0: 3}
    assert offsets.consume_n(bootstrap, topic, g1, 2)[0].offset == 3
    assert offsets.lag(bootstrap, g1, topic).loc[0, "lag"] == 3
    assert offsets.committed(bootstrap, never, topic) == {0: None}
    offsets.commit(bootstrap, g2, topic, {0: 6})
    assert offsets.lag(bootstrap, g2, topic).loc[0, "lag"] == 2
    assert sorted(admin.delete_groups(bootstrap, g1, g2, never)) == sorted([g1, g2])  # `never` never existed
    assert offsets.committed(bootstrap, g1, topic) == {0: None}


def test_partitions_lookup(bootstrap, topic):
    assert admin.partitions(bootstrap, topic) == [0]
    missing = admin.unique_topic("t-nope")
    with pytest.raises(WorkbookError, match="does not exist"):
        admin.partitions(bootstrap, missing)
    with pytest.raises(WorkbookError, match="does not exist"):
        admin.partition_count(bootstrap, missing)
    assert not admin.topic_exists(bootstrap, missing) and admin.topic_exists(bootstrap, topic)
    with pytest.raises(WorkbookError, match="does not exist"):
        topics.describe(bootstrap, missing)
    with pytest.raises(WorkbookError, match="does not exist"):
        topics.add_partitions(bootstrap, missing, 3)


def test_describe_alter_and_config(bootstrap, topic):
    assert list(topics.describe(bootstrap, topic).index) == [0]
    assert topics.set_config(bootstrap, topic, {"retention.ms": "60000"}) == {"retention.ms": "60000"}
    assert topics.set_config(bootstrap, topic, {"retention.ms": None}) == {}
    with pytest.raises(WorkbookError, match="Unknown topic config"):
        topics.set_config(bootstrap, topic, {"retention.mss": "1"})
    topics.add_partitions(bootstrap, topic, 3)
    assert admin.partition_count(bootstrap, topic) == 3
    with pytest.raises(WorkbookError, match="only add partitions"):
        topics.add_partitions(bootstrap, topic, 2)
    g = topics.glossary(bootstrap, topic, offsets.Record(1, 0, "k", "v", 0), group="g")
    assert "partition 1" in g.loc["partition", "here, now"] and "'g'" in g.loc["consumer group", "here, now"]
    g = topics.glossary(bootstrap, topic, offsets.Record(1, 0, "k", "v", 0))
    assert "none yet" in g.loc["consumer group", "here, now"]


def test_compaction_keeps_the_last_value_per_key(bootstrap):
    t = admin.create_topic(bootstrap, admin.unique_topic("t-compact"), config=topics.FAST_COMPACTION)
    try:
        updates = [(k, f"{k}-{i}") for i in range(4) for k in ("a", "b", "c")]
        topics.send(bootstrap, t, updates)
        before = offsets.read(bootstrap, t)
        after, _ = topics.wait_for_compaction(bootstrap, t, keys=3, timeout=40)
        assert len(before) == 12
        assert [(r.offset, r.key, r.value) for r in after] == [(9, "a", "a-3"), (10, "b", "b-3"), (11, "c", "c-3")]
        assert topics.latest_by_key(after) == topics.latest_by_key(before)
    finally:
        admin.delete_topic(bootstrap, t)


def test_retention_deletes_old_records(bootstrap):
    interval = int(topics.broker_setting(bootstrap, "log.retention.check.interval.ms")) / 1000
    # a timeout shorter than the broker's check interval is refused at once, in one line
    with pytest.raises(WorkbookError, match=f"checks retention only every {interval:g} s"):
        topics.wait_for_retention(bootstrap, admin.unique_topic("t-any"), timeout=interval / 2)
    if interval > 30:
        pytest.skip(f"this broker checks retention every {interval:g} s")
    t = admin.create_topic(bootstrap, admin.unique_topic("t-retention"), config=topics.FAST_RETENTION)
    try:
        topics.send(bootstrap, t, [(None, str(i)) for i in range(5)])
        low, high, _ = topics.wait_for_retention(bootstrap, t, timeout=40)
        assert (low, high) == (5, 5)
        assert offsets.read(bootstrap, t) == []
    finally:
        admin.delete_topic(bootstrap, t)
