"""helpers.events and helpers.paradigms on the real broker."""
from __future__ import annotations

from collections import Counter

import pytest

from helpers import WorkbookError, admin, events, offsets, paradigms


def test_generators_are_seeded_and_shaped():
    a, b = events.clickstream(50, seed=1), events.clickstream(50, seed=1)
    assert a == b and a != events.clickstream(50, seed=2)
    assert {e["page"] for e in a} <= set(events.PAGES)
    assert [e["ts"] for e in a] == sorted(e["ts"] for e in a)
    m = events.metrics(9)
    assert [r["host"] for r in m[:3]] == list(events.HOSTS)
    assert all(0 <= r["cpu"] <= 100 for r in m)
    logs = events.log_lines(300)
    assert {r["service"] for r in logs} <= set(events.SERVICES) and {r["level"] for r in logs} == set(events.LEVELS)
    errors = Counter(r["service"] for r in logs if r["level"] == "ERROR")
    assert errors.most_common(1)[0][0] == "billing"  # the weights make one service stand out


def test_level_counts_aggregates_logs_from_a_topic(bootstrap):
    t = admin.create_topic(bootstrap, admin.unique_topic("t-logs"), partitions=2)
    try:
        logs = events.log_lines(120, seed=3)
        events.produce(bootstrap, t, logs, key="service")
        df = events.level_counts(bootstrap, t, expected=120)
        truth = Counter((r["service"], r["level"]) for r in logs)
        assert {(s, lv): int(df.loc[s, lv]) for s in df.index for lv in events.LEVELS if df.loc[s, lv]} == truth
        assert df["total"].sum() == 120
        with pytest.raises(WorkbookError, match="read 120 of 121"):
            events.level_counts(bootstrap, t, expected=121, seconds=3)
    finally:
        admin.delete_topic(bootstrap, t)


def test_produce_then_consume_counts_every_event(bootstrap, topic):
    clicks = events.clickstream(40)
    assert events.produce(bootstrap, topic, clicks, key="user") == 40
    got = list(events.consume(bootstrap, topic, max_events=40, seconds=15))
    assert got == clicks  # one partition: the same events, in order
    group = admin.unique_topic("t-events")
    assert len(list(events.consume(bootstrap, topic, group=group, max_events=30, seconds=15))) == 30
    assert offsets.committed(bootstrap, group, topic)[0] is not None  # a named group commits as it reads
    admin.delete_groups(bootstrap, group)
    keys = Counter(r.key for r in offsets.read(bootstrap, topic))
    assert keys == Counter(c["user"] for c in clicks)


def test_produce_with_event_time_sets_record_timestamps(bootstrap, topic):
    clicks = events.clickstream(5)
    events.produce(bootstrap, topic, clicks, use_event_time=True)
    assert [r.timestamp for r in offsets.read(bootstrap, topic)] == [c["ts"] for c in clicks]


def test_live_aggregate_matches_the_truth_across_partitions(bootstrap):
    t = admin.create_topic(bootstrap, admin.unique_topic("t-live"), partitions=3)
    try:
        stream = events.clickstream(150, seed=4, step_ms=100)
        updates = []
        with events.Feed(bootstrap, t, stream, key="user", rate=300) as feed:
            rows = events.live_aggregate(bootstrap, t, "page", seconds=20, expected=150, on_update=updates.append)
        assert feed.delivered == 150
        assert updates and updates[-1] == rows
        per_page = Counter()
        for r in rows:
            per_page[r["page"]] += r["count"]
        assert per_page == Counter(e["page"] for e in stream)
        # windows go by event time: 10 clicks per 1 s window, whatever the arrival order
        per_window = Counter()
        for r in rows:
            per_window[r["window"]] += r["count"]
        assert set(per_window.values()) == {10} and min(per_window) == 0.0
    finally:
        admin.delete_topic(bootstrap, t)


def test_feed_stops_early_when_asked(bootstrap, topic):
    feed = events.Feed(bootstrap, topic, events.clickstream(1000), rate=50)
    delivered = feed.stop()
    assert not feed.running
    assert delivered < 1000


def test_paradigms_all_count_the_same_and_batch_comes_in_clumps(bootstrap, topic):
    df = paradigms.run(bootstrap, topic, events.clickstream(30), rate=30, batch_every=0.5)
    assert sorted(df["paradigm"].unique()) == ["batch", "request/response", "stream"]
    assert (df.groupby("paradigm").size() == 30).all()
    assert (df["delay_s"] >= 0).all()
    batch = df[df["paradigm"] == "batch"]
    stream = df[df["paradigm"] == "stream"]
    assert batch["result_s"].nunique() < 30  # results of a batch appear together, in clumps
    assert stream["delay_s"].median() < batch["delay_s"].median()  # the stream answers sooner


def test_paradigms_needs_a_one_partition_topic(bootstrap):
    t = admin.create_topic(bootstrap, admin.unique_topic("t-par"), partitions=2)
    try:
        with pytest.raises(WorkbookError, match="has 2"):
            paradigms.run(bootstrap, t, events.clickstream(3))
    finally:
        admin.delete_topic(bootstrap, t)
