"""Describing and changing topics with the Admin API, and watching retention and compaction work.

Creating and deleting live in :mod:`helpers.admin`; this module adds what lesson 02 shows
next to Kafka's own ``kafka-topics`` tool: describe (partitions, leader, replicas, in-sync
replicas, configs), alter (more partitions, a changed config), and two clean-up policies
made fast enough to watch: ``delete`` (retention) and ``compact`` (the last value per key).
"""
from __future__ import annotations

import time

from .admin import _wait
from .errors import WorkbookError


def admin_client(bootstrap: str):
    """An AdminClient that logs only warnings and errors (not librdkafka's info chatter)."""
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 10000, "log_level": 4})

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
    "segment.ms": "100",  # ...a whole segment at a time; the broker checks every 5 s here
}


def describe(bootstrap: str, topic: str):
    """One row per partition: leader, replicas, in-sync replicas (a DataFrame)."""
    import pandas as pd

    md = admin_client(bootstrap).list_topics(topic, timeout=10).topics.get(topic)
    if md is None or md.error is not None:
        raise WorkbookError(f"topic {topic!r} does not exist", "check the name: helpers.admin.list_topics(bootstrap)")
    rows = [{"partition": p.id, "leader": p.leader, "replicas": list(p.replicas), "isr": list(p.isrs)}
            for p in sorted(md.partitions.values(), key=lambda p: p.id)]
    return pd.DataFrame(rows).set_index("partition")


def configs(bootstrap: str, topic: str, only_changed: bool = True) -> dict[str, str]:
    """The topic's configuration; by default only what differs from the broker defaults."""
    from confluent_kafka.admin import ConfigResource, ConfigSource

    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    client = admin_client(bootstrap)  # keep a reference until the future is resolved
    entries = client.describe_configs([res])[res].result(timeout=15)
    return {k: e.value for k, e in sorted(entries.items())
            if not only_changed or e.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value}


def set_config(bootstrap: str, topic: str, changes: dict[str, str | None]) -> dict[str, str]:
    """Change (or with ``None``, remove) topic settings, leaving the others alone; returns the new overrides."""
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

    entries = [ConfigEntry(k, None if v is None else str(v),
                           incremental_operation=AlterConfigOpType.DELETE if v is None else AlterConfigOpType.SET)
               for k, v in changes.items()]
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=entries)
    client = admin_client(bootstrap)
    _wait({topic: f for f in client.incremental_alter_configs([res]).values()}, "changing the config of topic")
    return configs(bootstrap, topic)


def add_partitions(bootstrap: str, topic: str, total: int) -> int:
    """Grow ``topic`` to ``total`` partitions (Kafka can add partitions, never remove them)."""
    from confluent_kafka.admin import NewPartitions

    client = admin_client(bootstrap)
    md = client.list_topics(topic, timeout=10).topics.get(topic)
    if md is None or md.error is not None:
        raise WorkbookError(f"topic {topic!r} does not exist", "check the name: helpers.admin.list_topics(bootstrap)")
    if total <= len(md.partitions):
        raise WorkbookError(f"{topic!r} has {len(md.partitions)} partitions; Kafka can only add partitions, "
                            f"so {total} is not possible", "create a new topic to have fewer partitions")
    _wait(client.create_partitions([NewPartitions(topic, total)]), "adding partitions to")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        md = client.list_topics(topic, timeout=10).topics[topic]
        if len(md.partitions) == total:
            break
        time.sleep(0.1)
    return total


def send(bootstrap: str, topic: str, pairs: list[tuple[str | None, str | None]],
         timestamps: list[int] | None = None) -> int:
    """Send ``(key, value)`` pairs in order (``None`` value: a tombstone), optionally with explicit
    record timestamps (ms); returns how many were sent."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    for i, (k, v) in enumerate(pairs):
        extra = {"timestamp": timestamps[i]} if timestamps else {}
        p.produce(topic, key=None if k is None else k.encode(), value=None if v is None else v.encode(), **extra)
    if p.flush(15):
        raise WorkbookError(f"could not send to {topic!r} within 15 s", "is the broker running?")
    return len(pairs)


def latest_by_key(records) -> dict[str, str | None]:
    """What a compacted topic promises to keep: the last value of every key."""
    out: dict[str, str | None] = {}
    for r in records:
        out[r.key] = r.value
    return out


def wait_for_compaction(bootstrap: str, topic: str, keys: int, timeout: float = 30.0,
                        nudge: str = "_roll") -> tuple[list, float]:
    """Wait (bounded) until the cleaner has compacted ``topic`` down to about one record per key.

    The newest (active) segment is never cleaned, so every 0.5 s a record with key ``nudge`` is
    sent: once ``segment.ms`` has passed it rolls the segment, making the earlier records
    cleanable. Returns the records left (nudges excluded) and the seconds waited.
    """
    from .offsets import read

    start = time.monotonic()
    while time.monotonic() - start < timeout:
        send(bootstrap, topic, [(nudge, "")])
        records = [r for r in read(bootstrap, topic, timeout=10) if r.key != nudge]
        if len(records) <= keys:
            return records, round(time.monotonic() - start, 1)
        time.sleep(0.5)
    raise WorkbookError(f"{topic!r} was not compacted within {timeout:.0f} s",
                        "is cleanup.policy=compact set? the embedded broker cleans every second; a busy machine "
                        "may need a longer timeout")


def wait_for_retention(bootstrap: str, topic: str, timeout: float = 30.0) -> tuple[int, int, float]:
    """Wait (bounded) until retention deleted old records: the log start offset moves past 0.

    Returns ``(log start offset, log end offset, seconds waited)``.
    """
    from .offsets import watermarks

    start = time.monotonic()
    while time.monotonic() - start < timeout:
        low, high = watermarks(bootstrap, topic)[0]
        if low > 0:
            return low, high, round(time.monotonic() - start, 1)
        time.sleep(0.5)
    raise WorkbookError(f"retention did not delete anything from {topic!r} within {timeout:.0f} s",
                        "is retention.ms small and segment.ms small? the broker checks every 5 s")


def glossary(bootstrap: str, topic: str, record, group: str):
    """The talk's terms (slide 23), each tied to what this broker and ``record`` show right now."""
    import pandas as pd

    md = admin_client(bootstrap).list_topics(topic, timeout=10)
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
         f"group {group!r} (lesson 03)"),
        ("replica", "a copy of a partition on a broker; one is the leader",
         f"partition {record.partition}: leader node {part.leader}, replicas {list(part.replicas)}, "
         f"in sync {list(part.isrs)}"),
    ]
    return pd.DataFrame(rows, columns=["term", "what it is", "here, now"]).set_index("term")
