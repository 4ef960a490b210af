"""Describing and changing topics with the Admin API, and watching retention and compaction work.

Creating and deleting live in :mod:`helpers.admin`; this module adds what lesson 02 shows
next to Kafka's own ``kafka-topics`` tool: describe (partitions, leader, replicas, in-sync
replicas, configs), alter (more partitions, a changed config), and two clean-up policies
made fast enough to watch: ``delete`` (retention) and ``compact`` (the last value per key).
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Iterable

from . import admin
from .admin import admin_client
from .connection import ConnLike, ck_conf
from .errors import WorkbookError

if TYPE_CHECKING:
    import pandas as pd

    from .offsets import Record

#: Topic settings that make the log cleaner act within seconds on the embedded broker
#: (it checks every log.cleaner.backoff.ms=1000 ms). Never use them in production.
FAST_COMPACTION = {
    "cleanup.policy": "compact",
    "segment.ms": "100",  # roll the active segment (which is never cleaned) after 100 ms...
    "min.cleanable.dirty.ratio": "0.01",  # ...and clean as soon as 1% of the log is dirty
    "delete.retention.ms": "100",  # tombstones (null values) are removed 100 ms after cleaning
    "min.compaction.lag.ms": "0",
}
FAST_RETENTION = {
    "cleanup.policy": "delete",
    "retention.ms": "1000",  # records older than 1 s may be deleted...
    "segment.ms": "100",  # ...a whole segment at a time; the embedded broker checks every 5 s
}


def describe(conn: ConnLike, topic: str) -> "pd.DataFrame":
    """One row per partition: leader, replicas, in-sync replicas (a DataFrame)."""
    import pandas as pd

    ids = admin.partitions(conn, topic)  # a WorkbookError if the topic does not exist
    parts = admin_client(conn).list_topics(topic, timeout=10).topics[topic].partitions
    rows = [{"partition": p, "leader": parts[p].leader, "replicas": list(parts[p].replicas), "isr": list(parts[p].isrs)}
            for p in ids]
    return pd.DataFrame(rows).set_index("partition")


def configs(conn: ConnLike, topic: str, only_changed: bool = True) -> dict[str, str]:
    """The topic's configuration; by default only what differs from the broker defaults."""
    from confluent_kafka.admin import ConfigResource, ConfigSource

    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    client = admin_client(conn)  # keep a reference until the future is resolved
    entries = client.describe_configs([res])[res].result(timeout=15)
    return {k: e.value for k, e in sorted(entries.items())
            if not only_changed or e.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value}


def set_config(conn: ConnLike, topic: str, changes: dict[str, str | None]) -> dict[str, str]:
    """Change (or with ``None``, remove) topic settings, leaving the others alone; returns the new overrides."""
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

    entries = [ConfigEntry(k, None if v is None else str(v),
                           incremental_operation=AlterConfigOpType.DELETE if v is None else AlterConfigOpType.SET)
               for k, v in changes.items()]
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=entries)
    client = admin_client(conn)
    admin.wait_for({topic: f for f in client.incremental_alter_configs([res]).values()}, "changing the config of topic")
    # the controller has the change; the broker answering DescribeConfigs may apply it a moment later (KRaft
    # metadata log), so read back until every change shows, rather than return the old overrides
    want = {k: (None if v is None else str(v)) for k, v in changes.items()}
    deadline = time.monotonic() + 10
    while True:
        now = configs(conn, topic)
        if all(now.get(k) == v for k, v in want.items()) or time.monotonic() > deadline:
            return now
        time.sleep(0.1)


def add_partitions(conn: ConnLike, topic: str, total: int) -> int:
    """Grow ``topic`` to ``total`` partitions (Kafka can add partitions, never remove them)."""
    from confluent_kafka.admin import NewPartitions

    now = len(admin.partitions(conn, topic))  # a WorkbookError if the topic does not exist
    if total <= now:
        raise WorkbookError(f"{topic!r} has {now} partitions; Kafka can only add partitions, "
                            f"so {total} is not possible", "create a new topic to have fewer partitions")
    client = admin_client(conn)  # keep a reference until the futures are resolved
    admin.wait_for(client.create_partitions([NewPartitions(topic, total)]), "adding partitions to")
    deadline = time.monotonic() + 15
    while admin.partition_count(conn, topic) != total and time.monotonic() < deadline:
        time.sleep(0.1)
    return total


def send(conn: ConnLike, topic: str, pairs: list[tuple[str | None, str | None]],
         timestamps: list[int] | None = None) -> int:
    """Send ``(key, value)`` pairs in order (``None`` value: a tombstone), optionally with explicit
    record timestamps (ms); returns how many were sent."""
    from confluent_kafka import Producer

    p = Producer(ck_conf(conn, {"linger.ms": 0}))
    for i, (k, v) in enumerate(pairs):
        extra = {"timestamp": timestamps[i]} if timestamps else {}
        p.produce(topic, key=None if k is None else k.encode(), value=None if v is None else v.encode(), **extra)
    if p.flush(15):
        raise WorkbookError(f"could not send to {topic!r} within 15 s", "is the broker running?")
    return len(pairs)


def latest_by_key(records: Iterable["Record"]) -> dict[str, str | None]:
    """What a compacted topic promises to keep: the last value of every key."""
    out: dict[str, str | None] = {}
    for r in records:
        out[r.key] = r.value
    return out


def wait_for_compaction(conn: ConnLike, topic: str, keys: int, timeout: float = 30.0,
                        nudge: str = "_roll") -> tuple[list["Record"], float]:
    """Wait (bounded) until the cleaner has compacted ``topic`` down to about one record per key.

    The newest (active) segment is never cleaned, so every 0.5 s a record with key ``nudge`` is
    sent: once ``segment.ms`` has passed it rolls the segment, making the earlier records
    cleanable. Returns the records left (nudges excluded) and the seconds waited.
    """
    from .offsets import read

    start = time.monotonic()
    while time.monotonic() - start < timeout:
        send(conn, topic, [(nudge, "")])
        records = [r for r in read(conn, topic, timeout=10) if r.key != nudge]
        if len(records) <= keys:
            return records, round(time.monotonic() - start, 1)
        time.sleep(0.5)
    raise WorkbookError(f"{topic!r} was not compacted within {timeout:.0f} s",
                        "is cleanup.policy=compact set? the embedded broker cleans every second; a busy machine "
                        "may need a longer timeout")


def broker_setting(conn: ConnLike, name: str) -> str | None:
    """The value of one broker setting (of the first broker in the metadata), or None if it has none."""
    from confluent_kafka.admin import ConfigResource

    client = admin_client(conn)
    broker = min(client.list_topics(timeout=10).brokers)
    res = ConfigResource(ConfigResource.Type.BROKER, str(broker))
    entry = client.describe_configs([res])[res].result(timeout=15).get(name)
    return None if entry is None else entry.value


def wait_for_retention(conn: ConnLike, topic: str, timeout: float = 30.0) -> tuple[int, int, float]:
    """Wait (bounded) until retention deleted old records: the log start offset moves past 0.

    Returns ``(log start offset, log end offset, seconds waited)``. The broker looks for expired
    segments every ``log.retention.check.interval.ms`` (5 s on the embedded broker, 5 minutes by
    default): if that is longer than ``timeout``, this says so at once instead of waiting in vain.
    """
    from .offsets import watermarks

    interval = int(broker_setting(conn, "log.retention.check.interval.ms") or 0) / 1000
    if interval > timeout:
        raise WorkbookError(f"this broker checks retention only every {interval:g} s "
                            f"(log.retention.check.interval.ms), longer than timeout={timeout:g} s",
                            "the embedded broker checks every 5 s; here pass a longer timeout or skip the demo")
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        low, high = watermarks(conn, topic)[0]
        if low > 0:
            return low, high, round(time.monotonic() - start, 1)
        time.sleep(0.5)
    raise WorkbookError(f"retention did not delete anything from {topic!r} within {timeout:.0f} s",
                        f"is retention.ms small and segment.ms small? this broker checks every {interval:g} s")


def glossary(conn: ConnLike, topic: str, record: "Record", group: str | None = None) -> "pd.DataFrame":
    """The talk's terms (slide 23), each tied to what this broker and ``record`` show right now.
    ``group`` names a consumer group to point at, if the lesson has one yet."""
    import pandas as pd

    admin.partitions(conn, topic)  # a WorkbookError if the topic does not exist
    md = admin_client(conn).list_topics(topic, timeout=10)
    broker = next(iter(md.brokers.values()))
    part = md.topics[topic].partitions[record.partition]
    rows = [
        ("broker", "a Kafka server: stores partitions, serves clients", f"node {broker.id} at {broker.host}:{broker.port}"),
        ("topic", "a named stream of records", f"{topic} ({len(md.topics[topic].partitions)} partitions)"),
        ("partition", "an ordered, append-only log; a topic is split into several",
         f"this record went to partition {record.partition}"),
        ("message", "one record: key, value, timestamp (and headers)",
         f"key={record.key!r} value={record.value!r} timestamp={record.timestamp}"),
        ("offset", "a record's position in its partition", f"offset {record.offset}"),
        ("producer", "a client that appends records", "the confluent-kafka Producer in the cell above"),
        ("consumer", "a client that reads records from positions it chooses", "offsets.read(...) in the cell above"),
        ("consumer group", "consumers sharing the work; the group's positions are stored in Kafka",
         f"group {group!r}" if group else "none yet: lesson 03 runs groups"),
        ("replica", "a copy of a partition on a broker; one is the leader",
         f"partition {record.partition}: leader node {part.leader}, replicas {list(part.replicas)}, "
         f"in sync {list(part.isrs)}"),
    ]
    return pd.DataFrame(rows, columns=["term", "what it is", "here, now"]).set_index("term")
