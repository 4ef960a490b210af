"""One benchmark measurement in a fresh process: ``python -m helpers.bench_workers ...``.

The harness (:mod:`helpers.bench`) starts this module once per client, role, profile and
repetition, so no client's threads, buffers or imports linger into another's measurement. It
prints ``#clock-start`` and ``#clock-stop`` when its clock starts and stops (the harness samples
the broker's CPU there), then exactly one JSON line: ``{"status": "ok", "seconds": ...,
"messages": ..., "cpu_s": ...}`` (``cpu_s``: this process's CPU seconds inside the timed window,
every thread counted) or ``{"status": "error", "error": "..."}`` with the client's real error
text, or, for a read that ran out of time, ``{"status": "lost", "messages": <count reached>, ...}``.

What is timed:

* produce: the producer is built and connected first (topic metadata fetched), untimed but
  reported as ``startup_s``; the clock runs from the first send to the end of the final flush;
* consume: the consumer is built and connected first (``startup_s``); the clock starts at the
  assignment of the topic's partitions at their known low watermarks (``--start-offsets``, given
  by the harness), so no client looks an offset up, and stops at the last of ``messages``
  records: first fetch included, nothing scaled, no consumer group.

Each client gets its settings in its own configuration names (``--conf``, JSON; see
:mod:`helpers.bench_profiles`); with ``{}`` it runs at its defaults. Every loop has a deadline.
The connection arrives as ``--bootstrap`` plus, for a secured broker, ``--config`` (a client properties
file; :func:`helpers.connection.cli_args`), and every client is built from it (:mod:`helpers.connection`).
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

from .connection import ConnLike, aio_conf, as_connection, from_cli, kp_conf, pk_conf, pykafka_tls_check

warnings.filterwarnings("ignore")  # pykafka's pkg_resources warning must not pollute stdout/stderr

Conf = dict[str, Any]
BATCH = 1000  # records asked for per consume()/poll() call by the loops that take a count


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


class Clock:
    """Times one measurement: creation -> :meth:`go` is ``startup_s``; :meth:`go` -> :meth:`result` the window.

    :meth:`go` and :meth:`stop` print the markers the harness samples the broker's CPU on.
    """

    def __init__(self) -> None:
        self.created = time.perf_counter()
        self.start: float | None = None
        self.end: float | None = None
        self.cpu0 = self.cpu1 = 0.0
        self.got = 0

    def go(self) -> None:
        """The timed window starts here."""
        print("#clock-start", flush=True)
        self.cpu0 = time.process_time()
        self.start = time.perf_counter()

    def add(self, count: int) -> None:
        """Count ``count`` more records read."""
        self.got += count

    def stop(self) -> None:
        """The timed window ends here."""
        self.end = time.perf_counter()
        self.cpu1 = time.process_time()
        print("#clock-stop", flush=True)

    def result(self, messages: int | None = None) -> dict[str, Any]:
        """``seconds`` (the window), ``messages``, ``startup_s`` and ``cpu_s``."""
        if self.end is None:
            self.stop()
        start = self.start if self.start is not None else self.end
        return {"seconds": self.end - start, "messages": self.got if messages is None else messages,
                "startup_s": start - self.created, "cpu_s": self.cpu1 - self.cpu0}


def _starts(starts: list[int]) -> list[tuple[int, int]]:
    return list(enumerate(starts or [0]))


# ----------------------------------------------------------------------------- kafka-python


def produce_kafka_python(conn: ConnLike, topic: str, n: int, size: int, conf: Conf, timeout: float) -> dict[str, Any]:
    """Send ``n`` payloads with kafka-python's KafkaProducer; timed from the first send to the end of flush()."""
    from kafka import KafkaProducer

    clock = Clock()
    producer = KafkaProducer(**{**kp_conf(conn, "producer"), **conf})
    value = payload(size)
    try:
        producer.partitions_for(topic)  # connected, topic metadata known
        send = producer.send
        clock.go()
        for _ in range(n):
            send(topic, value)
        producer.flush(timeout=timeout)
        clock.stop()
        return clock.result(n)
    finally:
        producer.close(timeout=5)


def consume_kafka_python(conn: ConnLike, topic: str, n: int, conf: Conf, timeout: float,
                         starts: list[int]) -> dict[str, Any]:
    """Read ``n`` records from the given start offsets with kafka-python's KafkaConsumer (no group)."""
    from kafka import KafkaConsumer, TopicPartition

    deadline = time.monotonic() + timeout
    clock = Clock()
    consumer = KafkaConsumer(**{**kp_conf(conn, "consumer"), "group_id": None, "enable_auto_commit": False,
                                "auto_offset_reset": "earliest", **conf})
    try:
        consumer.partitions_for_topic(topic)  # connected, topic metadata known
        tps = [(TopicPartition(topic, p), off) for p, off in _starts(starts)]
        clock.go()
        consumer.assign([tp for tp, _ in tps])
        for tp, off in tps:
            consumer.seek(tp, off)
        while clock.got < n:
            clock.add(sum(len(records) for records in consumer.poll(timeout_ms=500).values()))
            _deadline_check(clock.got, n, deadline)
        clock.stop()
        return clock.result()
    finally:
        consumer.close()


# ----------------------------------------------------------------------------- pykafka


def _produce_pykafka(conn: ConnLike, topic: str, n: int, size: int, conf: Conf, rdkafka: bool,
                     timeout: float) -> dict[str, Any]:
    from pykafka import KafkaClient

    pykafka_tls_check(conn, use_rdkafka=rdkafka)  # what pykafka cannot do over TLS: its real reason
    conf = dict(conf)
    if "compression" in conf and isinstance(conf["compression"], str):
        from pykafka.common import CompressionType

        conf["compression"] = getattr(CompressionType, conf["compression"].upper())
    clock = Clock()
    client = KafkaClient(**pk_conf(conn))
    producer = client.topics[topic].get_producer(use_rdkafka=rdkafka, **conf)
    value = payload(size)
    produce = producer.produce
    clock.go()
    for _ in range(n):
        produce(value)
    producer.stop()  # flushes the background queue (waiting at most pending_timeout_ms), as in 2016
    clock.stop()
    return clock.result(n)


def _consume_pykafka(conn: ConnLike, topic: str, n: int, conf: Conf, timeout: float, rdkafka: bool,
                     starts: list[int]) -> dict[str, Any]:
    from pykafka import KafkaClient

    pykafka_tls_check(conn, use_rdkafka=rdkafka)  # the simple consumer itself works over TLS
    if len(starts) > 1:
        raise ValueError("the pykafka worker reads one partition (a SimpleConsumer per partition is not measured)")
    start = starts[0] if starts else 0
    deadline = time.monotonic() + timeout
    clock = Clock()
    client = KafkaClient(**pk_conf(conn))
    t = client.topics[topic]
    # no group and no reset on start: a new SimpleConsumer's next offset is 0, so start() looks nothing up
    kw: dict[str, Any] = dict(auto_start=False, reset_offset_on_start=False, consumer_timeout_ms=500, **conf)
    consumer = t.get_simple_consumer(use_rdkafka=rdkafka, **kw)
    if start > 0:  # pykafka's integer offsets mean "last consumed"
        consumer.reset_offsets([(t.partitions[0], start - 1)])
    try:
        clock.go()
        consumer.start()
        consume = consumer.consume
        while clock.got < n:
            if consume(block=True) is not None:
                clock.got += 1
            elif time.monotonic() > deadline:
                _deadline_check(clock.got, n, deadline)
        clock.stop()
        return clock.result()
    finally:
        consumer.stop()


def produce_pykafka(conn: ConnLike, topic: str, n: int, size: int, conf: Conf, timeout: float) -> dict[str, Any]:
    """Send ``n`` payloads with pure-Python pykafka; timed from the first produce() to the end of stop()."""
    return _produce_pykafka(conn, topic, n, size, conf, rdkafka=False, timeout=timeout)


def consume_pykafka(conn: ConnLike, topic: str, n: int, conf: Conf, timeout: float, starts: list[int]) -> dict[str, Any]:
    """Read ``n`` records from the start offset with pure-Python pykafka's SimpleConsumer."""
    return _consume_pykafka(conn, topic, n, conf, timeout, rdkafka=False, starts=starts)


def produce_pykafka_rdkafka(conn: ConnLike, topic: str, n: int, size: int, conf: Conf, timeout: float) -> dict[str, Any]:
    """Send ``n`` payloads with pykafka's librdkafka producer (``use_rdkafka=True``); timed like pure pykafka."""
    import pykafka.rdkafka._rd_kafka  # noqa: F401 - fail here, clearly, when the extension is absent

    return _produce_pykafka(conn, topic, n, size, conf, rdkafka=True, timeout=timeout)


def consume_pykafka_rdkafka(conn: ConnLike, topic: str, n: int, conf: Conf, timeout: float,
                            starts: list[int]) -> dict[str, Any]:
    """Read ``n`` records from the start offset with pykafka's librdkafka SimpleConsumer."""
    import pykafka.rdkafka._rd_kafka  # noqa: F401

    return _consume_pykafka(conn, topic, n, conf, timeout, rdkafka=True, starts=starts)


# ----------------------------------------------------------------------------- confluent-kafka


def _ck(conn: ConnLike, conf: Conf, role: str = "producer", extra: Conf | None = None) -> Conf:
    # the connection's own config (bootstrap, security, log_level 4), without ck_conf's Python log handler:
    # librdkafka's log stays in librdkafka, as a bare client's does
    return {**as_connection(conn).config("confluent-kafka", role), **(extra or {}), **conf}


def produce_confluent(conn: ConnLike, topic: str, n: int, size: int, conf: Conf, timeout: float) -> dict[str, Any]:
    """Send ``n`` payloads with confluent-kafka's Producer; timed from the first produce() to the end of flush()."""
    from confluent_kafka import Producer

    clock = Clock()
    producer = Producer(_ck(conn, conf))
    producer.list_topics(topic, timeout=min(timeout, 15))  # connected, partition leader known
    value = payload(size)
    produce, poll = producer.produce, producer.poll
    deadline = time.monotonic() + timeout
    clock.go()
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
    clock.stop()
    if left:
        raise RuntimeError(f"{left} messages still undelivered after flush({timeout:.0f})")
    return clock.result(n)


def _consumer_conf(conn: ConnLike, conf: Conf) -> Conf:
    # group.id is required by the client but never used: the partitions are assigned, nothing committed
    return _ck(conn, conf, "consumer", {"group.id": f"bench-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False,
                                 "auto.offset.reset": "earliest"})


def consume_confluent(conn: ConnLike, topic: str, n: int, conf: Conf, timeout: float, starts: list[int]) -> dict[str, Any]:
    """Read ``n`` records from the given start offsets with confluent-kafka's Consumer (assigned)."""
    from confluent_kafka import Consumer, TopicPartition

    deadline = time.monotonic() + timeout
    clock = Clock()
    consumer = Consumer(_consumer_conf(conn, conf))
    try:
        consumer.list_topics(topic, timeout=min(timeout, 15))  # connected, partition leader known
        consume = consumer.consume
        clock.go()
        consumer.assign([TopicPartition(topic, p, off) for p, off in _starts(starts)])
        while clock.got < n:
            clock.add(sum(1 for msg in consume(num_messages=BATCH, timeout=0.5) if msg.error() is None))
            _deadline_check(clock.got, n, deadline)
        clock.stop()
        return clock.result()
    finally:
        consumer.close()


def produce_confluent_aio(conn: ConnLike, topic: str, n: int, size: int, conf: Conf, timeout: float) -> dict[str, Any]:
    """Send ``n`` payloads with confluent-kafka's AIOProducer; timed from the first produce to the end of flush."""
    from confluent_kafka.aio import AIOProducer

    async def run() -> dict[str, Any]:
        clock = Clock()
        producer = AIOProducer(_ck(conn, conf))
        value = payload(size)
        try:
            await producer.list_topics(topic, timeout=min(timeout, 15)) if hasattr(producer, "list_topics") else None
            clock.go()
            for _ in range(n):
                await producer.produce(topic, value)  # returns a delivery future; not awaited one by one
            left = await asyncio.wait_for(producer.flush(timeout), timeout + 5)
            clock.stop()
            if left:
                raise RuntimeError(f"{left} messages still undelivered after flush({timeout:.0f})")
            return clock.result(n)
        finally:
            await producer.close()

    return asyncio.run(run())


def consume_confluent_aio(conn: ConnLike, topic: str, n: int, conf: Conf, timeout: float,
                          starts: list[int]) -> dict[str, Any]:
    """Read ``n`` records from the given start offsets with confluent-kafka's AIOConsumer (assigned)."""
    from confluent_kafka import TopicPartition
    from confluent_kafka.aio import AIOConsumer

    async def run() -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        clock = Clock()
        consumer = AIOConsumer(_consumer_conf(conn, conf))
        try:
            await consumer.list_topics(topic, timeout=min(timeout, 15))
            clock.go()
            await consumer.assign([TopicPartition(topic, p, off) for p, off in _starts(starts)])
            while clock.got < n:
                batch = await consumer.consume(num_messages=BATCH, timeout=0.5)
                clock.add(sum(1 for msg in batch if msg.error() is None))
                _deadline_check(clock.got, n, deadline)
            clock.stop()
            return clock.result()
        finally:
            await consumer.close()

    return asyncio.run(run())


# ----------------------------------------------------------------------------- aiokafka


def produce_aiokafka(conn: ConnLike, topic: str, n: int, size: int, conf: Conf, timeout: float) -> dict[str, Any]:
    """Send ``n`` payloads with aiokafka's AIOKafkaProducer (started untimed); timed to the end of flush()."""
    from aiokafka import AIOKafkaProducer

    async def run() -> dict[str, Any]:
        clock = Clock()
        producer = AIOKafkaProducer(**{**aio_conf(conn, "producer"), **conf})
        await asyncio.wait_for(producer.start(), timeout)
        value = payload(size)
        try:
            await producer.partitions_for(topic)
            clock.go()
            for _ in range(n):
                await producer.send(topic, value)  # waits only when the accumulator is full
            await asyncio.wait_for(producer.flush(), timeout)
            clock.stop()
            return clock.result(n)
        finally:
            await producer.stop()

    return asyncio.run(run())


def consume_aiokafka(conn: ConnLike, topic: str, n: int, conf: Conf, timeout: float, starts: list[int]) -> dict[str, Any]:
    """Read ``n`` records from the given start offsets with aiokafka's AIOKafkaConsumer (no group)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def run() -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        clock = Clock()
        consumer = AIOKafkaConsumer(**{**aio_conf(conn, "consumer"), "group_id": None, "enable_auto_commit": False,
                                       "auto_offset_reset": "earliest", **conf})
        await asyncio.wait_for(consumer.start(), timeout)
        try:
            tps = [(TopicPartition(topic, p), off) for p, off in _starts(starts)]
            clock.go()
            consumer.assign([tp for tp, _ in tps])
            for tp, off in tps:
                consumer.seek(tp, off)
            while clock.got < n:
                batches = await consumer.getmany(timeout_ms=500, max_records=BATCH)
                clock.add(sum(len(records) for records in batches.values()))
                _deadline_check(clock.got, n, deadline)
            clock.stop()
            return clock.result()
        finally:
            await consumer.stop()

    return asyncio.run(run())


PRODUCERS: dict[str, Callable[..., dict[str, Any]]] = {
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


def measure(client: str, role: str, conn: ConnLike, topic: str, messages: int, size: int,
            conf: Conf, timeout: float, starts: list[int] | None = None) -> dict[str, Any]:
    """Run one measurement in this process; never raises for a client's own failure.

    ``conn`` is a Connection (or a plain ``host:port``, plaintext). A read that runs out of time is
    status ``lost`` with the count it reached; any other failure is ``error`` with the client's own message.
    """
    try:
        conn = as_connection(conn)
        if role == "produce":
            r = PRODUCERS[client](conn, topic, messages, size, conf, timeout)
        else:
            r = CONSUMERS[client](conn, topic, messages, conf, timeout, starts or [0])
        return {"status": "ok", **r}
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
    p.add_argument("--config", default=None, help="client properties file of a secured broker (connection.cli_args)")
    p.add_argument("--topic", required=True)
    p.add_argument("--messages", type=int, required=True)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--conf", default="{}", help="JSON: the client's own settings ({} = its defaults)")
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--start-offsets", default="0", help="consume: each partition's low watermark, comma-separated")
    a = p.parse_args(argv)
    starts = [int(x) for x in a.start_offsets.split(",")]
    try:
        conn = from_cli(a.bootstrap, a.config)
    except Exception as exc:  # e.g. the properties file is gone: the harness records why
        result: dict[str, Any] = {"status": "error", "error": describe(exc)}
    else:
        result = measure(a.client, a.role, conn, a.topic, a.messages, a.size, json.loads(a.conf), a.timeout, starts)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
