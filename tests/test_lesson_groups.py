"""helpers.groups: a real consumer group run in threads."""
from __future__ import annotations

import time

import pytest

from helpers import WorkbookError, admin, events, groups, offsets


@pytest.fixture
def six(bootstrap):
    t = admin.create_topic(bootstrap, admin.unique_topic("t-group"), partitions=6)
    yield t
    admin.delete_topic(bootstrap, t)


def test_join_leave_rebalance_and_everything_read(bootstrap, six):
    n = events.produce(bootstrap, six, events.clickstream(600, users=60), key="user")
    with groups.GroupRunner(bootstrap, six, max_seconds=60, session_timeout_ms=3000) as r:
        r.add(); r.add()
        r.wait_stable()
        assert r.assignment_now() == {"c1": [0, 1, 2], "c2": [3, 4, 5]}  # range assignor, members sorted by id
        r.add()
        r.wait_stable()
        assert r.assignment_now() == {"c1": [0, 1], "c2": [2, 3], "c3": [4, 5]}
        r.remove("c1")
        r.wait_stable()
        assert r.running() == ["c2", "c3"]
        assert sorted(p for ps in r.assignment_now().values() for p in ps) == list(range(6))
        deadline = time.monotonic() + 20
        while sum(r.processed().values()) < n and time.monotonic() < deadline:
            time.sleep(0.1)
    assert r.running() == []
    assert r.errors == []
    # messages may be processed twice around a rebalance (at-least-once), never skipped
    assert sum(r.processed().values()) >= n
    own = r.ownership()
    assert set(own["member"]) == {"c1", "c2", "c3"}
    assert (own["end"] >= own["start"]).all()
    assert [m["label"] for m in r.marks] == ["c1 joins", "c2 joins", "c3 joins", "c1 leaves"]
    assert {e["event"] for e in r.events} == {"assigned", "revoked"}
    lag = r.lag_frame()
    assert not lag.empty and set(lag["partition"]) == set(range(6))
    assert offsets.lag(bootstrap, r.group, six)["lag"].sum() == 0  # closing committed everything
    assert admin.delete_groups(bootstrap, r.group) == [r.group]


def test_more_consumers_than_partitions_leaves_some_idle(bootstrap, six):
    with groups.GroupRunner(bootstrap, six, max_seconds=30, lag_every=None) as r:
        for _ in range(8):
            r.add()
        r.wait_stable()
        a = r.assignment_now()
    assert sum(1 for ps in a.values() if not ps) == 2
    assert sorted(p for ps in a.values() for p in ps) == list(range(6))


def test_cooperative_sticky_moves_only_what_it_must(bootstrap, six):
    with groups.GroupRunner(bootstrap, six, assignment="cooperative-sticky", max_seconds=30, lag_every=None) as r:
        r.add(); r.add()
        r.wait_stable()
        before = r.assignment_now()
        r.add()
        r.wait_stable()
        after = r.assignment_now()
    for member in ("c1", "c2"):
        assert set(after[member]) <= set(before[member])  # kept partitions were never taken away
    assert len(after["c3"]) == 2


def test_runner_is_bounded_and_validates(bootstrap, six):
    with pytest.raises(WorkbookError, match="minimum"):
        groups.GroupRunner(bootstrap, six, session_timeout_ms=500)
    with pytest.raises(WorkbookError, match="does not exist"):
        groups.GroupRunner(bootstrap, admin.unique_topic("t-nope"))
    r = groups.GroupRunner(bootstrap, six, max_seconds=3, lag_every=None)
    r.add()
    deadline = time.monotonic() + 20
    while r.running() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert r.running() == []  # it stopped by itself after max_seconds
    with pytest.raises(WorkbookError, match="max_seconds"):
        r.add()
    with pytest.raises(WorkbookError, match="no running member"):
        r.remove("c9")
    r.stop()


def test_two_groups_read_independently(bootstrap, six):
    events.produce(bootstrap, six, events.clickstream(120), key="user")
    billing, analytics = admin.unique_topic("t-billing"), admin.unique_topic("t-analytics")
    try:
        assert groups.read_all_in_group(bootstrap, six, billing, expected=120) == 120
        assert groups.read_all_in_group(bootstrap, six, analytics, expected=120) == 120
        for g in (billing, analytics):  # both committed every partition's end: zero lag, nothing left to read
            lag = offsets.lag(bootstrap, g, six)
            assert lag["lag"].sum() == 0 and lag.loc[lag["log end offset"] > 0, "committed"].notna().all()
        assert groups.read_all_in_group(bootstrap, six, billing, expected=120, timeout=3) == 0
    finally:
        assert sorted(admin.delete_groups(bootstrap, billing, analytics)) == sorted([billing, analytics])
