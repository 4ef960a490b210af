"""Commit strategies under a crash: at-most-once, at-least-once, and exactly-once with transactions.

:func:`simulate` fills a fresh one-partition topic with ``n`` numbered messages, then runs a
worker **in a separate Python process** that reads them, "processes" each one (appends its
number to a sink file, or for ``exactly-once`` produces it to an output topic) and commits
the way the strategy says. After ``crash_after`` messages the process dies with
``os._exit(1)``: no ``close()``, no final commit, like ``kill -9`` or a power cut. A second
worker process with the same group then finishes the job (also a subprocess, so its client
logs, such as the restarted transactional producer's warnings, stay out of the notebook). Counting the numbers in the sink shows
what the crash cost: numbers never processed (lost) and numbers processed twice (duplicates).

Strategies (``batch`` messages per poll round):

* ``auto`` — ``enable.auto.commit=true``: the client commits in the background every
  ``auto.commit.interval.ms``; what a crash costs depends on timing.
* ``auto-store-after`` — auto commit with librdkafka's fix: ``enable.auto.offset.store=false`` and
  ``store_offsets(message)`` after processing each message, so the background commit covers only
  processed messages (nothing lost; a crash repeats at most what was processed since the last commit).
* ``at-most-once`` — commit the batch's offsets first, then process: a crash loses the rest of the batch.
* ``at-least-once`` — process the batch, then commit synchronously: a crash repeats the batch.
* ``at-least-once-async`` — as above with ``commit(asynchronous=True)``: faster, and a crash
  can also lose the commit still in flight (more repeats).
* ``exactly-once`` — read-process-write in a Kafka transaction that also carries the consumer
  offsets; the crash leaves an open transaction that the restarted producer aborts, and a
  ``read_committed`` reader of the output sees every number exactly once.

The workers assign themselves the partition (no group rebalance to wait for); commits go to
the group all the same.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import admin
from .clients import bounded_poll, ck_poll_one
from .connection import ConnLike, ck_conf, cli_args, from_cli
from .errors import WorkbookError

if TYPE_CHECKING:
    import pandas as pd
    from confluent_kafka import Consumer

STRATEGIES = ("auto", "auto-store-after", "at-most-once", "at-least-once", "at-least-once-async", "exactly-once")


def _consumer(conn: ConnLike, topic: str, group: str, strategy: str) -> "Consumer":
    from confluent_kafka import OFFSET_STORED, Consumer, TopicPartition

    c = Consumer(ck_conf(conn, {"group.id": group, "auto.offset.reset": "earliest",
                                     "enable.auto.commit": strategy.startswith("auto"), "auto.commit.interval.ms": 200,
                                     "enable.auto.offset.store": strategy != "auto-store-after",
                                     "isolation.level": "read_committed"}))
    c.assign([TopicPartition(topic, 0, OFFSET_STORED)])  # start at the group's committed offset
    return c


def _batch(consumer: "Consumer", size: int, timeout: float = 5.0) -> list[Any]:
    """Up to ``size`` messages, polled one by one so batches are exact (the caller caps ``size`` at the log end)."""
    return bounded_poll(lambda: ck_poll_one(consumer, 0.2), size, timeout)


def work(conn: ConnLike, topic: str, group: str, strategy: str, sink: str, end: int,
         crash_after: int | None = None, batch: int = 10, process_ms: float = 10.0,
         out_topic: str | None = None, timeout: float = 30.0) -> int:
    """Process ``topic`` up to offset ``end`` with ``strategy``; die hard after ``crash_after`` messages.
    Returns how many messages this worker processed (when it does not crash)."""
    from confluent_kafka import Producer, TopicPartition

    if strategy not in STRATEGIES:
        raise WorkbookError(f"unknown strategy {strategy!r}", "use one of " + ", ".join(STRATEGIES))
    c = _consumer(conn, topic, group, strategy)
    producer = None
    if strategy == "exactly-once":
        producer = Producer(ck_conf(conn, {"transactional.id": f"{group}-processor",
                                                "transaction.timeout.ms": 10000}))
        producer.init_transactions(15)  # fences an earlier incarnation and aborts its open transaction
    done = 0
    deadline = time.monotonic() + timeout

    def consumer_store(msg) -> None:  # noqa: ANN001
        c.store_offsets(message=msg)

    with open(sink, "a", buffering=1) as out:  # line-buffered: every processed number reaches the file
        def process(msg) -> None:  # noqa: ANN001
            nonlocal done
            time.sleep(process_ms / 1000)
            if producer is not None:
                producer.produce(out_topic, msg.value(), key=msg.key())
            else:
                out.write(msg.value().decode() + "\n")
            if strategy == "auto-store-after":
                consumer_store(msg)  # only now may the background commit include this message
            done += 1
            if crash_after is not None and done >= crash_after:
                if producer is not None:
                    producer.flush(10)  # the records are on the broker, inside a transaction never committed
                os._exit(1)  # the crash: no close(), no commit, no goodbye

        while time.monotonic() < deadline:
            position = c.position([TopicPartition(topic, 0)])[0].offset
            if position >= end:
                break
            msgs = _batch(c, min(batch, end - position))
            if not msgs:
                continue
            next_offset = [TopicPartition(topic, 0, msgs[-1].offset() + 1)]
            if strategy == "at-most-once":
                c.commit(offsets=next_offset, asynchronous=False)
            if producer is not None:
                producer.begin_transaction()
            for m in msgs:
                process(m)
            if strategy == "at-least-once":
                c.commit(offsets=next_offset, asynchronous=False)
            elif strategy == "at-least-once-async":
                c.commit(offsets=next_offset, asynchronous=True)
            elif producer is not None:
                producer.send_offsets_to_transaction(next_offset, c.consumer_group_metadata(), 10)
                producer.commit_transaction(10)
    c.close()
    return done


def fill(conn: ConnLike, topic: str, n: int) -> None:
    """Send the numbers ``0`` .. ``n-1`` (as text) to ``topic`` with a plain producer, in order."""
    from confluent_kafka import Producer

    p = Producer(ck_conf(conn))
    for i in range(n):
        p.produce(topic, str(i).encode())
    if p.flush(15):
        raise WorkbookError(f"could not fill {topic!r}", "is the broker running? python -m helpers doctor")


def simulate(conn: ConnLike, strategy: str, n: int = 100, crash_after: int = 25, batch: int = 10,
             process_ms: float = 10.0, timeout: float = 40.0) -> dict:
    """Run ``strategy`` over ``n`` messages with a hard crash after ``crash_after``; count the damage.

    Returns ``{"strategy", "messages", "processed", "lost", "duplicates", "crash_exit_code",
    "committed_at_crash"}`` and, for exactly-once, ``"uncommitted_reader_sees"`` (records a
    ``read_uncommitted`` reader finds in the output, aborted ones included).
    """
    from . import offsets

    if strategy not in STRATEGIES:
        raise WorkbookError(f"unknown strategy {strategy!r}", "use one of " + ", ".join(STRATEGIES))
    src = admin.create_topic(conn, admin.unique_topic(f"delivery-{strategy}"))
    out_topic = admin.create_topic(conn, admin.unique_topic("delivery-out")) if strategy == "exactly-once" else None
    group = admin.unique_topic(f"g-{strategy}")
    sink = Path(tempfile.mkstemp(prefix="sink-", suffix=".txt")[1])
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}

    def worker(crash: int | None, ms: float) -> subprocess.CompletedProcess:
        args = [sys.executable, "-m", "helpers.delivery", *cli_args(conn), "--topic", src, "--group", group,
                "--strategy", strategy, "--sink", str(sink), "--end", str(n), "--batch", str(batch),
                "--process-ms", str(ms), "--timeout", str(timeout)]
        args += (["--crash-after", str(crash)] if crash is not None else []) + \
            (["--out-topic", out_topic] if out_topic else [])
        try:  # output captured: the workers' client logs are not the lesson's business
            return subprocess.run(args, capture_output=True, text=True, timeout=timeout + 10, env=env)
        except subprocess.TimeoutExpired:
            raise WorkbookError(f"the {strategy} worker did not finish within {timeout:.0f} s",
                                "is the broker running? python -m helpers doctor") from None

    def last_line(proc: subprocess.CompletedProcess) -> str:
        return (proc.stderr.strip().splitlines() or ["no output"])[-1]

    try:
        fill(conn, src, n)
        crashed = worker(crash_after, process_ms)
        if crashed.returncode != 1:
            raise WorkbookError(f"the {strategy} worker ended with code {crashed.returncode} instead of crashing: "
                                f"{last_line(crashed)}")
        at_crash = offsets.committed(conn, group, src).get(0)
        restarted = worker(None, 0)
        if restarted.returncode != 0:
            raise WorkbookError(f"the restarted {strategy} worker failed (code {restarted.returncode}): "
                                f"{last_line(restarted)}", "is the broker running? python -m helpers doctor")
        if out_topic:
            seen = [int(r.value) for r in offsets.read(conn, out_topic, isolation="read_committed", timeout=15)]
            raw = len(offsets.read(conn, out_topic, isolation="read_uncommitted", timeout=15))
        else:
            seen = [int(line) for line in sink.read_text().split()]
            raw = None
        counts = Counter(seen)
        result = {"strategy": strategy, "messages": n, "processed": len(seen),
                  "lost": sum(1 for i in range(n) if counts[i] == 0),
                  "duplicates": sum(c - 1 for c in counts.values() if c > 1),
                  "crash_exit_code": crashed.returncode, "committed_at_crash": at_crash}
        if raw is not None:
            result["uncommitted_reader_sees"] = raw
        return result
    finally:
        sink.unlink(missing_ok=True)
        admin.delete_topic(conn, *(t for t in (src, out_topic) if t))
        admin.delete_groups(conn, group)


def compare(conn: ConnLike, strategies: tuple[str, ...] = STRATEGIES, **kwargs: Any) -> "pd.DataFrame":
    """:func:`simulate` for each strategy, as a DataFrame indexed by strategy."""
    import pandas as pd

    return pd.DataFrame([simulate(conn, s, **kwargs) for s in strategies]).set_index("strategy")


def _main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="one delivery-semantics worker (run by helpers.delivery.simulate)")
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--config", help="client properties file of a secured connection")
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--strategy", required=True, choices=STRATEGIES)
    ap.add_argument("--sink", required=True)
    ap.add_argument("--end", type=int, required=True)
    ap.add_argument("--crash-after", type=int)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--process-ms", type=float, default=10.0)
    ap.add_argument("--out-topic")
    ap.add_argument("--timeout", type=float, default=30.0)
    a = ap.parse_args(argv)
    work(from_cli(a.bootstrap, a.config), a.topic, a.group, a.strategy, a.sink, a.end, a.crash_after, a.batch, a.process_ms, a.out_topic,
         timeout=a.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
