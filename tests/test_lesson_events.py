"""helpers.events and helpers.paradigms on the real broker."""
from __future__ import annotations

from collections import Counter

from helpers import admin, events, offsets, paradigms


def test_generators_are_seeded_and_shaped():
    a, b = events.clickstream(50, seed=1), events.clickstream(50, seed=1)
    assert a == b and a != events.clickstream(50, seed=2)
    assert {e["page"] for e in a} <= set(events.PAGES)
    assert [e["ts"] for e in a] == sorted(e["ts"] for e in a)
    m = events.metrics(9)
    assert [r["host"] for r in m[:3]] == list(events.HOSTS)
    assert all(0 <= r["cpu"] <= 100 for r in m)
    assert {r["service"] for r in events.log_lines(30)} <= set(events.SERVICES)


def test_produce_then_consume_counts_every_event(bootstrap, topic):
    clicks = events.clickstream(40)
    assert events.produce(bootstrap, topic, clicks, key="user") == 40
    got = list(events.consume(bootstrap, topic, max_events=40, seconds=15))
    assert got == clicks  # one partition: the same events, in order
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
    batch_times = df[df["paradigm"] == "batch"]["result_s"].nunique()
    stream_times = df[df["paradigm"] == "stream"]["result_s"].nunique()
    assert batch_times < 30 / 3 < stream_times  # results of a batch appear together
