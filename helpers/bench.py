"""The 2016 Python-client throughput benchmark, reproduced on a real broker, with Kafka's own Java client as baseline.

Method (after Activision Game Science's 2016 study, see ``data/benchmark-2016.csv``):

* ``messages`` messages of ``size`` bytes (1,000,000 x 100 B for the full run) into a fresh
  one-partition topic per client and repetition, deleted afterwards;
* every client gets the same stated settings (:data:`BASELINE`: acks=1, linger 5 ms, no compression,
  idempotence off), everything else at the client's defaults;
* the producer is timed up to and including its final flush; then the harness checks the broker
  holds exactly ``messages`` records (high watermark), reads them once itself to warm the broker's
  page cache (a second count), and the client's consumer is timed on that second, warm read: from
  assigning the partition at its known low watermark to the last record, with CRC checks off
  (see :mod:`helpers.bench_workers`; building and connecting the client is ``startup_s``);
* each client and role runs in a fresh subprocess (:mod:`helpers.bench_workers`); Java runs
  ``org.apache.kafka.tools.ProducerPerformance`` and ``ConsumerPerformance`` from the kafka-tools jar;
* several repetitions; :func:`summarise` gives the median with min and max, the fraction of the
  Java figure, and the ratio to 2016.

Sizes in MB are MiB (2**20 bytes), as in the 2016 study and Kafka's own tools.
A measurement that fails keeps its row with ``status`` and the client's real ``error``; no figure is
ever invented. A run where the counts do not match raises :class:`MessageLossError`.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import difflib
import importlib.metadata as md
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from . import admin, broker, clients, offsets
from .errors import ConfigError, WorkbookError

CLIENTS: tuple[str, ...] = ("kafka-python", "pykafka", "pykafka+librdkafka", "confluent-kafka",
                            "confluent-kafka-aio", "aiokafka", "java")
"""Every variant, Python clients first; ``java`` is Kafka's own client through its perf tools."""

DESCRIPTIONS: dict[str, str] = {
    "kafka-python": "kafka-python KafkaProducer / KafkaConsumer (pure Python)",
    "pykafka": "pykafka Producer / SimpleConsumer (pure Python)",
    "pykafka+librdkafka": "pykafka with use_rdkafka=True (its C extension over librdkafka)",
    "confluent-kafka": "confluent-kafka Producer / Consumer (librdkafka)",
    "confluent-kafka-aio": "confluent-kafka AIOProducer / AIOConsumer (asyncio wrappers, librdkafka)",
    "aiokafka": "aiokafka AIOKafkaProducer / AIOKafkaConsumer (asyncio; record codecs in Cython)",
    "java": "Kafka's Java client: ProducerPerformance / ConsumerPerformance (kafka-tools)",
}

BASELINE: dict[str, Any] = {"acks": "1", "linger_ms": 5, "compression": "none"}
"""Settings every client gets: acks=1 as in 2016; linger 5 ms (librdkafka's default, and Java's
since Kafka 4.0) because pykafka's default of 5 s stalls and, on stop(), drops messages."""

ROLES = ("produce", "consume")
QUICK_MESSAGES = 20_000
FULL_MESSAGES = 1_000_000
MIB = 1024 * 1024

COLUMNS: tuple[str, ...] = (
    "client", "role", "repetition", "status", "messages", "message_bytes", "seconds", "msgs_per_s", "mb_per_s",
    "startup_s", "acks", "linger_ms", "batch_bytes", "compression", "client_version", "error", "started_at",
)
"""The tidy CSV's columns: one row per client, role (produce/consume) and repetition."""

DATA = Path(__file__).parent / "data"
REFERENCE_CSV = DATA / "bench-reference.csv"
REFERENCE_ENV = DATA / "bench-reference.json"
SWEEPS_CSV = DATA / "bench-sweeps.csv"
STUDY_2016_CSV = DATA / "benchmark-2016.csv"

SWEEPS: dict[str, tuple[str, list[Any]]] = {
    "size": ("message_bytes", [10, 100, 1000, 10_000]),
    "batch": ("batch_bytes", [16_384, 131_072, 1_048_576]),
    "linger": ("linger_ms", [0, 5, 50]),
    "compression": ("compression", ["none", "gzip", "snappy", "lz4", "zstd"]),
    "acks": ("acks", ["0", "1", "all"]),
}
"""Each sweep varies one setting from :data:`BASELINE`; ``size`` varies the payload size."""

SWEEP_CLIENTS: dict[str, tuple[str, ...]] = {
    "batch": ("kafka-python", "confluent-kafka", "confluent-kafka-aio", "aiokafka", "java"),
}
"""Sweeps of a setting only some clients have (pykafka batches by message count, not bytes)."""

SWEEP_BYTES = 100 * MIB
"""The size sweep sends at most this many bytes per client and size (fewer messages as they grow)."""


if TYPE_CHECKING:
    import ipywidgets
    import pandas as pd

    from .exercises import Check


class MessageLossError(WorkbookError):
    """A benchmark run where the messages produced, stored and consumed do not all agree."""


# --------------------------------------------------------------------------- availability


def client_version(client: str) -> str:
    """The version string recorded with each row."""
    try:
        if client == "java":
            return f"kafka-clients {broker.DEFAULT_VERSION}"
        if client.startswith("pykafka"):
            v = md.version("pykafka")
            return f"{v} (librdkafka {_debian_librdkafka()})" if client.endswith("librdkafka") else v
        if client.startswith("confluent-kafka"):
            import confluent_kafka

            return f"{md.version('confluent-kafka')} (librdkafka {confluent_kafka.libversion()[0]})"
        return md.version(client)
    except Exception:  # a missing client is reported by unavailable(), not here
        return "missing"


def _debian_librdkafka() -> str:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "librdkafka-dev"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def unavailable(client: str) -> str | None:
    """Why ``client`` cannot be measured on this machine, or None when it can."""
    if client == "pykafka+librdkafka" and not clients.pykafka_rdkafka_available():
        return ("pykafka's C extension pykafka.rdkafka._rd_kafka is not built "
                "(make rdkafka: librdkafka-dev, then pip install --no-binary pykafka pykafka)")
    if client == "java":
        try:
            broker.find_java()
        except WorkbookError as exc:
            return str(exc)
        if not broker.jars_ok():
            return f"the Kafka {broker.DEFAULT_VERSION} jars are not cached (make setup)"
    if client_version(client) == "missing":
        return f"{client} is not installed (make setup)"
    return None


# --------------------------------------------------------------------------- validation


def check_clients(names: Iterable[str]) -> list[str]:
    """Validate client names (order kept, duplicates dropped); unknown ones raise ConfigError with a suggestion."""
    out: list[str] = []
    for name in names:
        if name not in CLIENTS:
            close = difflib.get_close_matches(name, CLIENTS, n=1, cutoff=0.4)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"unknown client {name!r}", f"{hint}choose from: {', '.join(CLIENTS)}")
        if name not in out:
            out.append(name)
    if not out:
        raise ConfigError("no clients chosen", f"choose from: {', '.join(CLIENTS)}")
    return out


def check_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Validate neutral settings; returns BASELINE updated with them."""
    s = {**BASELINE, **settings}
    unknown = set(s) - {"acks", "linger_ms", "batch_bytes", "compression"}
    if unknown:
        raise ConfigError(f"unknown benchmark setting(s) {sorted(unknown)}",
                          "use acks, linger_ms, batch_bytes or compression")
    s["acks"] = str(s["acks"]).lower()
    if s["acks"] in ("-1",):
        s["acks"] = "all"
    if s["acks"] not in ("0", "1", "all"):
        raise ConfigError(f"acks={s['acks']!r} is not a Kafka acks setting", "use 0, 1 or all")
    if s["compression"] not in SWEEPS["compression"][1]:
        raise ConfigError(f"unknown compression {s['compression']!r}", f"use one of {SWEEPS['compression'][1]}")
    for key in ("linger_ms", "batch_bytes"):
        if key in s and (not isinstance(s[key], int) or s[key] < 0):
            raise ConfigError(f"{key} must be a whole number >= 0, got {s[key]!r}")
    return s


def _positive(name: str, value: Any, low: int = 1, high: int | None = None) -> int:
    try:
        n = int(str(value).replace("_", ""))
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None
    if n < low or (high is not None and n > high):
        bound = f"between {low:,} and {high:,}" if high is not None else f"at least {low:,}"
        raise ConfigError(f"{name} must be {bound}, got {n:,}")
    return n


# --------------------------------------------------------------------------- one measurement


@dataclass
class Measurement:
    """What one worker reported."""

    status: str
    seconds: float | None = None
    messages: int = 0
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _python_worker(client: str, role: str, bootstrap: str, topic: str, messages: int, size: int,
                   settings: dict[str, Any], timeout: float, start: int = 0) -> Measurement:
    cmd = [sys.executable, "-m", "helpers.bench_workers", client, role, "--bootstrap", bootstrap,
           "--topic", topic, "--messages", str(messages), "--size", str(size),
           "--settings", json.dumps(settings), "--timeout", str(timeout), "--start-offset", str(start)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 30,
                             cwd=Path(__file__).parent.parent, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    except subprocess.TimeoutExpired:
        return Measurement("error", error=f"worker did not finish within {timeout + 30:.0f} s (killed)")
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("{"):
            r = json.loads(line)
            return Measurement(r["status"], r.get("seconds"), int(r.get("messages", 0)), r.get("error", ""),
                               {"startup_s": r["startup_s"]} if "startup_s" in r else {})
    tail = [ln for ln in out.stderr.splitlines() if ln.strip()][-1:] or [f"exit status {out.returncode}"]
    return Measurement("error", error=f"worker crashed: {tail[0][:300]}")


def _java(cls: str, args: list[str], timeout: float) -> subprocess.CompletedProcess[str] | str:
    try:
        java, _ = broker.find_java()
        cmd = [java, "-Xmx512m", "-cp", broker.classpath(), f"org.apache.kafka.tools.{cls}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 30)
    except subprocess.TimeoutExpired:
        return f"{cls} did not finish within {timeout + 30:.0f} s (killed)"
    except WorkbookError as exc:
        return str(exc)


def _java_error(proc: subprocess.CompletedProcess[str] | str, cls: str) -> str:
    if isinstance(proc, str):
        return proc
    lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip() and not ln.startswith("log4j:")]
    return f"{cls} exit {proc.returncode}: " + (lines[-1][:300] if lines else "no output")


_JAVA_PRODUCE = re.compile(r"^(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\)", re.M)


def parse_producer_performance(text: str) -> tuple[int, float]:
    """``(records, records_per_second)`` from ProducerPerformance's final summary line."""
    found = _JAVA_PRODUCE.findall(text)
    if not found:
        raise ValueError("no 'records sent' summary in ProducerPerformance output")
    records, rate, _ = found[-1]
    return int(records), float(rate)


def parse_consumer_performance(text: str) -> dict[str, float]:
    """ConsumerPerformance's CSV summary as a dict (``data.consumed.in.nMsg``, ``fetch.time.ms``, ...)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for i, ln in enumerate(lines):
        if ln.startswith("start.time") and i + 1 < len(lines):
            keys = [k.strip() for k in ln.split(",")]
            values = [v.strip() for v in lines[i + 1].split(",")]
            return {k: float(v) for k, v in zip(keys, values) if k not in ("start.time", "end.time")}
    raise ValueError("no summary in ConsumerPerformance output")


def _java_produce(bootstrap: str, topic: str, messages: int, size: int, settings: dict[str, Any],
                  timeout: float, workdir: Path) -> Measurement:
    from .bench_workers import payload

    pfile = workdir / f"payload-{size}.txt"  # the same bytes the Python clients send
    pfile.write_bytes(payload(size))
    props = [f"bootstrap.servers={bootstrap}", f"acks={'all' if settings['acks'] == 'all' else settings['acks']}",
             "enable.idempotence=false", f"compression.type={settings['compression']}"]
    if "linger_ms" in settings:
        props.append(f"linger.ms={settings['linger_ms']}")
    if "batch_bytes" in settings:
        props.append(f"batch.size={settings['batch_bytes']}")
    proc = _java("ProducerPerformance", ["--topic", topic, "--num-records", str(messages), "--payload-file", str(pfile),
                                         "--throughput", "-1", "--producer-props", *props], timeout)
    if isinstance(proc, str) or proc.returncode != 0:
        return Measurement("error", error=_java_error(proc, "ProducerPerformance"))
    try:
        records, rate = parse_producer_performance(proc.stdout)
    except ValueError as exc:
        return Measurement("error", error=str(exc))
    return Measurement("ok", records / rate, records)


def _java_consume(bootstrap: str, topic: str, messages: int, timeout: float) -> Measurement:
    proc = _java("ConsumerPerformance", ["--bootstrap-server", bootstrap, "--topic", topic, "--messages", str(messages),
                                         "--timeout", str(int(timeout * 1000))], timeout)
    if isinstance(proc, str) or proc.returncode != 0:
        return Measurement("error", error=_java_error(proc, "ConsumerPerformance"))
    try:
        stats = parse_consumer_performance(proc.stdout)
    except ValueError as exc:
        return Measurement("error", error=str(exc))
    # fetch.time.ms runs from the tool's first poll() to its last record minus the group join
    # (rebalance.time.ms, reported as startup_s); it still includes looking up the start offset
    # (OffsetFetch, ListOffsets: a round trip or two) and the first fetch. The tool sets
    # check.crcs=false. The Python consumers are timed from assignment at a known offset instead.
    return Measurement("ok", stats["fetch.time.ms"] / 1000, int(stats["data.consumed.in.nMsg"]),
                       extra={"startup_s": stats["rebalance.time.ms"] / 1000})


# --------------------------------------------------------------------------- accounting


def stored_count(bootstrap: str, topic: str) -> int:
    """How many records partition 0 of ``topic`` holds (high watermark minus low watermark)."""
    low, high = offsets.watermarks(bootstrap, topic)[0]
    return high - low


def warm_read(bootstrap: str, topic: str, expected: int, timeout: float) -> int:
    """Read the whole partition once (librdkafka, fast) so the timed read finds it in the page cache; returns the count.

    It counts in its own loop rather than :func:`helpers.clients.bounded_poll`, which keeps every message
    (a million of them here).
    """
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    c = Consumer(clients.ck_conf(bootstrap, {"group.id": "bench-warm", "enable.auto.commit": False}))
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        got, deadline = 0, time.monotonic() + timeout
        while got < expected and time.monotonic() < deadline:
            got += sum(1 for m in c.consume(num_messages=1000, timeout=0.5) if m.error() is None)
        return got
    finally:
        c.close()


# --------------------------------------------------------------------------- one variant


def _row(client: str, role: str, rep: int, size: int, settings: dict[str, Any], m: Measurement, wanted: int,
         started: str) -> dict[str, Any]:
    ok = m.status == "ok" and m.seconds is not None and m.seconds > 0
    if m.status == "ok" and not ok:  # a figure needs a time: never an "ok" row without one
        m = Measurement("error", m.seconds, m.messages, f"no time measured (seconds={m.seconds!r})", m.extra)
    return {
        "client": client, "role": role, "repetition": rep, "status": m.status,
        "messages": m.messages if m.status != "skipped" else wanted, "message_bytes": size,
        "seconds": round(m.seconds, 4) if ok else None,
        "msgs_per_s": round(m.messages / m.seconds, 1) if ok else None,
        "mb_per_s": round(m.messages * size / m.seconds / MIB, 3) if ok else None,
        "startup_s": round(m.extra["startup_s"], 4) if "startup_s" in m.extra else None,
        "acks": settings["acks"], "linger_ms": settings.get("linger_ms"), "batch_bytes": settings.get("batch_bytes"),
        "compression": settings["compression"], "client_version": client_version(client), "error": m.error,
        "started_at": started,
    }


def run_variant(client: str, bootstrap: str, messages: int, size: int, settings: dict[str, Any] | None = None,
                repetition: int = 1, timeout: float | None = None,
                roles: tuple[str, ...] = ("produce", "consume")) -> list[dict[str, Any]]:
    """Measure one client once: fresh topic, timed produce, accounting, warm read, timed consume, delete.

    Returns a row per role (produce, consume). Counts that disagree give status ``lost`` and no figure.
    With ``roles=("produce",)`` the read is skipped but the stored count is still checked.
    """
    s = check_settings(settings or {})
    timeout = timeout or max(60.0, messages / 2000)  # generous: pure-Python clients on a busy machine
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    why = unavailable(client)
    if why:
        skipped = Measurement("skipped", error=why)
        return [_row(client, r, repetition, size, s, skipped, messages, started) for r in roles]
    topic = admin.create_topic(bootstrap, admin.unique_topic(f"bench-{client.replace('+', '-')}"),
                               config={"max.message.bytes": str(max(1_048_588, size * 2 + 1024))})
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
            if client == "java":
                prod = _java_produce(bootstrap, topic, messages, size, s, timeout, Path(tmp))
            else:
                prod = _python_worker(client, "produce", bootstrap, topic, messages, size, s, timeout)
        stored = stored_count(bootstrap, topic)
        if prod.status == "ok" and stored != messages:
            prod = Measurement("lost", error=f"sent {messages:,} but the broker holds {stored:,}")
        rows.append(_row(client, "produce", repetition, size, s, prod, messages, started))
        if "consume" not in roles:
            return rows
        if prod.status != "ok":
            cons = Measurement("skipped", error=f"produce {prod.status}: nothing reliable to read")
        else:
            warm = warm_read(bootstrap, topic, messages, timeout)
            if warm != messages:
                cons = Measurement("lost", error=f"warm-up read found {warm:,} of {messages:,}")
            elif client == "java":
                cons = _java_consume(bootstrap, topic, messages, timeout)
            else:
                low = offsets.watermarks(bootstrap, topic)[0][0]  # where the timed read starts, no lookup
                cons = _python_worker(client, "consume", bootstrap, topic, messages, size, s, timeout, low)
            if cons.status == "ok" and cons.messages != messages:
                cons = Measurement("lost", messages=cons.messages,
                                   error=f"consumer read {cons.messages:,} of {messages:,}")
        rows.append(_row(client, "consume", repetition, size, s, cons, messages, started))
    finally:
        admin.delete_topic(bootstrap, topic)
    return rows


# --------------------------------------------------------------------------- runs


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="run", disable=not enabled, leave=True)


def run(clients_: Iterable[str] = CLIENTS, messages: int = QUICK_MESSAGES, size: int = 100, repeat: int = 1,
        settings: dict[str, Any] | None = None, bootstrap: str | None = None, progress: bool = True,
        check: bool = True):
    """Run the benchmark and return the tidy DataFrame (:data:`COLUMNS`).

    Repetitions are interleaved (every client once, then every client again) so a burst of load
    from elsewhere on the machine does not land on one client's repetitions only. With ``check``
    a run whose counts disagree raises :class:`MessageLossError` after all rows are collected
    (they are in ``exc.rows``).
    """
    import pandas as pd

    names = check_clients(clients_)
    messages = _positive("messages", messages, 1, 50_000_000)
    size = _positive("size", size, 1, 1_000_000)
    repeat = _positive("repeat", repeat, 1, 50)
    s = check_settings(settings or {})
    bootstrap = bootstrap or broker.bootstrap()
    broker.check_reachable(bootstrap, timeout=10)
    rows: list[dict[str, Any]] = []
    with _progress(len(names) * repeat, f"bench {messages:,} x {size} B", progress) as bar:
        for rep in range(1, repeat + 1):
            for client in names:
                bar.set_postfix_str(f"{client} #{rep}")
                rows.extend(run_variant(client, bootstrap, messages, size, s, rep))
                bar.update()
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    if check:
        check_accounting(df)
    return df


def check_accounting(df) -> None:
    """Raise MessageLossError naming every row whose counts disagreed (status ``lost``, which includes
    a consumer that ran out of time before reading them all)."""
    lost = df[df["status"] == "lost"]
    if len(lost):
        detail = "; ".join(f"{r.client} {r.role} #{r.repetition}: {r.error}" for r in lost.itertuples())
        exc = MessageLossError(f"MESSAGE COUNTS DO NOT AGREE: {detail}",
                               "no figure was recorded for these rows; see their error column")
        exc.rows = df  # type: ignore[attr-defined]
        raise exc


def sweep(kind: str, clients_: Iterable[str] = CLIENTS, messages: int = 300_000, bootstrap: str | None = None,
          progress: bool = True, values: list[Any] | None = None):
    """Vary one setting (:data:`SWEEPS`) for each client that has it, one repetition each.

    Returns the tidy rows plus ``sweep`` and ``value`` columns. Producer-setting sweeps time the
    producer only (the stored count is still checked); the size sweep times both roles, with at
    most :data:`SWEEP_BYTES` per point. Losses are kept as ``lost`` rows, not raised: they are findings.
    """
    import pandas as pd

    if kind not in SWEEPS:
        close = difflib.get_close_matches(kind, SWEEPS, n=1)
        raise ConfigError(f"unknown sweep {kind!r}", f"{'did you mean ' + repr(close[0]) + '? ' if close else ''}"
                                                     f"choose from {', '.join(SWEEPS)}")
    names = [c for c in check_clients(clients_) if c in SWEEP_CLIENTS.get(kind, CLIENTS)]
    messages = _positive("messages", messages, 1, 50_000_000)
    bootstrap = bootstrap or broker.bootstrap()
    key, default_values = SWEEPS[kind]
    values = list(values or default_values)
    rows: list[dict[str, Any]] = []
    with _progress(len(names) * len(values), f"sweep {kind}", progress) as bar:
        for value in values:
            for client in names:
                bar.set_postfix_str(f"{client} {key}={value}")
                if kind == "size":
                    size, s, n, roles = int(value), {}, max(1000, min(messages, SWEEP_BYTES // int(value))), ROLES
                else:
                    size, s, n, roles = 100, {key: value}, messages, ("produce",)
                for r in run_variant(client, bootstrap, n, size, s, roles=roles):
                    rows.append({**r, "sweep": kind, "value": str(value)})
                bar.update()
    return pd.DataFrame(rows, columns=[*COLUMNS, "sweep", "value"])


# --------------------------------------------------------------------------- environment and summary


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(bootstrap: str | None = None, note: str = "") -> dict[str, Any]:
    """What a reader needs to interpret the figures: clients, Kafka, CPU, cores, Python, load."""
    import psutil

    bootstrap = bootstrap or broker.bootstrap()
    st = broker.status(broker.DEFAULT_PORT)
    kafka = st.get("version") if st.get("running") and st.get("bootstrap") == bootstrap else "external (unknown)"
    try:
        java = subprocess.run([broker.find_java()[0], "-version"], capture_output=True, text=True, timeout=20)
        java_version = java.stderr.splitlines()[0] if java.stderr else "?"
    except (WorkbookError, OSError, subprocess.TimeoutExpired):
        java_version = "missing"
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.node(),
        "cpu_model": _cpu_model(),
        "cores_logical": os.cpu_count(),
        "cores_physical": psutil.cpu_count(logical=False),
        "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "load_average_1m_5m_15m": [round(x, 2) for x in os.getloadavg()],
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "kafka_broker": kafka,
        "bootstrap": bootstrap,
        "java": java_version,
        "clients": {c: client_version(c) for c in CLIENTS},
        "settings": {**BASELINE, "idempotence": False, "other": "client defaults"},
        "note": note,
    }


def load_2016() -> "pd.DataFrame":
    """The 2016 study's published figures (Kafka 0.9, 2.2 GHz i7 laptop, Docker in Vagrant)."""
    import pandas as pd

    return pd.read_csv(STUDY_2016_CSV)


def load_reference() -> "tuple[pd.DataFrame, dict[str, Any]]":
    """The committed full run: ``(rows, environment)``."""
    import pandas as pd

    return pd.read_csv(REFERENCE_CSV), json.loads(REFERENCE_ENV.read_text())


def summarise(df: "pd.DataFrame") -> "pd.DataFrame":
    """Median, min and max msgs/s and MiB/s per client and role (ok rows only), with the fraction of
    Java's median (``of_java``) and the ratio to the 2016 figure (``vs_2016``, where 2016 measured it).

    For consumers, ``with_startup`` (median, ``with_startup_min``/``_max``) counts ``startup_s`` in
    the time, as the 2016 study's clock did (it started before the consumer was built), and
    ``vs_2016_with_startup`` compares that with 2016: like with like."""
    import pandas as pd

    ok = df[df["status"] == "ok"].copy()
    total = ok["seconds"] + ok["startup_s"]
    ok["with_startup"] = (ok["messages"] / total).where((ok["role"] == "consume") & ok["startup_s"].notna())
    g = ok.groupby(["client", "role"])
    out = g["msgs_per_s"].agg(median="median", min="min", max="max", runs="count").reset_index()
    out["mb_per_s"] = g["mb_per_s"].median().values
    ws = g["with_startup"].agg(["median", "min", "max"]).values
    out["with_startup"], out["with_startup_min"], out["with_startup_max"] = ws[:, 0], ws[:, 1], ws[:, 2]
    java = out[out["client"] == "java"].set_index("role")["median"]
    out["of_java"] = out.apply(lambda r: r["median"] / java[r["role"]] if r["role"] in java.index else float("nan"),
                               axis=1)
    old = load_2016().set_index(["client", "role"])["msgs_per_s"]
    out["msgs_per_s_2016"] = [old.get((c, r), float("nan")) for c, r in zip(out["client"], out["role"])]
    out["vs_2016"] = out["median"] / out["msgs_per_s_2016"]
    out["vs_2016_with_startup"] = out["with_startup"] / out["msgs_per_s_2016"]
    failed = df[df["status"] != "ok"].groupby(["client", "role"])["error"].first().reset_index()
    failed = failed[~failed.set_index(["client", "role"]).index.isin(out.set_index(["client", "role"]).index)]
    out["error"] = ""
    if len(failed):
        out = pd.concat([out, failed], ignore_index=True)
    order = {c: i for i, c in enumerate(CLIENTS)}
    out = out.sort_values(["role", "client"], key=lambda s: s.map(order) if s.name == "client" else s.map(
        {"produce": 0, "consume": 1}))
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- harness overhead


_BARE_LOOP = """
import sys, time
from confluent_kafka import Producer


def main(bootstrap, topic, n, size):  # a function, as in the worker: module-level names would be slower globals
    value = (b"kafkatest" * (size // 9 + 1))[:size]
    p = Producer({"bootstrap.servers": bootstrap, "acks": "1", "enable.idempotence": False, "linger.ms": 5,
                  "compression.type": "none", "log_level": 4})
    produce, poll = p.produce, p.poll
    start = time.perf_counter()
    for _ in range(n):
        while True:
            try:
                produce(topic, value)
                break
            except BufferError:
                poll(0.05)
    assert p.flush(120) == 0
    return time.perf_counter() - start


print(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
"""


def overhead(messages: int = 200_000, size: int = 100, repeat: int = 5, bootstrap: str | None = None,
             progress: bool = True) -> dict[str, Any]:
    """Compare confluent-kafka's producer inside the harness with a bare produce-and-flush loop.

    Both run ``repeat`` times, alternating, each in a fresh process into a fresh topic; returns the
    median seconds of each and the harness's overhead in percent (positive = harness slower).
    """
    bootstrap = bootstrap or broker.bootstrap()
    bare: list[float] = []
    harness: list[float] = []
    with _progress(repeat * 2, "harness overhead", progress) as bar:
        for _ in range(repeat):
            topic = admin.create_topic(bootstrap, admin.unique_topic("bench-bare"))
            try:
                out = subprocess.run([sys.executable, "-c", _BARE_LOOP, bootstrap, topic, str(messages), str(size)],
                                     capture_output=True, text=True, timeout=180)
                if out.returncode != 0:
                    lines = [ln for ln in out.stderr.splitlines() if ln.strip() and not ln.startswith("%")]
                    raise WorkbookError(f"bare loop failed: {lines[-1] if lines else out.returncode}")
                bare.append(float(out.stdout.strip()))
            finally:
                admin.delete_topic(bootstrap, topic)
            bar.update()
            rows = run_variant("confluent-kafka", bootstrap, messages, size)
            if rows[0]["status"] != "ok":
                raise WorkbookError(f"harness run failed: {rows[0]['error']}")
            harness.append(rows[0]["seconds"])
            bar.update()
    b, h = statistics.median(bare), statistics.median(harness)
    return {"messages": messages, "bare_seconds": bare, "harness_seconds": harness, "bare_median": b,
            "harness_median": h, "overhead_percent": (h - b) / b * 100}


# --------------------------------------------------------------------------- CLI


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``python -m helpers bench`` on the CLI's subparsers."""
    b = sub.add_parser("bench", help="throughput benchmark of the Python clients and the Java client",
                       description="Produce and consume N messages per client on the real broker; write a tidy CSV "
                                   "plus the environment as JSON beside it.")
    b.add_argument("--quick", action="store_true",
                   help=f"every client once with {QUICK_MESSAGES:,} messages (CI, under a minute)")
    b.add_argument("--messages", default=None, help=f"messages per client and role (default {FULL_MESSAGES:,})")
    b.add_argument("--size", default="100", help="message size in bytes (default 100)")
    b.add_argument("--clients", nargs="+", default=None, metavar="CLIENT", help=f"subset of: {' '.join(CLIENTS)}")
    b.add_argument("--repeat", default=None, help="repetitions per client (default 3; --quick: 1)")
    b.add_argument("--acks", default=BASELINE["acks"], help="0, 1 or all (default 1, as in 2016)")
    b.add_argument("--sweep", default=None,
                   help=f"instead of the benchmark, vary one setting: {', '.join(SWEEPS)}, or all of them")
    b.add_argument("--overhead", action="store_true", help="measure the harness against a bare confluent-kafka loop")
    b.add_argument("--note", default="", help="free text stored in the environment JSON (e.g. machine load)")
    b.add_argument("--out", default="bench-results.csv", help="CSV to write (environment goes to <name>.json)")
    b.add_argument("--bootstrap", default=None, help="broker address (default $KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092)")
    b.add_argument("--no-progress", action="store_true", help="no progress bars")
    return b


def cli(args: argparse.Namespace) -> int:
    """Handler for ``python -m helpers bench``; WorkbookErrors propagate to the CLI's one-line printer."""
    t0 = time.monotonic()
    names = check_clients(args.clients or CLIENTS)
    messages = _positive("--messages", args.messages or (QUICK_MESSAGES if args.quick else FULL_MESSAGES), 1, 50_000_000)
    size = _positive("--size", args.size, 1, 1_000_000)
    repeat = _positive("--repeat", args.repeat or (1 if args.quick else 3), 1, 50)
    settings = check_settings({"acks": args.acks})
    out = Path(args.out)
    if out.suffix.lower() != ".csv":
        raise ConfigError(f"--out {args.out!r} should end in .csv", "e.g. --out results.csv")
    if not out.parent.exists():
        raise ConfigError(f"--out folder {str(out.parent)!r} does not exist", "create it or pick another path")
    if args.quick and args.sweep:
        raise ConfigError("--quick and --sweep do not go together (a sweep runs 300,000 messages per point)",
                          "drop --quick, or give --sweep a smaller --messages")
    kinds = list(SWEEPS) if args.sweep == "all" else [args.sweep] if args.sweep else []
    for kind in kinds:
        if kind not in SWEEPS:
            close = difflib.get_close_matches(kind, SWEEPS, n=1)
            raise ConfigError(f"unknown sweep {kind!r}", ("did you mean " + repr(close[0]) + "? " if close else "")
                              + f"choose from {', '.join(SWEEPS)} or all")
    bootstrap = args.bootstrap or broker.bootstrap()
    if args.overhead:
        res = overhead(messages=min(messages, 200_000) if not args.messages else messages, size=size,
                       repeat=repeat if args.repeat else 5, bootstrap=bootstrap, progress=not args.no_progress)
        print(json.dumps(res, indent=1))
        return 0
    env = environment(bootstrap, args.note)
    if kinds:
        import pandas as pd

        df = pd.concat([sweep(k, names, messages if args.messages else 300_000, bootstrap, not args.no_progress)
                        for k in kinds], ignore_index=True)
    else:
        df = run(names, messages, size, repeat, settings, bootstrap, progress=not args.no_progress, check=False)
    env["elapsed_seconds"] = round(time.monotonic() - t0, 1)
    env["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    env["messages"], env["message_bytes"], env["repeat"] = messages, size, repeat
    df.to_csv(out, index=False)
    out.with_suffix(".json").write_text(json.dumps(env, indent=1) + "\n")
    if not args.sweep:
        _print_summary(summarise(df))
    else:
        print(df[["sweep", "client", "role", "value", "status", "msgs_per_s", "error"]].to_string(index=False))
    print(f"wrote {out} and {out.with_suffix('.json')} in {env['elapsed_seconds']:.0f} s")
    if not args.sweep:
        check_accounting(df)  # loud, after the CSV is written so the evidence is kept
        failed = df[df["status"] == "error"]
        if len(failed):
            raise WorkbookError(f"{len(failed)} measurement(s) failed: " + "; ".join(
                f"{r.client} {r.role} #{r.repetition}: {r.error}" for r in failed.itertuples()),
                f"their rows are in {out} with the client's error")
    return 0


def _print_summary(summary) -> None:
    for role in ("produce", "consume"):
        print(f"\n{role}: msgs/s median [min-max], MiB/s, fraction of Java, x 2016")
        for r in summary[summary["role"] == role].itertuples():
            if r.median != r.median:  # NaN: no run of this client and role succeeded
                print(f"  {r.client:<20} FAILED: {r.error}")
                continue
            print(f"  {r.client:<20} {r.median:>11,.0f} [{r.min:,.0f}-{r.max:,.0f}]  {r.mb_per_s:7.2f} MiB/s  "
                  f"{r.of_java:6.1%} of Java" + (f"  x{r.vs_2016:.2f} vs 2016" if r.vs_2016 == r.vs_2016 else ""))


# --------------------------------------------------------------------------- notebook helpers


def accounting_report(df) -> str:
    """One line per client and role: how many messages each measurement accounted for, or why not."""
    lines = []
    for r in df.itertuples():
        mark = {"ok": "all accounted for", "skipped": "skipped", "lost": "COUNTS DISAGREE", "error": "failed"}[r.status]
        detail = f" ({r.error})" if r.error and isinstance(r.error, str) else ""
        lines.append(f"{r.client:<20} {r.role:<8} #{r.repetition}: {r.messages:>9,} messages, {mark}{detail}")
    return "\n".join(lines)


def check_fraction(summary: "pd.DataFrame", client: str, role: str, answer: float) -> "Check":
    """Exercise check: is ``answer`` the median msgs/s of ``client`` / ``role`` divided by Java's (within 1%)?"""
    from .exercises import Check

    ex = f"fraction of Java ({client}, {role})"
    rows = summary[(summary["client"] == client) & (summary["role"] == role)]
    if rows.empty or rows["median"].isna().all():
        return Check(ex, False, f"there is no {client} {role} figure in this summary",
                     f"check the spelling: one of {', '.join(CLIENTS)}; role produce or consume")
    want = float(rows["of_java"].iloc[0])
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or answer != answer:
        return Check(ex, False, f"{answer!r} is not a number", "give a fraction, e.g. 0.25 for a quarter of Java's rate")
    if abs(answer - want) <= 0.01 * want:
        return Check(ex, True, f"{client} {role}s at {want:.1%} of the Java client's rate")
    if abs(answer - want * 100) <= want:
        return Check(ex, False, f"{answer} looks like a percentage", "give a fraction: 0.25, not 25")
    if want and abs(answer - 1 / want) <= 0.01 / want:
        return Check(ex, False, f"{answer} is upside down", "divide the client's median by Java's, not the reverse")
    return Check(ex, False, f"{answer} is not the fraction in this summary",
                 "take the median msgs_per_s of the ok rows for that client and role, and divide it by "
                 "the Java client's median for the same role")


def launcher() -> "ipywidgets.VBox":
    """A small form (ipywidgets) to start a bigger run from the notebook; nothing runs until its button is pressed."""
    import ipywidgets as w
    from IPython.display import display

    messages = w.Dropdown(options=[("100 thousand", 100_000), ("300 thousand", 300_000), ("1 million", 1_000_000)],
                          value=100_000, description="messages")
    repeat = w.IntSlider(value=1, min=1, max=5, description="repetitions")
    chosen = w.SelectMultiple(options=CLIENTS, value=CLIENTS, rows=len(CLIENTS), description="clients")
    size = w.Dropdown(options=[10, 100, 1000, 10_000], value=100, description="bytes")
    button = w.Button(description="Run benchmark", button_style="primary", icon="play")
    out = w.Output()

    def go(_: object) -> None:
        button.disabled = True
        with out:
            out.clear_output()
            try:
                df = run(chosen.value, messages.value, size.value, repeat.value, check=False)
                display(summarise(df))
                check_accounting(df)
            except WorkbookError as exc:
                print(f"error: {exc}")
            finally:
                button.disabled = False

    button.on_click(go)
    return w.VBox([w.HBox([messages, size, repeat]), chosen, button, out])
