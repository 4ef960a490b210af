"""Kafka 3.9 and Kafka 4.x side by side: which Python client still works, measured live.

Kafka 4.0 removed the oldest versions of several protocol requests (KIP-896): among them
Produce v0-v2, Fetch v0-v3, ListOffsets v0 and OffsetCommit v0-v1. pykafka 2.8.0, frozen in
2018, knows no newer versions: with its default ``broker_version='0.9.0'`` it uses a built-in
table, and with ``broker_version >= '0.10.0'`` it does send ApiVersions, but the newest it can
speak are still Produce v0 and Fetch v2. Either way a 4.x broker closes its connections.
kafka-python and confluent-kafka negotiate versions with ApiVersions and keep working.

:func:`start_kafka4` starts a 4.x broker on a free port beside the 3.9 one; :func:`matrix`
runs the same produce and consume with each client against every broker, each attempt in a
subprocess with a deadline (a client that hangs cannot hang the notebook), and returns what
happened: the client's own exception, and the broker's log line explaining it.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import admin, broker, clients
from .clients import CLIENTS
from .connection import ConnLike, as_connection, bootstrap_of, ck_conf, kp_conf, pk_conf
from .errors import BrokerStartError, WorkbookError

KAFKA4_VERSION = "4.4.0"  # the newest 4.x Maven Central serves (checked 2026-12); lesson 05 and 10 start it
STEPS = ("produce", "consume")
# the requests pykafka 2.8.0 sends, with the version it uses (the newest its protocol/ modules know; with the
# default broker_version='0.9.0' it skips ApiVersions and uses its built-in table, cluster.py fetch_api_versions)
PYKAFKA_REQUESTS = {"Produce": (0, 0), "Fetch": (1, 2), "ListOffsets": (2, 0), "Metadata": (3, 0),
                    "OffsetCommit": (8, 1), "OffsetFetch": (9, 1), "FindCoordinator": (10, 0),
                    "JoinGroup": (11, 0), "Heartbeat": (12, 0), "LeaveGroup": (13, 0), "SyncGroup": (14, 0)}


def start_kafka4(version: str = KAFKA4_VERSION, quiet: bool = True) -> broker.Broker:
    """Start (and wait for) a Kafka ``version`` broker on a free port; stop it with :func:`stop_kafka4`.

    Any failure (no Java, jars not fetched, the broker exiting) is a one-line WorkbookError.
    """
    try:
        return broker.start(port=broker.free_port(), version=version, quiet=quiet, timeout=90)
    except WorkbookError:
        raise
    except Exception as exc:  # anything else from deep inside: still one line, with what to do
        raise BrokerStartError(f"Kafka {version} did not start: {type(exc).__name__}: {exc}",
                               f"run `make jars`, then `python -m helpers broker start --version {version}` "
                               "to see the broker's own log") from None


def stop_kafka4(b: broker.Broker) -> None:
    """Stop a broker :func:`start_kafka4` started and delete its run folder (data, log, config)."""
    import shutil

    broker.stop(b.port, quiet=True, wipe=True)
    if not broker.status(b.port)["running"]:
        shutil.rmtree(broker.run_dir(b.port), ignore_errors=True)


def protocol_table(brokers: dict[str, ConnLike]) -> Any:
    """For each request pykafka sends: its version, and the versions each broker accepts (live ApiVersions)."""
    import pandas as pd

    ranges = {label: broker.check_reachable(addr, timeout=5).api_versions for label, addr in brokers.items()}
    rows = []
    for name, (key, used) in PYKAFKA_REQUESTS.items():
        row: dict[str, Any] = {"request": name, "pykafka sends": f"v{used}"}
        for label, api in ranges.items():
            lo, hi = api.get(key, (None, None))
            if lo is None:
                row[label] = "✗ unknown"
                continue
            ok = lo <= used <= hi
            # Kafka 4 still *advertises* Produce v0-v2 (KAFKA-18659: old librdkafka checked for them before
            # compressing) but rejects them; ListOffsets v0 gone is the sign that KIP-896 is in force
            if name == "Produce" and ok and used <= 2 and api.get(2, (0, 0))[0] > 0:
                row[label] = f"v{lo}-v{hi} advertised, v0-v2 rejected ✗ removed"
                continue
            row[label] = f"v{lo}-v{hi} " + ("✓" if ok else "✗ removed")
        rows.append(row)
    return pd.DataFrame(rows).set_index("request")


@dataclass
class Attempt:
    """One client's produce or consume against one broker."""

    broker: str
    client: str
    step: str
    ok: bool
    detail: str
    seconds: float
    broker_says: str = ""


_PROBE = r"""
import json, sys, time, warnings, logging
warnings.filterwarnings("ignore"); logging.disable(logging.CRITICAL)
client, step, bootstrap, topic, n, timeout, config = sys.argv[1:8]
n, timeout = int(n), float(timeout)
t0 = time.monotonic()
try:
    from helpers import compat, connection
    detail = compat._run_step(client, step, connection.from_cli(bootstrap, config or None), topic, n, timeout)
    out = {"ok": True, "detail": detail}
except Exception as exc:
    out = {"ok": False, "detail": f"{type(exc).__module__}.{type(exc).__name__}: {exc}"[:300]}
out["seconds"] = round(time.monotonic() - t0, 2)
print("RESULT " + json.dumps(out), flush=True)
"""


def _run_step(client: str, step: str, conn: ConnLike, topic: str, n: int, timeout: float) -> str:
    """Produce ``n`` messages or read ``n`` back with ``client`` (runs inside the probe subprocess)."""
    values = [f"m{i}".encode() for i in range(n)]
    if step == "produce":
        if client == "kafka-python":
            from kafka import KafkaProducer

            p = KafkaProducer(**kp_conf(conn), max_block_ms=int(timeout * 1000))
            futures = [p.send(topic, v) for v in values]
            offsets = [f.get(timeout=timeout).offset for f in futures]
            p.close(timeout=5)
        elif client == "confluent-kafka":
            from confluent_kafka import KafkaException, Producer

            p = Producer(ck_conf(conn, {"message.timeout.ms": int(timeout * 1000)}))
            offsets = []

            def report(err: Any, msg: Any) -> None:
                if err is not None:
                    raise KafkaException(err)
                offsets.append(msg.offset())

            for v in values:
                p.produce(topic, v, on_delivery=report)
            p.flush(timeout)
        else:
            from pykafka import KafkaClient

            kc = KafkaClient(**pk_conf(conn), socket_timeout_ms=int(timeout * 1000))
            with kc.topics[topic].get_sync_producer(linger_ms=0, min_queued_messages=1, max_retries=1) as p:
                for v in values:
                    p.produce(v)
            offsets = list(range(n))
        if len(offsets) != n:
            raise RuntimeError(f"only {len(offsets)} of {n} delivered")
        return f"{n} delivered"
    # consume: read from the beginning of partition 0
    if client == "pykafka":
        from pykafka import KafkaClient
        from pykafka.common import OffsetType

        kc = KafkaClient(**pk_conf(conn), socket_timeout_ms=int(timeout * 1000))
        c = kc.topics[topic].get_simple_consumer(auto_offset_reset=OffsetType.EARLIEST, reset_offset_on_start=True,
                                                consumer_timeout_ms=int(timeout * 1000))
        try:
            got = [m.value for m in clients.bounded_poll(lambda: clients.pk_poll_one(c), n, timeout)]
        finally:
            c.stop()
    else:
        got = clients.read_partition(client, conn, topic, n, timeout=timeout)
    if got != values:
        raise RuntimeError(f"read {len(got)} of {n} messages")
    return f"{n} read back"


def _broker_says(b: broker.Broker | None, since_bytes: int) -> str:
    """The broker's own explanation (an UnsupportedVersionException line) logged since ``since_bytes``."""
    if b is None or not b.log_file:
        return ""
    try:
        with open(b.log_file, "rb") as fh:
            fh.seek(since_bytes)
            text = fh.read().decode(errors="replace")
    except OSError:
        return ""
    lines = {line.split("UnsupportedVersionException: ", 1)[1].strip()
             for line in text.splitlines() if "UnsupportedVersionException: " in line}
    return "; ".join(sorted(lines))


def _log_size(b: broker.Broker | None) -> int:
    """How many bytes the broker's log file holds now (0 without one): where :func:`_broker_says` starts reading."""
    try:
        return Path(b.log_file).stat().st_size if b and b.log_file else 0
    except OSError:
        return 0


def attempt(client: str, step: str, conn: ConnLike, topic: str, n: int = 3, timeout: float = 8.0,
            handle: broker.Broker | None = None, label: str = "") -> Attempt:
    """Run one step of one client in a subprocess, killed after ``timeout`` + 20 s at most."""
    before = _log_size(handle)
    t0 = time.monotonic()
    cfg = as_connection(conn).command_config()
    cmd = [sys.executable, "-c", _PROBE, client, step, bootstrap_of(conn), topic, str(n), str(timeout), str(cfg or "")]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 20,
                             cwd=str(Path(__file__).resolve().parent.parent))
        line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), "")
        data = json.loads(line[7:]) if line else {"ok": False, "detail": (out.stderr.strip().splitlines() or
                                                                          ["no output"])[-1][:300]}
    except subprocess.TimeoutExpired:
        data = {"ok": False, "detail": f"no answer within {timeout + 20:.0f} s (killed)"}
    time.sleep(0.2)  # let the broker flush its log line
    return Attempt(label or bootstrap_of(conn), client, step, bool(data["ok"]), data["detail"],
                   data.get("seconds", round(time.monotonic() - t0, 2)), _broker_says(handle, before))


def matrix(brokers: dict[str, broker.Broker], clients: tuple[str, ...] = CLIENTS, n: int = 3,
           timeout: float = 8.0, progress: bool = False) -> list[Attempt]:
    """Every client produces ``n`` messages to, and reads ``n`` back from, every broker.

    Consume uses a topic a working client (confluent-kafka) filled, so a client that cannot
    produce is still tried as a consumer.
    """
    jobs = [(label, b, c) for label, b in brokers.items() for c in clients]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs) * 2, desc="compatibility", unit="attempt")
    results: list[Attempt] = []
    try:
        for label, b, c in jobs:
            produced = admin.create_topic(b.connection, admin.unique_topic(f"compat-{c}"))
            seeded = admin.create_topic(b.connection, admin.unique_topic(f"compat-read-{c}"))
            try:
                _seed(b.connection, seeded, n)
                results.append(attempt(c, "produce", b.connection, produced, n, timeout, b, label))
                if bar is not None:
                    bar.update(1)
                results.append(attempt(c, "consume", b.connection, seeded, n, timeout, b, label))
                if bar is not None:
                    bar.update(1)
            finally:
                admin.delete_topic(b.connection, produced, seeded)
    finally:
        if bar is not None:
            bar.close()
    return results


def _seed(conn: ConnLike, topic: str, n: int) -> None:
    """Write ``m0`` ... ``m{n-1}`` to partition 0 of ``topic`` with confluent-kafka, for the consume step."""
    from confluent_kafka import Producer

    p = Producer(ck_conf(conn))
    for i in range(n):
        p.produce(topic, f"m{i}".encode(), partition=0)
    if p.flush(10):
        raise RuntimeError("seeding failed")


def matrix_frame(results: list[Attempt]) -> Any:
    """The compatibility matrix: rows client × step, one column per broker, ✓ or ✗ with the error."""
    import pandas as pd

    data: dict[tuple[str, str], dict[str, str]] = {}
    for a in results:
        data.setdefault((a.client, a.step), {})[a.broker] = ("✓ " if a.ok else "✗ ") + a.detail
    frame = pd.DataFrame.from_dict(data, orient="index")
    frame.index.names = ["client", "step"]
    return frame


def matrix_chart(results: list[Attempt]) -> Any:
    """A heat map of the matrix: green works, red fails (altair)."""
    import altair as alt
    import pandas as pd

    df = pd.DataFrame([asdict(a) for a in results])
    df["works"] = df["ok"].map({True: "works", False: "fails"})
    df["row"] = df["client"] + " · " + df["step"]
    return alt.Chart(df, title="Produce and consume against Kafka 3.9 and 4.x (live run)").mark_rect().encode(
        x=alt.X("broker:N", title="broker", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("row:N", title="client · step"),
        color=alt.Color("works:N", scale=alt.Scale(domain=["works", "fails"], range=["#4c9f70", "#d1495b"]),
                        title="result"),
        tooltip=["client", "step", "broker", "detail", "broker_says"],
    ).properties(width=260, height=180)
