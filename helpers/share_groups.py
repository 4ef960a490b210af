"""Share groups (KIP-932, "queues for Kafka") with confluent-kafka's ShareConsumer, on the Kafka 4 broker.

In a consumer group a partition has one owner; in a *share group* every member may fetch from every
partition, and the broker hands out individual records: each fetched record is *acquired* (locked) for
``group.share.record.lock.duration.ms``, and the consumer acknowledges it: ACCEPT (done), RELEASE (give it
back now) or REJECT (never again). A record whose lock runs out (its consumer crashed) goes back too, with
its delivery count raised; after ``group.share.delivery.count.limit`` deliveries (5) it is archived.

:func:`run_workers` runs share consumers in threads against one partition while a producer feeds it, plus
one member in a subprocess that takes records and is killed without acknowledging them; every delivery
is recorded, so the redeliveries are counted.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .clients import ck_conf
from .connection import ConnLike, cli_args
from .errors import WorkbookError

if TYPE_CHECKING:
    import pandas as pd


def start_from_earliest(conn: ConnLike, group: str) -> None:
    """Set the share group's ``share.auto.offset.reset`` to earliest (a group config; default latest: a new
    share group would skip what is already in the topic)."""
    from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

    admin = AdminClient(ck_conf(conn))
    res = ConfigResource(ResourceType.GROUP, group, incremental_configs=[
        ConfigEntry("share.auto.offset.reset", "earliest", incremental_operation=AlterConfigOpType.SET)])
    for fut in admin.incremental_alter_configs([res]).values():
        fut.result(15)


def share_consumer(conn: ConnLike, group: str, name: str) -> Any:
    """A ShareConsumer in explicit acknowledgement mode (each record acknowledged on its own)."""
    from confluent_kafka import ShareConsumer

    return ShareConsumer(ck_conf(conn, {"group.id": group, "client.id": name,
                                             "share.acknowledgement.mode": "explicit", "log_level": 3}))


@dataclass
class Deliveries:
    """Every delivery of every record: who got it, which delivery it was, what was done with it."""

    t0: float = field(default_factory=time.monotonic)
    rows: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, worker: str, offset: int, count: int, outcome: str, t: float | None = None) -> None:
        with self._lock:
            self.rows.append({"t": round((t or time.monotonic()) - self.t0, 3), "worker": worker, "offset": offset,
                              "delivery": count, "outcome": outcome})

    def accepted(self) -> set[int]:
        with self._lock:
            return {r["offset"] for r in self.rows if r["outcome"] == "accepted"}

    def frame(self) -> "pd.DataFrame":
        import pandas as pd

        with self._lock:
            return pd.DataFrame(list(self.rows), columns=["t", "worker", "offset", "delivery", "outcome"])


def _worker(conn: ConnLike, topic: str, group: str, name: str, log: Deliveries, stop: threading.Event,
            process_s: float, release_once: frozenset[int]) -> None:
    from confluent_kafka import AcknowledgeType

    try:
        c = share_consumer(conn, group, name)
    except Exception as exc:
        log.errors.append(f"{name}: {exc}")
        return
    try:
        c.subscribe([topic])
        while not stop.is_set():
            msgs = c.poll(0.3)
            done: list[tuple[int, int]] = []
            for m in msgs:
                if m.error() is not None:
                    log.errors.append(f"{name}: {m.error()}")
                    continue
                count = m.delivery_count() or 1
                if m.offset() in release_once and count == 1:
                    c.acknowledge(m, AcknowledgeType.RELEASE)  # "not now": back to the group at once
                    log.add(name, m.offset(), count, "released")
                    continue
                time.sleep(process_s)  # the work
                c.acknowledge(m, AcknowledgeType.ACCEPT)  # one acknowledgement per record...
                done.append((m.offset(), count))
            if msgs:  # ...sent together; the broker answers per partition (a lost lock fails them)
                failed = [e for e in (c.commit_sync(10) or {}).values() if e is not None]
                for off, count in done:
                    log.add(name, off, count, f"ack failed: {failed[0]}"[:80] if failed else "accepted")
    except Exception as exc:
        log.errors.append(f"{name}: {type(exc).__name__}: {exc}")
    finally:
        try:
            c.close()
        except Exception as exc:
            log.errors.append(f"{name} close: {exc}")


_CRASHER = r"""
import json, sys, time
from helpers import share_groups
from helpers.connection import from_cli
topic, group, *rest = sys.argv[1:]
opts = dict(zip(rest[::2], rest[1::2]))  # connection.cli_args: --bootstrap B [--config FILE]
conn = from_cli(opts["--bootstrap"], opts.get("--config"))
c = share_groups.share_consumer(conn, group, "crasher")
c.subscribe([topic])
c.poll(0.5)
print("READY", flush=True)  # a member of the group now: the parent sends the first jobs...
sys.stdin.readline()        # ...and says GO once they are all on the broker
end = time.monotonic() + 30
while time.monotonic() < end:
    msgs = [m for m in c.poll(0.3) if m.error() is None]
    if msgs:  # took them; never acknowledges: it is about to be killed
        print(json.dumps([[m.offset(), m.delivery_count() or 1] for m in msgs]), flush=True)
        time.sleep(60)
"""


@dataclass
class ShareRun:
    """What :func:`run_workers` did: every delivery, the crasher's records, and the numbers that matter."""

    deliveries: Deliveries
    produced: int
    crashed_with: list[int]
    seconds: float

    def frame(self) -> "pd.DataFrame":
        return self.deliveries.frame()

    def summary(self) -> dict[str, Any]:
        df = self.frame()
        acc = df[df.outcome == "accepted"]
        redelivered = sorted(set(df[df.delivery > 1].offset))
        return {"records produced": self.produced, "records accepted": acc.offset.nunique(),
                "accepted twice": int((acc.groupby("offset").size() > 1).sum()),
                "workers that accepted records": int(acc.worker.nunique()),
                "per worker": acc.worker.value_counts().sort_index().to_dict(),
                "held by the killed member": self.crashed_with,
                "redelivered (delivery count > 1)": redelivered,
                "seconds": self.seconds}


def run_workers(conn: ConnLike, topic: str, group: str, n_records: int = 60, workers: int = 3,
                rate: float = 40.0, process_s: float = 0.02, release_once: tuple[int, ...] = (7,),
                crash: bool = True, held: int = 5, timeout: float = 60.0) -> ShareRun:
    """``workers`` share consumers (threads) in share group ``group`` on the one partition of ``topic``, while
    ``n_records`` jobs are produced at ``rate`` per second. With ``crash``, a member in a subprocess joins
    first, alone, takes the first ``held`` jobs and is SIGKILLed without acknowledging them, just as the
    workers start. A worker that gets one of the records in ``release_once`` for the first time RELEASEs it.
    Returns when every record has been accepted (or after ``timeout``)."""
    from confluent_kafka import Producer

    start_from_earliest(conn, group)
    log = Deliveries()
    stop = threading.Event()
    deadline = time.monotonic() + timeout
    p = Producer(ck_conf(conn, {"linger.ms": 0}))

    def send(first: int, last: int) -> None:
        for i in range(first, last):
            p.produce(topic, f"job-{i}".encode(), partition=0)
            p.poll(0)
            time.sleep(1 / rate)
        if p.flush(10):
            raise WorkbookError(f"jobs not delivered to {topic}", "is the Kafka 4 broker up?")

    crashed_with: list[int] = []
    crasher = None
    sent = 0
    threads = [threading.Thread(target=_worker, daemon=True, name=f"share-s{i + 1}",
                                args=(conn, topic, group, f"s{i + 1}", log, stop, process_s,
                                      frozenset(release_once)))
               for i in range(workers)]
    try:
        if crash:
            crasher = subprocess.Popen([sys.executable, "-c", _CRASHER, topic, group, *cli_args(conn)],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                       cwd=str(Path(__file__).resolve().parent.parent))
            if _read_line(crasher, min(deadline, time.monotonic() + 30)) != "READY":
                raise WorkbookError("the share consumer in the subprocess did not join within 30 s",
                                    "is the Kafka 4 broker up? kafka4.features(conn) should list share.version")
            send(0, held)
            sent = held
            assert crasher.stdin is not None
            crasher.stdin.write("GO\n")
            crasher.stdin.flush()
            line = _read_line(crasher, min(deadline, time.monotonic() + 15))
            got = json.loads(line) if line.startswith("[") else []
            crashed_with = [off for off, _count in got]
            for th in threads:
                th.start()
            t_kill = time.monotonic()
            crasher.kill()
            crasher.wait(10)
            for off, count in got:
                log.add("crasher (killed)", off, count, "held, never acknowledged", t_kill)
        else:
            for th in threads:
                th.start()
        time.sleep(0.5)
        send(sent, n_records)
        while len(log.accepted()) < n_records and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        for th in threads:
            if th.is_alive():
                th.join(15)
        if crasher is not None and crasher.poll() is None:
            crasher.kill()
            crasher.wait(10)
    return ShareRun(log, n_records, crashed_with, round(time.monotonic() - log.t0, 2))


def _read_line(proc: subprocess.Popen, deadline: float) -> str:
    """The first line the subprocess prints, or '' at the deadline (a reader thread keeps this bounded)."""
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline() if proc.stdout else ""), daemon=True)
    reader.start()
    reader.join(max(0.1, deadline - time.monotonic()))
    return box[0].strip() if box else ""


def deliveries_chart(df: "pd.DataFrame", title: str = "One partition, several share consumers: who took which record"
                     ) -> Any:
    """Each delivery as a point: time, offset, worker (colour), first delivery or a redelivery (shape)."""
    import altair as alt

    data = df.assign(which=df["delivery"].map(lambda d: "first delivery" if d == 1 else f"delivery {d}"))
    return alt.Chart(data).mark_point(filled=True, size=60).encode(
        x=alt.X("t:Q", title="seconds since the workers started"), y=alt.Y("offset:Q", title="record offset"),
        color=alt.Color("worker:N", title="consumer"), shape=alt.Shape("which:N", title=None),
        tooltip=["worker", "offset", "delivery", "outcome", "t"]).properties(width=420, height=240, title=title)
