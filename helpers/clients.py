"""The three Python clients, side by side: connect, produce, consume, each in a few lines.

Each ``*_roundtrip`` function produces ``messages`` to ``topic`` and reads back from the
beginning until it has ``expect`` messages (default: as many as it sent) or ``timeout``
passes, returning the values it read, so lessons and tests can compare the three.
Every blocking call has a timeout so a notebook cell never hangs.
"""
from __future__ import annotations

import importlib.metadata as md
import time
import uuid
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import pandas as pd

CLIENTS = ("kafka-python", "confluent-kafka", "pykafka")


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


def kafka_python_roundtrip(bootstrap: str, topic: str, messages: list[bytes], timeout: float = 20.0,
                           expect: int | None = None) -> list[bytes]:
    """Produce with kafka-python's KafkaProducer, read back with a KafkaConsumer assigned to partition 0."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    producer = KafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    try:
        for value in messages:
            producer.send(topic, value)
        producer.flush(timeout=timeout)
    finally:
        producer.close(timeout=5)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=1000)
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


def confluent_roundtrip(bootstrap: str, topic: str, messages: list[bytes], timeout: float = 20.0,
                        expect: int | None = None) -> list[bytes]:
    """Produce with confluent-kafka's Producer, read back with a Consumer in a fresh group."""
    from confluent_kafka import Consumer, Producer

    producer = Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": int(timeout * 1000)})
    for value in messages:
        producer.produce(topic, value)
    left = producer.flush(timeout)
    if left:
        raise RuntimeError(f"{left} messages not delivered within {timeout} s")
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"roundtrip-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        consumer.subscribe([topic])
        got: list[bytes] = []
        deadline = time.monotonic() + timeout
        while len(got) < (expect or len(messages)) and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                got.append(msg.value())
        return got
    finally:
        consumer.close()


def pykafka_roundtrip(bootstrap: str, topic: str, messages: list[bytes], timeout: float = 20.0,
                      balanced: bool = False, use_rdkafka: bool = False, expect: int | None = None) -> list[bytes]:
    """Produce with pykafka's producer, read back with its simple consumer or (``balanced``) its
    managed balanced consumer, which joins a consumer group through the broker (no ZooKeeper)."""
    from pykafka import KafkaClient
    from pykafka.common import OffsetType

    client = KafkaClient(hosts=bootstrap, socket_timeout_ms=int(timeout * 1000))
    t = client.topics[topic]
    # get_producer batches in a background thread; leaving the `with` block flushes and stops it
    with t.get_producer(use_rdkafka=use_rdkafka, linger_ms=10, min_queued_messages=1) as producer:
        for value in messages:
            producer.produce(value)
    kwargs = dict(auto_offset_reset=OffsetType.EARLIEST, reset_offset_on_start=True, consumer_timeout_ms=1000)
    if use_rdkafka:  # librdkafka 2.x rejects pykafka's default buffer sizes
        kwargs.update(fetch_message_max_bytes=1024 * 1024, queued_max_messages=10000)
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


def hello_all(bootstrap: str, topic: str, message: bytes = b"hello, Kafka") -> "pd.DataFrame":
    """Send one message with each client to ``topic`` and read it back; one row per client.

    Each client reads the whole topic from the start, so the row also shows what the
    clients before it wrote: reading does not remove messages.
    """
    import pandas as pd

    rows, sent = [], []
    for name, roundtrip in ROUNDTRIPS.items():
        value = message + f" from {name}".encode()
        sent.append(value)
        t0 = time.monotonic()
        try:
            got = roundtrip(bootstrap, topic, [value], expect=len(sent))
            error = ""
        except Exception as exc:  # shown in the table, honestly, instead of a traceback
            got, error = [], f"{type(exc).__name__}: {exc}"
        rows.append({"client": name, "version": versions().get(name, "?"), "sent": value.decode(),
                     "read back": value in got, "messages in topic seen": len(got),
                     "seconds": round(time.monotonic() - t0, 2), "error": error})
    return pd.DataFrame(rows)
