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
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from .errors import ConfigError, WorkbookError

if TYPE_CHECKING:
    import pandas as pd

CLIENTS = ("kafka-python", "confluent-kafka", "pykafka")  # the one list; other modules import it

# librdkafka logs at syslog level 6 (info) by default, straight to stderr: lines such as
# "%6|...|BGQUEUE| Purging 1 unserved events" when a client is destroyed late by the garbage collector.
# Level 4 keeps warnings and errors and drops the chatter.
CK_LOG_LEVEL = 4


def ck_conf(bootstrap: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A confluent-kafka (librdkafka) config for ``bootstrap``: warnings only on stderr, plus ``extra``.

    Every confluent ``Producer``, ``Consumer`` and ``AdminClient`` the workbook builds starts here.
    """
    return {"bootstrap.servers": bootstrap, "log_level": CK_LOG_LEVEL, **(extra or {})}


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

    producer = Producer(ck_conf(bootstrap, {"message.timeout.ms": int(timeout * 1000)}))
    failed: list[str] = []  # flush() returns 0 for failed deliveries too: the report says what happened
    for value in messages:
        producer.produce(topic, value, on_delivery=lambda err, _msg: err and failed.append(err.str()))
    left = producer.flush(timeout)
    if left or failed:
        raise RuntimeError(f"{left + len(failed)} of {len(messages)} messages not delivered"
                           + (f": {failed[0]}" if failed else f" within {timeout} s"))
    consumer = Consumer(ck_conf(bootstrap, {"group.id": f"roundtrip-{uuid.uuid4().hex[:8]}",
                                            "auto.offset.reset": "earliest", "enable.auto.commit": False}))
    try:
        consumer.subscribe([topic])
        got = bounded_poll(lambda: ck_poll_one(consumer), expect or len(messages), timeout)
        return [m.value() for m in got]
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


def hello_all(bootstrap: str, topic: str, message: bytes = b"hello, Kafka") -> "pd.DataFrame":
    """Send one message with each client to ``topic`` and read it back; one row per client.

    Each client reads the whole topic from the start, so the row also shows what the
    clients before it wrote: reading does not remove messages.
    """
    import pandas as pd

    from .broker import check_reachable

    check_reachable(bootstrap, timeout=5)  # one clear line now, instead of three clients timing out
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


# ============================================================================ lesson 04-05 helpers
# Small building blocks the producer and consumer lessons share. Each is bounded in time.


def read_partition(client: str, bootstrap: str, topic: str, n: int, partition: int = 0,
                   timeout: float = 10.0) -> list[bytes]:
    """Read up to ``n`` values from the start of one partition with ``client`` (no group join).

    Stops at the partition's end offset, so asking for more than the partition holds returns at once.
    """
    n = min(n, end_offsets(bootstrap, topic).get(partition, 0))
    got: list[bytes] = []
    if n <= 0:
        return got
    if client == "kafka-python":
        from kafka import KafkaConsumer, TopicPartition

        c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        try:
            tp = TopicPartition(topic, partition)
            c.assign([tp])
            c.seek_to_beginning(tp)
            got = [r.value for r in bounded_poll(lambda: kp_poll_one(c, 0.2, n), n, timeout)]
        finally:
            c.close()
    elif client == "confluent-kafka":
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        c = Consumer(ck_conf(bootstrap, {"group.id": f"read-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False}))
        try:
            c.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
            got = [m.value() for m in bounded_poll(lambda: ck_poll_one(c, 0.2), n, timeout)]
        finally:
            c.close()
    else:
        from pykafka import KafkaClient
        from pykafka.common import OffsetType

        kc = KafkaClient(hosts=bootstrap, socket_timeout_ms=int(timeout * 1000))
        t = kc.topics[topic]
        c = t.get_simple_consumer(partitions=[t.partitions[partition]], auto_offset_reset=OffsetType.EARLIEST,
                                  reset_offset_on_start=True, consumer_timeout_ms=500)
        try:
            got = [m.value for m in bounded_poll(lambda: pk_poll_one(c), n, timeout)]
        finally:
            c.stop()
    return got


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """The high watermark of every partition of ``topic`` (how many records each holds, from 0)."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer(ck_conf(bootstrap, {"group.id": "watermarks"}))
    try:
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in sorted(parts)}
    finally:
        c.close()


def topic_bytes(bootstrap: str, topic: str) -> int:
    """Bytes the broker stores for ``topic`` (all partitions), from DescribeLogDirs."""
    from kafka import KafkaAdminClient

    a = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
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


# ---------------------------------------------------------------------------- producer defaults


def producer_defaults(bootstrap: str) -> "pd.DataFrame":
    """What each producer does when you set nothing: acks, idempotence, linger, retries.

    kafka-python's and pykafka's columns are read from the installed clients. A librdkafka Producer
    does not expose its configuration, so confluent-kafka's column is librdkafka 2.x's documented
    defaults, from its CONFIGURATION.md
    (https://github.com/confluentinc/librdkafka/blob/master/CONFIGURATION.md).
    """
    import pandas as pd
    from kafka import KafkaProducer
    from pykafka.producer import Producer as PkProducer
    import inspect

    kp = KafkaProducer(bootstrap_servers=bootstrap)
    kpc = dict(kp.config)
    kp.close(timeout=5)
    pk = {k: v.default for k, v in inspect.signature(PkProducer.__init__).parameters.items()}
    # librdkafka's defaults, as documented for 2.x (a Producer does not expose its configuration)
    rows = [
        {"setting": "acks", "kafka-python": "all" if kpc["acks"] == -1 else kpc["acks"],
         "confluent-kafka": "all (-1)", "pykafka": f"required_acks={pk['required_acks']}"},
        {"setting": "enable.idempotence", "kafka-python": kpc["enable_idempotence"],
         "confluent-kafka": False, "pykafka": "not available"},
        {"setting": "linger.ms", "kafka-python": kpc["linger_ms"], "confluent-kafka": 5,
         "pykafka": pk["linger_ms"]},
        {"setting": "retries", "kafka-python": kpc["retries"], "confluent-kafka": 2147483647,
         "pykafka": f"max_retries={pk['max_retries']}"},
        {"setting": "batch.size", "kafka-python": kpc["batch_size"], "confluent-kafka": 1000000,
         "pykafka": f"min_queued_messages={pk['min_queued_messages']}"},
    ]
    return pd.DataFrame(rows).set_index("setting")


def kafka_python_acks(bootstrap: str, **config: Any) -> str:
    """What KafkaProducer(**config) does with acks and idempotence: the effective values, or its error."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaConfigurationError

    try:
        p = KafkaProducer(bootstrap_servers=bootstrap, **config)
    except KafkaConfigurationError as exc:
        return f"KafkaConfigurationError: {exc}".replace("KafkaConfigurationError: KafkaConfigurationError", "KafkaConfigurationError")
    try:
        acks = "all" if p.config["acks"] == -1 else p.config["acks"]
        return f"acks={acks!r}, enable_idempotence={p.config['enable_idempotence']}"
    finally:
        p.close(timeout=5)


# ---------------------------------------------------------------------------- batching and compression


def batching_experiment(bootstrap: str, lingers: tuple[int, ...] = (0, 5, 50), n: int = 300,
                        gap_ms: float = 1.0, size: int = 100) -> "pd.DataFrame":
    """Send ``n`` records of ``size`` bytes, one every ``gap_ms``, at each ``linger.ms``; count records
    per produce request.

    Records trickle in (as from a web app), so linger.ms decides how many wait for the same
    request. kafka-python reports it in ``metrics()`` (records-per-request-avg); for
    confluent-kafka it is messages sent divided by Produce requests in librdkafka's statistics.
    pykafka exposes neither.
    """
    import json

    import pandas as pd
    from confluent_kafka import Producer
    from kafka import KafkaProducer

    from . import admin

    value = b"x" * size
    rows = []

    def paced(send: Callable[[], Any]) -> None:
        start = time.perf_counter()
        for i in range(n):
            send()
            while time.perf_counter() < start + (i + 1) * gap_ms / 1000:
                time.sleep(gap_ms / 4000)

    for linger in lingers:
        topic = admin.create_topic(bootstrap, admin.unique_topic(f"linger-{linger}"))
        try:
            kp = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=linger)
            paced(lambda: kp.send(topic, value))
            kp.flush(timeout=30)
            per_request = kp.metrics()["producer-metrics"]["records-per-request-avg"]
            kp.close(timeout=5)
            rows.append({"client": "kafka-python", "linger.ms": linger, "records per request": round(per_request, 1)})
            stats: list[dict] = []
            ck = Producer(ck_conf(bootstrap, {"linger.ms": linger, "statistics.interval.ms": 100,
                                              "stats_cb": lambda s: stats.append(json.loads(s))}))
            paced(lambda: (ck.produce(topic, value), ck.poll(0)))
            ck.flush(30)
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:  # wait for a statistics report that saw every message
                ck.poll(0.1)
                if stats and stats[-1].get("txmsgs", 0) >= n:
                    break
            last = stats[-1] if stats else {}
            requests = sum(b.get("req", {}).get("Produce", 0) for b in last.get("brokers", {}).values())
            rows.append({"client": "confluent-kafka", "linger.ms": linger,
                         "records per request": round(last.get("txmsgs", 0) / requests, 1) if requests else None})
        finally:
            admin.delete_topic(bootstrap, topic)
    return pd.DataFrame(rows)


def batching_chart(df: "pd.DataFrame") -> Any:
    """Bar chart: records per produce request at each linger.ms, per client."""
    import altair as alt

    data = df.rename(columns={"linger.ms": "linger_ms", "records per request": "per_request"})  # dots mean nesting
    return alt.Chart(data, title="Records per produce request vs linger.ms (one record every ms)").mark_bar().encode(
        x=alt.X("linger_ms:O", title="linger.ms (milliseconds)", axis=alt.Axis(labelAngle=0)),
        xOffset="client:N",
        y=alt.Y("per_request:Q", title="records per produce request"),
        color=alt.Color("client:N", title="client"),
        tooltip=["client", "linger_ms", "per_request"],
    ).properties(width=320, height=220)


def compression_chart(df: "pd.DataFrame") -> Any:
    """Bar chart: bytes the broker stores per codec and client."""
    import altair as alt

    data = df.dropna(subset=["stored bytes"])
    return alt.Chart(data, title=f"Bytes stored for the same records ({df.attrs.get('raw bytes', '?')} bytes of JSON)"
                     ).mark_bar().encode(
        x=alt.X("codec:N", title="compression.type", sort=["none", "gzip", "snappy", "lz4", "zstd"],
                axis=alt.Axis(labelAngle=0)),
        xOffset="client:N",
        y=alt.Y("stored bytes:Q", title="bytes on the broker"),
        color=alt.Color("client:N", title="client"),
        tooltip=["client", "codec", "stored bytes", "ratio"],
    ).properties(width=360, height=220)


def _json_records(n: int) -> list[bytes]:
    import json

    return [json.dumps({"order": i, "user": f"user-{i % 50}", "item": "coffee" if i % 3 else "tea",
                        "price_cents": 120 + i % 7 * 10, "note": "no sugar, oat milk"}).encode() for i in range(n)]


def _codec_available(client: str, codec: str) -> str:
    """'' when ``client`` can compress with ``codec`` here, else why not."""
    import importlib.util

    if client == "confluent-kafka" or codec in ("none", "gzip"):
        return ""
    if client == "pykafka" and codec == "zstd":
        return "pykafka knows no zstd"
    need = {"kafka-python": {"snappy": "python-snappy or cramjam", "lz4": "lz4", "zstd": "zstandard"},
            "pykafka": {"snappy": "python-snappy", "lz4": "lz4"}}[client][codec]
    mod = {"snappy": "snappy", "lz4": "lz4", "zstd": "zstandard"}[codec]
    if client == "kafka-python" and codec == "snappy" and importlib.util.find_spec("cramjam"):
        return ""
    return "" if importlib.util.find_spec(mod) else f"needs the {need} package"


def compression_experiment(bootstrap: str, codecs: tuple[str, ...] = ("none", "gzip", "snappy", "lz4", "zstd"),
                           clients: tuple[str, ...] = CLIENTS, n: int = 2000) -> "pd.DataFrame":
    """Write the same ``n`` JSON records with each client and codec; bytes the broker stores for each."""
    import pandas as pd

    from . import admin

    records = _json_records(n)
    raw = sum(len(r) for r in records)
    rows = []
    for client in clients:
        for codec in codecs:
            why = _codec_available(client, codec)
            if why:
                rows.append({"client": client, "codec": codec, "stored bytes": None, "ratio": None, "note": why})
                continue
            topic = admin.create_topic(bootstrap, admin.unique_topic(f"codec-{codec}"))
            try:
                conf = {"bootstrap.servers": bootstrap, "compression.type": codec, "linger.ms": 20}
                _produce_all(client, conf, topic, records)
                stored = topic_bytes(bootstrap, topic)
                rows.append({"client": client, "codec": codec, "stored bytes": stored,
                             "ratio": round(raw / stored, 1) if stored else None, "note": ""})
            finally:
                admin.delete_topic(bootstrap, topic)
    df = pd.DataFrame(rows)
    df.attrs["raw bytes"] = raw
    return df


def _produce_all(client: str, conf: dict[str, Any], topic: str, values: list[bytes], timeout: float = 30.0) -> None:
    """Produce ``values`` with ``client`` configured by Java-style ``conf`` (through the translator); wait for all."""
    from . import settings

    if client == "kafka-python":
        from kafka import KafkaProducer

        p = KafkaProducer(**settings.translate(conf, client, "producer"))
        for v in values:
            p.send(topic, v)
        p.flush(timeout=timeout)
        p.close(timeout=5)
    elif client == "confluent-kafka":
        from confluent_kafka import Producer

        p = Producer({**ck_conf(conf["bootstrap.servers"]), **settings.translate(conf, client, "producer")})
        for v in values:
            p.produce(topic, v)
            p.poll(0)
        if p.flush(timeout):
            raise RuntimeError("confluent-kafka: not every record was delivered in time")
    else:
        from pykafka import KafkaClient

        client_kw, prod_kw = settings.pykafka_split(conf, "producer")
        kc = KafkaClient(**client_kw)
        prod_kw.setdefault("min_queued_messages", 500)
        with kc.topics[topic].get_producer(**prod_kw) as p:
            for v in values:
                p.produce(v)


# ---------------------------------------------------------------------------- the errors a learner meets

ERROR_CASES = ("missing topic", "message too large", "broker gone")


@dataclass
class ErrorReport:
    """How one client reported one error: raised an exception, or a delivery report / error callback."""

    client: str
    case: str
    how: str
    error: str
    seconds: float


def producer_error(client: str, case: str, bootstrap: str, timeout: float = 3.0) -> ErrorReport:
    """Provoke ``case`` with ``client`` and capture how it is reported, within about ``timeout`` seconds.

    missing topic: the broker has auto.create.topics.enable=false; message too large: a topic
    with max.message.bytes=1024 gets a 4 KB record; broker gone: nothing listens at the address.
    """
    from . import admin, broker

    if case not in ERROR_CASES:
        raise ConfigError(f"unknown error case {case!r}", f"one of {ERROR_CASES}")
    topic, cleanup = "", None
    target = bootstrap
    value = b"x"
    if case == "missing topic":
        # deleted afterwards too: a broker with auto.create.topics.enable=true would have created it
        topic = cleanup = admin.unique_topic("no-such-topic")
    elif case == "message too large":
        topic = admin.create_topic(bootstrap, admin.unique_topic("small"), config={"max.message.bytes": "1024"})
        cleanup, value = topic, b"x" * 4096
    else:
        topic, target = "any-topic", f"127.0.0.1:{broker.free_port()}"
    t0 = time.monotonic()
    try:
        how, error = _provoke(client, target, topic, value, timeout)
    finally:
        if cleanup:
            admin.delete_topic(bootstrap, cleanup)
    return ErrorReport(client, case, how, error[:220], round(time.monotonic() - t0, 1))


def _exc_text(exc: BaseException) -> str:
    """``Type: message`` without kafka-python's habit of repeating the type inside the message."""
    text = str(exc)
    name = type(exc).__name__
    return text if text.startswith(name) else f"{name}: {text}"


def _provoke(client: str, bootstrap: str, topic: str, value: bytes, timeout: float) -> tuple[str, str]:
    ms = int(timeout * 1000)
    if client == "kafka-python":
        from kafka import KafkaProducer

        try:
            p = KafkaProducer(bootstrap_servers=bootstrap, max_block_ms=ms, bootstrap_timeout_ms=ms, retries=0)
        except Exception as exc:
            return "raised by KafkaProducer()", _exc_text(exc)
        try:
            md = p.send(topic, value).get(timeout=timeout + 2)
            return "no error", f"offset {md.offset}"
        except Exception as exc:
            return "raised by send()/get()", _exc_text(exc)
        finally:
            p.close(timeout=2)
    if client == "confluent-kafka":
        from confluent_kafka import KafkaException, Producer

        reports: list[Any] = []
        errors: list[str] = []
        p = Producer(ck_conf(bootstrap, {"message.timeout.ms": ms, "topic.metadata.propagation.max.ms": min(ms, 1000),
                                         "log_level": 0,  # the errors are shown from error_cb instead
                                         "error_cb": lambda e: errors.append(f"{e.name()}: {e.str()}")}))
        try:
            p.produce(topic, value, on_delivery=lambda err, msg: reports.append(err))
        except KafkaException as exc:
            return "raised by produce()", f"KafkaException: {exc.args[0].name()}: {exc.args[0].str()}"
        p.flush(timeout + 2)
        err = reports[0] if reports else None
        report = f"delivery report {err.name()}: {err.str()}" if err else "no delivery report"
        if errors:
            report += f"; error_cb {errors[0].split(':')[0]}"
        return ("delivery report" + (" + error_cb" if errors else "")), report
    from pykafka import KafkaClient

    try:
        kc = KafkaClient(hosts=bootstrap, socket_timeout_ms=ms)
        t = kc.topics[topic]
        with t.get_sync_producer(linger_ms=0, min_queued_messages=1, max_retries=0) as p:
            p.produce(value)
        return "no error", "delivered"
    except Exception as exc:
        return "raised", _exc_text(exc)


def error_table(bootstrap: str, timeout: float = 3.0, progress: bool = True) -> "pd.DataFrame":
    """Every error case with every client: how it is reported and how long it took."""
    import pandas as pd
    from dataclasses import asdict

    jobs = [(case, client) for case in ERROR_CASES for client in CLIENTS]
    it: Any = jobs
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(jobs, desc="provoking errors", unit="case")
    rows = [asdict(producer_error(client, case, bootstrap, timeout)) for case, client in it]
    return pd.DataFrame(rows).set_index(["case", "client"])


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
    """One short kafka-python ``poll()``: the records it returned (at most ``max_records``), as a flat list."""
    return [r for rs in consumer.poll(timeout_ms=int(timeout * 1000), max_records=max_records).values() for r in rs]


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


class BackgroundConsumer:
    """A consumer loop in a thread, stopped by an Event: the kernel stays free while it runs.

    ``client`` picks kafka-python or confluent-kafka; each poll waits at most ``poll_seconds``,
    so :meth:`stop` returns within about that long, and the consumer is closed in the thread
    that used it (librdkafka consumers must not be closed from another thread mid-poll).
    """

    def __init__(self, client: str, bootstrap: str, topic: str, group: str, poll_seconds: float = 0.2,
                 max_seconds: float = 120.0) -> None:
        if client not in ("kafka-python", "confluent-kafka"):
            raise ConfigError(f"BackgroundConsumer supports kafka-python and confluent-kafka, not {client!r}",
                              "for pykafka use consume(block=True, unblock_event=event) and set the event")
        self.client, self.bootstrap, self.topic, self.group = client, bootstrap, topic, group
        self.poll_seconds, self.max_seconds = poll_seconds, max_seconds
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.values: list[bytes] = []
        self.error: str = ""
        self.closed_cleanly = False
        self._thread = threading.Thread(target=self._run, name=f"consumer-{client}", daemon=True)

    def start(self) -> "BackgroundConsumer":
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        try:
            if self.client == "kafka-python":
                from kafka import KafkaConsumer

                c = KafkaConsumer(self.topic, bootstrap_servers=self.bootstrap, group_id=self.group,
                                  auto_offset_reset="earliest")

                def poll_once() -> list[bytes]:
                    return [r.value for r in kp_poll_one(c, self.poll_seconds, 500)]
            else:
                from confluent_kafka import Consumer

                c = Consumer(ck_conf(self.bootstrap, {"group.id": self.group, "auto.offset.reset": "earliest"}))
                c.subscribe([self.topic])

                def poll_once() -> list[bytes]:
                    return [m.value() for m in ck_poll_one(c, self.poll_seconds)]
            self.ready.set()
            try:
                while not self.stop_event.is_set() and time.monotonic() < deadline:
                    self.values.extend(poll_once())
            finally:
                c.close()  # commits (auto-commit on) and leaves the group at once: no session-timeout wait
                self.closed_cleanly = True
        except Exception as exc:  # shown by the lesson, not lost in a thread
            self.error = f"{type(exc).__name__}: {exc}"
            self.ready.set()

    def stop(self, timeout: float = 10.0) -> float:
        """Ask the loop to end, wait for it; returns the seconds it took."""
        t0 = time.monotonic()
        self.stop_event.set()
        self._thread.join(timeout)
        return round(time.monotonic() - t0, 2)


# ---------------------------------------------------------------------------- keys and rebalances


def key_partitions(bootstrap: str, topic: str, keys: list[str]) -> "pd.DataFrame":
    """Send one record per key with each client's default keyed partitioning; the partition each landed in.

    kafka-python hashes keys with murmur2 like the Java client; librdkafka (confluent-kafka) uses
    CRC32 unless you set ``partitioner: murmur2_random``; pykafka ignores the key unless you pass
    ``partitioner=hashing_partitioner`` (SHA-1): its default ``RandomPartitioner`` is in fact a
    round-robin counter over the partitions. Same key, three different answers.
    """
    import pandas as pd
    from confluent_kafka import Producer
    from kafka import KafkaProducer
    from pykafka import KafkaClient
    from pykafka.partitioners import hashing_partitioner

    rows: dict[str, dict[str, int]] = {k: {} for k in keys}
    kp = KafkaProducer(bootstrap_servers=bootstrap)
    for k in keys:
        rows[k]["kafka-python"] = kp.send(topic, b"v", key=k.encode()).get(timeout=10).partition
    kp.close(timeout=5)
    for label, conf in (("confluent-kafka", {}), ("confluent-kafka murmur2", {"partitioner": "murmur2_random"})):
        ck = Producer(ck_conf(bootstrap, conf))
        for k in keys:
            got: list[int] = []
            ck.produce(topic, b"v", k.encode(), on_delivery=lambda err, msg: got.append(msg.partition()))
            ck.flush(10)
            rows[k][label] = got[0]
    kc = KafkaClient(hosts=bootstrap)
    with kc.topics[topic].get_producer(partitioner=hashing_partitioner, linger_ms=0, min_queued_messages=1,
                                        delivery_reports=True) as p:
        for k in keys:
            p.produce(b"v", partition_key=k.encode())
            msg, _exc = p.get_delivery_report(block=True, timeout=10)
            rows[k]["pykafka hashing"] = msg.partition_id
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("key")


def rebalance_story(client: str, bootstrap: str, topic: str, timeout: float = 30.0) -> list[str]:
    """Member A joins alone, B joins, B leaves: the rebalance listener's events, in order.

    A and B are in one group over ``topic`` (2 partitions). kafka-python and confluent-kafka
    members are polled in turn from this thread (listeners run inside poll()); pykafka's
    managed balanced consumers run their own threads and call ``post_rebalance_callback``.
    """
    group = f"story-{uuid.uuid4().hex[:8]}"
    events: list[str] = []
    deadline = time.monotonic() + timeout

    def until(cond: Callable[[], bool], *pollers: Callable[[], Any]) -> None:
        while not cond() and time.monotonic() < deadline:
            for p in pollers:
                p()
            if not pollers:
                time.sleep(0.05)
        if not cond():
            raise TimeoutError(f"rebalance did not settle within {timeout:.0f} s; events so far: {events}")

    def script(member: Callable[[str], Any], poll: Callable[[Any], Any] | None, owned: Callable[[Any], int],
               leave: Callable[[Any], Any], left: str) -> None:
        """The same story for every client: A alone owns both partitions, B joins (one each), B leaves."""
        a = member("A")
        until(lambda: owned(a) == 2, *([lambda: poll(a)] if poll else []))
        b = member("B")
        until(lambda: owned(a) == 1 and owned(b) == 1, *([lambda: poll(a), lambda: poll(b)] if poll else []))
        leave(b)
        events.append(f"B {left}")
        until(lambda: owned(a) == 2, *([lambda: poll(a)] if poll else []))
        leave(a)

    if client == "kafka-python":
        from kafka import ConsumerRebalanceListener, KafkaConsumer

        def listener(name: str) -> Any:
            class Listener(ConsumerRebalanceListener):
                def on_partitions_revoked(self, revoked: Any) -> None:
                    if revoked:
                        events.append(f"{name} revoked {sorted(tp.partition for tp in revoked)}")

                def on_partitions_assigned(self, assigned: Any) -> None:
                    events.append(f"{name} assigned {sorted(tp.partition for tp in assigned)}")
            return Listener()

        def member(name: str) -> Any:
            c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, session_timeout_ms=6000,
                              heartbeat_interval_ms=500)
            c.subscribe([topic], listener=listener(name))
            return c

        script(member, lambda c: c.poll(timeout_ms=100), lambda c: len(c.assignment()), lambda c: c.close(), "closed")
    elif client == "confluent-kafka":
        from confluent_kafka import Consumer

        def member(name: str) -> Any:
            c = Consumer(ck_conf(bootstrap, {"group.id": group, "session.timeout.ms": 6000,
                                             "heartbeat.interval.ms": 500}))
            c.subscribe([topic],
                        on_assign=lambda cons, parts: events.append(f"{name} assigned {sorted(p.partition for p in parts)}"),
                        on_revoke=lambda cons, parts: parts and events.append(
                            f"{name} revoked {sorted(p.partition for p in parts)}"))
            return c

        script(member, lambda c: c.poll(0.1), lambda c: len(c.assignment()), lambda c: c.close(), "closed")
    elif client == "pykafka":
        from pykafka import KafkaClient

        kc = KafkaClient(hosts=bootstrap)
        t = kc.topics[topic]

        def member(name: str) -> Any:
            def after(consumer: Any, old: Any, new: Any) -> None:
                events.append(f"{name} assigned {sorted(getattr(p, 'id', p) for p in new)}")
                return None
            return t.get_balanced_consumer(group.encode(), managed=True, post_rebalance_callback=after,
                                           consumer_timeout_ms=100)

        # managed balanced consumers poll in their own threads: nothing to poll from here
        script(member, None, lambda c: len(getattr(c, "partitions", None) or {}), lambda c: c.stop(), "stopped")
    else:
        raise ConfigError(f"unknown client {client!r}", f"one of {CLIENTS}")
    return events


def pykafka_rdkafka_balanced_error(topic: Any) -> str:
    """The real error pykafka raises for ``get_balanced_consumer(managed=True, use_rdkafka=True)``.

    The constructor fails half-way, and pykafka's ``__del__`` then complains about the missing
    ``_running`` attribute on stderr; that second message is caught here and summarised.
    """
    import gc
    import sys

    ignored: list[str] = []
    previous = sys.unraisablehook
    sys.unraisablehook = lambda u: ignored.append(f"{type(u.exc_value).__name__}: {u.exc_value}")
    try:
        try:
            topic.get_balanced_consumer(f"rd-{uuid.uuid4().hex[:6]}".encode(), managed=True, use_rdkafka=True)
        except ImportError as exc:
            message = f"ImportError: {exc}"
        else:  # pragma: no cover - would mean pykafka changed
            message = "no error: pykafka now supports it"
        gc.collect()
    finally:
        sys.unraisablehook = previous
    if ignored:
        message += f" (then pykafka's __del__: {ignored[0]})"
    return message


def pykafka_stop_loss(bootstrap: str, n: int = 3000, **producer_kw: Any) -> dict[str, Any]:
    """Produce ``n`` records with pykafka's async producer, leave its ``with`` block, count what the broker stored.

    ``Producer.stop()`` waits at most ``pending_timeout_ms`` for queued records; whatever is still
    waiting for its linger then is dropped, with no exception and no error report. In one run on a
    2-core machine, pykafka's own defaults (linger_ms=5000, pending_timeout_ms=5000) stored 8772 of
    20000 records; the count varies with the machine's speed.
    """
    from pykafka import KafkaClient

    from . import admin

    topic = admin.create_topic(bootstrap, admin.unique_topic("pykafka-stop"))
    try:
        kc = KafkaClient(hosts=bootstrap)
        t0 = time.monotonic()
        with kc.topics[topic].get_producer(**producer_kw) as producer:
            for _ in range(n):
                producer.produce(b"x" * 100)
        seconds = time.monotonic() - t0
        stored = sum(end_offsets(bootstrap, topic).values())
    finally:
        admin.delete_topic(bootstrap, topic)
    return {"settings": producer_kw, "sent": n, "stored": stored, "stop() took s": round(seconds, 1)}
