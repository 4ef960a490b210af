"""Lesson 07: replication and durability on the embedded 3-broker cluster, measured for real.

Everything here runs against a :class:`helpers.cluster.Cluster`: topics with a chosen replica
placement, the high watermark watched while followers are frozen, a leader killed (SIGKILL)
under live producers of both clients and every record counted afterwards, ``min.insync.replicas``
refusing writes, an unclean leader election, a consumer group across a failover, and the
exercise checks. Charts live here too (lesson 07's own), drawn with altair.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import WorkbookError

CLIENTS = ("kafka-python", "confluent-kafka")
#: the producer settings the crash compares: (acks, enable.idempotence)
SETTINGS: dict[str, tuple[str, bool]] = {
    "acks=0": ("0", False),
    "acks=1": ("1", False),
    "acks=all": ("all", False),
    "acks=all + idempotence": ("all", True),
}
_QUIET = 2  # librdkafka log level: critical only (refused connections to a dead broker are expected here)


def _bootstrap(conn: Any) -> str:
    """The bootstrap string of a cluster handle, a Connection, or a string."""
    conn = getattr(conn, "connection", conn)
    return getattr(conn, "bootstrap", conn)


def _ck(conn: Any, extra: dict[str, Any]) -> dict[str, Any]:
    conn = getattr(conn, "connection", conn)
    base = conn.config("confluent-kafka") if hasattr(conn, "config") else {"bootstrap.servers": conn}
    return {**base, "log_level": _QUIET, **extra}


def _kp(conn: Any, extra: dict[str, Any]) -> dict[str, Any]:
    conn = getattr(conn, "connection", conn)
    base = conn.config("kafka-python") if hasattr(conn, "config") else {"bootstrap_servers": conn}
    return {**base, **extra}


# --------------------------------------------------------------------------- topics


def create_topic(cluster: Any, name: str, replicas: list[list[int]] | None = None, partitions: int = 1,
                 config: dict[str, str] | None = None) -> str:
    """Create ``name`` with an explicit replica placement (``replicas[p]`` = broker ids of partition p,
    the first one its preferred leader), or ``partitions`` × replication factor 3; waits for leaders."""
    from confluent_kafka.admin import NewTopic

    from .admin import wait_for

    admin = cluster._admin()
    if replicas:
        new = NewTopic(name, len(replicas), -1, replica_assignment=replicas, config=config or {})
    else:
        new = NewTopic(name, num_partitions=partitions, replication_factor=min(3, cluster.brokers), config=config or {})
    wait_for(admin.create_topics([new], operation_timeout=15), "creating topic")
    deadline = time.monotonic() + 15
    want = len(replicas) if replicas else partitions
    while True:
        md = admin.list_topics(name, timeout=5).topics.get(name)
        if md is not None and len(md.partitions) == want and all(p.leader >= 0 for p in md.partitions.values()):
            break
        if time.monotonic() > deadline:
            raise WorkbookError(f"topic {name!r} has no leader after 15 s", "is every broker running? cluster.status()")
        time.sleep(0.1)
    # The broker that answered knows the topic; the next request (describe_configs, a produce) may go to
    # another one that has not yet applied the metadata record (CI saw UNKNOWN_TOPIC_OR_PART right after).
    if not cluster.wait_leaders_agree(name, timeout=max(1.0, deadline - time.monotonic())):
        raise WorkbookError(f"topic {name!r}: not every running broker knows its leaders after 15 s",
                            "is every broker running? cluster.status()")
    return name


def leaders_of(cluster: Any, topics: list[str]) -> dict[str, dict[int, int]]:
    """``{topic: {partition: leader}}`` for several topics from one Metadata request."""
    md = cluster._admin().list_topics(timeout=10).topics
    return {t: {p: pm.leader for p, pm in md[t].partitions.items()} for t in topics if t in md}


def topic_table(cluster: Any, topic: str) -> "Any":
    """One row per partition: leader, replicas (preference order), ISR, and each replica's rack."""
    import pandas as pd

    racks = {n.id: n.rack for n in cluster.nodes}
    rows = []
    for p, d in cluster.describe_topic(topic).items():
        rows.append({"partition": p, "leader": d["leader"], "replicas": d["replicas"], "isr": d["isr"],
                     "racks of the replicas": [racks.get(r) for r in d["replicas"]],
                     "leader is preferred": d["leader"] == d["replicas"][0]})
    return pd.DataFrame(rows).set_index("partition")


# --------------------------------------------------------------------------- reading back


def stored_values(conn: Any, topic: str, partition: int = 0, timeout: float = 20.0) -> Counter:
    """How often each value is stored in ``topic``'s partition, read from offset 0 to the high watermark."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer(_ck(conn, {"group.id": "kfp-counter", "enable.auto.commit": False, "auto.offset.reset": "earliest"}))
    out: Counter = Counter()
    try:
        low, high = _watermarks(c, TopicPartition(topic, partition), timeout)
        c.assign([TopicPartition(topic, partition, low)])
        deadline, seen = time.monotonic() + timeout, low
        while seen < high and time.monotonic() < deadline:
            for m in c.consume(1000, 0.5):
                if m.error() is None:
                    out[m.value().decode()] += 1
                    seen = m.offset() + 1
        if seen < high:
            raise WorkbookError(f"read only up to offset {seen} of {high} in {topic} within {timeout:.0f} s",
                                "is the partition's leader running? cluster.status()")
    finally:
        c.close()
    return out


def _watermarks(c: Any, tp: Any, timeout: float) -> tuple[int, int]:
    """(low, high) of a partition; right after an election the new leader answers OFFSET_NOT_AVAILABLE
    ("high watermark is not caught up") or has no leader yet for a moment: ask again until ``timeout``."""
    from confluent_kafka import KafkaException

    deadline = time.monotonic() + timeout
    while True:
        try:
            return c.get_watermark_offsets(tp, timeout=5, cached=False)
        except KafkaException as exc:
            if time.monotonic() > deadline or not exc.args[0].retriable() and exc.args[0].name() not in (
                    "OFFSET_NOT_AVAILABLE", "LEADER_NOT_AVAILABLE", "NOT_LEADER_FOR_PARTITION", "_TIMED_OUT"):
                raise WorkbookError(f"{tp.topic}: no offsets from its leader ({exc.args[0].str()})",
                                    "is the partition's leader running? cluster.status()") from None
            time.sleep(0.2)


# --------------------------------------------------------------------------- producers under test


@dataclass
class ProducerRun:
    """One producer of the crash experiment and what happened to each of its messages."""

    client: str
    setting: str
    topic: str
    scenario: str = ""
    sent: int = 0
    acked: dict[int, float] = field(default_factory=dict)   # message number -> time of its acknowledgement
    failed: dict[int, str] = field(default_factory=dict)    # message number -> the client's error
    t0: float = 0.0
    error: str | None = None

    def stall(self, after: float, before: float) -> float:
        """The longest time without an acknowledgement in ``[after, before]`` (seconds)."""
        times = sorted(t for t in self.acked.values() if after <= t <= before)
        edges = [after, *times, before]
        return round(max(b - a for a, b in zip(edges, edges[1:])), 2)


def _kafka_python_producer(run: ProducerRun, conn: Any, acks: str, idem: bool) -> tuple[Callable, Callable]:
    from kafka import KafkaProducer

    p = KafkaProducer(**_kp(conn, {
        "acks": "all" if acks == "all" else int(acks), "enable_idempotence": idem,
        "linger_ms": 5, "request_timeout_ms": 10000, "delivery_timeout_ms": 25000,
        "retry_backoff_ms": 100, "reconnect_backoff_ms": 100, "reconnect_backoff_max_ms": 500,
        "max_in_flight_requests_per_connection": 5}))

    def send(i: int) -> None:
        fut = p.send(run.topic, key=str(i % 97).encode(), value=str(i).encode())
        fut.add_callback(lambda _md, i=i: run.acked.__setitem__(i, time.monotonic()))
        fut.add_errback(lambda exc, i=i: run.failed.__setitem__(i, type(exc).__name__))

    def finish(timeout: float) -> None:
        try:
            p.flush(timeout)
        except Exception as exc:  # KafkaTimeoutError: what is still unsent counts as not acknowledged
            run.error = type(exc).__name__
        p.close(timeout=2)

    return send, finish


def _confluent_producer(run: ProducerRun, conn: Any, acks: str, idem: bool,
                        custom: dict[str, Any] | None = None) -> tuple[Callable, Callable]:
    from confluent_kafka import KafkaException, Producer

    base = {"acks": acks, "enable.idempotence": idem, "linger.ms": 5, "message.timeout.ms": 25000,
            "request.timeout.ms": 10000, "retry.backoff.ms": 100, "reconnect.backoff.max.ms": 500}
    if custom is not None:  # an exercise's own settings, on top of the timeouts
        base = {k: v for k, v in base.items() if k not in ("acks", "enable.idempotence")} | dict(custom)
    try:
        p = Producer(_ck(conn, base))
    except KafkaException as exc:
        raise WorkbookError(f"confluent-kafka refused the settings: {exc.args[0].str()}",
                            "check the names and values in the dict") from None

    def report(err: Any, msg: Any) -> None:
        i = int(msg.value())
        if err is None:
            run.acked[i] = time.monotonic()
        else:
            run.failed[i] = err.name()

    def send(i: int) -> None:
        while True:
            try:
                p.produce(run.topic, key=str(i % 97).encode(), value=str(i).encode(), on_delivery=report)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)

    def finish(timeout: float) -> None:
        left = p.flush(timeout)
        if left:
            run.error = f"{left} still queued"

    return send, finish


_FACTORIES = {"kafka-python": _kafka_python_producer, "confluent-kafka": _confluent_producer}


def _produce(run: ProducerRun, conn: Any, start_at: float, n: int, rate: float, stop: threading.Event,
             custom: dict[str, Any] | None = None) -> None:
    acks, idem = SETTINGS.get(run.setting, ("all", True))
    try:
        if custom is not None:
            send, finish = _confluent_producer(run, conn, acks, idem, custom)
        else:
            send, finish = _FACTORIES[run.client](run, conn, acks, idem)
    except Exception as exc:  # a client that cannot even start is reported, not raised in a thread
        run.error = f"{type(exc).__name__}: {exc}"
        return
    run.t0 = start_at
    for i in range(n):
        if stop.is_set():
            break
        delay = start_at + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        send(i)
        run.sent = i + 1
    finish(30.0)


# --------------------------------------------------------------------------- the crash


@dataclass
class CrashResult:
    """A crash experiment: per producer what was acknowledged and what the cluster kept."""

    runs: list[ProducerRun]
    victim: int
    frozen: int | None
    killed_at: float
    elected_at: float | None
    stored: dict[str, Counter]
    new_leaders: dict[str, int]
    timeline: list[dict[str, Any]]
    freeze_at: float = 0.0
    not_led_by_victim: list[str] = field(default_factory=list)  # topics whose leader had moved before the kill

    @property
    def election_seconds(self) -> float | None:
        """From the SIGKILL to the moment every topic had a new leader."""
        return None if self.elected_at is None else round(self.elected_at - self.killed_at, 2)

    def table(self) -> "Any":
        """One row per (client, setting, scenario): acknowledged, stored, lost, duplicated, stall."""
        import pandas as pd

        rows = []
        for r in self.runs:
            counts = Counter({v: c for v, c in self.stored.get(r.topic, Counter()).items() if v != "-1"})  # not the warm-up
            acked = set(r.acked)
            stored = {int(v) for v in counts}
            rows.append({
                "client": r.client, "setting": r.setting, "new leader": self.scenario_label(r),
                "sent": r.sent, "acknowledged": len(acked), "stored": len(stored),
                "lost": len(acked - stored),
                "duplicated": sum(c - 1 for c in counts.values() if c > 1),
                "failed (told)": len(r.failed),
                "stall (s)": r.stall(self.freeze_at, (self.elected_at or self.killed_at) + 3.0),
            })
        return pd.DataFrame(rows)

    def scenario_label(self, r: ProducerRun) -> str:
        return f"{'stale' if r.scenario == 'stale' else 'up to date'} (broker {self.new_leaders.get(r.topic, '?')})"


def crash_experiment(cluster: Any, *, victim: int = 1, frozen: int | None = 2, clients: tuple[str, ...] = CLIENTS,
                     settings: tuple[str, ...] = tuple(SETTINGS), scenarios: tuple[str, ...] = ("stale", "fresh"),
                     rate: float = 150.0, seconds: float = 9.0, kill_at: float = 2.0, freeze: float = 1.0,
                     prefix: str = "crash", progress: bool = True, restart: bool = True,
                     custom: dict[str, Any] | None = None) -> CrashResult:
    """Producers of every client × setting write paced, numbered messages to their own 1-partition topic
    (replication factor 3, led by ``victim``) while the workbook freezes follower ``frozen`` for ``freeze``
    seconds and, during that freeze, SIGKILLs ``victim``. Then every topic is read back and counted.

    ``scenarios``: on a "stale" topic the frozen follower is next in the replica list, so Kafka elects
    the replica that missed the last second; on a "fresh" topic the other follower (which has everything)
    is next. ``restart`` starts the victim again afterwards without waiting (log recovery takes a while).
    ``custom``: one confluent-kafka producer with these settings instead of the clients × settings grid.
    """
    from . import admin

    others = [n.id for n in cluster.nodes if n.id != victim]
    frozen_id = frozen if frozen in others else None
    healthy = [i for i in others if i != frozen_id][0]
    order = {"stale": [victim, frozen_id or others[0], healthy] if frozen_id else [victim, *others],
             "fresh": [victim, healthy, frozen_id or others[0]] if frozen_id else [victim, *reversed(others)]}
    runs = []
    if custom is not None:
        clients, settings = ("confluent-kafka",), ("your settings",)
    for scenario in scenarios:
        for client in clients:
            for setting in settings:
                name = admin.unique_topic(f"{prefix}-{client}-{setting.replace(' ', '').replace('+', '-')}-{scenario}")
                create_topic(cluster, name, [order[scenario]])
                runs.append(ProducerRun(client, setting, name, scenario))
    _warm_up(cluster, [r.topic for r in runs])
    n = int(rate * seconds)
    stop = threading.Event()
    start_at = time.monotonic() + 0.5
    threads = [threading.Thread(target=_produce, args=(r, cluster, start_at, n, rate, stop, custom), daemon=True,
                                name=f"producer-{r.client}-{r.setting}") for r in runs]
    for t in threads:
        t.start()
    topics = [r.topic for r in runs]
    timeline: list[dict[str, Any]] = []
    killed_at = elected_at = None
    not_led: list[str] = []
    bar = _bar(seconds + 0.5, progress, "crash run")
    freeze_at = start_at + kill_at - (freeze if frozen_id is not None else 0.0)
    try:
        at_kill: dict[str, dict[int, int]] = {}
        if frozen_id is not None:
            _sleep_until(start_at + kill_at - freeze)
            # who leads what, asked before the freeze: a Metadata request sent to the frozen broker would get
            # no answer, and within the 1 s freeze leadership cannot move (the session timeout is 4 s)
            at_kill = leaders_of(cluster, topics)
            cluster.pause(frozen_id)
        try:
            _sleep_until(start_at + kill_at)
            if frozen_id is None:
                at_kill = leaders_of(cluster, topics)
            not_led = [t for t in topics if at_kill.get(t, {}).get(0) != victim]
            killed_at = cluster.kill(victim)
            time.sleep(0.2)
        finally:
            if frozen_id is not None:
                cluster.resume(frozen_id)
        while any(t.is_alive() for t in threads) and time.monotonic() < start_at + seconds + 40:
            now = time.monotonic()
            if elected_at is None:
                leaders = leaders_of(cluster, topics)
                timeline.append({"t": now - start_at, **{t: leaders.get(t, {}).get(0, -1) for t in topics}})
                if all(leaders.get(t, {}).get(0, -1) not in (-1, victim) for t in topics):
                    elected_at = now
            bar.update(min(seconds + 0.5, now - start_at + 0.5) - bar.n)
            time.sleep(0.1)
    except BaseException:
        stop.set()
        raise
    finally:
        if frozen_id is not None:
            cluster.resume(frozen_id)
        for t in threads:
            t.join(35)
        bar.close()
    new_leaders = {t: l.get(0, -1) for t, l in leaders_of(cluster, topics).items()}
    stored = {r.topic: stored_values(cluster, r.topic) for r in runs}
    if restart:
        cluster.restart(victim, wait=False)
    for r in runs:  # times from now on: seconds since the producers started
        r.acked = {i: t - start_at for i, t in r.acked.items()}
    result = CrashResult(runs, victim, frozen_id, (killed_at or start_at) - start_at,
                         None if elected_at is None else elected_at - start_at, stored, new_leaders, timeline)
    result.freeze_at = freeze_at - start_at
    result.not_led_by_victim = not_led
    if not_led and progress:
        print(f"note: broker {victim} no longer led {len(not_led)} of the {len(topics)} topics when it was killed "
              "(fenced before: it missed heartbeats on an overloaded machine); their rows show no crash")
    return result


def _warm_up(cluster: Any, topics: list[str]) -> None:
    """One acks=all record ("-1") to every topic: each follower is fetching before the experiment starts
    (a brand-new partition's followers start their fetchers with a delay on a busy machine)."""
    from confluent_kafka import Producer

    p = Producer(_ck(cluster, {"acks": "all", "linger.ms": 0, "message.timeout.ms": 15000}))
    for t in topics:
        p.produce(t, value=b"-1")
    if p.flush(20):
        raise WorkbookError("the warm-up writes were not acknowledged within 20 s", "is every broker running? cluster.status()")


def _sleep_until(t: float) -> None:
    while True:
        left = t - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.2))


def _bar(total: float, enabled: bool, desc: str) -> Any:
    import sys

    from tqdm import tqdm

    return tqdm(total=round(total, 1), desc=desc, unit="s", disable=not enabled, file=sys.stdout,
                bar_format="{desc}: {bar} {n:.0f}/{total:.0f} s")


def crash_chart(table: "Any") -> Any:
    """Lost and duplicated acknowledged messages per setting and client, one panel per scenario."""
    import altair as alt

    df = table.melt(id_vars=["client", "setting", "new leader"], value_vars=["lost", "duplicated"],
                    var_name="outcome", value_name="messages")
    df["scenario"] = df["new leader"].str.split(" \\(").str[0].map(
        {"stale": "new leader had missed the last second", "up to date": "new leader had everything"})
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("messages:Q", title="acknowledged messages lost / stored twice"),
        y=alt.Y("setting:N", sort=list(SETTINGS), title=None),
        yOffset=alt.YOffset("outcome:N"),
        color=alt.Color("outcome:N", scale=alt.Scale(domain=["lost", "duplicated"], range=["#c62828", "#f9a825"])),
        row=alt.Row("client:N", title=None), column=alt.Column("scenario:N", title=None),
        tooltip=["client", "setting", "outcome", "messages"],
    ).properties(width=230, height=110, title="One leader crash (SIGKILL), counted: what each setting lost or doubled")


def median_election(results: list[CrashResult]) -> float | None:
    """The median election time of several crash runs."""
    import statistics

    times = [r.election_seconds for r in results if r.election_seconds is not None]
    return statistics.median(times) if times else None


# --------------------------------------------------------------------------- the high watermark


def watermark_demo(cluster: Any, topic: str, followers: list[int], seconds: float = 4.0, pause_at: float = 1.0,
                   pause_for: float = 1.8, rate: float = 100.0) -> "Any":
    """Write with acks=1 to ``topic`` (partition 0) and read it at the same time, freezing ``followers``
    for ``pause_for`` seconds: returns, every 0.1 s, the leader's log end offset (from the offsets it
    acknowledged), the high watermark (ListOffsets) and how far a consumer got."""
    import pandas as pd
    from confluent_kafka import Consumer, Producer, TopicPartition

    p = Producer(_ck(cluster, {"acks": "1", "enable.idempotence": False, "linger.ms": 0}))
    c = Consumer(_ck(cluster, {"group.id": "kfp-hw", "enable.auto.commit": False, "fetch.wait.max.ms": 50}))
    tp = TopicPartition(topic, 0)
    produce_numbers(cluster, topic, range(1))  # one acks=all write: the followers are fetching before we start
    c.assign([TopicPartition(topic, 0, 0)])
    log_end = [1]
    read = [0]

    def acked(err: Any, msg: Any) -> None:
        if err is None:
            log_end[0] = max(log_end[0], msg.offset() + 1)

    rows, i, paused = [], 1, False
    t0 = time.monotonic()
    try:
        while (now := time.monotonic() - t0) < seconds:
            if not paused and pause_at <= now < pause_at + pause_for:
                for f in followers:
                    cluster.pause(f)
                paused = True
            elif paused and now >= pause_at + pause_for:
                for f in followers:
                    cluster.resume(f)
                paused = False
            while i < rate * now:
                p.produce(topic, value=str(i).encode(), on_delivery=acked)
                i += 1
            p.poll(0)
            for m in c.consume(500, 0.02):
                if m.error() is None:
                    read[0] = m.offset() + 1
            _low, high = c.get_watermark_offsets(tp, timeout=2, cached=False)
            p.poll(0.01)  # collect the acknowledgements up to now: the log end is known from them
            rows.append({"t": round(now, 2), "log end offset (leader)": log_end[0], "high watermark": high,
                         "consumer has read": read[0], "followers frozen": paused})
            time.sleep(0.05)
    finally:
        for f in followers:
            cluster.resume(f)
        p.flush(10)
        c.close()
    return pd.DataFrame(rows)


def watermark_chart(df: "Any") -> Any:
    """The leader's log end, the high watermark and the consumer's position over time; grey = frozen."""
    import altair as alt

    long = df.melt(id_vars=["t"], value_vars=["log end offset (leader)", "high watermark", "consumer has read"],
                   var_name="offset", value_name="value")
    frozen = df[df["followers frozen"]]
    layers = []
    if len(frozen):
        band = frozen.agg({"t": ["min", "max"]}).T.reset_index(drop=True)
        layers.append(alt.Chart(band).mark_rect(opacity=0.15, color="grey").encode(x="min:Q", x2="max:Q"))
    layers.append(alt.Chart(long).mark_line(interpolate="step-after").encode(
        x=alt.X("t:Q", title="seconds (grey: both followers frozen)"), y=alt.Y("value:Q", title="offset"),
        color=alt.Color("offset:N", title=None, sort=["log end offset (leader)", "high watermark", "consumer has read"]),
        strokeDash=alt.StrokeDash("offset:N", legend=None)))
    return alt.layer(*layers).properties(
        width=520, height=220, title="acks=1 writes run ahead; consumers see only up to the high watermark")


# --------------------------------------------------------------------------- min.insync.replicas


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:160]


def try_writes(conn: Any, topic: str, client: str, acks: str, n: int = 20, timeout: float = 8.0) -> dict[str, Any]:
    """Send ``n`` messages with ``acks`` and no retries; report how many were acknowledged and the
    client's own first error (name and text), within ``timeout`` seconds."""
    acked, errors = [0], []
    if client == "confluent-kafka":
        from confluent_kafka import Producer

        p = Producer(_ck(conn, {"acks": acks, "enable.idempotence": False, "retries": 0, "linger.ms": 5,
                                "message.timeout.ms": int(timeout * 1000) - 1000}))

        def report(err: Any, _msg: Any) -> None:
            if err is None:
                acked[0] += 1
            else:
                errors.append(f"KafkaError {err.name()}: {err.str()}")

        for i in range(n):
            p.produce(topic, value=str(i).encode(), on_delivery=report)
        p.flush(timeout)
    else:
        from kafka import KafkaProducer

        p = KafkaProducer(**_kp(conn, {"acks": "all" if acks == "all" else int(acks), "enable_idempotence": False,
                                       "retries": 0, "linger_ms": 5, "request_timeout_ms": int(timeout * 1000) - 2000,
                                       "delivery_timeout_ms": int(timeout * 1000) - 1000}))
        futs = [p.send(topic, value=str(i).encode()) for i in range(n)]
        for f in futs:
            try:
                f.get(timeout)
                acked[0] += 1
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
        p.close(timeout=2)
    return {"client": client, "acks": acks, "sent": n, "acknowledged": acked[0],
            "first error (the client's own words)": _one_line(errors[0]) if errors else "none"}


def refused_table(conn: Any, topic: str) -> "Any":
    """acks=all and acks=1 writes from both clients to ``topic`` (run it with too few replicas in sync)."""
    import pandas as pd

    return pd.DataFrame([try_writes(conn, topic, c, a) for a in ("all", "1") for c in CLIENTS])


def produce_numbers(conn: Any, topic: str, numbers: range, acks: str = "all", timeout: float = 20.0) -> int:
    """Write the numbers as values (confluent-kafka); returns how many were acknowledged."""
    from confluent_kafka import Producer

    ok = [0]
    p = Producer(_ck(conn, {"acks": acks, "enable.idempotence": acks == "all", "linger.ms": 5,
                            "message.timeout.ms": int(timeout * 1000)}))
    for i in numbers:
        p.produce(topic, value=str(i).encode(), on_delivery=lambda err, _m: ok.__setitem__(0, ok[0] + (err is None)))
        p.poll(0)
    p.flush(timeout + 2)
    return ok[0]


def watch_isr(cluster: Any, topic: str, until: Callable[[dict], bool], timeout: float = 90.0) -> "Any":
    """Sample ``topic``'s leader and ISR every 0.25 s until ``until(describe_topic)`` holds; the changes as a table."""
    import pandas as pd

    rows, last, t0 = [], None, time.monotonic()
    while True:
        d = cluster.describe_topic(topic)
        now = {p: (x["leader"], tuple(x["isr"])) for p, x in d.items()}
        if now != last:
            for p, (leader, isr) in now.items():
                rows.append({"after (s)": round(time.monotonic() - t0, 1), "partition": p,
                             "leader": leader if leader >= 0 else "none (offline)", "isr": list(isr)})
            last = now
        if until(d):
            break
        if time.monotonic() - t0 > timeout:
            raise WorkbookError(f"{topic}: the expected state did not come within {timeout:.0f} s",
                                "is every broker running? cluster.status()")
        time.sleep(0.25)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- consumers across a failover


class FailoverWatch:
    """A producer (acks=all, idempotent) and a one-member consumer group on ``topic`` in background
    threads, and a sampler recording each partition's leader every 0.2 s. ``mark(label)`` notes an event."""

    def __init__(self, cluster: Any, topic: str, group: str, rate: float = 60.0, max_seconds: float = 60.0) -> None:
        self.cluster, self.topic, self.group, self.rate = cluster, topic, group, rate
        self.max_seconds = max_seconds
        self.t0 = time.monotonic()
        self.consumed: list[tuple[float, int, int]] = []   # (t, partition, offset)
        self.leaders: list[tuple[float, int, int]] = []    # (t, partition, leader)
        self.marks: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=f, daemon=True) for f in (self._produce, self._consume, self._sample)]

    def now(self) -> float:
        return time.monotonic() - self.t0

    def start(self) -> "FailoverWatch":
        for t in self._threads:
            t.start()
        return self

    def mark(self, label: str) -> None:
        self.marks.append({"t": self.now(), "label": label})

    def _running(self) -> bool:
        return not self._stop.is_set() and self.now() < self.max_seconds

    def _produce(self) -> None:
        from confluent_kafka import Producer

        p = Producer(_ck(self.cluster, {"acks": "all", "enable.idempotence": True, "linger.ms": 5}))
        i = 0
        while self._running():
            while i < self.rate * self.now():
                p.produce(self.topic, key=str(i).encode(), value=str(i).encode())
                i += 1
            p.poll(0.05)
        p.flush(10)

    def _consume(self) -> None:
        from confluent_kafka import Consumer

        c = Consumer(_ck(self.cluster, {"group.id": self.group, "auto.offset.reset": "earliest",
                                        "session.timeout.ms": 6000, "heartbeat.interval.ms": 500}))
        c.subscribe([self.topic])
        try:
            while self._running():
                for m in c.consume(200, 0.2):
                    if m.error() is None:
                        self.consumed.append((self.now(), m.partition(), m.offset()))
                    elif len(self.errors) < 20:
                        self.errors.append(m.error().name())
        finally:
            c.close()

    def _sample(self) -> None:
        while self._running():
            try:
                for p, leader in self.cluster.leaders(self.topic).items():
                    self.leaders.append((self.now(), p, leader))
            except Exception as exc:  # a Metadata request that timed out during the election: try again
                self.errors.append(type(exc).__name__)
            time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(15)

    def pause_after(self, partition: int, t: float) -> float:
        """The longest time after ``t`` during which the consumer got nothing from ``partition`` (s)."""
        times = [t, *sorted(x[0] for x in self.consumed if x[1] == partition and x[0] > t), self.now()]
        return round(max(b - a for a, b in zip(times, times[1:])), 2)

    def chart(self, title: str = "Leaders and consumption across a broker crash") -> Any:
        import altair as alt
        import pandas as pd

        lead = pd.DataFrame(self.leaders, columns=["t", "partition", "leader"])
        spans = []
        for p, g in lead.groupby("partition"):
            g = g.sort_values("t")
            start, cur = g["t"].iloc[0], g["leader"].iloc[0]
            for t, leader in zip(g["t"], g["leader"]):
                if leader != cur:
                    spans.append({"partition": f"p{p}", "start": start, "end": t, "leader": _leader_name(cur)})
                    start, cur = t, leader
            spans.append({"partition": f"p{p}", "start": start, "end": g["t"].iloc[-1], "leader": _leader_name(cur)})
        bars = alt.Chart(pd.DataFrame(spans)).mark_bar(height=14).encode(
            x=alt.X("start:Q", title="seconds"), x2="end:Q", y=alt.Y("partition:N", title="leader of"),
            color=alt.Color("leader:N", title="leader"), tooltip=["partition", "leader", "start", "end"])
        cons = pd.DataFrame(self.consumed, columns=["t", "partition", "offset"])
        cons["second"] = (cons["t"] * 2).round() / 2
        cons["partition"] = cons["partition"].map(lambda p: f"p{p}")
        per = cons.groupby(["second", "partition"]).size().reset_index(name="messages")
        lines = alt.Chart(per).mark_line(point=True).encode(
            x=alt.X("second:Q", title="seconds"), y=alt.Y("messages:Q", title="consumed per 0.5 s"),
            color=alt.Color("partition:N", title="partition"))
        marks = pd.DataFrame(self.marks)
        rule = alt.Chart(marks).mark_rule(strokeDash=[4, 3], color="black").encode(x="t:Q")
        text = alt.Chart(marks).mark_text(align="left", dx=4, dy=-4, fontSize=10).encode(x="t:Q", y=alt.value(0), text="label:N")
        top = alt.layer(bars, rule, text).properties(width=520, height=90)
        bottom = alt.layer(lines, rule).properties(width=520, height=140)
        return alt.vconcat(top, bottom).resolve_scale(color="independent").properties(title=title)


def _leader_name(leader: int) -> str:
    return f"broker {leader}" if leader >= 0 else "none"


# --------------------------------------------------------------------------- exercises


def check_durable(cluster: Any, topic: str, producer_conf: dict[str, Any]) -> Any:
    """07.1: ``topic`` and ``producer_conf`` survive one broker's crash without losing an acknowledged
    write, and stay writable while it is down (read from the cluster: replicas and min.insync.replicas)."""
    from confluent_kafka.admin import ConfigResource

    from .exercises import Check

    ex = "07.1 durable and writable"
    try:
        d = cluster.describe_topic(topic)
    except WorkbookError:
        return Check(ex, False, f"there is no topic {topic!r} on the cluster", "create it with replication.create_topic(...)")
    rf = len(d[0]["replicas"])
    res = ConfigResource("topic", topic)
    cfg = cluster._admin().describe_configs([res])[res].result(10)
    min_isr = int(cfg["min.insync.replicas"].value)
    acks = str(producer_conf.get("acks", "all" if producer_conf.get("enable.idempotence", True) else "1"))
    if acks not in ("all", "-1"):
        return Check(ex, False, f"acks={acks}: the leader answers before any follower has the message",
                     "acks=all waits for every in-sync replica")
    if min_isr < 2:
        return Check(ex, False, f"min.insync.replicas={min_isr}: with one replica in sync, acks=all means 'the leader has it'",
                     "an acknowledged write must be on at least 2 brokers to survive one crash")
    if rf < min_isr + 1:
        return Check(ex, False, f"replication factor {rf} with min.insync.replicas={min_isr}: one broker down and writes are refused",
                     "keep one replica more than min.insync.replicas")
    return Check(ex, True, f"replication factor {rf}, min.insync.replicas={min_isr}, acks=all: one crash loses nothing and the topic stays writable")


def check_prediction(cluster: Any, topic: str, stopped: int, predicted: int | None) -> Any:
    """07.2: stop broker ``stopped`` cleanly and compare the new leader of partition 0 with ``predicted``.
    Does nothing to the cluster while ``predicted`` is None."""
    from .exercises import Check

    ex = "07.2 who leads next"
    if predicted is None:
        return Check(ex, False, "no prediction yet", "set predicted to a broker id")
    cluster.stop_node(stopped)
    try:
        deadline = time.monotonic() + 15
        while (leader := cluster.leaders(topic)[0]) in (stopped, -1) and time.monotonic() < deadline:
            time.sleep(0.2)
        replicas = cluster.replicas(topic)[0]
    finally:
        cluster.restart(stopped, wait=False)
    if leader != predicted:
        return Check(ex, False, f"broker {leader} leads now, not {predicted}",
                     f"the controller picks the first replica in the list {replicas} that is alive and in the ISR")
    return Check(ex, True, f"broker {leader} took over, the next in-sync replica in {replicas}")


def check_no_duplicates(cluster: Any, conf: dict[str, Any], victim: int = 1, frozen: int = 2) -> Any:
    """07.3: a confluent-kafka producer with ``conf`` writes through a leader crash (the "up to date"
    scenario, where retries duplicate); passes when nothing acknowledged is lost or stored twice."""
    from .exercises import Check

    ex = "07.3 no duplicates after a crash"
    if not conf:
        return Check(ex, False, "no settings yet", "fill in the dict with the producer settings you choose")
    if str(conf.get("enable.idempotence", False)).lower() != "true":
        # one crash may happen to re-send nothing, so a run without duplicates proves nothing by itself
        return Check(ex, False, "without enable.idempotence a retry after a crash can store a batch twice "
                     "(it did in section 3's runs), even if one run happens not to",
                     "which producer setting makes the new leader recognise a re-sent batch?")
    if victim not in cluster.alive():
        cluster.wait_ready(90, nodes=[victim])
    r = crash_experiment(cluster, victim=victim, frozen=frozen, scenarios=("fresh",), custom=conf, seconds=7.0,
                         prefix="ex-idem", progress=False)
    row = r.table().iloc[0]
    if row["lost"] or row["duplicated"]:
        return Check(ex, False, f"after the crash: {row['lost']} lost, {row['duplicated']} stored twice",
                     "retries without idempotence re-send what the old leader had already replicated")
    return Check(ex, True, f"{row['acknowledged']} acknowledged, {row['stored']} stored once each, "
                 f"across a leader crash (election {r.election_seconds} s)")
