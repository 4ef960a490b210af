"""One benchmark measurement in a fresh process: ``python -m helpers.bench_workers ...``.

The harness (:mod:`helpers.bench`) starts this module once per client, role and repetition, so no
client's threads, buffers or imports linger into another's measurement. It prints exactly one
JSON line on stdout: ``{"status": "ok", "seconds": ..., "messages": ...}`` or
``{"status": "error", "error": "..."}`` with the client's real error text, or, for a read that ran
out of time, ``{"status": "lost", "messages": <count reached>, "error": "read N of M ..."}``.

What is timed, as in the 2016 study:

* produce: from the first send to the end of the final flush (the client object is built before
  the clock starts; for kafka-python the first send includes fetching the topic's metadata);
* consume: the consumer is built and connected first, untimed but reported as ``startup_s``
  (construction plus a metadata request for the topic, so its partition leader is known:
  kafka-python ``KafkaConsumer()`` + ``partitions_for_topic``; confluent-kafka ``Consumer()`` +
  ``list_topics(topic)``; aiokafka ``AIOKafkaConsumer()`` + ``start()``; pykafka ``KafkaClient()`` +
  ``topics[topic]`` + ``get_simple_consumer(auto_start=False)``). The clock then starts at the
  assignment of partition 0 at the known low watermark (``--start-offset``, given by the harness),
  so no client looks an offset up, and stops at the last of ``messages`` records: first fetch
  included, nothing scaled, no consumer group. CRC checks are off for every consumer, as in
  Java's ConsumerPerformance (``check.crcs=false``): kafka-python and aiokafka get
  ``check_crcs=False``; librdkafka's ``check.crcs`` defaults to false.

Settings use neutral names (``acks``, ``linger_ms``, ``batch_bytes``, ``compression``) that each
client function translates into its own configuration names. Every loop has a deadline.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
import warnings
from typing import Any, Callable

from .clients import ck_conf

warnings.filterwarnings("ignore")  # pykafka's pkg_resources warning must not pollute stdout/stderr

Settings = dict[str, Any]


def payload(size: int) -> bytes:
    """The 2016 study's payload: ``kafkatest`` repeated and cut to ``size`` bytes."""
    return (b"kafkatest" * (size // 9 + 1))[:size]


class Incomplete(RuntimeError):
    """The consumer stopped before reading every message (the deadline passed); ``got`` says how many it read."""

    def __init__(self, got: int, wanted: int) -> None:
        super().__init__(f"read {got} of {wanted} messages before the deadline")
        self.got, self.wanted = got, wanted


def _deadline_check(got: int, wanted: int, deadline: float) -> None:
    if time.monotonic() > deadline:
        raise Incomplete(got, wanted)


class ReadClock:
    """Times a read: creation -> :meth:`assigned` is ``startup_s``; :meth:`assigned` -> :meth:`result` is the read."""

    def __init__(self) -> None:
        self.created = time.perf_counter()
        self.start: float | None = None
        self.got = 0

    def assigned(self) -> None:
        """Call just before assigning the partition: the timed read starts here."""
        self.start = time.perf_counter()

    def add(self, count: int) -> None:
        """Count ``count`` more records read."""
        self.got += count

    def result(self) -> dict[str, Any]:
        """Call right after the last record: ``seconds`` (the read), ``messages`` and ``startup_s``."""
        end = time.perf_counter()
        start = self.start if self.start is not None else end
        return {"seconds": end - start, "messages": self.got, "startup_s": start - self.created}


# ----------------------------------------------------------------------------- kafka-python


def _kafka_python_acks(acks: str) -> int | str:
    return "all" if acks == "all" else int(acks)


def produce_kafka_python(bootstrap: str, topic: str, n: int, size: int, s: Settings, timeout: float) -> float:
    """Send ``n`` payloads with kafka-python's KafkaProducer; seconds from the first send to the end of flush()."""
    from kafka import KafkaProducer

    conf: dict[str, Any] = dict(bootstrap_servers=bootstrap, acks=_kafka_python_acks(s["acks"]),
                                enable_idempotence=False)  # kafka-python 3 defaults to acks=all + idempotence
    if "linger_ms" in s:
        conf["linger_ms"] = int(s["linger_ms"])
    if "batch_bytes" in s:
        conf["batch_size"] = int(s["batch_bytes"])
    if s.get("compression", "none") != "none":
        conf["compression_type"] = s["compression"]
    producer = KafkaProducer(**conf)
    value = payload(size)
    try:
        start = time.perf_counter()
        for _ in range(n):
            producer.send(topic, value)
        producer.flush(timeout=timeout)
        return time.perf_counter() - start
    finally:
        producer.close(timeout=5)


def consume_kafka_python(bootstrap: str, topic: str, n: int, timeout: float, start: int = 0) -> dict[str, Any]:
    """Read ``n`` records of partition 0 from offset ``start`` with kafka-python's KafkaConsumer (no group)."""
    from kafka import KafkaConsumer, TopicPartition

    deadline = time.monotonic() + timeout
    clock = ReadClock()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest", check_crcs=False)
    try:
        consumer.partitions_for_topic(topic)  # connected, topic metadata known
        tp = TopicPartition(topic, 0)
        clock.assigned()
        consumer.assign([tp])
        consumer.seek(tp, start)
        while clock.got < n:
            clock.add(sum(len(records) for records in consumer.poll(timeout_ms=500, max_records=500).values()))
            _deadline_check(clock.got, n, deadline)
        return clock.result()
    finally:
        consumer.close()


# ----------------------------------------------------------------------------- pykafka


def _pykafka_producer_kwargs(s: Settings) -> dict[str, Any]:
    from pykafka.common import CompressionType

    kw: dict[str, Any] = dict(required_acks={"0": 0, "1": 1, "all": -1}[s["acks"]])
    # pykafka's stop() waits at most pending_timeout_ms (default 5 s) and then drops what is
    # still queued: wait as long as the measurement may take instead, so nothing is lost
    if not s.get("rdkafka"):  # (the rdkafka producer has no such setting)
        kw["pending_timeout_ms"] = int(s.get("timeout", 120) * 1000)
    if "linger_ms" in s:
        kw["linger_ms"] = int(s["linger_ms"])
    if s.get("compression", "none") != "none":
        kw["compression"] = getattr(CompressionType, s["compression"].upper())
    return kw


def _produce_pykafka(bootstrap: str, topic: str, n: int, size: int, s: Settings, rdkafka: bool,
                     timeout: float) -> float:
    from pykafka import KafkaClient

    if "batch_bytes" in s:
        raise ValueError("pykafka batches by message count (min_queued_messages), not by bytes")
    client = KafkaClient(hosts=bootstrap)
    producer = client.topics[topic].get_producer(use_rdkafka=rdkafka, **_pykafka_producer_kwargs({**s, "timeout": timeout, "rdkafka": rdkafka}))
    value = payload(size)
    start = time.perf_counter()
    for _ in range(n):
        producer.produce(value)
    producer.stop()  # flushes the background queue, as in 2016
    return time.perf_counter() - start


def _consume_pykafka(bootstrap: str, topic: str, n: int, timeout: float, rdkafka: bool,
                     start: int = 0) -> dict[str, Any]:
    from pykafka import KafkaClient

    from .clients import RDKAFKA_CONSUMER_SETTINGS

    deadline = time.monotonic() + timeout
    clock = ReadClock()
    client = KafkaClient(hosts=bootstrap)
    t = client.topics[topic]
    # no group and no reset on start: a new SimpleConsumer's next offset is 0, so start() looks nothing up
    kw: dict[str, Any] = dict(auto_start=False, reset_offset_on_start=False, consumer_timeout_ms=500)
    if rdkafka:  # buffer sizes librdkafka 2.x accepts (pykafka's defaults are rejected): see helpers.clients
        kw.update(RDKAFKA_CONSUMER_SETTINGS)
    consumer = t.get_simple_consumer(use_rdkafka=rdkafka, **kw)
    if start > 0:  # pykafka's integer offsets mean "last consumed"
        consumer.reset_offsets([(t.partitions[0], start - 1)])
    try:
        clock.assigned()
        consumer.start()
        while clock.got < n:
            if consumer.consume(block=True) is not None:
                clock.add(1)
            elif time.monotonic() > deadline:
                _deadline_check(clock.got, n, deadline)
        return clock.result()
    finally:
        consumer.stop()


def produce_pykafka(bootstrap: str, topic: str, n: int, size: int, s: Settings, timeout: float) -> float:
    """Send ``n`` payloads with pure-Python pykafka; seconds from the first produce() to the end of stop()."""
    return _produce_pykafka(bootstrap, topic, n, size, s, rdkafka=False, timeout=timeout)


def consume_pykafka(bootstrap: str, topic: str, n: int, timeout: float, start: int = 0) -> dict[str, Any]:
    """Read ``n`` records from offset ``start`` with pure-Python pykafka's SimpleConsumer."""
    return _consume_pykafka(bootstrap, topic, n, timeout, rdkafka=False, start=start)


def produce_pykafka_rdkafka(bootstrap: str, topic: str, n: int, size: int, s: Settings, timeout: float) -> float:
    """Send ``n`` payloads with pykafka's librdkafka producer (``use_rdkafka=True``); timed like pure pykafka."""
    import pykafka.rdkafka._rd_kafka  # noqa: F401 - fail here, clearly, when the extension is absent

    return _produce_pykafka(bootstrap, topic, n, size, s, rdkafka=True, timeout=timeout)


def consume_pykafka_rdkafka(bootstrap: str, topic: str, n: int, timeout: float, start: int = 0) -> dict[str, Any]:
    """Read ``n`` records from offset ``start`` with pykafka's librdkafka SimpleConsumer."""
    import pykafka.rdkafka._rd_kafka  # noqa: F401

    return _consume_pykafka(bootstrap, topic, n, timeout, rdkafka=True, start=start)


# ----------------------------------------------------------------------------- confluent-kafka


def _confluent_producer_conf(bootstrap: str, s: Settings) -> dict[str, Any]:
    conf: dict[str, Any] = ck_conf(bootstrap, {"acks": s["acks"], "enable.idempotence": False})
    if "linger_ms" in s:
        conf["linger.ms"] = int(s["linger_ms"])
    if "batch_bytes" in s:
        conf["batch.size"] = int(s["batch_bytes"])
    if s.get("compression", "none") != "none":
        conf["compression.type"] = s["compression"]
    return conf


def produce_confluent(bootstrap: str, topic: str, n: int, size: int, s: Settings, timeout: float) -> float:
    """Send ``n`` payloads with confluent-kafka's Producer; seconds from the first produce() to the end of flush()."""
    from confluent_kafka import Producer

    producer = Producer(_confluent_producer_conf(bootstrap, s))
    value = payload(size)
    produce, poll = producer.produce, producer.poll
    deadline = time.monotonic() + timeout
    start = time.perf_counter()
    for _ in range(n):
        while True:
            try:
                produce(topic, value)
                break
            except BufferError:  # local queue full: let librdkafka send for a moment, then retry
                poll(0.05)
                if time.monotonic() > deadline:
                    raise
    left = producer.flush(timeout)
    seconds = time.perf_counter() - start
    if left:
        raise RuntimeError(f"{left} messages still undelivered after flush({timeout:.0f})")
    return seconds


def _confluent_consumer_conf(bootstrap: str) -> dict[str, Any]:
    # group.id is required by the client but never used: the partition is assigned, nothing committed
    return ck_conf(bootstrap, {"group.id": f"bench-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False,
                               "auto.offset.reset": "earliest"})


def consume_confluent(bootstrap: str, topic: str, n: int, timeout: float, start: int = 0) -> dict[str, Any]:
    """Read ``n`` records of partition 0 from offset ``start`` with confluent-kafka's Consumer (assigned)."""
    from confluent_kafka import Consumer, TopicPartition

    deadline = time.monotonic() + timeout
    clock = ReadClock()
    consumer = Consumer(_confluent_consumer_conf(bootstrap))
    try:
        consumer.list_topics(topic, timeout=min(timeout, 15))  # connected, partition leader known
        clock.assigned()
        consumer.assign([TopicPartition(topic, 0, start)])
        while clock.got < n:
            clock.add(sum(1 for msg in consumer.consume(num_messages=500, timeout=0.5) if msg.error() is None))
            _deadline_check(clock.got, n, deadline)
        return clock.result()
    finally:
        consumer.close()


def produce_confluent_aio(bootstrap: str, topic: str, n: int, size: int, s: Settings, timeout: float) -> float:
    """Send ``n`` payloads with confluent-kafka's AIOProducer; seconds from the first produce to the end of flush."""
    from confluent_kafka.aio import AIOProducer

    async def run() -> float:
        producer = AIOProducer(_confluent_producer_conf(bootstrap, s))
        value = payload(size)
        try:
            start = time.perf_counter()
            for _ in range(n):
                await producer.produce(topic, value)  # returns a delivery future; not awaited one by one
            left = await asyncio.wait_for(producer.flush(timeout), timeout + 5)
            seconds = time.perf_counter() - start
            if left:
                raise RuntimeError(f"{left} messages still undelivered after flush({timeout:.0f})")
            return seconds
        finally:
            await producer.close()

    return asyncio.run(run())


def consume_confluent_aio(bootstrap: str, topic: str, n: int, timeout: float, start: int = 0) -> dict[str, Any]:
    """Read ``n`` records from offset ``start`` with confluent-kafka's AIOConsumer (assigned)."""
    from confluent_kafka import TopicPartition
    from confluent_kafka.aio import AIOConsumer

    async def run() -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        clock = ReadClock()
        consumer = AIOConsumer(_confluent_consumer_conf(bootstrap))
        try:
            await consumer.list_topics(topic, timeout=min(timeout, 15))
            clock.assigned()
            await consumer.assign([TopicPartition(topic, 0, start)])
            while clock.got < n:
                batch = await consumer.consume(num_messages=500, timeout=0.5)
                clock.add(sum(1 for msg in batch if msg.error() is None))
                _deadline_check(clock.got, n, deadline)
            return clock.result()
        finally:
            await consumer.close()

    return asyncio.run(run())


# ----------------------------------------------------------------------------- aiokafka


def produce_aiokafka(bootstrap: str, topic: str, n: int, size: int, s: Settings, timeout: float) -> float:
    """Send ``n`` payloads with aiokafka's AIOKafkaProducer (started untimed); seconds to the end of flush()."""
    from aiokafka import AIOKafkaProducer

    conf: dict[str, Any] = dict(bootstrap_servers=bootstrap, acks=_kafka_python_acks(s["acks"]),
                                enable_idempotence=False)
    if "linger_ms" in s:
        conf["linger_ms"] = int(s["linger_ms"])
    if "batch_bytes" in s:
        conf["max_batch_size"] = int(s["batch_bytes"])
    if s.get("compression", "none") != "none":
        conf["compression_type"] = s["compression"]

    async def run() -> float:
        producer = AIOKafkaProducer(**conf)
        await asyncio.wait_for(producer.start(), timeout)
        value = payload(size)
        try:
            start = time.perf_counter()
            for _ in range(n):
                await producer.send(topic, value)  # waits only when the accumulator is full
            await asyncio.wait_for(producer.flush(), timeout)
            return time.perf_counter() - start
        finally:
            await producer.stop()

    return asyncio.run(run())


def consume_aiokafka(bootstrap: str, topic: str, n: int, timeout: float, start: int = 0) -> dict[str, Any]:
    """Read ``n`` records of partition 0 from offset ``start`` with aiokafka's AIOKafkaConsumer (no group)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def run() -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        clock = ReadClock()
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="earliest", check_crcs=False)
        await asyncio.wait_for(consumer.start(), timeout)
        try:
            tp = TopicPartition(topic, 0)
            clock.assigned()
            consumer.assign([tp])
            consumer.seek(tp, start)
            while clock.got < n:
                batches = await consumer.getmany(tp, timeout_ms=500, max_records=500)
                clock.add(sum(len(records) for records in batches.values()))
                _deadline_check(clock.got, n, deadline)
            return clock.result()
        finally:
            await consumer.stop()

    return asyncio.run(run())


PRODUCERS: dict[str, Callable[..., float]] = {
    "kafka-python": produce_kafka_python,
    "pykafka": produce_pykafka,
    "pykafka+librdkafka": produce_pykafka_rdkafka,
    "confluent-kafka": produce_confluent,
    "confluent-kafka-aio": produce_confluent_aio,
    "aiokafka": produce_aiokafka,
}
CONSUMERS: dict[str, Callable[..., dict[str, Any]]] = {
    "kafka-python": consume_kafka_python,
    "pykafka": consume_pykafka,
    "pykafka+librdkafka": consume_pykafka_rdkafka,
    "confluent-kafka": consume_confluent,
    "confluent-kafka-aio": consume_confluent_aio,
    "aiokafka": consume_aiokafka,
}


def describe(exc: BaseException) -> str:
    """One line for an exception; a bare one (an ``assert`` deep in a client) gets its source line and place."""
    import traceback

    text = str(exc).strip().splitlines()
    if text:
        return f"{type(exc).__name__}: {text[0]}"[:300]
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    last = frames[-1]
    where = "/".join(last.filename.split("/")[-3:])
    return f"{type(exc).__name__} at {where}:{last.lineno}: {last.line}"[:300]


def measure(client: str, role: str, bootstrap: str, topic: str, messages: int, size: int,
            settings: Settings, timeout: float, start: int = 0) -> dict[str, Any]:
    """Run one measurement in this process; never raises for a client's own failure.

    A read that runs out of time is status ``lost`` with the count it reached; any other failure is
    ``error`` with the client's own message.
    """
    try:
        if role == "produce":
            seconds = PRODUCERS[client](bootstrap, topic, messages, size, settings, timeout)
            return {"status": "ok", "seconds": seconds, "messages": messages}
        r = CONSUMERS[client](bootstrap, topic, messages, timeout, start)
        return {"status": "ok", "seconds": r["seconds"], "messages": r["messages"], "startup_s": r["startup_s"]}
    except Incomplete as exc:
        return {"status": "lost", "messages": exc.got, "error": str(exc)}
    except Exception as exc:  # the harness records the client's real error, never a figure
        return {"status": "error", "error": describe(exc)}


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run one measurement and print its JSON line; always exits 0 (the JSON says how it went)."""
    p = argparse.ArgumentParser(prog="python -m helpers.bench_workers")
    p.add_argument("client", choices=sorted(PRODUCERS))
    p.add_argument("role", choices=["produce", "consume"])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--messages", type=int, required=True)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--settings", default="{}", help="JSON: acks, linger_ms, batch_bytes, compression")
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--start-offset", type=int, default=0, help="consume: the partition's low watermark")
    a = p.parse_args(argv)
    settings = {"acks": "1", **json.loads(a.settings)}
    result = measure(a.client, a.role, a.bootstrap, a.topic, a.messages, a.size, settings, a.timeout, a.start_offset)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
