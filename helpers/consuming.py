"""Lesson 05's experiments: a consumer loop in a background thread you can stop, the rebalance
story (who owns what as members join and leave), and pykafka's rdkafka balanced-consumer error.
"""
from __future__ import annotations

import threading
import time
import uuid
from typing import Any, Callable

from .clients import ck_poll_one, kp_poll_one, wait_assigned
from .connection import ConnLike, ck_conf, kp_conf, pk_conf, pykafka_tls_check
from .errors import ConfigError
from .settings import CLIENTS


class BackgroundConsumer:
    """A consumer loop in a thread, stopped by an Event: the kernel stays free while it runs.

    ``client`` picks kafka-python or confluent-kafka; each poll waits at most ``poll_seconds``,
    so :meth:`stop` returns within about that long, and the consumer is closed in the thread
    that used it (librdkafka consumers must not be closed from another thread mid-poll).
    """

    def __init__(self, client: str, conn: ConnLike, topic: str, group: str, poll_seconds: float = 0.2,
                 max_seconds: float = 120.0) -> None:
        if client not in ("kafka-python", "confluent-kafka"):
            raise ConfigError(f"BackgroundConsumer supports kafka-python and confluent-kafka, not {client!r}",
                              "for pykafka use consume(block=True, unblock_event=event) and set the event")
        self.client, self.conn, self.topic, self.group = client, conn, topic, group
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

                c = KafkaConsumer(self.topic, **kp_conf(self.conn), group_id=self.group,
                                  auto_offset_reset="earliest")

                def value(r: Any) -> bytes:
                    return r.value

                def poll_once() -> list[bytes]:
                    return [r.value for r in kp_poll_one(c, self.poll_seconds, 500)]
            else:
                from confluent_kafka import Consumer

                c = Consumer(ck_conf(self.conn, {"group.id": self.group, "auto.offset.reset": "earliest"}))
                c.subscribe([self.topic])

                def value(r: Any) -> bytes:
                    return r.value()

                def poll_once() -> list[bytes]:
                    return [m.value() for m in ck_poll_one(c, self.poll_seconds)]
            try:
                # "ready" means the group gave it the partitions, so records sent from now on are read
                first = wait_assigned(c, min(30.0, self.max_seconds), self.poll_seconds, stop=self.stop_event)
                self.values.extend(value(r) for r in first)
                self.ready.set()
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


def rebalance_story(client: str, conn: ConnLike, topic: str, timeout: float = 30.0) -> list[str]:
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
            c = KafkaConsumer(**kp_conf(conn), group_id=group, session_timeout_ms=6000,
                              heartbeat_interval_ms=500)
            c.subscribe([topic], listener=listener(name))
            return c

        # kp_poll_one, not a bare poll(): a 0.1 s poll can lose kafka-python's SyncGroup answer (kp_rescue_join)
        script(member, lambda c: kp_poll_one(c, 0.1, 500), lambda c: len(c.assignment()), lambda c: c.close(), "closed")
    elif client == "confluent-kafka":
        from confluent_kafka import Consumer

        def member(name: str) -> Any:
            c = Consumer(ck_conf(conn, {"group.id": group, "session.timeout.ms": 6000,
                                             "heartbeat.interval.ms": 500}))
            c.subscribe([topic],
                        on_assign=lambda cons, parts: events.append(f"{name} assigned {sorted(p.partition for p in parts)}"),
                        on_revoke=lambda cons, parts: parts and events.append(
                            f"{name} revoked {sorted(p.partition for p in parts)}"))
            return c

        script(member, lambda c: c.poll(0.1), lambda c: len(c.assignment()), lambda c: c.close(), "closed")
    elif client == "pykafka":
        from pykafka import KafkaClient

        pykafka_tls_check(conn, balanced=True)
        kc = KafkaClient(**pk_conf(conn))
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
