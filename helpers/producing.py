"""Lesson 04's experiments: what producers do by default, acks, batching and compression, the
errors a learner meets (and how each client reports them), and pykafka's silent loss on stop().

Each experiment runs against the real broker and measures; charts for the results sit beside them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from .clients import end_offsets, topic_bytes
from .connection import ConnLike, ck_conf, kp_conf, pk_conf
from .errors import ConfigError
from .settings import CLIENTS

if TYPE_CHECKING:
    import pandas as pd


# ---------------------------------------------------------------------------- producer defaults


def producer_defaults(conn: ConnLike) -> "pd.DataFrame":
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

    kp = KafkaProducer(**kp_conf(conn))
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


def kafka_python_acks(conn: ConnLike, **config: Any) -> str:
    """What KafkaProducer(**config) does with acks and idempotence: the effective values, or its error."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaConfigurationError

    try:
        p = KafkaProducer(**kp_conf(conn), **config)
    except KafkaConfigurationError as exc:
        return f"KafkaConfigurationError: {exc}".replace("KafkaConfigurationError: KafkaConfigurationError", "KafkaConfigurationError")
    try:
        acks = "all" if p.config["acks"] == -1 else p.config["acks"]
        return f"acks={acks!r}, enable_idempotence={p.config['enable_idempotence']}"
    finally:
        p.close(timeout=5)


# ---------------------------------------------------------------------------- batching and compression


def batching_experiment(conn: ConnLike, lingers: tuple[int, ...] = (0, 5, 50), n: int = 300,
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
        topic = admin.create_topic(conn, admin.unique_topic(f"linger-{linger}"))
        try:
            kp = KafkaProducer(**kp_conf(conn), linger_ms=linger)
            paced(lambda: kp.send(topic, value))
            kp.flush(timeout=30)
            per_request = kp.metrics()["producer-metrics"]["records-per-request-avg"]
            kp.close(timeout=5)
            rows.append({"client": "kafka-python", "linger.ms": linger, "records per request": round(per_request, 1)})
            stats: list[dict] = []
            ck = Producer(ck_conf(conn, {"linger.ms": linger, "statistics.interval.ms": 100,
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
            admin.delete_topic(conn, topic)
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


def compression_experiment(conn: ConnLike, codecs: tuple[str, ...] = ("none", "gzip", "snappy", "lz4", "zstd"),
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
            topic = admin.create_topic(conn, admin.unique_topic(f"codec-{codec}"))
            try:
                _produce_all(client, conn, {"compression.type": codec, "linger.ms": 20}, topic, records)
                stored = topic_bytes(conn, topic)
                rows.append({"client": client, "codec": codec, "stored bytes": stored,
                             "ratio": round(raw / stored, 1) if stored else None, "note": ""})
            finally:
                admin.delete_topic(conn, topic)
    df = pd.DataFrame(rows)
    df.attrs["raw bytes"] = raw
    return df


def _produce_all(client: str, conn: ConnLike, conf: dict[str, Any], topic: str, values: list[bytes],
                 timeout: float = 30.0) -> None:
    """Produce ``values`` with ``client`` over ``conn``, configured by Java-style ``conf`` (through the
    translator); wait for all."""
    from . import settings

    if client == "kafka-python":
        from kafka import KafkaProducer

        p = KafkaProducer(**kp_conf(conn, "producer"), **settings.translate(conf, client, "producer"))
        for v in values:
            p.send(topic, v)
        p.flush(timeout=timeout)
        p.close(timeout=5)
    elif client == "confluent-kafka":
        from confluent_kafka import Producer

        p = Producer({**ck_conf(conn, role="producer"), **settings.translate(conf, client, "producer")})
        for v in values:
            p.produce(topic, v)
            p.poll(0)
        if p.flush(timeout):
            raise RuntimeError("confluent-kafka: not every record was delivered in time")
    else:
        from pykafka import KafkaClient

        client_kw, prod_kw = settings.pykafka_split(conf, "producer")
        kc = KafkaClient(**pk_conf(conn), **client_kw)
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


def producer_error(client: str, case: str, conn: ConnLike, timeout: float = 3.0) -> ErrorReport:
    """Provoke ``case`` with ``client`` and capture how it is reported, within about ``timeout`` seconds.

    missing topic: the broker has auto.create.topics.enable=false; message too large: a topic
    with max.message.bytes=1024 gets a 4 KB record; broker gone: nothing listens at the address.
    """
    from . import admin, broker

    if case not in ERROR_CASES:
        raise ConfigError(f"unknown error case {case!r}", f"one of {ERROR_CASES}")
    topic, cleanup = "", None
    target = conn
    value = b"x"
    if case == "missing topic":
        # deleted afterwards too: a broker with auto.create.topics.enable=true would have created it
        topic = cleanup = admin.unique_topic("no-such-topic")
    elif case == "message too large":
        topic = admin.create_topic(conn, admin.unique_topic("small"), config={"max.message.bytes": "1024"})
        cleanup, value = topic, b"x" * 4096
    else:
        topic, target = "any-topic", f"127.0.0.1:{broker.free_port()}"
    t0 = time.monotonic()
    try:
        how, error = _provoke(client, target, topic, value, timeout)
    finally:
        if cleanup:
            admin.delete_topic(conn, cleanup)
    return ErrorReport(client, case, how, error[:220], round(time.monotonic() - t0, 1))


def _exc_text(exc: BaseException) -> str:
    """``Type: message`` without kafka-python's habit of repeating the type inside the message."""
    text = str(exc)
    name = type(exc).__name__
    return text if text.startswith(name) else f"{name}: {text}"


def _provoke(client: str, conn: ConnLike, topic: str, value: bytes, timeout: float) -> tuple[str, str]:
    ms = int(timeout * 1000)
    if client == "kafka-python":
        from kafka import KafkaProducer

        try:
            p = KafkaProducer(**kp_conf(conn), max_block_ms=ms, bootstrap_timeout_ms=ms, retries=0)
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
        p = Producer(ck_conf(conn, {"message.timeout.ms": ms, "topic.metadata.propagation.max.ms": min(ms, 1000),
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
        kc = KafkaClient(**pk_conf(conn), socket_timeout_ms=ms)
        t = kc.topics[topic]
        with t.get_sync_producer(linger_ms=0, min_queued_messages=1, max_retries=0) as p:
            p.produce(value)
        return "no error", "delivered"
    except Exception as exc:
        return "raised", _exc_text(exc)


def error_table(conn: ConnLike, timeout: float = 3.0, progress: bool = True) -> "pd.DataFrame":
    """Every error case with every client: how it is reported and how long it took."""
    import pandas as pd
    from dataclasses import asdict

    jobs = [(case, client) for case in ERROR_CASES for client in CLIENTS]
    it: Any = jobs
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(jobs, desc="provoking errors", unit="case")
    rows = [asdict(producer_error(client, case, conn, timeout)) for case, client in it]
    return pd.DataFrame(rows).set_index(["case", "client"])


def pykafka_stop_loss(conn: ConnLike, n: int = 3000, **producer_kw: Any) -> dict[str, Any]:
    """Produce ``n`` records with pykafka's async producer, leave its ``with`` block, count what the broker stored.

    ``Producer.stop()`` waits at most ``pending_timeout_ms`` for queued records; whatever is still
    waiting for its linger then is dropped, with no exception and no error report. In one run on a
    2-core machine, pykafka's own defaults (linger_ms=5000, pending_timeout_ms=5000) stored 8772 of
    20000 records; the count varies with the machine's speed.
    """
    from pykafka import KafkaClient

    from . import admin

    topic = admin.create_topic(conn, admin.unique_topic("pykafka-stop"))
    try:
        kc = KafkaClient(**pk_conf(conn))
        t0 = time.monotonic()
        with kc.topics[topic].get_producer(**producer_kw) as producer:
            for _ in range(n):
                producer.produce(b"x" * 100)
        seconds = time.monotonic() - t0
        stored = sum(end_offsets(conn, topic).values())
    finally:
        admin.delete_topic(conn, topic)
    return {"settings": producer_kw, "sent": n, "stored": stored, "stop() took s": round(seconds, 1)}
