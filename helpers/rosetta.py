"""The Rosetta table: the Java Producer and Consumer APIs, and each Python client's equivalent.

The talk listed the Java ``KafkaProducer``/``KafkaConsumer`` methods and settings, then showed
each Python client. Here that comparison is data: one :class:`Row` per Java method or setting,
with each client's call (or "not available" and the workaround). :func:`run` exercises every
row's call for every client against a real broker, so the table cannot drift from the
installed packages: a client that gains a method marked "not available" fails the run too,
because each "not available" check also asserts that the method is really missing.

Setting rows are generated from :mod:`helpers.settings`, so the translator and the table agree.
"""
from __future__ import annotations

import inspect
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from . import admin, clients, settings
from .connection import ConnLike, bootstrap_of, ck_conf, kp_conf, pk_conf
from .settings import CLIENTS
TIMEOUT = 10.0


@dataclass(frozen=True)
class Cell:
    """One client's way to do a row: ``code`` if available, else the ``workaround``."""

    code: str
    available: bool = True
    workaround: str = ""

    def __str__(self) -> str:
        return self.code if self.available else f"not available -> {self.workaround}"


@dataclass(frozen=True)
class Row:
    """One Java method or setting and its three Python equivalents."""

    api: Literal["producer", "consumer"]
    kind: Literal["method", "setting"]
    java: str
    cells: dict[str, Cell]
    note: str = ""


def _na(workaround: str) -> Cell:
    return Cell("", available=False, workaround=workaround)


def _m(api: str, java: str, kp: Cell | str, ck: Cell | str, pk: Cell | str, note: str = "") -> Row:
    cells = {c: (v if isinstance(v, Cell) else Cell(v)) for c, v in zip(CLIENTS, (kp, ck, pk))}
    return Row(api, "method", java, cells, note)  # type: ignore[arg-type]


# confluent-kafka's metadata, watermark and committed-offset calls wait out their whole timeout before Ctrl-C
# takes effect (measured with 2.16.1: 8.8 s for timeout=10), so the table spells them with short timeouts.
METHOD_ROWS: list[Row] = [
    # ------------------------------------------------------------------ producer
    _m("producer", "send(ProducerRecord(topic, value))",
       "producer.send(topic, value)", "producer.produce(topic, value)",
       "topic.get_producer().produce(value)"),
    _m("producer", "send(ProducerRecord(topic, key, value))",
       "producer.send(topic, value, key=key)", "producer.produce(topic, value, key)",
       "topic.get_producer(partitioner=hashing_partitioner).produce(value, partition_key=key)",
       "pykafka's default partitioner is random, and its hash is not Java's murmur2: keys land elsewhere"),
    _m("producer", "send(ProducerRecord(topic, partition, key, value))",
       "producer.send(topic, value, key=key, partition=1)", "producer.produce(topic, value, key, partition=1)",
       _na("a partitioner that picks by id: partitioner=lambda parts, key: next(p for p in parts if p.id == int(key))")),
    _m("producer", "send(record).get()  (synchronous)",
       "producer.send(topic, value).get(timeout=10)",
       _na("produce(topic, value); producer.flush(10)  (or on_delivery + poll)"),
       "topic.get_sync_producer().produce(value)"),
    _m("producer", "send(record, callback)  (asynchronous)",
       "producer.send(topic, value).add_callback(ok).add_errback(failed)",
       "producer.produce(topic, value, on_delivery=report); producer.poll(0)",
       "get_producer(delivery_reports=True); producer.get_delivery_report(timeout=10)"),
    _m("producer", "flush()", "producer.flush(timeout=10)", "producer.flush(10)  # returns messages left",
       _na("producer.stop() flushes and stops; or `with topic.get_producer() as p:`")),
    _m("producer", "close()", "producer.close(timeout=5)", "producer.close()", "producer.stop()"),
    _m("producer", "partitionsFor(topic)", "producer.partitions_for(topic)",
       "producer.list_topics(topic, timeout=2).topics[topic].partitions", "client.topics[topic].partitions"),
    _m("producer", "metrics()", "producer.metrics()",
       _na("{'statistics.interval.ms': 1000, 'stats_cb': fn} delivers librdkafka's statistics as JSON"),
       _na("none: count in your own code, or read the broker's JMX metrics")),
    # ------------------------------------------------------------------ consumer
    _m("consumer", "assign(partitions)", "consumer.assign([TopicPartition(topic, 0)])",
       "consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])",
       "topic.get_simple_consumer(partitions=[topic.partitions[0]])"),
    _m("consumer", "assignment()", "consumer.assignment()", "consumer.assignment()", "consumer.partitions"),
    _m("consumer", "beginningOffsets(partitions)", "consumer.beginning_offsets([tp])",
       "consumer.get_watermark_offsets(tp, timeout=2)[0]", "topic.earliest_available_offsets()"),
    _m("consumer", "close()", "consumer.close()", "consumer.close()", "consumer.stop()"),
    _m("consumer", "commitAsync(offsets, callback)", "consumer.commit_async(callback=done)",
       "consumer.commit(asynchronous=True)  # result to the on_commit callback",
       _na("commit_offsets() is synchronous: call it from a thread, or auto_commit_enable=True")),
    _m("consumer", "commitSync(offsets)", "consumer.commit()", "consumer.commit(asynchronous=False)",
       "consumer.commit_offsets()"),
    _m("consumer", "committed(partition)", "consumer.committed(tp)", "consumer.committed([tp], timeout=2)",
       "consumer.fetch_offsets()"),
    _m("consumer", "endOffsets(partitions)", "consumer.end_offsets([tp])",
       "consumer.get_watermark_offsets(tp, timeout=2)[1]", "topic.latest_available_offsets()"),
    _m("consumer", "listTopics()", "consumer.topics()", "consumer.list_topics(timeout=2).topics",
       "client.topics.keys()"),
    _m("consumer", "metrics()", "consumer.metrics()",
       _na("{'statistics.interval.ms': 1000, 'stats_cb': fn} delivers librdkafka's statistics as JSON"),
       _na("none: count in your own code, or read the broker's JMX metrics")),
    _m("consumer", "offsetsForTimes(timestamps)", "consumer.offsets_for_times({tp: ms})",
       "consumer.offsets_for_times([TopicPartition(topic, 0, ms)])",
       _na("topic.fetch_offset_limits(ms) speaks ListOffsets v0: whole log segments, not records")),
    _m("consumer", "partitionsFor(topic)", "consumer.partitions_for_topic(topic)",
       "consumer.list_topics(topic, timeout=2).topics[topic].partitions", "topic.partitions"),
    _m("consumer", "pause(partitions)", "consumer.pause(tp)", "consumer.pause([tp])",
       _na("stop calling consume(); its fetcher still fills queued_max_messages")),
    _m("consumer", "poll(timeout)", "consumer.poll(timeout_ms=1000)", "consumer.poll(1.0)  # or consume(n, 1.0)",
       "consumer.consume(block=True)  # bounded by consumer_timeout_ms"),
    _m("consumer", "position(partition)", "consumer.position(tp)", "consumer.position([tp])",
       "consumer.held_offsets[0] + 1  # held = last consumed"),
    _m("consumer", "resume(partitions)", "consumer.resume(tp)", "consumer.resume([tp])",
       _na("call consume() again")),
    _m("consumer", "seek(partition, offset)", "consumer.seek(tp, 3)",
       "consumer.seek(TopicPartition(topic, 0, 3))",
       "consumer.reset_offsets([(partition, 3 - 1)])  # pykafka stores the last consumed offset",
       "pykafka's reset_offsets takes the offset *before* the next one to read"),
    _m("consumer", "seekToBeginning(partitions)", "consumer.seek_to_beginning(tp)",
       "consumer.seek(TopicPartition(topic, 0, OFFSET_BEGINNING))",
       "consumer.reset_offsets([(partition, OffsetType.EARLIEST)])"),
    _m("consumer", "seekToEnd(partitions)", "consumer.seek_to_end(tp)",
       "consumer.seek(TopicPartition(topic, 0, OFFSET_END))",
       "consumer.reset_offsets([(partition, OffsetType.LATEST)])"),
    _m("consumer", "subscribe(topics, listener)", "consumer.subscribe([topic], listener=MyListener())",
       "consumer.subscribe([topic], on_assign=fn, on_revoke=fn)",
       "topic.get_balanced_consumer(group, managed=True, post_rebalance_callback=fn)"),
    _m("consumer", "subscribe(pattern, listener)", "consumer.subscribe(pattern='^orders-.*', listener=...)",
       "consumer.subscribe(['^orders-.*'], on_assign=fn)  # a leading ^ marks a regex",
       _na("filter client.topics with re, one balanced consumer per matching topic")),
    _m("consumer", "subscription()", "consumer.subscription()",
       _na("keep the list you passed to subscribe(); assignment() shows the partitions"), "consumer.topic.name"),
    _m("consumer", "unsubscribe()", "consumer.unsubscribe()", "consumer.unsubscribe()",
       "consumer.stop()  # leaves the group"),
    _m("consumer", "wakeup()", _na("poll with a short timeout in a loop that checks a stop flag"),
       _na("poll with a short timeout in a loop that checks a stop flag"),
       "consumer.consume(block=True, unblock_event=event); event.set()"),
]


def _setting_rows() -> list[Row]:
    rows = []
    for s in settings.SETTINGS.values():
        if s.role == "any" and s.java not in ("bootstrap.servers", "client.id"):
            continue
        cells = {}
        for client in CLIENTS:
            sp = s.spellings[client]
            if isinstance(sp, settings.Name):
                where = {"client": "KafkaClient(", "producer": "get_producer(", "consumer": "get_*_consumer("}
                prefix = where.get(sp.where, "")
                cells[client] = Cell(f"{prefix}{sp.name}" + (")" if prefix else ""))
            else:
                cells[client] = _na(sp.workaround)
        for api in (("producer", "consumer") if s.role == "any" else (s.role,)):
            rows.append(Row(api, "setting", s.java, cells, s.meaning))  # type: ignore[arg-type]
    return rows


ROWS: list[Row] = METHOD_ROWS + _setting_rows()


# The rows a learner needs first, per API: the digest a lesson opens with (the full table follows it).
DIGEST: dict[str, tuple[str, ...]] = {
    "producer": ("send(ProducerRecord(topic, value))", "send(ProducerRecord(topic, key, value))",
                 "send(record).get()  (synchronous)", "send(record, callback)  (asynchronous)", "flush()",
                 "close()", "acks", "linger.ms"),
    "consumer": ("subscribe(topics, listener)", "poll(timeout)", "commitSync(offsets)", "seek(partition, offset)",
                 "assign(partitions)", "close()", "group.id", "enable.auto.commit"),
}


def _in_digest(api: str, java: str) -> bool:
    return java in DIGEST.get(api, ())


def table(api: str | None = None, kind: str | None = None, digest: bool = False) -> Any:
    """The Rosetta table as a pandas DataFrame (filter by ``api`` and ``kind``).

    ``digest=True`` keeps only the :data:`DIGEST` rows of ``api``, in that order, indexed by the Java name.
    """
    import pandas as pd

    rows = [r for r in ROWS if (api is None or r.api == api) and (kind is None or r.kind == kind)]
    if digest:
        order = {j: i for i, j in enumerate(DIGEST.get(api or "", ()))}
        rows = sorted((r for r in rows if r.java in order), key=lambda r: order[r.java])
        return pd.DataFrame([{"Java": r.java, **{c: str(r.cells[c]) for c in CLIENTS}} for r in rows]).set_index("Java")
    data = [{"api": r.api, "kind": r.kind, "Java": r.java, **{c: str(r.cells[c]) for c in CLIENTS}} for r in rows]
    return pd.DataFrame(data)


# ====================================================================== the runner


class Context:
    """What the checks share: the broker, a seeded 2-partition topic, and clean-up."""

    MESSAGES = 6  # per partition

    def __init__(self, conn: ConnLike) -> None:
        self.conn = conn
        self.topic = admin.create_topic(conn, admin.unique_topic("rosetta"), partitions=2)
        self._closers: list[Callable[[], Any]] = []
        self._pk_client = None
        self.t0_ms = int(time.time() * 1000)
        from confluent_kafka import Producer

        p = Producer(ck_conf(conn))
        for part in (0, 1):
            for i in range(self.MESSAGES):
                p.produce(self.topic, f"p{part}-{i}".encode(), f"k{i}".encode(), partition=part)
        if p.flush(TIMEOUT):
            raise RuntimeError("seeding the Rosetta topic failed")

    def group(self) -> str:
        """A fresh consumer group id, so no check inherits another check's committed offsets."""
        return f"rosetta-{uuid.uuid4().hex[:8]}"

    def closing(self, obj: Any, method: str = "close") -> Any:
        """Register ``obj.method()`` to run after the current check (see :meth:`close_clients`); returns ``obj``."""
        self._closers.append(getattr(obj, method))
        return obj

    # --- shared factories
    def kp_producer(self, **kw: Any) -> Any:
        from kafka import KafkaProducer

        return self.closing(KafkaProducer(**kp_conf(self.conn), max_block_ms=5000, **kw))

    def kp_consumer(self, **kw: Any) -> Any:
        from kafka import KafkaConsumer

        conf = dict(**kp_conf(self.conn), group_id=self.group(), enable_auto_commit=False,
                    auto_offset_reset="earliest", consumer_timeout_ms=int(TIMEOUT * 1000))
        conf.update(kw)
        return self.closing(KafkaConsumer(**conf))

    def kp_assigned(self, **kw: Any) -> tuple[Any, Any]:
        from kafka import TopicPartition

        c = self.kp_consumer(**kw)
        tp = TopicPartition(self.topic, 0)
        c.assign([tp])
        return c, tp

    def ck_producer(self, **kw: Any) -> Any:
        from confluent_kafka import Producer

        return Producer(ck_conf(self.conn, {"message.timeout.ms": int(TIMEOUT * 1000), **kw}))

    def ck_consumer(self, **kw: Any) -> Any:
        from confluent_kafka import Consumer

        conf = {"group.id": self.group(), "enable.auto.commit": False, "auto.offset.reset": "earliest", **kw}
        return self.closing(Consumer(ck_conf(self.conn, conf)))

    def ck_assigned(self, **kw: Any) -> tuple[Any, Any]:
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        c = self.ck_consumer(**kw)
        c.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])
        return c, TopicPartition(self.topic, 0)

    def pk_client(self) -> Any:
        if self._pk_client is None:
            from pykafka import KafkaClient

            self._pk_client = KafkaClient(**pk_conf(self.conn), socket_timeout_ms=int(TIMEOUT * 1000))
        return self._pk_client

    def pk_topic(self) -> Any:
        return self.pk_client().topics[self.topic]

    def pk_producer(self, **kw: Any) -> Any:
        conf = dict(linger_ms=10, min_queued_messages=1)
        conf.update(kw)
        return self.closing(self.pk_topic().get_producer(**conf), "stop")

    def pk_sync(self, **kw: Any) -> Any:
        """A synchronous pykafka producer; without min_queued_messages=1 each produce() waits linger_ms (5 s)."""
        conf = dict(linger_ms=0, min_queued_messages=1)
        conf.update(kw)
        return self.pk_topic().get_sync_producer(**conf)

    def pk_simple(self, **kw: Any) -> Any:
        from pykafka.common import OffsetType

        conf = dict(consumer_group=self.group().encode(), auto_offset_reset=OffsetType.EARLIEST,
                    reset_offset_on_start=True, consumer_timeout_ms=int(TIMEOUT * 1000))
        conf.update(kw)
        return self.closing(self.pk_topic().get_simple_consumer(**conf), "stop")

    def pk_balanced(self, **kw: Any) -> Any:
        from pykafka.common import OffsetType

        conf = dict(managed=True, auto_offset_reset=OffsetType.EARLIEST, reset_offset_on_start=True,
                    consumer_timeout_ms=int(TIMEOUT * 1000))
        conf.update(kw)
        group = conf.pop("consumer_group", self.group().encode())
        return self.closing(self.pk_topic().get_balanced_consumer(group, **conf), "stop")

    def close_clients(self) -> None:
        """Close what the last check opened (idle pykafka fetcher threads would slow every later check)."""
        for fn in reversed(self._closers):
            try:
                fn()
            except Exception:  # clean-up must go on; a client already closed by its check is fine
                pass
        self._closers.clear()

    def close(self) -> None:
        self.close_clients()
        admin.delete_topic(self.conn, self.topic)


Check = Callable[[Context], str]
CHECKS: dict[tuple[str, str, str], Check] = {}
_API = "producer"  # the section being defined below: producer checks first, then consumer checks


def _check(java: str, client: str) -> Callable[[Check], Check]:
    def deco(fn: Check) -> Check:
        CHECKS[(_API, java, client)] = fn
        return fn
    return deco


def _expect(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


def _lacks(obj: Any, *names: str) -> None:
    for name in names:
        _expect(not hasattr(obj, name), f"{type(obj).__name__ if not inspect.isclass(obj) else obj.__name__} "
                                        f"now has {name}(): update the Rosetta row")


def _ck_deliver(p: Any, *produce_args: Any, **kw: Any) -> Any:
    reports: list[Any] = []
    p.produce(*produce_args, on_delivery=lambda err, msg: reports.append((err, msg)), **kw)
    _expect(p.flush(TIMEOUT) == 0, "confluent-kafka: message not delivered in time")
    err, msg = reports[0]
    _expect(err is None, f"delivery failed: {err}")
    return msg


def _ck_poll(c: Any, n: int = 1) -> list[Any]:
    return clients.poll_n(lambda: clients.ck_poll_one(c, 0.2), n, TIMEOUT, "confluent-kafka messages")


def _kp_poll(c: Any, n: int = 1) -> list[Any]:
    # a subscribed consumer first waits for its partitions: a 0.2 s poll alone races the group join
    early = clients.wait_assigned(c, TIMEOUT, 0.2, n) if c.subscription() else []
    return early[:n] + clients.poll_n(lambda: clients.kp_poll_one(c, 0.2, n), max(0, n - len(early)), TIMEOUT,
                                      "kafka-python records")


def _pk_consume(c: Any, n: int = 1) -> list[Any]:
    return clients.poll_n(lambda: clients.pk_poll_one(c), n, TIMEOUT, "pykafka messages")


# ---------------------------------------------------------------- producer methods

@_check("send(ProducerRecord(topic, value))", "kafka-python")
def _(ctx: Context) -> str:
    md = ctx.kp_producer().send(ctx.topic, b"v").get(timeout=TIMEOUT)
    return f"the record went to partition {md.partition}, offset {md.offset}"


@_check("send(ProducerRecord(topic, value))", "confluent-kafka")
def _(ctx: Context) -> str:
    msg = _ck_deliver(ctx.ck_producer(), ctx.topic, b"v")
    return f"the record went to partition {msg.partition()}, offset {msg.offset()}"


@_check("send(ProducerRecord(topic, value))", "pykafka")
def _(ctx: Context) -> str:
    with ctx.pk_sync() as p:
        p.produce(b"v")
    return "the sync producer returned once the broker had stored the record"


@_check("send(ProducerRecord(topic, key, value))", "kafka-python")
def _(ctx: Context) -> str:
    p = ctx.kp_producer()
    parts = {p.send(ctx.topic, b"v", key=b"same-key").get(timeout=TIMEOUT).partition for _ in range(3)}
    _expect(len(parts) == 1, "one key went to several partitions")
    return f"every record with one key went to partition {parts.pop()}"


@_check("send(ProducerRecord(topic, key, value))", "confluent-kafka")
def _(ctx: Context) -> str:
    p = ctx.ck_producer()
    parts = {_ck_deliver(p, ctx.topic, b"v", b"same-key").partition() for _ in range(3)}
    _expect(len(parts) == 1, "one key went to several partitions")
    return f"every record with one key went to partition {parts.pop()}"


@_check("send(ProducerRecord(topic, key, value))", "pykafka")
def _(ctx: Context) -> str:
    from pykafka.partitioners import hashing_partitioner

    topic = ctx.pk_topic()
    before = {p: o.offset[0] for p, o in topic.latest_available_offsets().items()}
    with ctx.pk_sync(partitioner=hashing_partitioner) as p:
        for _ in range(3):
            p.produce(b"v", partition_key=b"same-key")
    after = {p: o.offset[0] for p, o in topic.latest_available_offsets().items()}
    grew = {p: after[p] - before[p] for p in after if after[p] != before[p]}
    _expect(list(grew.values()) == [3], f"one key went to several partitions: {grew}")
    return f"every record with one key went to partition {next(iter(grew))} (with hashing_partitioner)"


@_check("send(ProducerRecord(topic, partition, key, value))", "kafka-python")
def _(ctx: Context) -> str:
    md = ctx.kp_producer().send(ctx.topic, b"v", key=b"k", partition=1).get(timeout=TIMEOUT)
    _expect(md.partition == 1, f"asked for partition 1, got {md.partition}")
    return "the record went to partition 1, as asked"


@_check("send(ProducerRecord(topic, partition, key, value))", "confluent-kafka")
def _(ctx: Context) -> str:
    msg = _ck_deliver(ctx.ck_producer(), ctx.topic, b"v", b"k", partition=1)
    _expect(msg.partition() == 1, f"asked for partition 1, got {msg.partition()}")
    return "the record went to partition 1, as asked"


@_check("send(ProducerRecord(topic, partition, key, value))", "pykafka")
def _(ctx: Context) -> str:
    from pykafka.producer import Producer

    _expect("partition" not in inspect.signature(Producer.produce).parameters,
            "pykafka's produce() now takes a partition: update the Rosetta row")
    before = ctx.pk_topic().latest_available_offsets()[1].offset[0]
    # the list pykafka hands a partitioner is not ordered by id: pick by .id, never by index
    with ctx.pk_sync(partitioner=lambda parts, key: next(p for p in parts if p.id == int(key))) as p:
        p.produce(b"v", partition_key=b"1")
    after = ctx.pk_topic().latest_available_offsets()[1].offset[0]
    _expect(after == before + 1, "the workaround did not write to partition 1")
    return "workaround: a partitioner that picks by id sent it to partition 1"


@_check("send(record).get()  (synchronous)", "kafka-python")
def _(ctx: Context) -> str:
    md = ctx.kp_producer().send(ctx.topic, b"v").get(timeout=TIMEOUT)
    return f"get() returned the RecordMetadata: offset {md.offset}"


@_check("send(record).get()  (synchronous)", "confluent-kafka")
def _(ctx: Context) -> str:
    p = ctx.ck_producer()
    _expect(p.produce(ctx.topic, b"v") is None, "produce() now returns something: update the Rosetta row")
    left = p.flush(TIMEOUT)
    _expect(left == 0, f"{left} messages left after flush")
    return "produce() returns nothing to wait on; flush() then returned 0 (nothing left)"


@_check("send(record).get()  (synchronous)", "pykafka")
def _(ctx: Context) -> str:
    with ctx.pk_sync() as p:
        p.produce(b"v")
    return "produce() returned after the broker's acknowledgement"


@_check("send(record, callback)  (asynchronous)", "kafka-python")
def _(ctx: Context) -> str:
    done = threading.Event()
    seen: list[Any] = []
    p = ctx.kp_producer()
    p.send(ctx.topic, b"v").add_callback(lambda md: (seen.append(md), done.set())).add_errback(
        lambda exc: (seen.append(exc), done.set()))
    p.flush(timeout=TIMEOUT)
    _expect(done.wait(TIMEOUT) and not isinstance(seen[0], Exception), f"callback: {seen}")
    return f"the callback received offset {seen[0].offset}"


@_check("send(record, callback)  (asynchronous)", "confluent-kafka")
def _(ctx: Context) -> str:
    msg = _ck_deliver(ctx.ck_producer(), ctx.topic, b"v")
    return f"on_delivery received offset {msg.offset()}"


@_check("send(record, callback)  (asynchronous)", "pykafka")
def _(ctx: Context) -> str:
    p = ctx.pk_producer(delivery_reports=True)
    p.produce(b"v")
    msg, exc = p.get_delivery_report(block=True, timeout=TIMEOUT)
    _expect(exc is None, f"delivery report error: {exc!r}")
    return f"the delivery report said offset {msg.offset}"


@_check("flush()", "kafka-python")
def _(ctx: Context) -> str:
    p = ctx.kp_producer(linger_ms=60000)
    fut = p.send(ctx.topic, b"v")
    p.flush(timeout=TIMEOUT)
    _expect(fut.is_done, "flush returned before the send completed")
    return "with linger.ms at 60 s, flush() sent the record at once"


@_check("flush()", "confluent-kafka")
def _(ctx: Context) -> str:
    p = ctx.ck_producer(**{"linger.ms": 5000})
    p.produce(ctx.topic, b"v")
    queued = len(p)
    _expect(queued == 1 and p.flush(TIMEOUT) == 0 and len(p) == 0, "flush left messages queued")
    return "with linger.ms at 5 s, flush() sent the queued record at once (0 left)"


@_check("flush()", "pykafka")
def _(ctx: Context) -> str:
    from pykafka.producer import Producer

    _lacks(Producer, "flush")
    p = ctx.pk_topic().get_producer(linger_ms=500, delivery_reports=True)
    p.produce(b"v")
    t0 = time.monotonic()
    p.stop()  # waits for linger_ms to run out, then sends: it does not cut the linger short
    waited = time.monotonic() - t0
    _msg, exc = p.get_delivery_report(block=True, timeout=TIMEOUT)
    _expect(exc is None, f"{exc!r}")
    return f"workaround: stop() delivered it after {waited:.1f} s (it waits out linger_ms)"


@_check("close()", "kafka-python")
def _(ctx: Context) -> str:
    from kafka import KafkaProducer

    p = KafkaProducer(**kp_conf(ctx.conn))
    fut = p.send(ctx.topic, b"v")
    p.close(timeout=5)
    _expect(fut.is_done, "close() did not deliver the pending record")
    return "close() delivered the pending record first"


@_check("close()", "confluent-kafka")
def _(ctx: Context) -> str:
    p = ctx.ck_producer()
    p.produce(ctx.topic, b"v")
    _expect(p.close() is True, "close() did not return True")
    return "close() returned True"


@_check("close()", "pykafka")
def _(ctx: Context) -> str:
    p = ctx.pk_topic().get_producer(linger_ms=10, delivery_reports=True)
    p.produce(b"v")
    p.stop()
    _msg, exc = p.get_delivery_report(block=True, timeout=TIMEOUT)
    _expect(exc is None, f"{exc!r}")
    return "stop() delivered the pending message"


@_check("partitionsFor(topic)", "kafka-python")
def _(ctx: Context) -> str:
    parts = ctx.kp_producer().partitions_for(ctx.topic)
    _expect(parts == {0, 1}, f"{parts}")
    return f"the partitions are {sorted(parts)}"


@_check("partitionsFor(topic)", "confluent-kafka")
def _(ctx: Context) -> str:
    parts = ctx.ck_producer().list_topics(ctx.topic, timeout=TIMEOUT).topics[ctx.topic].partitions
    _expect(set(parts) == {0, 1}, f"{parts}")
    return f"the partitions are {sorted(parts)}"


@_check("partitionsFor(topic)", "pykafka")
def _(ctx: Context) -> str:
    parts = ctx.pk_client().topics[ctx.topic].partitions
    _expect(set(parts) == {0, 1}, f"{parts}")
    return f"the partitions are {sorted(parts)}"


@_check("metrics()", "kafka-python")
def _(ctx: Context) -> str:
    p = ctx.kp_producer()
    p.send(ctx.topic, b"v").get(timeout=TIMEOUT)
    m = p.metrics()
    _expect("producer-metrics" in m, f"no producer-metrics in {list(m)[:5]}")
    return f"metrics() returned {len(m['producer-metrics'])} producer metrics"


def _ck_stats(ctx: Context, consumer: bool) -> str:
    import json

    from confluent_kafka import Consumer, Producer

    _lacks(Consumer if consumer else Producer, "metrics")
    stats: list[dict] = []
    conf = {"statistics.interval.ms": 200, "stats_cb": lambda s: stats.append(json.loads(s))}
    client = ctx.ck_consumer(**conf) if consumer else ctx.ck_producer(**conf)
    deadline = time.monotonic() + TIMEOUT
    while not stats and time.monotonic() < deadline:
        client.poll(0.1)
    _expect(bool(stats), "no statistics arrived")
    return f"workaround: stats_cb received librdkafka's statistics as JSON ({len(stats[0])} top-level keys)"


@_check("metrics()", "confluent-kafka")
def _(ctx: Context) -> str:
    return _ck_stats(ctx, consumer=False)


@_check("metrics()", "pykafka")
def _(ctx: Context) -> str:
    from pykafka.producer import Producer

    _lacks(Producer, "metrics")
    return "the client has no such method (checked)"


# ---------------------------------------------------------------- consumer methods
_API = "consumer"

@_check("assign(partitions)", "kafka-python")
def _(ctx: Context) -> str:
    c, _tp = ctx.kp_assigned()
    c.seek_to_beginning()
    msgs = _kp_poll(c, 2)
    _expect({m.partition for m in msgs} == {0}, "read from an unassigned partition")
    return f"read {[m.value.decode() for m in msgs]}"


@_check("assign(partitions)", "confluent-kafka")
def _(ctx: Context) -> str:
    c, _tp = ctx.ck_assigned()
    msgs = _ck_poll(c, 2)
    _expect({m.partition() for m in msgs} == {0}, "read from an unassigned partition")
    return f"read {[m.value().decode() for m in msgs]}"


@_check("assign(partitions)", "pykafka")
def _(ctx: Context) -> str:
    t = ctx.pk_topic()
    c = ctx.pk_simple(partitions=[t.partitions[0]])
    msgs = _pk_consume(c, 2)
    _expect({m.partition_id for m in msgs} == {0}, "read from an unassigned partition")
    return f"read {[m.value.decode() for m in msgs]}"


@_check("assignment()", "kafka-python")
def _(ctx: Context) -> str:
    c, tp = ctx.kp_assigned()
    _expect(c.assignment() == {tp}, f"{c.assignment()}")
    return "assignment() returned partition 0"


@_check("assignment()", "confluent-kafka")
def _(ctx: Context) -> str:
    c, _tp = ctx.ck_assigned()
    parts = [tp.partition for tp in c.assignment()]
    _expect(parts == [0], f"{parts}")
    return "assignment() returned partition 0"


@_check("assignment()", "pykafka")
def _(ctx: Context) -> str:
    t = ctx.pk_topic()
    c = ctx.pk_simple(partitions=[t.partitions[0]])
    _expect(list(c.partitions) == [0], f"{list(c.partitions)}")
    return "consumer.partitions holds partition 0"


@_check("beginningOffsets(partitions)", "kafka-python")
def _(ctx: Context) -> str:
    c, tp = ctx.kp_assigned()
    off = c.beginning_offsets([tp])[tp]
    _expect(off == 0, f"{off}")
    return "the first offset is 0"


@_check("beginningOffsets(partitions)", "confluent-kafka")
def _(ctx: Context) -> str:
    c, tp = ctx.ck_assigned()
    low, _high = c.get_watermark_offsets(tp, timeout=TIMEOUT)
    _expect(low == 0, f"{low}")
    return "the first offset is 0"


@_check("beginningOffsets(partitions)", "pykafka")
def _(ctx: Context) -> str:
    off = ctx.pk_topic().earliest_available_offsets()[0].offset[0]
    _expect(off == 0, f"{off}")
    return "the first offset is 0"


@_check("close()", "kafka-python")
def _(ctx: Context) -> str:
    from kafka import KafkaConsumer

    c = KafkaConsumer(ctx.topic, **kp_conf(ctx.conn))
    c.close()
    return "close() returned and the consumer left"


@_check("close()", "confluent-kafka")
def _(ctx: Context) -> str:
    from confluent_kafka import Consumer

    c = Consumer(ck_conf(ctx.conn, {"group.id": ctx.group()}))
    c.close()
    try:
        c.poll(0)
    except RuntimeError:
        return "close() returned; a poll() afterwards raises RuntimeError"
    raise AssertionError("poll() after close() did not raise")


@_check("close()", "pykafka")
def _(ctx: Context) -> str:
    c = ctx.pk_topic().get_simple_consumer(consumer_timeout_ms=100)
    c.stop()
    return "stop() returned and the consumer is stopped"


@_check("commitAsync(offsets, callback)", "kafka-python")
def _(ctx: Context) -> str:
    c, tp = ctx.kp_assigned()
    _kp_poll(c, 3)
    done = threading.Event()
    c.commit_async(callback=lambda offsets, response: done.set())
    deadline = time.monotonic() + TIMEOUT
    while not done.is_set() and time.monotonic() < deadline:
        c.poll(timeout_ms=100)  # callbacks run inside poll()
    _expect(done.is_set() and c.committed(tp) == 3, f"committed {c.committed(tp)}")
    return "the callback fired and offset 3 was committed"


@_check("commitAsync(offsets, callback)", "confluent-kafka")
def _(ctx: Context) -> str:
    from confluent_kafka import TopicPartition

    results: list[Any] = []
    c, tp = ctx.ck_assigned(on_commit=lambda err, parts: results.append(err))
    _ck_poll(c, 3)
    c.pause([tp])  # the poll() below only serves callbacks: fetch nothing more meanwhile
    c.commit(offsets=[TopicPartition(ctx.topic, 0, 3)], asynchronous=True)
    deadline = time.monotonic() + TIMEOUT
    while not results and time.monotonic() < deadline:
        c.poll(0.1)  # on_commit runs inside poll()
    _expect(results == [None], f"on_commit: {results}")
    got = c.committed([tp], timeout=TIMEOUT)[0].offset
    _expect(got == 3, f"committed {got}")
    return "on_commit fired and offset 3 was committed"


@_check("commitAsync(offsets, callback)", "pykafka")
def _(ctx: Context) -> str:
    c = ctx.pk_simple()
    _pk_consume(c, 1)
    worker = threading.Thread(target=c.commit_offsets, daemon=True)
    worker.start()
    worker.join(TIMEOUT)
    _expect(not worker.is_alive(), "commit_offsets in a thread did not finish")
    return "workaround: commit_offsets() ran in a thread"


@_check("commitSync(offsets)", "kafka-python")
def _(ctx: Context) -> str:
    c, tp = ctx.kp_assigned()
    _kp_poll(c, 2)
    c.commit()
    _expect(c.committed(tp) == 2, f"{c.committed(tp)}")
    return "offset 2 was committed"


@_check("commitSync(offsets)", "confluent-kafka")
def _(ctx: Context) -> str:
    c, tp = ctx.ck_assigned()
    _ck_poll(c, 2)
    c.commit(asynchronous=False)
    got = c.committed([tp], timeout=TIMEOUT)[0].offset
    _expect(got == 2, f"{got}")
    return "offset 2 was committed"


def _pk_committed(c: Any) -> dict[int, int]:
    return {pid: resp.offset for pid, resp in c.fetch_offsets()}


@_check("commitSync(offsets)", "pykafka")
def _(ctx: Context) -> str:
    t = ctx.pk_topic()
    c = ctx.pk_simple(partitions=[t.partitions[0]])
    _pk_consume(c, 2)
    c.commit_offsets()
    got = _pk_committed(c)[0]
    _expect(got == 2, f"{got}")
    return "offset 2 was committed (pykafka commits last consumed + 1)"


@_check("committed(partition)", "kafka-python")
def _(ctx: Context) -> str:
    c, tp = ctx.kp_assigned()
    _expect(c.committed(tp) is None, "a fresh group has a committed offset")
    return "a fresh group has no committed offset (None)"


@_check("committed(partition)", "confluent-kafka")
def _(ctx: Context) -> str:
    c, tp = ctx.ck_assigned()
    got = c.committed([tp], timeout=TIMEOUT)[0].offset
    _expect(got < 0, f"{got}")
    return f"a fresh group has no committed offset ({got}, OFFSET_INVALID)"


@_check("committed(partition)", "pykafka")
def _(ctx: Context) -> str:
    got = _pk_committed(ctx.pk_simple())
    # unlike the Java client, pykafka's SimpleConsumer commits its starting position when it starts
    _expect(got == {0: 0, 1: 0}, f"{got}")
    return "pykafka committed the start position when it started: {0: 0, 1: 0}"


@_check("endOffsets(partitions)", "kafka-python")
def _(ctx: Context) -> str:
    c, tp = ctx.kp_assigned()
    off = c.end_offsets([tp])[tp]
    _expect(off >= Context.MESSAGES, f"{off}")
    return f"the end offset is {off}"


@_check("endOffsets(partitions)", "confluent-kafka")
def _(ctx: Context) -> str:
    c, tp = ctx.ck_assigned()
    _low, high = c.get_watermark_offsets(tp, timeout=TIMEOUT)
    _expect(high >= Context.MESSAGES, f"{high}")
    return f"the end offset is {high}"


@_check("endOffsets(partitions)", "pykafka")
def _(ctx: Context) -> str:
    off = ctx.pk_topic().latest_available_offsets()[0].offset[0]
    _expect(off >= Context.MESSAGES, f"{off}")
    return f"the end offset is {off}"


@_check("listTopics()", "kafka-python")
def _(ctx: Context) -> str:
    _expect(ctx.topic in ctx.kp_consumer().topics(), "topic missing")
    return "the topic is in the list"


@_check("listTopics()", "confluent-kafka")
def _(ctx: Context) -> str:
    _expect(ctx.topic in ctx.ck_consumer().list_topics(timeout=TIMEOUT).topics, "topic missing")
    return "the topic is in the list"


@_check("listTopics()", "pykafka")
def _(ctx: Context) -> str:
    ctx.pk_client().update_cluster()
    _expect(ctx.topic.encode() in ctx.pk_client().topics.keys(), "topic missing")
    return "the topic is in the list (names are bytes)"


@_check("metrics()", "kafka-python")
def _(ctx: Context) -> str:
    c, _tp = ctx.kp_assigned()
    _kp_poll(c, 1)
    m = c.metrics()
    _expect(any("consumer" in k for k in m), f"{list(m)[:5]}")
    return f"metrics() returned {len(m)} metric groups"


@_check("metrics()", "confluent-kafka")
def _(ctx: Context) -> str:
    return _ck_stats(ctx, consumer=True)


@_check("metrics()", "pykafka")
def _(ctx: Context) -> str:
    from pykafka.simpleconsumer import SimpleConsumer

    _lacks(SimpleConsumer, "metrics")
    return "the client has no such method (checked)"


@_check("offsetsForTimes(timestamps)", "kafka-python")
def _(ctx: Context) -> str:
    c, tp = ctx.kp_assigned()
    found = c.offsets_for_times({tp: ctx.t0_ms - 60_000})[tp]
    _expect(found is not None and found.offset == 0, f"{found}")
    return "a time one minute before the first record gives offset 0"


@_check("offsetsForTimes(timestamps)", "confluent-kafka")
def _(ctx: Context) -> str:
    from confluent_kafka import TopicPartition

    c = ctx.ck_consumer()
    found = c.offsets_for_times([TopicPartition(ctx.topic, 0, ctx.t0_ms - 60_000)], timeout=TIMEOUT)[0]
    _expect(found.offset == 0, f"{found}")
    return "a time one minute before the first record gives offset 0"


@_check("offsetsForTimes(timestamps)", "pykafka")
def _(ctx: Context) -> str:
    from pykafka.simpleconsumer import SimpleConsumer

    _lacks(SimpleConsumer, "offsets_for_times")
    res = ctx.pk_topic().fetch_offset_limits(ctx.t0_ms - 60_000)
    return f"workaround: fetch_offset_limits() answers per log segment, not per record: {res[0].offset}"


@_check("pause(partitions)", "kafka-python")
def _(ctx: Context) -> str:
    c, tp = ctx.kp_assigned()
    c.pause(tp)
    got = c.poll(timeout_ms=500)
    _expect(not got and c.paused() == {tp}, f"paused consumer returned {got}")
    return "poll() returned nothing while the partition was paused"


@_check("pause(partitions)", "confluent-kafka")
def _(ctx: Context) -> str:
    c, tp = ctx.ck_assigned()
    c.pause([tp])
    got = c.poll(0.5)
    _expect(got is None, f"paused consumer returned {got}")
    return "poll() returned None while the partition was paused"


@_check("pause(partitions)", "pykafka")
def _(ctx: Context) -> str:
    from pykafka.simpleconsumer import SimpleConsumer

    _lacks(SimpleConsumer, "pause")
    return "the client has no such method (checked)"


@_check("poll(timeout)", "kafka-python")
def _(ctx: Context) -> str:
    c, _tp = ctx.kp_assigned()
    return f"poll() returned {len(_kp_poll(c, 3))} records"


@_check("poll(timeout)", "confluent-kafka")
def _(ctx: Context) -> str:
    c, _tp = ctx.ck_assigned()
    return f"poll() returned {len(_ck_poll(c, 3))} messages"


@_check("poll(timeout)", "pykafka")
def _(ctx: Context) -> str:
    return f"consume() returned {len(_pk_consume(ctx.pk_simple(), 3))} messages"


@_check("position(partition)", "kafka-python")
def _(ctx: Context) -> str:
    c, tp = ctx.kp_assigned()
    _kp_poll(c, 2)
    _expect(c.position(tp) == 2, f"{c.position(tp)}")
    return "the position is 2 after reading 2 records"


@_check("position(partition)", "confluent-kafka")
def _(ctx: Context) -> str:
    c, tp = ctx.ck_assigned()
    _ck_poll(c, 2)
    pos = c.position([tp])[0].offset
    _expect(pos == 2, f"{pos}")
    return "the position is 2 after reading 2 records"


@_check("position(partition)", "pykafka")
def _(ctx: Context) -> str:
    t = ctx.pk_topic()
    c = ctx.pk_simple(partitions=[t.partitions[0]])
    _pk_consume(c, 2)
    pos = c.held_offsets[0] + 1
    _expect(pos == 2, f"{pos}")
    return "held_offsets says 1, so the position is 2"


@_check("resume(partitions)", "kafka-python")
def _(ctx: Context) -> str:
    c, tp = ctx.kp_assigned()
    c.pause(tp)
    c.resume(tp)
    return f"{len(_kp_poll(c, 1))} record arrived after resume()"


@_check("resume(partitions)", "confluent-kafka")
def _(ctx: Context) -> str:
    c, tp = ctx.ck_assigned()
    c.pause([tp])
    c.resume([tp])
    return f"{len(_ck_poll(c, 1))} message arrived after resume()"


@_check("resume(partitions)", "pykafka")
def _(ctx: Context) -> str:
    from pykafka.simpleconsumer import SimpleConsumer

    _lacks(SimpleConsumer, "resume")
    return f"workaround: {len(_pk_consume(ctx.pk_simple(), 1))} message from consume()"


@_check("seek(partition, offset)", "kafka-python")
def _(ctx: Context) -> str:
    c, tp = ctx.kp_assigned()
    c.seek(tp, 3)
    m = _kp_poll(c, 1)[0]
    _expect(m.offset == 3, f"{m.offset}")
    return "the next record read was offset 3"


@_check("seek(partition, offset)", "confluent-kafka")
def _(ctx: Context) -> str:
    from confluent_kafka import TopicPartition

    c, _tp = ctx.ck_assigned()
    _ck_poll(c, 1)  # seek() needs a partition that is already being fetched
    c.seek(TopicPartition(ctx.topic, 0, 3))
    m = _ck_poll(c, 1)[0]
    _expect(m.offset() == 3, f"{m.offset()}")
    return "the next message read was offset 3"


@_check("seek(partition, offset)", "pykafka")
def _(ctx: Context) -> str:
    t = ctx.pk_topic()
    c = ctx.pk_simple(partitions=[t.partitions[0]])
    c.reset_offsets([(t.partitions[0], 3 - 1)])
    m = _pk_consume(c, 1)[0]
    _expect(m.offset == 3, f"{m.offset}")
    return "reset_offsets(2) made offset 3 the next message"


@_check("seekToBeginning(partitions)", "kafka-python")
def _(ctx: Context) -> str:
    c, tp = ctx.kp_assigned(auto_offset_reset="latest")
    c.seek_to_beginning(tp)
    _expect(_kp_poll(c, 1)[0].offset == 0, "not at 0")
    return "the next record read was offset 0"


@_check("seekToBeginning(partitions)", "confluent-kafka")
def _(ctx: Context) -> str:
    from confluent_kafka import OFFSET_BEGINNING, TopicPartition

    c, _tp = ctx.ck_assigned()
    _ck_poll(c, 2)
    c.seek(TopicPartition(ctx.topic, 0, OFFSET_BEGINNING))
    _expect(_ck_poll(c, 1)[0].offset() == 0, "not at 0")
    return "the next record read was offset 0"


@_check("seekToBeginning(partitions)", "pykafka")
def _(ctx: Context) -> str:
    from pykafka.common import OffsetType

    t = ctx.pk_topic()
    c = ctx.pk_simple(partitions=[t.partitions[0]])
    _pk_consume(c, 2)
    c.reset_offsets([(t.partitions[0], OffsetType.EARLIEST)])
    _expect(_pk_consume(c, 1)[0].offset == 0, "not at 0")
    return "the next record read was offset 0"


@_check("seekToEnd(partitions)", "kafka-python")
def _(ctx: Context) -> str:
    c, tp = ctx.kp_assigned()
    c.seek_to_end(tp)
    end = c.end_offsets([tp])[tp]
    _expect(c.position(tp) == end, f"{c.position(tp)} != {end}")
    return f"the position is {end}, the end"


@_check("seekToEnd(partitions)", "confluent-kafka")
def _(ctx: Context) -> str:
    from confluent_kafka import OFFSET_END, TopicPartition

    c, tp = ctx.ck_assigned()
    _ck_poll(c, 1)
    c.seek(TopicPartition(ctx.topic, 0, OFFSET_END))
    _expect(c.poll(0.5) is None, "read a message after seeking to the end")
    return "nothing more to read afterwards"


@_check("seekToEnd(partitions)", "pykafka")
def _(ctx: Context) -> str:
    from pykafka.common import OffsetType

    t = ctx.pk_topic()
    c = ctx.pk_simple(partitions=[t.partitions[0]], consumer_timeout_ms=500)
    c.reset_offsets([(t.partitions[0], OffsetType.LATEST)])
    _expect(c.consume(block=True) is None, "read a message after seeking to the end")
    return "nothing more to read afterwards"


def _kp_listener(events: list[str]) -> Any:
    from kafka import ConsumerRebalanceListener

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked: Any) -> None:
            events.append(f"revoked {sorted(tp.partition for tp in revoked)}")

        def on_partitions_assigned(self, assigned: Any) -> None:
            events.append(f"assigned {sorted(tp.partition for tp in assigned)}")

    return Listener()


@_check("subscribe(topics, listener)", "kafka-python")
def _(ctx: Context) -> str:
    events: list[str] = []
    c = ctx.kp_consumer()
    c.subscribe([ctx.topic], listener=_kp_listener(events))
    _kp_poll(c, 1)
    _expect(any(e.startswith("assigned [0, 1]") for e in events), f"{events}")
    return "the listener heard: " + "; ".join(events)


@_check("subscribe(topics, listener)", "confluent-kafka")
def _(ctx: Context) -> str:
    events: list[str] = []
    c = ctx.ck_consumer()
    c.subscribe([ctx.topic], on_assign=lambda cons, parts: events.append(f"assigned {[p.partition for p in parts]}"),
                on_revoke=lambda cons, parts: events.append(f"revoked {[p.partition for p in parts]}"))
    _ck_poll(c, 1)
    _expect(any(e.startswith("assigned [0, 1]") for e in events), f"{events}")
    return "the listener heard: " + "; ".join(events)


@_check("subscribe(topics, listener)", "pykafka")
def _(ctx: Context) -> str:
    events: list[str] = []

    def after(consumer: Any, old_offsets: Any, new_offsets: Any) -> None:
        events.append(f"assigned {sorted(getattr(p, 'id', p) for p in new_offsets)}")
        return None  # None keeps the offsets; a dict {partition: offset} would move them

    c = ctx.pk_balanced(post_rebalance_callback=after)
    _pk_consume(c, 1)
    _expect(bool(events), "post_rebalance_callback never ran")
    return "the listener heard: " + "; ".join(events)


@_check("subscribe(pattern, listener)", "kafka-python")
def _(ctx: Context) -> str:
    events: list[str] = []
    c = ctx.kp_consumer()
    c.subscribe(pattern=f"^{re.escape(ctx.topic)}$", listener=_kp_listener(events))
    _kp_poll(c, 1)
    _expect(c.subscription() == {ctx.topic}, f"{c.subscription()}")
    return f"the pattern matched {ctx.topic.split('-')[0]}-…; then {events[-1]}"


@_check("subscribe(pattern, listener)", "confluent-kafka")
def _(ctx: Context) -> str:
    events: list[str] = []
    c = ctx.ck_consumer(**{"topic.metadata.refresh.interval.ms": 1000})
    c.subscribe([f"^{re.escape(ctx.topic)}$"], on_assign=lambda cons, p: events.append(f"assigned {len(p)}"))
    _ck_poll(c, 1)
    _expect(bool(events), "no assignment")
    return f"the pattern matched; then {events[-1]} partitions"


@_check("subscribe(pattern, listener)", "pykafka")
def _(ctx: Context) -> str:
    from pykafka.topic import Topic

    _expect("pattern" not in inspect.signature(Topic.get_balanced_consumer).parameters, "pykafka gained pattern")
    pattern = re.compile(f"^{re.escape(ctx.topic)}$")
    ctx.pk_client().update_cluster()
    names = [n.decode() for n in ctx.pk_client().topics.keys() if pattern.match(n.decode())]
    _expect(names == [ctx.topic], f"{names}")
    return "workaround: re over client.topics found 1 topic"


@_check("subscription()", "kafka-python")
def _(ctx: Context) -> str:
    c = ctx.kp_consumer()
    c.subscribe([ctx.topic])
    _expect(c.subscription() == {ctx.topic}, f"{c.subscription()}")
    return "subscription() returned the topic"


@_check("subscription()", "confluent-kafka")
def _(ctx: Context) -> str:
    from confluent_kafka import Consumer

    _lacks(Consumer, "subscription")
    return "the client has no such method (checked)"


@_check("subscription()", "pykafka")
def _(ctx: Context) -> str:
    c = ctx.pk_simple()
    _expect(c.topic.name.decode() == ctx.topic, f"{c.topic.name}")
    return "consumer.topic.name names it (one topic per consumer)"


@_check("unsubscribe()", "kafka-python")
def _(ctx: Context) -> str:
    c = ctx.kp_consumer()
    c.subscribe([ctx.topic])
    c.unsubscribe()
    _expect(not c.subscription(), f"{c.subscription()}")
    return "the subscription is empty afterwards"


@_check("unsubscribe()", "confluent-kafka")
def _(ctx: Context) -> str:
    c = ctx.ck_consumer()
    c.subscribe([ctx.topic])
    _ck_poll(c, 1)
    c.unsubscribe()
    c.poll(0.5)  # the revoke is applied during poll()
    _expect(c.assignment() == [], f"{c.assignment()}")
    return "the assignment is empty after the next poll()"


@_check("unsubscribe()", "pykafka")
def _(ctx: Context) -> str:
    c = ctx.pk_simple()
    c.stop()
    return "stop() returned and the consumer is stopped"


def _wakeup_workaround(poll_once: Callable[[], Any]) -> str:
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    polls = 0
    deadline = time.monotonic() + TIMEOUT
    while not stop.is_set() and time.monotonic() < deadline:
        poll_once()
        polls += 1
    _expect(stop.is_set(), "the stop flag never ended the loop")
    return f"workaround: a stop flag ended the loop after {polls} short polls"


@_check("wakeup()", "kafka-python")
def _(ctx: Context) -> str:
    from kafka import KafkaConsumer

    _lacks(KafkaConsumer, "wakeup")
    c, tp = ctx.kp_assigned(auto_offset_reset="latest")
    c.seek_to_end(tp)
    return _wakeup_workaround(lambda: c.poll(timeout_ms=100))


@_check("wakeup()", "confluent-kafka")
def _(ctx: Context) -> str:
    from confluent_kafka import Consumer

    _lacks(Consumer, "wakeup")
    c, _tp = ctx.ck_assigned(**{"auto.offset.reset": "latest"})
    return _wakeup_workaround(lambda: c.poll(0.1))


@_check("wakeup()", "pykafka")
def _(ctx: Context) -> str:
    from pykafka.common import OffsetType

    c = ctx.pk_simple(auto_offset_reset=OffsetType.LATEST, consumer_timeout_ms=-1)
    event = threading.Event()
    threading.Timer(0.3, event.set).start()
    t0 = time.monotonic()
    got = c.consume(block=True, unblock_event=event)
    _expect(got is None and time.monotonic() - t0 < TIMEOUT, "unblock_event did not wake consume()")
    return "consume() returned None when the event was set"


@_check("partitionsFor(topic)", "kafka-python")
def _(ctx: Context) -> str:
    parts = ctx.kp_consumer().partitions_for_topic(ctx.topic)
    _expect(parts == {0, 1}, f"{parts}")
    return f"the partitions are {sorted(parts)}"


@_check("partitionsFor(topic)", "confluent-kafka")
def _(ctx: Context) -> str:
    parts = ctx.ck_consumer().list_topics(ctx.topic, timeout=TIMEOUT).topics[ctx.topic].partitions
    _expect(set(parts) == {0, 1}, f"{parts}")
    return f"the partitions are {sorted(parts)}"


@_check("partitionsFor(topic)", "pykafka")
def _(ctx: Context) -> str:
    parts = ctx.pk_topic().partitions
    _expect(set(parts) == {0, 1}, f"{parts}")
    return f"the partitions are {sorted(parts)}"


# ---------------------------------------------------------------- settings


SAMPLES: dict[str, Any] = {
    "client.id": "rosetta", "acks": "all", "retries": 3, "linger.ms": 5, "batch.size": 16384,
    "buffer.memory": 32 * 1024 * 1024, "key.serializer": str.encode, "value.serializer": str.encode,
    "compression.type": "gzip", "enable.idempotence": True, "max.request.size": 1_000_000,
    "delivery.timeout.ms": 30000, "session.timeout.ms": 10000, "heartbeat.interval.ms": 1000,
    "max.poll.records": 10, "enable.auto.commit": False, "auto.commit.interval.ms": 1000,
    "auto.offset.reset": "earliest", "key.deserializer": bytes.decode, "value.deserializer": bytes.decode,
}
_GROUP_SETTINGS = {"group.id", "session.timeout.ms", "heartbeat.interval.ms"}


def _ck_ignores_max_poll_records(conn: ConnLike) -> bool:
    """True when a classic confluent Consumer with max.poll.records=2 still returns more from consume()."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    topic = admin.create_topic(conn, admin.unique_topic("max-poll"))
    try:
        from confluent_kafka import Producer

        p = Producer(ck_conf(conn))
        for _ in range(6):
            p.produce(topic, b"x")
        p.flush(TIMEOUT)
        c = Consumer(ck_conf(conn, {"group.id": f"mpr-{uuid.uuid4().hex[:6]}", "max.poll.records": 2}))
        try:
            c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
            got: list[Any] = []
            deadline = time.monotonic() + TIMEOUT
            while len(got) < 6 and time.monotonic() < deadline:
                batch = c.consume(num_messages=6, timeout=0.5)
                if len(batch) > 2:
                    return True
                got.extend(batch)
            return False
        finally:
            c.close()
    finally:
        admin.delete_topic(conn, topic)


def _really_missing(client: str, java: str, api: str, ctx_bootstrap: str = "") -> None:
    """A "not available" setting: assert the client really lacks it, so the table cannot drift."""
    guess = java.replace(".", "_")
    if client == "kafka-python":
        from kafka import KafkaConsumer, KafkaProducer

        cls = KafkaProducer if api == "producer" else KafkaConsumer
        _expect(guess not in cls.DEFAULT_CONFIG, f"kafka-python now has {guess}: update helpers.settings")
    elif client == "confluent-kafka":
        from confluent_kafka import Consumer, KafkaException, Producer

        cls = Producer if api == "producer" else Consumer
        conf = {"bootstrap.servers": "127.0.0.1:1", "log_level": 0, java: SAMPLES.get(java, 1)}
        if api == "consumer":
            conf["group.id"] = "x"
        try:
            obj = cls(conf)
        except (KafkaException, TypeError, ValueError):
            return
        obj.close()
        if java == "max.poll.records":  # librdkafka 2.16 knows the name, but the classic consumer ignores it
            _expect(_ck_ignores_max_poll_records(ctx_bootstrap), "consume() now honours max.poll.records: "
                    "update helpers.settings")
            return
        raise AssertionError(f"confluent-kafka's {cls.__name__} now accepts {java}: update helpers.settings")
    else:
        from pykafka import KafkaClient
        from pykafka.managedbalancedconsumer import ManagedBalancedConsumer
        from pykafka.producer import Producer
        from pykafka.simpleconsumer import SimpleConsumer

        params = set(inspect.signature(KafkaClient.__init__).parameters)
        for cls in ((Producer,) if api == "producer" else (SimpleConsumer, ManagedBalancedConsumer)):
            params |= set(inspect.signature(cls.__init__).parameters)
        _expect(guess not in params, f"pykafka now has {guess}: update helpers.settings")


def _spelled(java: str, value: Any, client: str, api: str) -> str:
    """How ``client`` spells one Java setting and its sample value, e.g. ``linger_ms=20`` (a name alone
    for addresses, group ids and functions)."""
    translated = settings.translate({java: value}, client, api)  # type: ignore[arg-type]
    return ", ".join(k if (java in ("bootstrap.servers", "group.id") or callable(v)) else f"{k}={v!r}"
                     for k, v in translated.items())


def _setting_check(java: str, api: str, client: str) -> Check:
    def run_it(ctx: Context) -> str:
        conf: dict[str, Any] = {"bootstrap.servers": bootstrap_of(ctx.conn)}  # security: added by the builders
        if java == "group.id":
            conf[java] = ctx.group()
        elif java != "bootstrap.servers":
            conf[java] = SAMPLES[java]
        sp = settings.SETTINGS[java].spellings[client]
        if isinstance(sp, settings.Missing):
            try:
                settings.translate(conf, client, api)  # type: ignore[arg-type]
            except settings.ConfigError:
                pass
            else:
                raise AssertionError("translate() did not refuse a missing setting")
            _really_missing(client, java, api, ctx.conn)
            return "translate() refuses it, and the client really has no such option (checked)"
        spelled = _spelled(java, conf[java], client, api)
        if api == "producer":
            return f"a producer built with {spelled} {_produce_with(ctx, client, conf)}"
        return f"a consumer built with {spelled} {_consume_with(ctx, client, conf, group=java in _GROUP_SETTINGS)}"
    return run_it


def _produce_with(ctx: Context, client: str, conf: dict[str, Any]) -> str:
    value: Any = "text" if "value.serializer" in conf else b"v"
    key: Any = "key" if "key.serializer" in conf else b"k"
    if client == "kafka-python":
        from kafka import KafkaProducer

        kw = settings.translate(conf, client, "producer")
        p = ctx.closing(KafkaProducer(max_block_ms=5000, **{**kp_conf(ctx.conn), **kw}))
        md = p.send(ctx.topic, value, key=key).get(timeout=TIMEOUT)
        return f"delivered a record (offset {md.offset})"
    if client == "confluent-kafka":
        from confluent_kafka import Producer

        kw = settings.translate(conf, client, "producer")
        msg = _ck_deliver(Producer(ck_conf(ctx.conn, kw)), ctx.topic, value, key)
        return f"delivered a record (offset {msg.offset()})"
    client_kw, prod_kw = settings.pykafka_split(conf, "producer")
    from pykafka import KafkaClient

    kc = KafkaClient(**{**pk_conf(ctx.conn), **client_kw})  # keep a reference: a Topic only holds a weak proxy
    topic = kc.topics[ctx.topic]
    with topic.get_sync_producer(**{"linger_ms": 0, "min_queued_messages": 1, **prod_kw}) as p:
        p.produce(value)
    return "delivered a record (sync producer)"


def _consume_with(ctx: Context, client: str, conf: dict[str, Any], group: bool) -> str:
    base = {"auto.offset.reset": "earliest", "enable.auto.commit": False}
    base.update(conf)
    if group and "group.id" not in base:
        base["group.id"] = ctx.group()
    if client == "kafka-python":
        from kafka import KafkaConsumer, TopicPartition

        kw = settings.translate(base, client, "consumer")
        c = ctx.closing(KafkaConsumer(**{**kp_conf(ctx.conn), **kw}))
        if group:
            c.subscribe([ctx.topic])
        else:
            c.assign([TopicPartition(ctx.topic, 0)])
        n = len(_kp_poll(c, 1))
        return f"read {n} record" + (" as a group member" if group else "")
    if client == "confluent-kafka":
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        base.setdefault("group.id", ctx.group())  # librdkafka wants a group.id for any consumer
        kw = settings.translate(base, client, "consumer")
        c = ctx.closing(Consumer(ck_conf(ctx.conn, kw)))
        if group:
            c.subscribe([ctx.topic])
        else:
            c.assign([TopicPartition(ctx.topic, 0, OFFSET_BEGINNING)])
        n = len(_ck_poll(c, 1))
        return f"read {n} message" + (" as a group member" if group else "")
    from pykafka import KafkaClient

    if not group:
        base.setdefault("group.id", ctx.group())
    client_kw, cons_kw = settings.pykafka_split(base, "consumer")
    kc = KafkaClient(**{**pk_conf(ctx.conn), **client_kw})  # keep a reference: a Topic only holds a weak proxy
    topic = kc.topics[ctx.topic]
    cons_kw.update(reset_offset_on_start=True, consumer_timeout_ms=int(TIMEOUT * 1000))
    if group:
        group_id = cons_kw.pop("consumer_group")
        c = ctx.closing(topic.get_balanced_consumer(group_id, managed=True, **cons_kw), "stop")
    else:
        c = ctx.closing(topic.get_simple_consumer(**cons_kw), "stop")
    n = len(_pk_consume(c, 1))
    return f"read {n} message" + (" (balanced consumer, a group member)" if group else " (simple consumer)")


def check_for(row: Row, client: str) -> Check:
    """The function that exercises ``row`` for ``client``."""
    if row.kind == "setting":
        return _setting_check(row.java, row.api, client)
    return CHECKS[(row.api, row.java, client)]


@dataclass
class Result:
    """One (row, client) outcome from :func:`run`."""

    api: str
    kind: str
    java: str
    client: str
    available: bool
    ok: bool
    observed: str
    seconds: float = field(default=0.0)


def run(conn: ConnLike, rows: list[Row] | None = None, clients: tuple[str, ...] = CLIENTS,
        progress: bool = False) -> list[Result]:
    """Exercise every row's call for every client against the broker at ``bootstrap``."""
    rows = ROWS if rows is None else rows
    ctx = Context(conn)
    results: list[Result] = []
    pairs = [(r, c) for r in rows for c in clients]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(pairs), desc="Rosetta rows", unit="check")
    try:
        for row, client in pairs:
            t0 = time.monotonic()
            try:
                observed, ok = check_for(row, client)(ctx), True
            except Exception as exc:  # a failed check is a result to show, not a crash
                observed, ok = f"{type(exc).__name__}: {exc}"[:300], False
            finally:
                ctx.close_clients()
            results.append(Result(row.api, row.kind, row.java, client, row.cells[client].available, ok, observed,
                                  round(time.monotonic() - t0, 2)))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        ctx.close()
    return results


def sentence(r: Result) -> str:
    """One result as a sentence: whether the call worked as written, or its workaround did, and what was seen."""
    seen = r.observed.strip()
    if not r.ok:
        lead = "Failed"
    elif r.available:
        lead = "Works"
    else:
        lead = "Not available; the workaround works" if seen.startswith("workaround") else "Not available"
        seen = re.sub(r"^workaround:\s*", "", seen)
    return f"{lead}: {seen}" + ("" if seen.endswith((".", "…")) else ".")


def results_frame(results: list[Result], digest: bool = False) -> Any:
    """Results as a wide DataFrame: one row per Java entry, one column per client, each cell a sentence.

    ``digest=True`` keeps the :data:`DIGEST` rows only, in that order.
    """
    import pandas as pd

    data: dict[tuple[str, str], dict[str, str]] = {}
    for r in results:
        if digest and not _in_digest(r.api, r.java):
            continue
        data.setdefault((r.api, r.java), {})[r.client] = sentence(r)
    keys = list(data)
    if digest:
        keys.sort(key=lambda k: DIGEST[k[0]].index(k[1]))
    frame = pd.DataFrame([data[k] for k in keys], index=pd.Index([k[1] for k in keys], name="Java"))
    return frame
