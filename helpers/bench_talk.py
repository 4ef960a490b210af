"""What breaks when the talk's own benchmark code (2017) and the 2016 notebook meet today's clients and broker.

Each check runs the talk-era *pattern* for real (not the talk's code: a few lines that do the same
calls) and reports what happened, with a measurement, and the smallest change that fixes it:
:func:`run_all` returns one dict per item; ``python -m helpers bench --talk2017`` writes them to
``helpers/data/bench-talk2017.json`` and lesson 06 shows them.
"""
from __future__ import annotations

import time
import warnings
from typing import Any, Callable

from . import admin, bench_workers, offsets
from .connection import ConnLike, as_connection, pk_client, pykafka_tls_check
from .errors import ConfigError

Item = dict[str, Any]


def _missing(bootstrap: ConnLike) -> str:
    name = admin.unique_topic("talk-missing")
    admin.delete_topic(bootstrap, name)  # certainly absent
    return name


def auto_creation(bootstrap: ConnLike) -> Item:
    """pykafka ``client.topics[name]`` on a topic nobody created, on a broker without auto-creation."""
    bootstrap = as_connection(bootstrap)
    warnings.filterwarnings("ignore")
    name = _missing(bootstrap)
    t0 = time.perf_counter()
    try:
        client = pk_client(bootstrap)
        client.topics[name]
        what = "the topic appeared (this broker auto-creates topics)"
    except Exception as exc:
        what = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
    return {"item": "topic auto-creation", "pattern": "client.topics[name] before anyone created the topic",
            "happened": what, "seconds": round(time.perf_counter() - t0, 2),
            "why": "the talk's broker created a topic on first use (auto.create.topics.enable=true, then the "
                   "default); this workbook's broker does not, so a typo is an error",
            "fix": "create the topics first (python -m helpers topic create NAME), or start the broker with "
                   "python -m helpers broker start --auto-create-topics; even then pykafka's first "
                   "client.topics[name] raises UnknownTopicOrPartition (a KRaft broker answers that, not "
                   "2017's LeaderNotAvailable, while it creates the topic) and a second call works"}


def pykafka_stop_loss(bootstrap: ConnLike, n: int = 200_000) -> Item:
    """pykafka's producer at its defaults (linger 5 s, stop() waits 5 s): how many of ``n`` arrive."""
    warnings.filterwarnings("ignore")
    topic = admin.create_topic(bootstrap, admin.unique_topic("talk-pykafka"))
    try:
        client = pk_client(bootstrap)  # keep it: topics hold only a weak reference to the cluster
        producer = client.topics[topic].get_producer()
        value = bench_workers.payload(100)
        t0 = time.perf_counter()
        for _ in range(n):
            producer.produce(value)
        producer.stop()
        seconds = time.perf_counter() - t0
        stored = sum(h - lo for lo, h in offsets.watermarks(bootstrap, topic).values())
    finally:
        admin.delete_topic(bootstrap, topic)
    return {"item": "pykafka's linger and stop()", "pattern": f"get_producer() at its defaults, {n:,} produce(), stop()",
            "happened": f"stop() returned after {seconds:.1f} s; the broker holds {stored:,} of {n:,} "
                        f"({n - stored:,} lost, no error raised)", "seconds": round(seconds, 2),
            "sent": n, "stored": stored,
            "why": "pykafka's defaults are linger_ms=5000 and pending_timeout_ms=5000: stop() waits at most "
                   "5 s for the queue to drain, then drops what is left, silently",
            "fix": "get_producer(linger_ms=5, pending_timeout_ms=<long enough>) or call producer's delivery "
                   "reports; and count what the broker holds after every run"}


def count_bug(bootstrap: ConnLike, n: int = 100_000) -> Item:
    """A throughput function whose message count defaults to 1,000,000 and is never passed the real one."""
    from confluent_kafka import Producer

    topic = admin.create_topic(bootstrap, admin.unique_topic("talk-count"))
    try:
        p = Producer(as_connection(bootstrap).config("confluent-kafka", "producer"))  # a bare client, as the talk's
        value = bench_workers.payload(100)
        t0 = time.perf_counter()
        for _ in range(n):
            while True:
                try:
                    p.produce(topic, value)
                    break
                except BufferError:
                    p.poll(0.05)
        p.flush(60)
        seconds = time.perf_counter() - t0
    finally:
        admin.delete_topic(bootstrap, topic)
    true, printed = n / seconds, 1_000_000 / seconds
    return {"item": "the message count", "pattern": f"{n:,} messages sent, rate computed with the default 1,000,000",
            "happened": f"true rate {true:,.0f} msgs/s, printed rate {printed:,.0f} msgs/s "
                        f"({printed / true:.0f}x too high)", "seconds": round(seconds, 2),
            "why": "the talk's throughput helper takes the count as a keyword argument defaulting to 1,000,000 "
                   "and its callers do not pass the count they configured",
            "fix": "pass the count actually sent (n_messages=msg_count), or compute the rate from the count "
                   "the broker holds"}


def missing_topic_confluent(bootstrap: ConnLike, n: int = 1000) -> Item:
    """confluent-kafka's producer at its defaults into a topic that does not exist: flush() and what is stored."""
    from confluent_kafka import Producer

    name = _missing(bootstrap)
    errors: list[str] = []
    p = Producer({**as_connection(bootstrap).config("confluent-kafka", "producer"), "log_level": 0})
    t0 = time.perf_counter()
    for _ in range(n):
        p.produce(name, b"x" * 100, on_delivery=lambda err, msg: errors.append(err.name()) if err else None)
    left = p.flush(120)
    seconds = time.perf_counter() - t0
    exists = name in admin.list_topics(bootstrap)
    return {"item": "a missing topic, confluent-kafka", "pattern": f"Producer(defaults), {n:,} produce() to a "
                                                                    "topic nobody created, flush()",
            "happened": f"flush() returned after {seconds:.1f} s with {left} left; topic exists: {exists}; "
                        f"{len(errors):,} delivery reports failed with {sorted(set(errors))}, which the talk's "
                        "code never asked for", "seconds": round(seconds, 2), "failed": len(errors),
            "why": "librdkafka waits topic.metadata.propagation.max.ms (30 s by default) for the topic to "
                   "appear, then fails every message with UNKNOWN_TOPIC_OR_PART in a delivery report; flush() just waits",
            "fix": "create the topic first, and give produce() an on_delivery callback that counts errors "
                   "(or check the broker's count after flush())"}


def rdkafka_consumer_settings(bootstrap: ConnLike) -> Item:
    """pykafka's librdkafka consumer at pykafka's default buffer settings, against librdkafka 2.x."""
    warnings.filterwarnings("ignore")
    from .clients import pykafka_rdkafka_available

    if not pykafka_rdkafka_available():
        return {"item": "the rdkafka consumer's settings", "pattern": "get_simple_consumer(use_rdkafka=True)",
                "happened": "not measured: pykafka's C extension is not built here (make rdkafka)", "seconds": None,
                "why": "", "fix": ""}
    try:
        pykafka_tls_check(bootstrap, use_rdkafka=True)
    except ConfigError as exc:
        return {"item": "the rdkafka consumer's settings", "pattern": "get_simple_consumer(use_rdkafka=True)",
                "happened": f"not measured over TLS: {exc.what}", "seconds": None, "why": "", "fix": ""}
    topic = admin.create_topic(bootstrap, admin.unique_topic("talk-rdk"))
    t0 = time.perf_counter()
    try:
        client = pk_client(bootstrap)
        c = client.topics[topic].get_simple_consumer(use_rdkafka=True, consumer_timeout_ms=500)
        c.consume()
        c.stop()
        what = "started and consumed"
    except Exception as exc:
        what = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    finally:
        admin.delete_topic(bootstrap, topic)
    return {"item": "the rdkafka consumer's settings", "pattern": "get_simple_consumer(use_rdkafka=True) "
                                                                   "at pykafka's defaults",
            "happened": what, "seconds": round(time.perf_counter() - t0, 2),
            "why": "pykafka hands its defaults (fetch_message_max_bytes 1 MiB, queued_max_messages 100,000) to "
                   "librdkafka, whose 2.x releases check them against fetch.max.bytes and "
                   "queued.max.messages.kbytes and refuse",
            "fix": "get_simple_consumer(use_rdkafka=True, fetch_message_max_bytes=32 MiB, queued_max_messages=60) "
                   "(see helpers.clients.RDKAFKA_CONSUMER_SETTINGS)"}


CHECKS: tuple[Callable[[ConnLike], Item], ...] = (auto_creation, pykafka_stop_loss, count_bug, missing_topic_confluent,
                                             rdkafka_consumer_settings)


def run_all(bootstrap: ConnLike) -> list[Item]:
    """Every check, in order (about a minute: the missing-topic one waits librdkafka's 30 s); ``bootstrap`` is a
    Connection (its security settings reach every client) or a plaintext ``host:port``."""
    conn = as_connection(bootstrap)
    return [check(conn) for check in CHECKS]
