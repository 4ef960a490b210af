"""Checks for the exercises of lessons 04 (producers) and 05 (consumers).

Each returns a :class:`helpers.exercises.Check` (pass/fail, and a hint on failure) and looks
at the real broker wherever the exercise changed something there. A check that meets a topic
the lesson's Clean up deleted says so, and which cell makes a fresh one.
"""
from __future__ import annotations

import json
import uuid
from typing import Any

from . import admin, clients, offsets, producing, settings
from .connection import ConnLike, bootstrap_of, ck_conf, kp_conf
from .errors import ConfigError
from .exercises import Check, _fail, _ok


def _missing_topic(ex: str, conn: ConnLike, topic: str) -> Check | None:
    """A failed check when ``topic`` is gone (the Clean up cell deletes it), else None."""
    if admin.topic_exists(conn, topic):
        return None
    return _fail(ex, f"the topic {topic!r} does not exist any more (the Clean up cell at the end deletes it)",
                 "run the set-up cell just above the exercise again: it makes a fresh topic; then your cell")


def check_portable_config(conn: ConnLike, conf: dict[str, Any] | None) -> Check:
    """04.1: one Java-style producer config that all three clients accept, asking for leader-only
    acks, 20 ms of linger and gzip; each client then really produces a record with its translation."""
    ex = "04.1 one config, three clients"
    if not conf:
        return _fail(ex, "my_conf is still empty", "write a dict with Java-style names, e.g. {'linger.ms': 20}")
    # accepted values, and the one the hint suggests (fixed, so the hint reads the same on every run)
    want = {"acks": ({1, "1"}, 1), "linger.ms": ({20, "20"}, 20), "compression.type": ({"gzip"}, "gzip")}
    for key, (values, shown) in want.items():
        if conf.get(key) not in values:
            return _fail(ex, f"{key} is {conf.get(key)!r}", f"set {key!r} to {shown!r}")
    full = {**conf, "bootstrap.servers": bootstrap_of(conn)}
    for client in clients.CLIENTS:
        try:
            settings.translate(full, client, "producer")
        except ConfigError as exc:
            return _fail(ex, f"{client} refuses it: {exc.what}", exc.fix or "leave that setting out")
    topic = admin.create_topic(conn, admin.unique_topic("ex-portable"))
    try:
        for client in clients.CLIENTS:
            try:
                producing._produce_all(client, conn, conf, topic, [f"04.1 from {client}".encode()], timeout=10)
            except Exception as exc:  # the learner's config reached a real client: report, don't crash
                return _fail(ex, f"{client}'s producer, built from your config, failed: {type(exc).__name__}: {exc}",
                             "keep to the three settings the exercise asks for")
        got = sorted(v.decode() for v in clients.read_partition("confluent-kafka", conn, topic, 4, timeout=5))
    finally:
        admin.delete_topic(conn, topic)
    expected = sorted(f"04.1 from {c}" for c in clients.CLIENTS)
    if got != expected:
        return _fail(ex, f"the producers built from your config stored {len(got)} of 3 records: {got}",
                     "a producer that stores nothing lost its record: look at the settings it was given")
    return _ok(ex, "kafka-python, confluent-kafka and pykafka each produced a record with their translation of it")


def check_json_records(conn: ConnLike, topic: str, n: int = 10) -> Check:
    """04.2: ``n`` JSON objects {"n": 0} ... {"n": n-1} in ``topic``, in order, written by a serializer."""
    ex = "04.2 a JSON serializer"
    gone = _missing_topic(ex, conn, topic)
    if gone is not None:
        return gone
    values = clients.read_partition("confluent-kafka", conn, topic, n + 1, timeout=5)
    if len(values) != n:
        return _fail(ex, f"the topic holds {len(values)} records, not {n}",
                     "send exactly ten records; run the set-up cell again for a fresh topic if you sent some before")
    try:
        decoded = [json.loads(v) for v in values]
    except (TypeError, ValueError):
        return _fail(ex, "a record is not JSON", "value_serializer=lambda v: json.dumps(v).encode()")
    if decoded != [{"n": i} for i in range(n)]:
        return _fail(ex, f"the records are {decoded[:3]}...", "send {'n': i} for i in range(10), in order")
    return _ok(ex, f"{n} JSON records, in order")


def _commits_by_itself(conn: ConnLike, topic: str, conf: dict[str, Any]) -> bool | None:
    """Does a consumer built from Java-style ``conf`` commit without being asked? Reads two records in a
    scratch group and closes without commit(); True if the group then has a committed offset.
    None when no client accepts ``conf``."""
    group = f"ex-autocommit-{uuid.uuid4().hex[:8]}"
    probe = {**conf, "bootstrap.servers": bootstrap_of(conn), "group.id": group, "auto.offset.reset": "earliest"}
    for client in ("confluent-kafka", "kafka-python"):
        try:
            kw = settings.translate(probe, client, "consumer")
        except ConfigError:
            continue
        if client == "confluent-kafka":
            from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

            c = Consumer({**ck_conf(conn), **kw})
            c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
            try:
                clients.bounded_poll(lambda: clients.ck_poll_one(c, 0.2), 2, 5)
            finally:
                c.close()
        else:
            from kafka import KafkaConsumer, TopicPartition as KTP

            c = KafkaConsumer(**{**kp_conf(conn), **kw})
            c.assign([KTP(topic, 0)])
            try:
                clients.bounded_poll(lambda: clients.kp_poll_one(c, 0.2), 2, 5)
            finally:
                c.close()
        try:
            return offsets.committed(conn, group, topic).get(0) is not None
        finally:
            admin.delete_groups(conn, group)
    return None


def check_committed(conn: ConnLike, group: str, topic: str, conf: dict[str, Any] | None = None,
                    expected: int = 5) -> Check:
    """05.1: ``group`` committed offset ``expected`` on partition 0 of ``topic``, and the Java-style consumer
    config ``conf`` it used has auto-commit off (checked by a consumer built from it, which must not commit)."""
    ex = "05.1 commit after processing"
    if not conf:
        return _fail(ex, "ex_conf is still empty",
                     "write the consumer's settings Java-style, e.g. {'group.id': ex_group, 'enable.auto.commit': False, "
                     "'auto.offset.reset': 'earliest'}, and build your consumer from settings.translate(ex_conf, ...)")
    if conf.get("group.id") != group:
        return _fail(ex, f"ex_conf's group.id is {conf.get('group.id')!r}, not {group!r}", "use 'group.id': ex_group")
    if conf.get("enable.auto.commit") not in (False, "false", "False", 0):
        return _fail(ex, f"enable.auto.commit is {conf.get('enable.auto.commit')!r}: auto-commit stays on "
                     "(the default in kafka-python and confluent-kafka)", "set 'enable.auto.commit': False")
    gone = _missing_topic(ex, conn, topic)
    if gone is not None:
        return gone
    got = offsets.committed(conn, group, topic).get(0)
    if got is None:
        return _fail(ex, f"group {group!r} has committed nothing",
                     "read five records, then consumer.commit() (confluent: commit(asynchronous=False)) before close()")
    if got != expected:
        return _fail(ex, f"committed offset is {got}, not {expected}",
                     "the committed offset is the next record to read: after 5 records it is 5 "
                     "(read one record per poll: max_poll_records=1, or confluent's poll())")
    if _commits_by_itself(conn, topic, conf):
        return _fail(ex, "a consumer built from the config committed without being asked: auto-commit is on",
                     "set 'enable.auto.commit': False")
    return _ok(ex, f"committed offset {got}, auto-commit off (a consumer built from the config committed nothing "
               f"by itself): a restart resumes at record {expected}")


def _value_bytes(v: Any) -> bytes | None:
    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode()
    return None


def check_replay(values: list[Any] | None, conn: ConnLike, topic: str, start: int = 3) -> Check:
    """05.2: ``values`` are the topic's records from offset ``start`` to the end (bytes or str)."""
    ex = "05.2 seek and replay"
    if values is None:
        return _fail(ex, "replay_values is still None", f"seek to offset {start} and collect the values until the end")
    gone = _missing_topic(ex, conn, topic)
    if gone is not None:
        return gone
    got = [_value_bytes(v) for v in values]
    if any(g is None for g in got):
        kind = type(next(v for v in values if _value_bytes(v) is None)).__name__
        return _fail(ex, f"replay_values holds {kind} objects, not values",
                     "collect record.value (kafka-python) or msg.value() (confluent-kafka)")
    everything = clients.read_partition("kafka-python", conn, topic, 1000, timeout=5)
    want = everything[start:]
    if got == want:
        return _ok(ex, f"{len(got)} records replayed, offsets {start} to {len(everything) - 1}")
    where = {v: i for i, v in enumerate(everything)}  # the lesson's values are unique, so a value names its offset
    seen = [where.get(g) for g in got]
    if not got:
        return _fail(ex, f"replay_values is empty; offsets {start} to {len(everything) - 1} "
                     f"({len(want)} values) were expected",
                     "after seek(), poll until you reach the end offset (a short poll can return nothing)")
    if None in seen:
        return _fail(ex, f"{seen.count(None)} of your {len(got)} values are not in {topic!r}",
                     "read from the exercise's topic (the set-up cell's ex_ledger)")
    if len(set(seen)) < len(seen):
        return _fail(ex, f"some values appear twice (offsets {seen})", "collect each record once")
    first, last = seen[0], seen[-1]
    fix = (f"seek(partition, {start}) before polling" if first != start else
           f"keep polling until the end offset ({len(everything)})" if last < len(everything) - 1 else
           "keep the records in the order you read them")
    return _fail(ex, f"you collected {len(got)} values, offsets {first} to {last}; expected offsets {start} to "
                 f"{len(everything) - 1} ({len(want)} values)", fix)
