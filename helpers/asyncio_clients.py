"""The "or ?" of 2026: asyncio Kafka clients, and how each fits a notebook's running event loop.

* ``confluent_kafka.aio.AIOProducer`` / ``AIOConsumer`` (confluent-kafka 2.12+): the C client
  behind a thread pool; every call is awaitable, the librdkafka work happens off the loop.
  The producer batches ``produce()`` calls and hands back an asyncio future per message.
* ``aiokafka`` (0.14): a pure-Python asyncio client (it began as a port of kafka-python).

Jupyter already runs an event loop, so in a notebook you ``await`` these coroutines at the
top level; ``asyncio.run()`` is for scripts and raises RuntimeError inside a running loop.
:func:`run` works in both places. Every function here is bounded by a timeout.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import time
import uuid
from dataclasses import dataclass
from typing import Any, Awaitable, TypeVar

from .connection import ConnLike, aio_conf, ck_conf, kp_conf

T = TypeVar("T")


async def confluent_aio_roundtrip(conn: ConnLike, topic: str, messages: list[bytes],
                                  timeout: float = 15.0) -> dict[str, Any]:
    """Produce ``messages`` to partition 0 with AIOProducer (awaiting each delivery), then read
    them back with AIOConsumer, assigned to partition 0 from the first offset written."""
    from confluent_kafka import TopicPartition
    from confluent_kafka.aio import AIOConsumer, AIOProducer

    t0 = time.monotonic()
    producer = AIOProducer({**ck_conf(conn), "message.timeout.ms": int(timeout * 1000)})
    try:
        # produce() returns an asyncio future per message: await them all, the loop stays free meanwhile
        futures = [await producer.produce(topic, value, partition=0) for value in messages]
        await producer.flush(timeout)
        delivered = await asyncio.wait_for(asyncio.gather(*futures), timeout)
    finally:
        await producer.close()
    offsets = [m.offset() for m in delivered]
    consumer = AIOConsumer({**ck_conf(conn), "group.id": f"aio-{uuid.uuid4().hex[:8]}",
                            "auto.offset.reset": "earliest", "enable.auto.commit": False})
    got: list[bytes] = []
    try:
        await consumer.assign([TopicPartition(topic, 0, offsets[0])])
        deadline = time.monotonic() + timeout
        while len(got) < len(messages) and time.monotonic() < deadline:
            batch = await consumer.consume(num_messages=len(messages) - len(got), timeout=0.5)
            got.extend(m.value() for m in batch if m.error() is None)
    finally:
        await consumer.close()
    return {"client": "confluent_kafka.aio", "offsets": offsets, "read": got,
            "seconds": round(time.monotonic() - t0, 2)}


async def aiokafka_roundtrip(conn: ConnLike, topic: str, messages: list[bytes],
                             timeout: float = 15.0) -> dict[str, Any]:
    """Produce ``messages`` to partition 0 with AIOKafkaProducer.send_and_wait, then read them back
    with AIOKafkaConsumer, assigned to partition 0 from the first offset written."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    t0 = time.monotonic()
    producer = AIOKafkaProducer(**aio_conf(conn), request_timeout_ms=int(timeout * 1000))
    await asyncio.wait_for(producer.start(), timeout)
    try:
        results = [await asyncio.wait_for(producer.send_and_wait(topic, value, partition=0), timeout)
                   for value in messages]
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(**aio_conf(conn), group_id=f"aio-{uuid.uuid4().hex[:8]}",
                                enable_auto_commit=False)
    await asyncio.wait_for(consumer.start(), timeout)
    got: list[bytes] = []
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek(tp, results[0].offset)
        deadline = time.monotonic() + timeout
        while len(got) < len(messages) and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=len(messages) - len(got))
            got.extend(r.value for records in batches.values() for r in records)
    finally:
        await consumer.stop()
    return {"client": "aiokafka", "offsets": [r.offset for r in results], "read": got,
            "seconds": round(time.monotonic() - t0, 2)}


@dataclass(frozen=True)
class Heartbeat:
    """What a ticker task saw while something else was awaited: how often it ran, and its longest wait."""

    ticks: int
    longest_stall_ms: float
    total_ms: float

    def __str__(self) -> str:
        return (f"ticker woke {self.ticks} times in {self.total_ms:.0f} ms, "
                f"longest stall {self.longest_stall_ms:.0f} ms")


async def heartbeat_while(awaitable: Awaitable[T], every: float = 0.002) -> tuple[T, Heartbeat]:
    """Await ``awaitable`` while a second task wakes every ``every`` seconds; returns (result, Heartbeat).

    The longest gap between two wake-ups (counting from the start and up to the end) is the longest
    the event loop was blocked: about ``every`` when the awaited code really yields, and the full
    duration of any blocking call (``time.sleep``, a synchronous ``poll()``) made on the loop.
    """
    stop = asyncio.Event()
    marks = [time.perf_counter()]

    async def tick() -> None:
        while not stop.is_set():
            await asyncio.sleep(every)
            marks.append(time.perf_counter())

    ticker = asyncio.create_task(tick())
    try:
        result = await awaitable
    finally:
        seen = [*marks, time.perf_counter()]
        stop.set()
        await ticker
    longest = max(b - a for a, b in zip(seen, seen[1:]))
    return result, Heartbeat(len(seen) - 2, round(longest * 1000, 1), round((seen[-1] - seen[0]) * 1000, 1))


async def blocking_poll(conn: ConnLike, topic: str, timeout: float = 0.5) -> int:
    """The mistake, for contrast: a synchronous kafka-python ``poll()`` inside a coroutine.

    It reads partition 0 of ``topic`` from its end, so the poll waits its whole ``timeout`` and
    the event loop with it; returns how many records it got (0).
    """
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(**kp_conf(conn), enable_auto_commit=False)
    try:
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        c.seek_to_end(tp)
        return sum(len(rs) for rs in c.poll(timeout_ms=int(timeout * 1000)).values())
    finally:
        c.close()


def run(coro: Awaitable[T], timeout: float = 60.0) -> T:
    """Run a coroutine from plain (non-async) code, inside Jupyter or not.

    Outside a running loop this is ``asyncio.run``; inside one (a notebook cell calling
    synchronous code) it runs the coroutine on a fresh loop in a worker thread, because the
    notebook's own loop is busy running the cell. In a notebook cell, prefer plain ``await``.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, asyncio.wait_for(coro, timeout)).result(timeout + 5)  # type: ignore[arg-type]
