"""helpers.delivery: commit strategies under a real crash (a killed worker process)."""
from __future__ import annotations

import pytest

from helpers import WorkbookError, delivery


@pytest.mark.parametrize("strategy,lost,dups,committed", [
    ("at-most-once", 5, 0, 30),
    ("at-least-once", 0, 5, 20),
    ("exactly-once", 0, 0, 20),
])
def test_crash_costs(bootstrap, strategy, lost, dups, committed):
    r = delivery.simulate(bootstrap, strategy, n=100, crash_after=25, batch=10)
    assert r["crash_exit_code"] == 1
    assert (r["lost"], r["duplicates"], r["committed_at_crash"]) == (lost, dups, committed)
    assert r["processed"] == 100 - lost + dups
    if strategy == "exactly-once":
        assert r["uncommitted_reader_sees"] == 105  # the aborted transaction's records are in the log


def test_auto_and_async_never_lose_and_duplicate_at_once(bootstrap):
    for strategy in ("auto", "at-least-once-async"):
        r = delivery.simulate(bootstrap, strategy, n=60, crash_after=15, batch=10)
        assert r["processed"] == 60 - r["lost"] + r["duplicates"]
        assert r["lost"] + r["duplicates"] <= 15


def test_unknown_strategy(bootstrap):
    with pytest.raises(WorkbookError, match="unknown strategy"):
        delivery.simulate(bootstrap, "twice-a-day")


def test_auto_commit_with_offsets_stored_after_processing_never_loses(bootstrap):
    # librdkafka's fix for auto commit: enable.auto.offset.store=false + store_offsets() after processing
    r = delivery.simulate(bootstrap, "auto-store-after", n=60, crash_after=15, batch=10)
    assert r["crash_exit_code"] == 1 and r["lost"] == 0
    committed = r["committed_at_crash"] or 0  # None: the crash came before the first background commit
    assert committed <= 15 and r["duplicates"] == 15 - committed
