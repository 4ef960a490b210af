"""One event source processed three ways: request/response, batch and stream processing.

:func:`run` replays a list of events as a live source (``rate`` events per second) and
records, for every event, when its result became visible under each paradigm:

* **request/response** — the caller hands the event to a service and waits for the answer:
  one input, one output, right away, but only for the caller who asked.
* **batch** — events pile up in a topic; a job wakes every ``batch_every`` seconds, reads
  everything new and publishes results for the whole batch at once.
* **stream** — a consumer reads the topic continuously and updates its result per event.

Batch and stream read a real topic on the broker; the timings are wall-clock seconds.
"""
from __future__ import annotations

import threading
import time
import uuid
from typing import TYPE_CHECKING

from . import admin
from .connection import ConnLike, ck_conf
from .errors import WorkbookError
from .events import decode, encode

if TYPE_CHECKING:
    import pandas as pd


def _count(state: dict[str, int], event: dict) -> None:
    state[event["page"]] = state.get(event["page"], 0) + 1


def run(conn: ConnLike, topic: str, events: list[dict], rate: float = 20.0, batch_every: float = 1.0,
        timeout: float = 20.0) -> "pd.DataFrame":
    """Run the three paradigms over ``events`` (each needs a ``page``); returns a DataFrame with one
    row per event and paradigm: ``event``, ``paradigm``, ``happened_s``, ``result_s``, ``delay_s``.

    ``topic`` must have one partition (batch and stream read partition 0, in order). Raises a
    WorkbookError if not, or if the three do not end with the same page counts (some results
    did not arrive within ``timeout``).

    The request/response delay is about zero by construction: the "service" is a function call in
    this process, so the caller has its answer as soon as the event happens (a real service adds a
    network round trip, still per caller).
    """
    import pandas as pd
    from confluent_kafka import Consumer, Producer, TopicPartition

    parts = admin.partitions(conn, topic)
    if parts != [0]:
        raise WorkbookError(f"paradigms.run reads one partition, and {topic!r} has {len(parts)}",
                            "create the topic with partitions=1 (admin.create_topic(conn, name))")

    n = len(events)
    happened: dict[int, float] = {}
    results: dict[str, dict[int, float]] = {"request/response": {}, "batch": {}, "stream": {}}
    finals: dict[str, dict[str, int]] = {k: {} for k in results}
    stop = threading.Event()
    t0 = time.monotonic()

    def now() -> float:
        return time.monotonic() - t0

    def stream() -> None:  # a consumer that updates its answer per event
        c = Consumer(ck_conf(conn, {"group.id": f"stream-{uuid.uuid4().hex[:6]}",
                                         "enable.auto.commit": False, "fetch.wait.max.ms": 10}))
        c.assign([TopicPartition(topic, 0, 0)])
        try:
            while len(results["stream"]) < n and not stop.is_set():
                msg = c.poll(0.05)
                if msg is not None and msg.error() is None:
                    ev = decode(msg.value())
                    _count(finals["stream"], ev)
                    results["stream"][ev["i"]] = now()
        finally:
            c.close()

    def batch() -> None:  # a job that wakes up every `batch_every` s and takes what has piled up
        c = Consumer(ck_conf(conn, {"group.id": f"batch-{uuid.uuid4().hex[:6]}", "enable.auto.commit": False}))
        tp = TopicPartition(topic, 0)
        done = 0
        try:
            while done < n and not stop.is_set():
                time.sleep(batch_every - (now() % batch_every))
                high = c.get_watermark_offsets(tp, timeout=5)[1]
                if high <= done:
                    continue
                c.assign([TopicPartition(topic, 0, done)])
                seen = []
                deadline = time.monotonic() + 5
                while done + len(seen) < high and time.monotonic() < deadline:
                    seen += [m for m in c.consume(500, 0.2) if m.error() is None]
                for m in seen:
                    _count(finals["batch"], decode(m.value()))
                t = now()  # the whole batch's results appear together, when the job ends
                for m in seen:
                    results["batch"][decode(m.value())["i"]] = t
                done += len(seen)
        finally:
            c.close()

    threads = [threading.Thread(target=f, daemon=True) for f in (stream, batch)]
    for t in threads:
        t.start()
    p = Producer(ck_conf(conn, {"linger.ms": 0}))
    for i, ev in enumerate(events):
        time.sleep(max(0.0, i / rate - now()))
        happened[i] = now()
        _count(finals["request/response"], ev)  # request/response: the caller waits for this answer
        results["request/response"][i] = now()
        p.produce(topic, encode({**ev, "i": i}))
        p.poll(0)
    p.flush(10)
    deadline = time.monotonic() + timeout
    while any(len(r) < n for r in results.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(10)
    if not finals["stream"] == finals["batch"] == finals["request/response"]:
        got = {name: len(r) for name, r in results.items()}
        raise WorkbookError(f"the paradigms disagree after {timeout:g} s: results per paradigm {got} of {n}",
                            "a busy machine may need a longer timeout=; is the broker running? python -m helpers doctor")
    rows = [{"event": i, "paradigm": name, "happened_s": happened[i], "result_s": r[i], "delay_s": r[i] - happened[i]}
            for name, r in results.items() for i in sorted(r)]
    return pd.DataFrame(rows)
