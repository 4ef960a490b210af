"""A consumer group run from a notebook: members in threads, bounded, stoppable, recorded.

:class:`GroupRunner` starts confluent-kafka consumers that subscribe to one topic in one
group. Each member is a thread polling with short timeouts; it stops when asked, when the
runner stops, or after ``max_seconds`` at the latest, so a forgotten runner cannot keep a
kernel busy. Everything that happens is recorded with a time stamp (seconds since start):

* ``events``: each member's partitions being assigned and revoked (the rebalances),
* ``marks``: what the notebook did ("c3 joins", "c1 leaves"),
* ``lag``: per-partition lag sampled every ``lag_every`` seconds (log end - committed).

``ownership()`` turns the events into intervals "member m owned partition p from t1 to t2"
for a timeline chart.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import admin
from .clients import bounded_poll
from .connection import ConnLike, ck_conf
from .errors import WorkbookError

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class _Member:
    name: str
    thread: threading.Thread
    stop: threading.Event = field(default_factory=threading.Event)
    assigned: list[int] = field(default_factory=list)
    processed: Counter = field(default_factory=Counter)
    closed: bool = False


class GroupRunner:
    """Consumers of ``topic`` in one group, each in its own thread; use as a context manager."""

    def __init__(self, conn: ConnLike, topic: str, group: str | None = None, *, session_timeout_ms: int = 10000,
                 max_seconds: float = 60.0, process_ms: float = 0.0, lag_every: float | None = 0.5,
                 assignment: str = "range", client_config: dict | None = None) -> None:
        if session_timeout_ms < 1000:
            raise WorkbookError(f"session_timeout_ms={session_timeout_ms} is below the broker's minimum (1000)",
                                "use 1000 or more (group.min.session.timeout.ms on the embedded broker)")
        self.conn, self.topic = conn, topic
        self.group = group or f"group-{uuid.uuid4().hex[:8]}"
        self.session_timeout_ms = session_timeout_ms
        self.process_ms = process_ms
        self.assignment = assignment
        self.client_config = client_config or {}
        self.max_seconds = max_seconds
        self.t0 = time.monotonic()
        self.deadline = self.t0 + max_seconds
        self.events: list[dict] = []
        self.marks: list[dict] = []
        self.lag: list[dict] = []
        self.errors: list[str] = []
        self.members: dict[str, _Member] = {}
        self._lock = threading.Lock()
        self._counter = 0
        self._stop_all = threading.Event()
        self.partitions = admin.partitions(conn, topic)
        self._sampler = None
        if lag_every:
            self._sampler = threading.Thread(target=self._sample_lag, args=(lag_every,), daemon=True,
                                             name=f"lag-{self.group}")
            self._sampler.start()

    # ------------------------------------------------------------------ recording
    def now(self) -> float:
        """Seconds since the runner started."""
        return round(time.monotonic() - self.t0, 3)

    def mark(self, label: str) -> None:
        """Put a labelled marker on the timeline (what the notebook just did)."""
        with self._lock:
            self.marks.append({"t": self.now(), "label": label})

    def _record(self, member: str, kind: str, partitions: list[int]) -> None:
        with self._lock:
            self.events.append({"t": self.now(), "member": member, "event": kind, "partitions": sorted(partitions)})

    # ------------------------------------------------------------------ members
    def add(self, name: str | None = None) -> str:
        """Start one more consumer in the group; returns its name (``c1``, ``c2``, ... by default)."""
        self._counter += 1
        name = name or f"c{self._counter}"
        if name in self.members and not self.members[name].closed:
            raise WorkbookError(f"a member called {name!r} is already running", "pick another name")
        if time.monotonic() >= self.deadline:
            raise WorkbookError(f"this runner reached its max_seconds={self.max_seconds:.0f}",
                                "start a new GroupRunner")
        member = _Member(name, threading.Thread(target=lambda: None))
        member.thread = threading.Thread(target=self._run, args=(member,), daemon=True, name=f"{self.group}-{name}")
        self.members[name] = member
        self.mark(f"{name} joins")
        member.thread.start()
        return name

    def remove(self, name: str, timeout: float = 15.0) -> None:
        """Stop one member cleanly: it commits, leaves the group, and the others rebalance at once.

        Raises a WorkbookError if its thread has not ended within ``timeout`` s (it is still asked to stop)."""
        member = self.members.get(name)
        if member is None or member.closed:
            raise WorkbookError(f"no running member {name!r}", f"running: {self.running()}")
        self.mark(f"{name} leaves")
        member.stop.set()
        member.thread.join(timeout)
        if member.thread.is_alive():
            raise WorkbookError(f"member {name!r} did not stop within {timeout:g} s (its close() is still running)",
                                "see runner.errors; a slow broker may need remove(name, timeout=30)")

    def running(self) -> list[str]:
        """Names of the members whose threads still run."""
        return [n for n, m in self.members.items() if m.thread.is_alive() and not m.closed]

    def _run(self, member: _Member) -> None:
        from confluent_kafka import Consumer

        # a short heartbeat interval makes members notice a rebalance quickly, whatever the session timeout
        conf = ck_conf(self.conn, {
            "group.id": self.group, "client.id": member.name,
            "auto.offset.reset": "earliest", "enable.auto.commit": True, "auto.commit.interval.ms": 300,
            "session.timeout.ms": self.session_timeout_ms,
            "heartbeat.interval.ms": max(100, min(500, self.session_timeout_ms // 3)),
            "partition.assignment.strategy": self.assignment, **self.client_config})
        try:
            c = Consumer(conf)
        except Exception as exc:  # a bad setting in client_config
            self.errors.append(f"{member.name}: {exc}")
            member.closed = True
            return

        def on_assign(consumer, partitions) -> None:  # noqa: ANN001 - librdkafka's callback signature
            ps = [tp.partition for tp in partitions]
            if self.assignment == "cooperative-sticky":
                member.assigned = sorted(set(member.assigned) | set(ps))
                consumer.incremental_assign(partitions)
            else:
                member.assigned = sorted(ps)
            self._record(member.name, "assigned", ps)

        def on_revoke(consumer, partitions) -> None:  # noqa: ANN001
            ps = [tp.partition for tp in partitions]
            if self.assignment == "cooperative-sticky":
                member.assigned = sorted(set(member.assigned) - set(ps))
                consumer.incremental_unassign(partitions)
            else:
                member.assigned = []
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
        except Exception as exc:  # keep the thread from dying silently
            self.errors.append(f"{member.name}: {exc!r}")
        finally:
            try:
                c.close()  # revokes (callback), commits the last offsets and sends LeaveGroup
            except Exception as exc:
                self.errors.append(f"{member.name} close: {exc!r}")
            if member.assigned:  # close() did not call on_revoke (e.g. the group was already gone)
                self._record(member.name, "revoked", member.assigned)
                member.assigned = []
            member.closed = True

    # ------------------------------------------------------------------ state
    def assignment_now(self) -> dict[str, list[int]]:
        """``{member: [partitions]}`` for the running members, as their last callbacks left it."""
        return {n: list(m.assigned) for n, m in self.members.items() if not m.closed}

    def is_stable(self) -> bool:
        """True when every running member has been (re)assigned since the notebook's last action and
        together they own every partition exactly once."""
        with self._lock:
            since = self.marks[-1]["t"] if self.marks else 0.0
            last = {}
            for ev in self.events:
                last[ev["member"]] = ev
        running = self.running()
        if not running or any(n not in last or last[n]["event"] != "assigned" or last[n]["t"] < since
                              for n in running):
            return False
        owned = [p for n in running for p in self.members[n].assigned]
        return sorted(owned) == self.partitions

    def wait_stable(self, timeout: float = 20.0, settle: float = 0.3) -> float:
        """Wait (bounded) until :meth:`is_stable` holds for ``settle`` s; returns the seconds waited."""
        start = time.monotonic()
        ok_since = None
        while time.monotonic() - start < timeout:
            if self.is_stable():
                ok_since = ok_since or time.monotonic()
                if time.monotonic() - ok_since >= settle:
                    return round(time.monotonic() - start, 2)
            else:
                ok_since = None
            time.sleep(0.05)
        raise WorkbookError(f"the group did not settle within {timeout:.0f} s (now {self.assignment_now()})",
                            "a slow machine may need a longer timeout; see runner.errors")

    def processed(self) -> dict[str, int]:
        """Messages each member has processed so far."""
        return {n: sum(m.processed.values()) for n, m in self.members.items()}

    def ownership(self) -> "pd.DataFrame":
        """A DataFrame of intervals: member, partition, start, end (seconds since start)."""
        import pandas as pd

        open_: dict[tuple[str, int], float] = {}
        rows = []
        with self._lock:
            events = list(self.events)
        for ev in events:
            for p in ev["partitions"]:
                key = (ev["member"], p)
                if ev["event"] == "assigned":
                    open_.setdefault(key, ev["t"])
                elif key in open_:
                    rows.append({"member": ev["member"], "partition": p, "start": open_.pop(key), "end": ev["t"]})
        end = self.now()
        rows += [{"member": m, "partition": p, "start": s, "end": end} for (m, p), s in open_.items()]
        return pd.DataFrame(rows, columns=["member", "partition", "start", "end"])

    def _sample_lag(self, every: float) -> None:
        from confluent_kafka import Consumer, TopicPartition

        c = Consumer(ck_conf(self.conn, {"group.id": self.group, "enable.auto.commit": False}))
        tps = [TopicPartition(self.topic, p) for p in self.partitions]
        try:
            while not self._stop_all.is_set() and time.monotonic() < self.deadline:
                try:
                    done = {tp.partition: tp.offset for tp in c.committed(tps, timeout=5)}
                    t = self.now()
                    for tp in tps:
                        low, high = c.get_watermark_offsets(tp, timeout=5, cached=False)
                        at = done[tp.partition] if done[tp.partition] >= 0 else low
                        with self._lock:
                            self.lag.append({"t": t, "partition": tp.partition, "lag": high - at})
                except Exception as exc:  # the broker being slow for a moment is not fatal here
                    self.errors.append(f"lag sampler: {exc!r}")
                self._stop_all.wait(every)
        finally:
            c.close()

    def lag_frame(self) -> "pd.DataFrame":
        """The sampled lag as a DataFrame: t, partition, lag."""
        import pandas as pd

        with self._lock:
            return pd.DataFrame(list(self.lag), columns=["t", "partition", "lag"])

    # ------------------------------------------------------------------ lifecycle
    def stop(self, timeout: float = 15.0) -> None:
        """Stop every member (each leaves the group cleanly) and the lag sampler; bounded."""
        self._stop_all.set()
        for m in self.members.values():
            m.thread.join(timeout)
        if self._sampler is not None:
            self._sampler.join(timeout)

    def __enter__(self) -> "GroupRunner":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def read_all_in_group(conn: ConnLike, topic: str, group: str, expected: int, timeout: float = 15.0) -> int:
    """One consumer in ``group`` reads ``topic`` until it has ``expected`` messages (or ``timeout``); returns
    how many it read. Two calls with two groups show that groups read independently."""
    from confluent_kafka import Consumer

    c = Consumer(ck_conf(conn, {"group.id": group, "auto.offset.reset": "earliest",
                                     "enable.auto.commit": True, "session.timeout.ms": 6000}))
    try:
        c.subscribe([topic])
        return len(bounded_poll(lambda: [m for m in c.consume(500, 0.2) if m.error() is None], expected, timeout))
    finally:
        c.close()  # commits what was read (auto commit) and leaves the group
