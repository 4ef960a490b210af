"""The adapters every lesson shares: the three Python clients side by side, in a few lines each.

Each ``*_roundtrip`` function produces ``messages`` to ``topic`` and reads back from the
beginning until it has ``expect`` messages (default: as many as it sent) or ``timeout``
passes, returning the values it read, so lessons and tests can compare the three. Then:
reading one partition, end offsets, and the short pollers every loop is built from.
Every blocking call has a timeout so a notebook cell never hangs. Clients are built by
:mod:`helpers.connection`; lesson 04's experiments live in :mod:`helpers.producing`,
lesson 05's in :mod:`helpers.consuming`.
"""
from __future__ import annotations

import importlib.metadata as md
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any, Callable

from .connection import CK_LOG_LEVEL, ConnLike, as_connection, ck_conf, kp_conf, pk_conf, pykafka_tls_check  # noqa: F401
from .errors import ConfigError, WorkbookError
from .settings import CLIENTS  # noqa: F401 - re-exported: the one list lives in settings

if TYPE_CHECKING:
    import pandas as pd

def versions() -> dict[str, str]:
    """Installed version of each client (and librdkafka under confluent-kafka), or 'missing'."""
    out = {}
    for dist in CLIENTS:
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = "missing"
    try:
        import confluent_kafka

        out["librdkafka"] = confluent_kafka.libversion()[0]
    except ImportError:
        pass
    out["pykafka rdkafka"] = "built" if pykafka_rdkafka_available() else "not built"
    return out


def pykafka_rdkafka_available() -> bool:
    """True when pykafka's C extension (``use_rdkafka=True``) was built against librdkafka."""
    try:
        import pykafka.rdkafka._rd_kafka  # noqa: F401
    except Exception:  # ImportError, or pkg_resources missing
        return False
    return True


# pykafka's rdkafka consumer hands these to librdkafka 2.x, which checks them:
#   receive.message.max.bytes = fetch_message_max_bytes * (partitions + 1) must be >= fetch.max.bytes (50 MiB) + 512
#   queued.max.messages.kbytes = queued_max_messages * fetch_message_max_bytes / 1024 must be <= 2097151
# pykafka's defaults (1 MiB, 100000) break both; 32 MiB and 60 satisfy both for any partition count.
# queued_max_messages also becomes librdkafka's queued.min.messages: it prefetches about 60 per partition.
RDKAFKA_CONSUMER_SETTINGS: dict[str, int] = {"fetch_message_max_bytes": 32 * 1024 * 1024, "queued_max_messages": 60}


def require_topic(conn: ConnLike, topic: str, timeout: float = 10.0) -> None:
    """A one-line WorkbookError now if ``topic`` does not exist (or no broker answers), instead of a client
    waiting a minute for metadata that never comes (kafka-python's send() blocks max_block_ms, 60 s)."""
    from . import admin

    md = admin.metadata(admin.admin_client(conn), conn, topic, timeout).topics.get(topic)
    if md is None or md.error is not None:
        raise WorkbookError(f"topic {topic!r} does not exist (the broker does not create topics on first use)",
                            "check the name: admin.list_topics(conn); create it: admin.create_topic(conn, name)")


def kafka_python_roundtrip(conn: ConnLike, topic: str, messages: list[bytes], timeout: float = 20.0,
                           expect: int | None = None) -> list[bytes]:
    """Produce with kafka-python's KafkaProducer, read back with a KafkaConsumer assigned to partition 0."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.errors import KafkaError

    require_topic(conn, topic, min(10.0, timeout))
    ms = int(timeout * 1000)
    producer = KafkaProducer(**kp_conf(conn), request_timeout_ms=ms, max_block_ms=ms)
    try:
        futures = [producer.send(topic, value) for value in messages]
        producer.flush(timeout=timeout)
        for f in futures:
            f.get(timeout=0.1)  # raises the delivery's own error, if any
    except KafkaError as exc:
        raise WorkbookError(f"kafka-python could not send to {topic!r} within {timeout:g} s: "
                            f"{type(exc).__name__}: {exc}".rstrip(": "), "python -m helpers doctor") from None
    finally:
        producer.close(timeout=5)
    consumer = KafkaConsumer(**kp_conf(conn), enable_auto_commit=False, consumer_timeout_ms=1000)
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        got: list[bytes] = []
        deadline = time.monotonic() + timeout
        while len(got) < (expect or len(messages)) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                got.extend(r.value for r in records)
        return got
    finally:
        consumer.close()


def confluent_roundtrip(conn: ConnLike, topic: str, messages: list[bytes], timeout: float = 20.0,
                        expect: int | None = None) -> list[bytes]:
    """Produce with confluent-kafka's Producer, read back with a Consumer in a fresh group."""
    from confluent_kafka import Consumer, Producer

    require_topic(conn, topic, min(10.0, timeout))
    producer = Producer(ck_conf(conn, {"message.timeout.ms": int(timeout * 1000)}))
    failed: list[str] = []  # flush() returns 0 for failed deliveries too: the report says what happened
    for value in messages:
        producer.produce(topic, value, on_delivery=lambda err, _msg: err and failed.append(err.str()))
    left = producer.flush(timeout)
    if left or failed:
        raise WorkbookError(f"{left + len(failed)} of {len(messages)} messages to {topic!r} not delivered"
                            + (f": {failed[0]}" if failed else f" within {timeout:g} s"), "python -m helpers doctor")
    consumer = Consumer(ck_conf(conn, {"group.id": f"roundtrip-{uuid.uuid4().hex[:8]}",
                                            "auto.offset.reset": "earliest", "enable.auto.commit": False}))
    try:
        consumer.subscribe([topic])
        got = bounded_poll(lambda: ck_poll_one(consumer), expect or len(messages), timeout)
        return [m.value() for m in got]
    finally:
        consumer.close()


def pykafka_roundtrip(conn: ConnLike, topic: str, messages: list[bytes], timeout: float = 20.0,
                      balanced: bool = False, use_rdkafka: bool = False, expect: int | None = None) -> list[bytes]:
    """Produce with pykafka's producer, read back with its simple consumer or (``balanced``) its
    managed balanced consumer, which joins a consumer group through the broker (no ZooKeeper)."""
    from pykafka import KafkaClient
    from pykafka.common import OffsetType

    pykafka_tls_check(conn, balanced, use_rdkafka)
    require_topic(conn, topic, min(10.0, timeout))
    client = KafkaClient(**pk_conf(conn), socket_timeout_ms=int(timeout * 1000))
    t = client.topics[topic]
    # get_producer batches in a background thread; leaving the `with` block flushes and stops it
    with t.get_producer(use_rdkafka=use_rdkafka, linger_ms=10, min_queued_messages=1) as producer:
        for value in messages:
            producer.produce(value)
    kwargs = dict(auto_offset_reset=OffsetType.EARLIEST, reset_offset_on_start=True, consumer_timeout_ms=1000)
    if use_rdkafka:  # librdkafka 2.x rejects pykafka's default buffer sizes: see RDKAFKA_CONSUMER_SETTINGS
        kwargs.update(RDKAFKA_CONSUMER_SETTINGS)
        if balanced:
            raise ConfigError("pykafka's managed balanced consumer cannot use librdkafka "
                              "(ImportError: use_rdkafka is not available for ManagedBalancedConsumer)",
                              "use get_simple_consumer(use_rdkafka=True), or the balanced consumer without it")
    if balanced:
        consumer = t.get_balanced_consumer(consumer_group=f"roundtrip-{uuid.uuid4().hex[:8]}".encode(), managed=True,
                                           use_rdkafka=use_rdkafka, **kwargs)
    else:
        consumer = t.get_simple_consumer(use_rdkafka=use_rdkafka, **kwargs)
    try:
        got: list[bytes] = []
        deadline = time.monotonic() + timeout
        while len(got) < (expect or len(messages)) and time.monotonic() < deadline:
            msg = consumer.consume(block=True)
            if msg is not None:
                got.append(msg.value)
        return got
    finally:
        consumer.stop()


ROUNDTRIPS: dict[str, Callable[..., list[bytes]]] = {
    "kafka-python": kafka_python_roundtrip,
    "confluent-kafka": confluent_roundtrip,
    "pykafka": pykafka_roundtrip,
}


def hello_all(conn: ConnLike, topic: str, message: bytes = b"hello, Kafka") -> "pd.DataFrame":
    """Send one message with each client to ``topic`` and read it back; one row per client.

    Each client reads the whole topic from the start, so the row also shows what the
    clients before it wrote: reading does not remove messages.
    """
    import pandas as pd

    from .broker import check_reachable

    check_reachable(conn, timeout=5)  # one clear line now, instead of three clients timing out
    rows, sent = [], []
    for name, roundtrip in ROUNDTRIPS.items():
        value = message + f" from {name}".encode()
        sent.append(value)
        t0 = time.monotonic()
        try:
            got = roundtrip(conn, topic, [value], expect=len(sent))
            error = ""
        except Exception as exc:  # shown in the table, honestly, instead of a traceback
            got, error = [], f"{type(exc).__name__}: {exc}"
        rows.append({"client": name, "version": versions().get(name, "?"), "sent": value.decode(),
                     "read back": value in got, "messages in topic seen": len(got),
                     "seconds": round(time.monotonic() - t0, 2), "error": error})
    return pd.DataFrame(rows)


# ============================================================================ lesson 04-05 helpers
# Small building blocks the producer and consumer lessons share. Each is bounded in time.


def read_partition(client: str, conn: ConnLike, topic: str, n: int, partition: int = 0,
                   timeout: float = 10.0) -> list[bytes]:
    """Read up to ``n`` values from the start of one partition with ``client`` (no group join).

    Stops at the partition's end offset, so asking for more than the partition holds returns at once.
    """
    n = min(n, end_offsets(conn, topic).get(partition, 0))
    got: list[bytes] = []
    if n <= 0:
        return got
    if client == "kafka-python":
        from kafka import KafkaConsumer, TopicPartition

        c = KafkaConsumer(**kp_conf(conn), enable_auto_commit=False)
        try:
            tp = TopicPartition(topic, partition)
            c.assign([tp])
            c.seek_to_beginning(tp)
            got = [r.value for r in bounded_poll(lambda: kp_poll_one(c, 0.2, n), n, timeout)]
        finally:
            c.close()
    elif client == "confluent-kafka":
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        c = Consumer(ck_conf(conn, {"group.id": f"read-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False}))
        try:
            c.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
            got = [m.value() for m in bounded_poll(lambda: ck_poll_one(c, 0.2), n, timeout)]
        finally:
            c.close()
    else:
        from pykafka import KafkaClient
        from pykafka.common import OffsetType

        kc = KafkaClient(**pk_conf(conn), socket_timeout_ms=int(timeout * 1000))
        t = kc.topics[topic]
        c = t.get_simple_consumer(partitions=[t.partitions[partition]], auto_offset_reset=OffsetType.EARLIEST,
                                  reset_offset_on_start=True, consumer_timeout_ms=500)
        try:
            got = [m.value for m in bounded_poll(lambda: pk_poll_one(c), n, timeout)]
        finally:
            c.stop()
    return got


def end_offsets(conn: ConnLike, topic: str) -> dict[int, int]:
    """The high watermark of every partition of ``topic`` (how many records each holds, from 0)."""
    from confluent_kafka import Consumer, TopicPartition

    from . import admin

    c = Consumer(ck_conf(conn, {"group.id": "watermarks"}))
    try:
        md = admin.metadata(c, conn, topic, timeout=10).topics.get(topic)
        if md is None or md.error is not None:
            raise WorkbookError(f"topic {topic!r} does not exist", "check the name: admin.list_topics(conn)")
        return {p: admin.sliced(lambda t: c.get_watermark_offsets(TopicPartition(topic, p), timeout=t)[1], conn, 10,
                                f"reading the end offset of {topic!r}") for p in sorted(md.partitions)}
    finally:
        c.close()


def topic_bytes(conn: ConnLike, topic: str) -> int:
    """Bytes the broker stores for ``topic`` (all partitions), from DescribeLogDirs."""
    from kafka import KafkaAdminClient

    a = KafkaAdminClient(**kp_conf(conn), request_timeout_ms=10000)
    try:
        total = 0
        for b in a.describe_log_dirs():
            for d in b["log_dirs"]:
                for t in d["topics"]:
                    if t["name"] == topic:
                        total += sum(p["partition_size"] for p in t["partitions"])
        return total
    finally:
        a.close()


# ---------------------------------------------------------------------------- consumer loops you can stop


def bounded_poll(poll_once: Callable[[], list[Any]], max_messages: int, max_seconds: float,
                 stop: threading.Event | None = None) -> list[Any]:
    """Call ``poll_once()`` (a short poll returning a list) until ``max_messages``, ``max_seconds``
    or ``stop`` is set. The loop every lesson uses: it always ends, and Ctrl-C / a stop flag end it sooner."""
    got: list[Any] = []
    deadline = time.monotonic() + max_seconds
    while len(got) < max_messages and time.monotonic() < deadline and not (stop and stop.is_set()):
        got.extend(poll_once())
    return got[:max_messages] if len(got) > max_messages else got


def kp_poll_one(consumer: Any, timeout: float = 0.5, max_records: int = 1) -> list[Any]:
    """One short kafka-python ``poll()``: the records it returned (at most ``max_records``), as a flat list.

    Safe for a subscribed consumer however short the poll: see :func:`kp_rescue_join`."""
    got = [r for rs in consumer.poll(timeout_ms=int(timeout * 1000), max_records=max_records).values() for r in rs]
    kp_rescue_join(consumer)
    return got


def kp_rescue_join(consumer: Any) -> bool:
    """Keep a kafka-python 3.0.12 group join alive across short polls; True if it had to.

    The lost event (issue 8; the Java client fixed the same hole in KAFKA-9815): ``subscribe()`` joins
    before the topic's metadata arrives, so generation 1 gets no partitions; the metadata asks for a
    rejoin, and the leader's assignment (``_perform_assignment``) records the metadata it used. If the
    poll's time runs out before SyncGroup answers, the join is left in flight, and on the next poll
    ``need_rejoin()`` is False (the snapshots now agree, the rejoin flag was cleared by generation 1):
    nobody awaits the join again, so its assignment is never applied and the consumer owns nothing until
    a heartbeat error, seconds later. Marking the rejoin as still needed makes the next ``poll()`` await
    the join in flight (or start a fresh one). Uses kafka-python internals (``_coordinator``,
    ``_join_task``), checked with getattr so another version just skips it.
    """
    coordinator = getattr(consumer, "_coordinator", None)
    if coordinator is None or getattr(coordinator, "_join_task", None) is None:
        return False
    try:
        if coordinator.need_rejoin():
            return False
        coordinator.request_rejoin()
    except Exception:  # pragma: no cover - a kafka-python whose internals differ: leave it alone
        return False
    return True


def wait_assigned(consumer: Any, timeout: float = 15.0, poll_seconds: float = 0.2, max_records: int = 500,
                  partitions: int = 1, stop: threading.Event | None = None) -> list[Any]:
    """Poll a subscribed kafka-python or confluent-kafka consumer until the group has given it at least
    ``partitions`` partitions; returns the records read meanwhile (keep them: they count).

    Every helper that subscribes and then polls waits here first, so no check races the group's join
    (a short poll returns before JoinGroup/SyncGroup finish, and kafka-python 3.0.12 can lose the
    answer: :func:`kp_rescue_join`). Each poll lasts ``poll_seconds``, so Ctrl-C (or ``stop``) ends it
    at once; after ``timeout`` s it raises one WorkbookError line.
    """
    kafka_python = hasattr(consumer, "_coordinator")
    got: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(consumer.assignment()) < partitions and not (stop and stop.is_set()):
        if time.monotonic() > deadline:
            subscribed = consumer.subscription() if kafka_python else None
            raise WorkbookError(f"no partition assigned to the consumer within {timeout:g} s"
                                + (f" (subscribed to {sorted(subscribed)})" if subscribed else ""),
                                "check the topic exists (admin.list_topics(conn)) and the group's other "
                                "members; python -m helpers broker logs shows the coordinator's view")
        if kafka_python:
            got.extend(kp_poll_one(consumer, poll_seconds, max_records))
        else:
            got.extend(ck_poll_one(consumer, poll_seconds))
    return got


def ck_poll_one(consumer: Any, timeout: float = 0.5) -> list[Any]:
    """One short confluent-kafka ``poll()``: ``[message]``, or ``[]`` on timeout or an error event."""
    msg = consumer.poll(timeout)
    return [msg] if msg is not None and msg.error() is None else []


def pk_poll_one(consumer: Any) -> list[Any]:
    """One pykafka ``consume(block=True)`` (bounded by the consumer's ``consumer_timeout_ms``): ``[message]`` or ``[]``."""
    msg = consumer.consume(block=True)
    return [msg] if msg is not None else []


def poll_n(poll_once: Callable[[], list[Any]], n: int, max_seconds: float, what: str = "records") -> list[Any]:
    """Exactly ``n`` results of :func:`bounded_poll`, or a one-line WorkbookError if fewer arrive in time."""
    got = bounded_poll(poll_once, n, max_seconds)
    if len(got) < n:
        raise WorkbookError(f"read {len(got)} of {n} {what} within {max_seconds:g} s",
                            "check the topic holds them (clients.end_offsets) and where the consumer starts "
                            "(auto_offset_reset, seek, the group's committed offset)")
    return got
