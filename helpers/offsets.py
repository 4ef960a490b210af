"""Offsets: where a partition's log starts and ends, where a reader starts, where a group stands.

Every function reads with confluent-kafka and returns plain Python data or a DataFrame.
Reads are bounded: they stop at the end of the log (as it was when the read began), after
``limit`` records, or after ``timeout`` seconds, whichever comes first.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

from . import admin
from .clients import bounded_poll, ck_poll_one
from .connection import ConnLike, ck_conf
from .errors import WorkbookError

if TYPE_CHECKING:
    import pandas as pd
    from confluent_kafka import Consumer

Start = Union[str, int, dict]


@dataclass(frozen=True)
class Record:
    """One message as a reader sees it."""

    partition: int
    offset: int
    key: str | None
    value: str | None
    timestamp: int  # milliseconds since the epoch


def _consumer(conn: ConnLike, group: str | None = None, **extra: Any) -> "Consumer":
    """A confluent Consumer that never commits on its own (a throwaway group unless ``group`` is given)."""
    from confluent_kafka import Consumer

    return Consumer(ck_conf(conn, {"group.id": group or f"reader-{uuid.uuid4().hex[:8]}",
                                        "enable.auto.commit": False, "socket.timeout.ms": 10000, **extra}))


def watermarks(conn: ConnLike, topic: str) -> dict[int, tuple[int, int]]:
    """``{partition: (low, high)}``: the first offset still stored and the offset the next message gets."""
    c = _consumer(conn)
    try:
        from confluent_kafka import TopicPartition

        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in admin.partitions(conn, topic)}
    finally:
        c.close()


def _decode(b: bytes | None) -> str | None:
    return None if b is None else b.decode(errors="replace")


def _marks_of_new_partition(c, tp, patience: float = 5.0) -> tuple[int, int]:  # noqa: ANN001
    """``get_watermark_offsets``, retried for a few seconds while a just-created partition's leader is still
    taking over (the broker answers NOT_LEADER_FOR_PARTITION for a moment after CreateTopics on a busy machine)."""
    from confluent_kafka import KafkaException

    deadline = time.monotonic() + patience
    while True:
        try:
            return c.get_watermark_offsets(tp, timeout=10)
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if not (getattr(err, "retriable", lambda: False)() or "NOT_LEADER" in str(exc)) \
                    or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def read(conn: ConnLike, topic: str, start: Start = "earliest", partition: int | None = None,
         limit: int | None = None, timeout: float = 10.0, isolation: str = "read_uncommitted") -> list[Record]:
    """Read ``topic`` (or one ``partition``) from ``start`` up to the current end, without a group.

    ``start`` is ``"earliest"``, ``"latest"``, an offset (``int``), or ``{"timestamp": ms}``
    (the first message at or after that time, found with ``offsets_for_times``).
    """
    from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, TopicPartition

    c = _consumer(conn, **{"isolation.level": isolation})
    try:
        parts = [partition] if partition is not None else admin.partitions(conn, topic)
        marks = {p: _marks_of_new_partition(c, TopicPartition(topic, p)) for p in parts}
        ends = {p: high for p, (_, high) in marks.items()}
        if isinstance(start, dict) and "timestamp" in start:
            asked = [TopicPartition(topic, p, int(start["timestamp"])) for p in parts]
            tps = c.offsets_for_times(asked, timeout=10)
            tps = [TopicPartition(topic, tp.partition, ends[tp.partition] if tp.offset < 0 else tp.offset) for tp in tps]
        elif start == "earliest":
            tps = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts]
        elif start == "latest":
            tps = [TopicPartition(topic, p, OFFSET_END) for p in parts]
        elif isinstance(start, int) and start >= 0:
            tps = [TopicPartition(topic, p, start) for p in parts]
        else:
            raise WorkbookError(f"start={start!r} is not a place to read from",
                                "use 'earliest', 'latest', an offset >= 0, or {'timestamp': ms}")
        if start == "latest":
            return []
        c.assign(tps)
        out: list[Record] = []
        # nothing to read where the log is empty or the start is already at its end
        done = {p for p in parts if marks[p][0] >= ends[p]}
        done |= {tp.partition for tp in tps if tp.offset >= 0 and tp.offset >= ends[tp.partition]}
        deadline = time.monotonic() + timeout
        while len(done) < len(parts) and time.monotonic() < deadline and (limit is None or len(out) < limit):
            for msg in c.consume(500, 0.2):
                if msg.error() is not None:
                    continue
                p = msg.partition()
                if msg.offset() < ends[p]:
                    out.append(Record(p, msg.offset(), _decode(msg.key()), _decode(msg.value()), msg.timestamp()[1]))
                if msg.offset() >= ends[p] - 1:
                    done.add(p)
            for p in parts:  # a partition whose position reached its end (e.g. past aborted records)
                pos = c.position([TopicPartition(topic, p)])[0].offset
                if pos >= ends[p]:
                    done.add(p)
        return out[:limit] if limit is not None else out
    finally:
        c.close()


def committed(conn: ConnLike, group: str, topic: str) -> dict[int, int | None]:
    """``{partition: committed offset}`` of ``group`` on ``topic`` (None where it never committed)."""
    from confluent_kafka import TopicPartition

    c = _consumer(conn, group)
    try:
        tps = c.committed([TopicPartition(topic, p) for p in admin.partitions(conn, topic)], timeout=10)
        return {tp.partition: (tp.offset if tp.offset >= 0 else None) for tp in tps}
    finally:
        c.close()


def commit(conn: ConnLike, group: str, topic: str, offsets: dict[int, int]) -> None:
    """Set ``group``'s committed offsets on ``topic`` (the group must have no active members)."""
    from confluent_kafka import KafkaException, TopicPartition

    c = _consumer(conn, group)
    try:
        c.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()], asynchronous=False)
    except KafkaException as exc:
        raise WorkbookError(f"committing for group {group!r} failed: {exc.args[0].str()}",
                            "stop the group's consumers first (an active group rejects outside commits)") from None
    finally:
        c.close()


def lag(conn: ConnLike, group: str, topic: str) -> "pd.DataFrame":
    """A DataFrame per partition: log end offset, the group's committed offset, and the lag between them."""
    import pandas as pd

    ends = watermarks(conn, topic)
    done = committed(conn, group, topic)
    rows = []
    for p, (low, high) in ends.items():
        c = done.get(p)
        rows.append({"partition": p, "log end offset": high, "committed": c,
                     "lag": high - (c if c is not None else low)})
    return pd.DataFrame(rows).set_index("partition")


def new_group_reads(conn: ConnLike, topic: str, reset: str, then_send: list[str], timeout: float = 15.0) -> list[str]:
    """A brand-new group (no committed offsets) joins with ``auto.offset.reset=reset``; once it owns the
    partitions, ``then_send`` values are produced. Returns every value the group read (bounded)."""
    from confluent_kafka import Consumer, Producer

    if reset not in ("earliest", "latest"):
        raise WorkbookError(f"auto.offset.reset={reset!r}", "use 'earliest' or 'latest'")
    import json

    assigned = []
    fetching: set[int] = set()

    def on_stats(text: str) -> None:  # librdkafka reports each partition's fetch state in its statistics
        parts = json.loads(text).get("topics", {}).get(topic, {}).get("partitions", {})
        fetching.update(int(p) for p, st in parts.items() if int(p) >= 0 and st.get("fetch_state") == "active")

    c = Consumer(ck_conf(conn, {"group.id": f"reset-{uuid.uuid4().hex[:8]}",
                                     "auto.offset.reset": reset, "enable.auto.commit": False,
                                     "statistics.interval.ms": 100, "stats_cb": on_stats}))
    try:
        c.subscribe([topic], on_assign=lambda _c, ps: assigned.extend(ps))
        got: list[str] = []
        deadline = time.monotonic() + timeout
        while not assigned and time.monotonic() < deadline:
            got += [_decode(m.value()) for m in c.consume(100, 0.2) if m.error() is None]
        # a new group's start offset is looked up (ListOffsets) after the assignment: wait until every
        # partition is being fetched, else "latest" could be resolved after our messages arrive
        while time.monotonic() < deadline and not {tp.partition for tp in assigned} <= fetching:
            got += [_decode(m.value()) for m in c.consume(100, 0.1) if m.error() is None]
        p = Producer(ck_conf(conn))
        for v in then_send:
            p.produce(topic, v.encode())
        p.flush(10)
        idle_since = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - idle_since < 1.0:
            batch = [_decode(m.value()) for m in c.consume(100, 0.2) if m.error() is None]
            if batch:
                got += batch
                idle_since = time.monotonic()
        return got
    finally:
        c.close()


def consume_n(conn: ConnLike, topic: str, group: str, n: int, timeout: float = 15.0) -> list[Record]:
    """Read ``n`` messages with a consumer in ``group`` (from its committed position, else the
    beginning), commit the position after the last one, and close. Returns what was read."""
    from confluent_kafka import Consumer

    c = Consumer(ck_conf(conn, {"group.id": group, "auto.offset.reset": "earliest",
                                     "enable.auto.commit": False, "session.timeout.ms": 6000}))
    try:
        c.subscribe([topic])
        msgs = bounded_poll(lambda: ck_poll_one(c, 0.2), n, timeout)
        if msgs:
            c.commit(message=msgs[-1], asynchronous=False)  # commits its offset + 1: the next one to read
        return [Record(m.partition(), m.offset(), _decode(m.key()), _decode(m.value()), m.timestamp()[1]) for m in msgs]
    finally:
        c.close()
