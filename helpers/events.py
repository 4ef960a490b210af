"""Small, reproducible event sources for the talk's use cases, and a way to feed them to a topic.

* :func:`clickstream` — website activity tracking: page views by users (key: the user).
* :func:`metrics` — operational metrics: CPU / memory / page-load readings per host (key: the host).
* :func:`log_lines` — log aggregation: log lines from several services (key: the service).

Generators are seeded, so the same call gives the same events (lessons can check counts).
Events are dicts with an ``ts`` in milliseconds; :func:`produce` sends them as JSON.
"""
from __future__ import annotations

import json
import random
import threading
import time
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from .connection import ConnLike, ck_conf

if TYPE_CHECKING:
    import pandas as pd

PAGES = ("/", "/talks", "/schedule", "/sponsors", "/tickets")
HOSTS = ("web-1", "web-2", "db-1")
SERVICES = ("api", "auth", "billing")
LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")
#: how often each service logs each level (weights in LEVELS order): billing is having a bad day
LEVEL_WEIGHTS = {"api": (2, 12, 2, 1), "auth": (2, 12, 3, 1), "billing": (2, 9, 3, 5)}
_DEFAULT_WEIGHTS = (1, 3, 1, 1)
T0 = 1_496_966_400_000  # 2017-06-09 00:00 UTC, the day of the talk: deterministic event times


def clickstream(n: int, seed: int = 2017, users: int = 8, pages: Iterable[str] = PAGES,
                start_ms: int = T0, step_ms: int = 250) -> list[dict]:
    """``n`` page-view events ``{"user", "page", "ts"}``; popular pages come up more often."""
    rnd = random.Random(seed)
    pages = list(pages)
    weights = [1 / (i + 1) for i in range(len(pages))]  # a Zipf-like popularity
    return [{"user": f"user-{rnd.randrange(users)}", "page": rnd.choices(pages, weights)[0],
             "ts": start_ms + i * step_ms} for i in range(n)]


def metrics(n: int, seed: int = 2017, hosts: Iterable[str] = HOSTS, start_ms: int = T0,
            step_ms: int = 1000) -> list[dict]:
    """``n`` readings ``{"host", "cpu", "mem", "load_ms", "ts"}`` cycling over ``hosts``."""
    rnd = random.Random(seed)
    hosts = list(hosts)
    base = {h: 20 + 25 * i for i, h in enumerate(hosts)}
    return [{"host": (h := hosts[i % len(hosts)]), "cpu": round(min(100.0, max(0.0, rnd.gauss(base[h], 8))), 1),
             "mem": round(rnd.uniform(30, 90), 1), "load_ms": int(rnd.lognormvariate(5, 0.5)),
             "ts": start_ms + (i // len(hosts)) * step_ms} for i in range(n)]


def log_lines(n: int, seed: int = 2017, services: Iterable[str] = SERVICES, start_ms: int = T0) -> list[dict]:
    """``n`` log events ``{"service", "level", "msg", "ts"}``; each service has its own mix of levels."""
    rnd = random.Random(seed)
    services = list(services)
    return [{"service": (s := rnd.choice(services)),
             "level": (lv := rnd.choices(LEVELS, LEVEL_WEIGHTS.get(s, _DEFAULT_WEIGHTS))[0]),
             "msg": f"{s} request {i} {lv.lower()}", "ts": start_ms + i * 100} for i in range(n)]


def encode(event: dict) -> bytes:
    """An event as compact JSON bytes."""
    return json.dumps(event, separators=(",", ":")).encode()


def decode(value: bytes | str) -> dict:
    """Back from JSON bytes to a dict."""
    return json.loads(value)


def produce(conn: ConnLike, topic: str, events: Iterable[dict], key: str | None = None,
            rate: float | None = None, timeout: float = 20.0, stop: threading.Event | None = None,
            use_event_time: bool = False) -> int:
    """Send ``events`` to ``topic`` as JSON (keyed by the field ``key``); returns how many were delivered.

    ``rate`` (events per second) paces the sending, to look like a live source; ``stop`` ends it early.
    With ``use_event_time`` the record timestamp is the event's ``ts`` instead of the send time.
    """
    from confluent_kafka import Producer

    p = Producer(ck_conf(conn, {"linger.ms": 5, "message.timeout.ms": int(timeout * 1000)}))
    delivered = 0

    def on_delivery(err, msg) -> None:  # noqa: ANN001 - librdkafka's callback signature
        nonlocal delivered
        if err is None:
            delivered += 1

    t_start = time.monotonic()
    for i, ev in enumerate(events):
        if stop is not None and stop.is_set():
            break
        if rate:
            wait = t_start + i / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        kwargs = {"timestamp": int(ev["ts"])} if use_event_time else {}
        p.produce(topic, value=encode(ev), key=None if key is None else str(ev[key]).encode(),
                  on_delivery=on_delivery, **kwargs)
        p.poll(0)
    p.flush(timeout)
    return delivered


class Feed:
    """A background thread producing events at a steady rate; ``stop()`` ends it (also a context manager)."""

    def __init__(self, conn: ConnLike, topic: str, events: list[dict], key: str | None = None, rate: float = 50.0):
        self._stop = threading.Event()
        self.delivered = 0
        self.total = len(events)

        def run() -> None:
            self.delivered = produce(conn, topic, events, key=key, rate=rate, stop=self._stop)

        self._thread = threading.Thread(target=run, name=f"feed-{topic}", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 25.0) -> int:
        """Stop sending and wait (bounded) for the thread; returns the number delivered."""
        self._stop.set()
        self._thread.join(timeout)
        return self.delivered

    def join(self, timeout: float = 25.0) -> int:
        """Wait (bounded) until every event was sent; returns the number delivered."""
        self._thread.join(timeout)
        return self.delivered

    def __enter__(self) -> "Feed":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def consume(conn: ConnLike, topic: str, group: str | None = None, max_events: int | None = None,
            seconds: float = 10.0, idle: float | None = None, from_beginning: bool = True) -> Iterator[dict]:
    """Yield decoded events from ``topic`` as they arrive, for at most ``seconds`` (and ``max_events``),
    counted from when the group has assigned the partitions (its join can take seconds on a busy machine).

    ``idle`` stops early once nothing arrived for that many seconds. With a ``group`` it commits as it
    goes (so the next call with that group continues where this one stopped); without one it reads in
    a throwaway group that commits nothing, so it leaves nothing behind on the broker.

    A generator, not :func:`helpers.clients.bounded_poll`: callers act on each event as it arrives.
    """
    import uuid

    from confluent_kafka import Consumer

    c = Consumer(ck_conf(conn, {"group.id": group or f"events-{uuid.uuid4().hex[:8]}",
                                     "auto.offset.reset": "earliest" if from_beginning else "latest",
                                     "session.timeout.ms": 6000, "enable.auto.commit": group is not None,
                                     "auto.commit.interval.ms": 500}))
    n = 0
    try:
        c.subscribe([topic])
        from .clients import wait_assigned

        early = wait_assigned(c, timeout=15.0)  # the clock below starts once the group has answered
        for msg in early[:max_events]:
            n += 1
            yield decode(msg.value())
        deadline = time.monotonic() + seconds
        last = time.monotonic()
        while time.monotonic() < deadline and (max_events is None or n < max_events):
            msg = c.poll(0.1)
            if msg is None or msg.error() is not None:
                if idle is not None and n and time.monotonic() - last > idle:
                    break
                continue
            last = time.monotonic()
            n += 1
            yield decode(msg.value())
    finally:
        c.close()


def live_aggregate(conn: ConnLike, topic: str, field: str, seconds: float = 6.0, expected: int | None = None,
                   window_ms: int = 1000, on_update: Callable[[list[dict]], None] | None = None,
                   update_every: float = 0.5, origin_ms: int = T0) -> list[dict]:
    """Count events per ``field`` value in tumbling windows of ``window_ms`` of event time, live.

    Returns rows ``{"window": window start in seconds after origin_ms, field: value, "count": n}``;
    events from several partitions arrive out of order, so windows go by the events' own ``ts``.
    ``on_update(rows)`` is called about every ``update_every`` seconds while events arrive
    (a notebook redraws its chart there). Stops after ``seconds`` or ``expected`` events.
    """
    counts: dict[tuple[int, str], int] = {}
    last_update = time.monotonic()

    def rows() -> list[dict]:
        return [{"window": w, field: v, "count": n} for (w, v), n in sorted(counts.items())]

    for ev in consume(conn, topic, max_events=expected, seconds=seconds, idle=3.0):
        w = (ev["ts"] - origin_ms) // window_ms * window_ms / 1000
        counts[(w, ev[field])] = counts.get((w, ev[field]), 0) + 1
        if on_update is not None and time.monotonic() - last_update >= update_every:
            on_update(rows())
            last_update = time.monotonic()
    result = rows()
    if on_update is not None:
        on_update(result)
    return result


def level_counts(conn: ConnLike, topic: str, expected: int, seconds: float = 10.0) -> "pd.DataFrame":
    """Log aggregation: read ``expected`` log events (:func:`log_lines`) from ``topic`` (bounded by
    ``seconds``) and count lines per service and level. A DataFrame indexed by service, one column
    per level (DEBUG, INFO, WARN, ERROR), plus ``total``."""
    import pandas as pd

    got = list(consume(conn, topic, max_events=expected, seconds=seconds))
    if len(got) < expected:
        from .errors import WorkbookError

        raise WorkbookError(f"read {len(got)} of {expected} log lines from {topic!r} within {seconds:g} s",
                            "were they produced to this topic? events.produce(conn, topic, events.log_lines(n))")
    df = pd.crosstab(pd.Series([e["service"] for e in got], name="service"),
                     pd.Series([e["level"] for e in got], name="level")).reindex(columns=list(LEVELS), fill_value=0)
    df["total"] = df.sum(axis=1)
    return df
