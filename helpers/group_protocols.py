"""KIP-848 beside the classic group protocol: the same join/leave script, timed, on a Kafka 4 broker.

Classic protocol (Kafka 0.9 to today): the broker only collects the members; one of them, the
*leader*, runs the assignor (``range``, ``cooperative-sticky`` ...) inside the client and sends the
result back through SyncGroup. With the eager assignors every member gives up every partition
first, so a join or a leave stops the whole group for a moment.

The consumer protocol (KIP-848, GA in Kafka 4.0): members only heartbeat
(ConsumerGroupHeartbeat); the broker's group coordinator computes the target assignment
(server-side assignors ``uniform`` and ``range``, ``group.consumer.assignors``) and each member
moves towards it incrementally, giving up only the partitions that move.

:class:`ProtocolRunner` is lesson 03's :class:`~helpers.groups.GroupRunner` with a ``protocol``
switch; :func:`pauses` measures from its callbacks how long each partition stood without an owner.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from .clients import ck_conf
from .connection import ConnLike, cli_args
from .groups import GroupRunner, _Member
from .errors import WorkbookError

if TYPE_CHECKING:
    import altair as alt
    import pandas as pd

PROTOCOLS = ("classic", "consumer")


class ProtocolRunner(GroupRunner):
    """Consumers of ``topic`` in one group that speaks ``protocol`` ("classic" with the eager ``range``
    assignor, as in lesson 03, or "consumer", KIP-848). Same API as GroupRunner: add, remove, wait_stable..."""

    def __init__(self, conn: ConnLike, topic: str, group: str | None = None, *, protocol: str = "consumer",
                 max_seconds: float = 60.0, process_ms: float = 0.0, lag_every: float | None = None) -> None:
        if protocol not in PROTOCOLS:
            raise WorkbookError(f"group protocol {protocol!r} is unknown", f"use one of {PROTOCOLS}")
        self.protocol = protocol
        self.described: dict[str, Any] = {}
        self.stopped_at: float | None = None
        super().__init__(conn, topic, group, session_timeout_ms=10000, max_seconds=max_seconds,
                         process_ms=process_ms, lag_every=lag_every,
                         assignment="range" if protocol == "classic" else "server-side")

    def member_config(self, name: str) -> dict[str, Any]:
        """The confluent-kafka settings of one member. The consumer protocol rejects the classic knobs
        (session.timeout.ms, heartbeat.interval.ms, partition.assignment.strategy): the broker owns them."""
        base = {"group.id": self.group, "client.id": name, "auto.offset.reset": "earliest",
                "enable.auto.commit": True, "auto.commit.interval.ms": 300}
        if self.protocol == "consumer":
            return ck_conf(self.conn, {**base, "group.protocol": "consumer"})
        return ck_conf(self.conn, {**base, "session.timeout.ms": self.session_timeout_ms,
                                        "heartbeat.interval.ms": 500, "partition.assignment.strategy": "range"})

    def _run(self, member: _Member) -> None:
        if self.protocol == "classic":
            # lesson 03's member loop, unchanged (its settings are the same as member_config's)
            return super()._run(member)
        from confluent_kafka import Consumer

        try:
            c = Consumer(self.member_config(member.name))
        except Exception as exc:
            self.errors.append(f"{member.name}: {exc}")
            member.closed = True
            return

        # KIP-848 rebalances are incremental: each callback names only the partitions that change hands
        def on_assign(consumer, partitions) -> None:  # noqa: ANN001 - librdkafka's callback signature
            ps = [tp.partition for tp in partitions]
            member.assigned = sorted(set(member.assigned) | set(ps))
            consumer.incremental_assign(partitions)
            if ps:
                self._record(member.name, "assigned", ps)

        def on_revoke(consumer, partitions) -> None:  # noqa: ANN001
            ps = [tp.partition for tp in partitions]
            member.assigned = sorted(set(member.assigned) - set(ps))
            consumer.incremental_unassign(partitions)
            if ps:
                self._record(member.name, "revoked", ps)

        try:
            c.subscribe([self.topic], on_assign=on_assign, on_revoke=on_revoke)
            while not member.stop.is_set() and not self._stop_all.is_set() and time.monotonic() < self.deadline:
                msg = c.poll(0.1)
                if msg is None:
                    continue
                if msg.error() is not None:
                    if not msg.error().retriable() and msg.error().code() != -191:  # -191: partition EOF
                        self.errors.append(f"{member.name}: {msg.error().str()}")
                    continue
                member.processed[msg.partition()] += 1
                if self.process_ms:
                    time.sleep(self.process_ms / 1000)
        except Exception as exc:
            self.errors.append(f"{member.name}: {exc!r}")
        finally:
            try:
                c.close()
            except Exception as exc:
                self.errors.append(f"{member.name} close: {exc!r}")
            if member.assigned:
                self._record(member.name, "revoked", member.assigned)
                member.assigned = []
            member.closed = True

    def is_stable(self) -> bool:
        """True when something changed since the notebook's last action and now the running members own
        every partition exactly once, each at least one (when there are enough partitions)."""
        with self._lock:
            since = self.marks[-1]["t"] if self.marks else 0.0
            changed = any(ev["t"] >= since for ev in self.events)
        running = self.running()
        if not running or not changed:
            return False
        owned = [p for n in running for p in self.members[n].assigned]
        if len(running) <= len(self.partitions) and any(not self.members[n].assigned for n in running):
            return False
        return sorted(owned) == self.partitions


def join_leave(conn: ConnLike, topic: str, protocol: str, group: str | None = None, hold: float = 1.0,
               timeout: float = 60.0, process_ms: float = 8.0) -> ProtocolRunner:
    """Lesson 03's script: c1 alone, then c2 and c3 join, then c1 leaves; each step waits until the group
    is stable again and holds ``hold`` s. Each member spends ``process_ms`` on a message (a live feed keeps
    them busy). Returns the stopped runner: events, marks, ownership, and ``described``, the broker's
    view of the group while three members ran."""
    from . import events

    runner = ProtocolRunner(conn, topic, group, protocol=protocol, max_seconds=timeout * 4,
                            process_ms=process_ms)
    feed = events.Feed(conn, topic, events.clickstream(int(200 * timeout), seed=5, users=60), key="user",
                       rate=200)
    try:
        runner.add()
        runner.wait_stable(timeout)
        time.sleep(hold)
        runner.add(); runner.add()
        runner.wait_stable(timeout)
        runner.described = describe(conn, runner.group)
        time.sleep(hold)
        runner.remove("c1")
        runner.wait_stable(timeout)
        time.sleep(hold)
    finally:
        runner.stopped_at = runner.now()  # the revocations of the final stop are not a rebalance
        runner.stop()
        feed.stop()
    return runner


def pauses(runner: GroupRunner) -> "pd.DataFrame":
    """For each action on the timeline (a join or a leave): how many partitions stopped, how many changed
    owner, the longest a partition stood without an owner, the partition-seconds lost, and how long the
    group took to settle."""
    import pandas as pd

    marks = sorted(runner.marks, key=lambda m: m["t"])
    # merge actions closer than 0.25 s ("c2 joins, c3 joins")
    actions: list[dict] = []
    for mk in marks:
        if actions and mk["t"] - actions[-1]["t"] < 0.25:
            actions[-1]["label"] += ", " + mk["label"]
        else:
            actions.append(dict(mk))
    events = sorted(runner.events, key=lambda e: e["t"])
    rows = []
    for i, act in enumerate(actions):
        if i == 0:
            continue  # the first member's first assignment: nothing stood idle before it
        start = act["t"]
        end = actions[i + 1]["t"] if i + 1 < len(actions) else (getattr(runner, "stopped_at", None) or float("inf"))
        window = [e for e in events if start <= e["t"] < end]
        revoked: dict[int, float] = {}
        owner_before: dict[int, str] = {}
        gaps: list[float] = []
        moved = set()
        for e in window:
            for p in e["partitions"]:
                if e["event"] == "revoked":
                    revoked.setdefault(p, e["t"])
                    owner_before.setdefault(p, e["member"])
                elif p in revoked:
                    gaps.append(e["t"] - revoked.pop(p))
                    if owner_before.get(p) != e["member"]:
                        moved.add(p)
                else:
                    moved.add(p)  # assigned without a revoke in this window: it came from a member that left
        settled = max((e["t"] for e in window), default=start) - start
        rows.append({"protocol": getattr(runner, "protocol", runner.assignment), "what happened": act["label"],
                     "pauses": len(gaps) + len(revoked), "partitions moved": len(moved),
                     "longest pause (s)": round(max(gaps, default=0.0), 3),
                     "idle partition-seconds": round(sum(gaps), 3), "settled after (s)": round(settled, 3)})
    return pd.DataFrame(rows)


def describe(conn: ConnLike, group: str, timeout: float = 10.0) -> dict[str, Any]:
    """The broker's view of ``group``: protocol type, assignor, state, members (AdminClient.describe_consumer_groups)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(ck_conf(conn))
    desc = admin.describe_consumer_groups([group], request_timeout=timeout)[group].result(timeout)
    return {"group": group, "type": desc.type.name.lower(), "assignor": desc.partition_assignor,
            "state": desc.state.name.lower(), "members": len(desc.members)}


def timelines_chart(runners: dict[str, GroupRunner]) -> "alt.VConcatChart":
    """The ownership timelines of several runners, one above the other, on one shared time axis."""
    import altair as alt

    from . import charts

    return alt.vconcat(*[charts.ownership_chart(r.ownership(), r.marks, title) for title, r in runners.items()]
                       ).resolve_scale(x="shared")


# ------------------------------------------------------------------ which Python clients speak KIP-848

_SUPPORT_PROBE = r"""
import json, sys, time, asyncio, logging, warnings
warnings.filterwarnings("ignore"); logging.disable(logging.CRITICAL)
from helpers.connection import from_cli
client, topic, group, timeout, *rest = sys.argv[1:]
timeout = float(timeout)
opts = dict(zip(rest[::2], rest[1::2]))  # connection.cli_args: --bootstrap B [--config FILE]
conn = from_cli(opts["--bootstrap"], opts.get("--config"))
out = {"ok": False, "detail": ""}
try:
    if client == "confluent-kafka":
        from confluent_kafka import Consumer
        c = Consumer({**conn.config("confluent-kafka", "consumer"), "group.id": group, "group.protocol": "consumer",
                      "log_level": 3, "auto.offset.reset": "earliest"})
        got = set()
        c.subscribe([topic], on_assign=lambda cons, ps: got.update(p.partition for p in ps))
        end = time.monotonic() + timeout
        while not got and time.monotonic() < end:
            c.poll(0.2)
        out = {"ok": bool(got), "detail": f"joined; the broker assigned partitions {sorted(got)}" if got
               else f"no assignment within {timeout:.0f} s"}
        c.close()
    elif client == "kafka-python":
        from kafka import KafkaConsumer
        KafkaConsumer(topic, **conn.config("kafka-python", "consumer"), group_id=group, group_protocol="consumer")
        out = {"ok": True, "detail": "accepted group_protocol"}
    elif client == "aiokafka":
        from aiokafka import AIOKafkaConsumer
        async def main():
            AIOKafkaConsumer(topic, **conn.config("kafka-python", "consumer"), group_id=group, group_protocol="consumer")
        asyncio.run(main())
        out = {"ok": True, "detail": "accepted group_protocol"}
    elif client == "pykafka":
        from pykafka import KafkaClient
        kc = KafkaClient(**conn.config("pykafka", "any"), socket_timeout_ms=1500)
        kc.topics[topic].get_balanced_consumer(consumer_group=group.encode(), managed=True,
                                               consumer_timeout_ms=int(timeout * 1000))
        out = {"ok": False, "detail": "joined a group, but pykafka has no setting for the consumer protocol"}
except BaseException as exc:
    out = {"ok": False, "detail": f"{type(exc).__module__}.{type(exc).__name__}: {exc}"[:240]}
print("RESULT " + json.dumps(out), flush=True)
"""

SUPPORT_CLIENTS = ("confluent-kafka", "kafka-python", "aiokafka", "pykafka")


def client_support(conn: ConnLike, topic: str, timeout: float = 5.0) -> "pd.DataFrame":
    """Ask each Python client, live, to join a KIP-848 consumer group on ``conn`` (each in a subprocess
    with a deadline). The row says what the client did; for confluent-kafka the broker's own description of
    the group confirms its type."""
    import uuid

    import pandas as pd

    from pathlib import Path

    procs = {}
    for client in SUPPORT_CLIENTS:  # all four at once: most of the time is each one's import and deadline
        group = f"kip848-{client}-{uuid.uuid4().hex[:6]}"
        cmd = [sys.executable, "-c", _SUPPORT_PROBE, client, topic, group, str(timeout), *cli_args(conn)]
        procs[client] = (group, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                                 cwd=str(Path(__file__).resolve().parent.parent)))
    rows = []
    for client, (group, proc) in procs.items():
        try:
            stdout, stderr = proc.communicate(timeout=timeout + 20)
            line = next((ln for ln in stdout.splitlines() if ln.startswith("RESULT ")), "")
            data = json.loads(line[7:]) if line else {"ok": False, "detail": (stderr.strip().splitlines()
                                                                              or ["no output"])[-1][:240]}
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            data = {"ok": False, "detail": f"no answer within {timeout + 20:.0f} s (killed)"}
        broker_says = ""
        if data["ok"] and client == "confluent-kafka":
            try:
                d = describe(conn, group)
                broker_says = f"group type {d['type']}, assignor {d['assignor']} (broker-side)"
            except Exception as exc:
                broker_says = f"describe failed: {exc}"[:120]
        rows.append({"client": client, "KIP-848 consumer protocol": "✓ yes" if data["ok"] else "✗ no",
                     "what happened": data["detail"], "broker's view": broker_says})
    return pd.DataFrame(rows).set_index("client")


def moved_settings(conn: ConnLike) -> "pd.DataFrame":
    """What confluent-kafka says, live, when a consumer-protocol member sets a classic-only setting."""
    import pandas as pd
    from confluent_kafka import Consumer

    rows = []
    for name, value in (("session.timeout.ms", 10000), ("heartbeat.interval.ms", 500),
                        ("partition.assignment.strategy", "range")):
        try:
            Consumer(ck_conf(conn, {"group.id": "never-joins", "group.protocol": "consumer", name: value})).close()
            said = "accepted"
        except Exception as exc:  # librdkafka refuses to build the consumer: its message, as it is
            said = str(exc).split('str="', 1)[-1].rstrip('"}')
        rows.append({"setting": f"{name}={value}", "confluent-kafka with group.protocol=consumer says": said})
    return pd.DataFrame(rows).set_index("setting")
