"""The 2016 Python-client throughput benchmark, redone on a real broker, with Kafka's Java client and kcat as yardsticks.

Method (after Activision Game Science's 2016 study, see ``data/benchmark-2016.csv``):

* each client sends ``messages`` messages of ``size`` bytes (100 B in the reference run) into a fresh
  one-partition topic per client, profile and repetition (deleted afterwards), then reads them back;
* every client runs in two **profiles** (:mod:`helpers.bench_profiles`): ``defaults`` (as it comes,
  as in 2016 and the talk's code) and ``tuned`` (its best on this machine at acks=1, every setting
  named in the row); Java's tuned rows also warm the JVM up before the clock starts;
* the producer is timed from its first send to the end of its final flush (built and connected
  before); then the harness checks the broker holds exactly that many records, reads them once
  itself to warm the page cache, and the client's consumer is timed from assigning the partitions
  at their known low watermarks to the last record (built and connected before: ``startup_s``);
* each measurement runs in a fresh process (:mod:`helpers.bench_workers`; Java:
  ``helpers/java/BenchWorker.java``; kcat: the ``kcat`` command, whose process start is inside its
  clock and reported as its fixed cost); the worker reports its own CPU seconds inside the timed
  window and the harness samples the broker JVM's CPU seconds and the load average around it;
* repetitions are interleaved (every client and profile once, then again, in alternating order);
  :func:`summarise` gives medians with min and max, and :func:`ratios` per-repetition ratios to
  Java in the same profile with their min and max.

Every measurement reaches the broker through one :class:`helpers.connection.Connection` (``conn=``; by default
the one ensure_broker() finds, ``$KAFKA_CONFIG`` included): the Python workers get it as ``--bootstrap`` /
``--config`` (:func:`helpers.connection.cli_args`), the Java worker as a properties file (``@FILE``), kcat as a
librdkafka ``-F`` file. Over TLS only pykafka's rdkafka extension cannot run (skipped with pykafka's reason).

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
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from . import admin, bench_profiles, broker, clients, offsets
from .bench_profiles import PROFILES
from .connection import (Connection, ConnLike, as_connection, bootstrap_of, cli_args, from_env, pk_conf,
                         pykafka_tls_check)
from .errors import BrokerUnreachableError, ConfigError, WorkbookError

CLIENTS: tuple[str, ...] = ("kafka-python", "pykafka", "pykafka+librdkafka", "confluent-kafka",
                            "confluent-kafka-aio", "aiokafka", "java", "kcat")
"""Every variant, Python clients first; ``java`` is Kafka's own Java client, ``kcat`` a C reference (librdkafka, no Python)."""

YARDSTICKS = ("java", "kcat")

DESCRIPTIONS: dict[str, str] = {
    "kafka-python": "kafka-python KafkaProducer / KafkaConsumer (pure Python)",
    "pykafka": "pykafka Producer / SimpleConsumer (pure Python)",
    "pykafka+librdkafka": "pykafka with use_rdkafka=True (its C extension over librdkafka)",
    "confluent-kafka": "confluent-kafka Producer / Consumer (librdkafka)",
    "confluent-kafka-aio": "confluent-kafka AIOProducer / AIOConsumer (asyncio wrappers, librdkafka)",
    "aiokafka": "aiokafka AIOKafkaProducer / AIOKafkaConsumer (asyncio; record codecs in Cython)",
    "java": "Kafka's Java client (KafkaProducer / KafkaConsumer in helpers/java/BenchWorker.java)",
    "kcat": "kcat, the C command-line client on librdkafka (Debian package; no Python at all)",
}

ROLES = ("produce", "consume")
QUICK_MESSAGES = 20_000
MIB = 1024 * 1024

REFERENCE_MESSAGES: dict[str, dict[str, int]] = {
    "kafka-python": {"defaults": 200_000, "tuned": 200_000},
    "pykafka": {"defaults": 100_000, "tuned": 100_000},
    "pykafka+librdkafka": {"defaults": 500_000, "tuned": 500_000},
    "confluent-kafka": {"defaults": 1_000_000, "tuned": 5_000_000},
    "confluent-kafka-aio": {"defaults": 500_000, "tuned": 500_000},
    "aiokafka": {"defaults": 500_000, "tuned": 500_000},
    "java": {"defaults": 1_000_000, "tuned": 5_000_000},
    "kcat": {"defaults": 1_000_000, "tuned": 5_000_000},
}
"""Messages per client and profile in the reference run: 5 million for tuned Java, tuned confluent-kafka and
tuned kcat (steady state, JIT warm-up left out; the headline ratios compare them at equal counts), 1 million (the
2016 count) for the fast clients at their defaults, fewer for the slow clients, so that 5 repetitions fit in about
16 minutes on an idle 2-core machine (timed windows of 0.3 s to 46 s there). Each row records its count;
``--messages`` sets one count for all."""


COLUMNS: tuple[str, ...] = (
    "client", "profile", "role", "repetition", "status", "messages", "message_bytes", "partitions", "seconds",
    "msgs_per_s", "mb_per_s", "startup_s", "client_cpu_s", "client_cpu_s_per_M", "broker_cpu_s",
    "broker_cpu_s_per_M", "load_1m", "settings", "warmup", "client_version", "error", "started_at",
)
"""The tidy CSV's columns: one row per client, profile, role and repetition (legend: :data:`LEGEND`)."""

LEGEND: dict[str, str] = {
    "client": "the client measured (DESCRIPTIONS says what runs)",
    "profile": "defaults: the client as it comes; tuned: its best settings here (named in settings)",
    "role": "produce or consume",
    "repetition": "1..N; repetitions are interleaved across clients and profiles",
    "status": "ok, or lost / error / skipped with the reason in error (then no figure)",
    "messages": "records in this measurement (the broker's count is checked)",
    "message_bytes": "value size of each record",
    "partitions": "partitions of the topic",
    "seconds": "the timed window (client built and connected before it)",
    "msgs_per_s": "messages / seconds",
    "mb_per_s": "MiB per second of values",
    "startup_s": "building and connecting the client (untimed; kcat: its whole fixed cost is inside seconds)",
    "client_cpu_s": "the client process's CPU seconds inside the window (all threads)",
    "client_cpu_s_per_M": "client CPU seconds per million messages",
    "broker_cpu_s": "the broker JVM's CPU seconds inside the window (empty for a broker not started here)",
    "broker_cpu_s_per_M": "broker CPU seconds per million messages",
    "load_1m": "the machine's 1-minute load average when the measurement started (2 cores)",
    "settings": "the client's own settings given (JSON; {} = all defaults)",
    "warmup": "records sent (and read) before the clock started (JVM warm-up); 0 = cold",
    "client_version": "client version (and its librdkafka)",
    "error": "the client's real error for a row without a figure",
    "started_at": "UTC time the measurement started",
}

DATA = Path(__file__).parent / "data"
REFERENCE_CSV = DATA / "bench-reference.csv"
REFERENCE_ENV = DATA / "bench-reference.json"
SWEEPS_CSV = DATA / "bench-sweeps.csv"
STUDY_2016_CSV = DATA / "benchmark-2016.csv"
TALK_JSON = DATA / "bench-talk2017.json"
JAVA_WORKER = Path(__file__).parent / "java" / "BenchWorker.java"

SWEEPS: dict[str, tuple[str, list[Any]]] = {
    "size": ("message_bytes", [100, 1000, 10_000]),
    "partitions": ("partitions", [1, 4, 8]),
    "batch": ("batch_bytes", [16_384, 262_144, 1_000_000]),
    "linger": ("linger_ms", [0, 5, 50]),
    "compression": ("compression", ["none", "gzip", "snappy", "lz4", "zstd"]),
    "acks": ("acks", ["0", "1", "all"]),
}
"""Each sweep varies one thing from the tuned profile (message size, partitions, or one producer setting)."""

SWEEP_CLIENTS: tuple[str, ...] = ("confluent-kafka", "java")
"""The sweeps compare the fastest Python client with the yardstick, at matched batch.size."""

SWEEP_BATCH = 1_000_000
"""batch.size both sweep clients get (librdkafka's default), so a 10 KB record never fills a batch alone."""

BATCH_PROBE = 1000
"""Records in a fixed-cost probe: one full batch of the consumers' consume(num_messages=1000) calls, so the probe
does not wait out a timeout for a batch that a one-record topic never fills (the reference counts are multiples
of 1000, so their reads never do either)."""

SWEEP_MESSAGES = 5_000_000
"""Messages per sweep point: the reference run's count for the tuned pair, so that a warm Java consumer
(about 4 million a second here) still has a timed window of more than a second."""
SWEEP_BYTES = 500 * MIB
"""The size sweep sends at most this many bytes per point (fewer messages as they grow: 50,000 of 10 KB)."""


if TYPE_CHECKING:
    import ipywidgets
    import pandas as pd

    from .exercises import Check


CREATED: list[str] = []
"""Every topic this process's measurements created (each is deleted when its measurement ends): a lesson's
clean-up checks that none is left."""


def _conn(conn: ConnLike | None) -> Connection:
    """The connection to measure on: ``conn`` (a Connection, a plaintext ``host:port``, a broker handle), or when
    None the one ensure_broker() would use, without starting anything ($KAFKA_CONFIG, $KAFKA_BOOTSTRAP_SERVERS,
    else the embedded broker's address). Every client, worker, Java and kcat included, gets its security settings."""
    if conn is not None:
        return as_connection(conn)
    return from_env() or Connection(broker.bootstrap())


def _bs(conn: ConnLike | None) -> str | None:
    """Only the bootstrap string (connection.bootstrap_of; None stays None). Kept for helpers.answer; the benchmark
    itself passes the whole Connection on (:func:`_conn`), so security settings reach every worker."""
    return None if conn is None else bootstrap_of(conn)


class MessageLossError(WorkbookError):
    """A benchmark run where the messages produced, stored and consumed do not all agree."""


# --------------------------------------------------------------------------- availability


def client_version(client: str) -> str:
    """The version string recorded with each row."""
    try:
        if client == "java":
            return f"kafka-clients {broker.DEFAULT_VERSION}"
        if client == "kcat":
            return _kcat_version()
        if client.startswith("pykafka"):
            v = md.version("pykafka")
            return f"{v} (librdkafka {_debian_librdkafka()})" if client.endswith("librdkafka") else v
        if client.startswith("confluent-kafka"):
            import confluent_kafka

            return f"{md.version('confluent-kafka')} (librdkafka {confluent_kafka.libversion()[0]})"
        return md.version(client)
    except Exception:  # a missing client is reported by unavailable(), not here
        return "missing"


def _kcat_version() -> str:
    exe = shutil.which("kcat")
    if not exe:
        return "missing"
    return parse_kcat_version(subprocess.run([exe, "-V"], capture_output=True, text=True, timeout=10).stdout)


def parse_kcat_version(text: str) -> str:
    """``kcat -V``'s version and librdkafka's, e.g. ``1.7.1 (librdkafka 2.0.2)`` from its
    ``Version 1.7.1 (JSON, ..., librdkafka 2.0.2 builtin.features=...)`` line."""
    kcat = re.search(r"^Version (\S+)", text, re.MULTILINE)
    lib = re.search(r"librdkafka (?:version )?v?(\d[\w.\-]*)", text)
    return f"{kcat[1] if kcat else '?'} (librdkafka {lib[1] if lib else '?'})"


def _debian_librdkafka() -> str:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "librdkafka-dev"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def unavailable(client: str, conn: ConnLike | None = None) -> str | None:
    """Why ``client`` cannot be measured on this machine (or, given ``conn``, over that connection), or None when
    it can. Over TLS that is pykafka's rdkafka extension only (connection.PYKAFKA_TLS_LIMITS); over SASL, pykafka."""
    if conn is not None and client.startswith("pykafka"):
        c = as_connection(conn)
        try:
            pykafka_tls_check(c, use_rdkafka=client == "pykafka+librdkafka")
            pk_conf(c)  # pykafka 2.8.0 has no SASL
        except ConfigError as exc:
            return f"over {c.security_protocol}: {exc.what}"
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
    if client == "kcat" and not shutil.which("kcat"):
        return "kcat is not installed (make kcat: the Debian package kcat; needs root and apt-get)"
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


def check_profiles(names: Iterable[str]) -> list[str]:
    """Validate profile names (``both`` means every profile)."""
    out: list[str] = []
    for name in names:
        if name == "both":
            return list(PROFILES)
        if name not in PROFILES:
            close = difflib.get_close_matches(name, PROFILES, n=1, cutoff=0.4)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"unknown profile {name!r}", f"{hint}choose from: {', '.join(PROFILES)} or both")
        if name not in out:
            out.append(name)
    return out or list(PROFILES)


def check_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Validate neutral sweep settings (acks, linger_ms, batch_bytes, compression); returns them normalised."""
    s = dict(settings)
    unknown = set(s) - {"acks", "linger_ms", "batch_bytes", "compression"}
    if unknown:
        raise ConfigError(f"unknown benchmark setting(s) {sorted(unknown)}",
                          "use acks, linger_ms, batch_bytes or compression")
    if "acks" in s:
        s["acks"] = str(s["acks"]).lower()
        if s["acks"] == "-1":
            s["acks"] = "all"
        if s["acks"] not in ("0", "1", "all"):
            raise ConfigError(f"acks={s['acks']!r} is not a Kafka acks setting", "use 0, 1 or all")
    if "compression" in s and s["compression"] not in SWEEPS["compression"][1]:
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


def broker_pid(conn: ConnLike) -> int | None:
    """The pid of the embedded broker serving ``conn`` (its CPU is sampled), or None for another broker."""
    bootstrap = as_connection(conn).bootstrap
    try:
        port = int(bootstrap.split(",")[0].rsplit(":", 1)[1])
        st = broker.status(port)
    except (ValueError, IndexError, WorkbookError):
        return None
    return int(st["pid"]) if st.get("running") and st.get("bootstrap") == bootstrap else None


def _cpu_of(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        import psutil

        t = psutil.Process(pid).cpu_times()
        return t.user + t.system
    except Exception:  # the broker went away: no figure, not a crash
        return None


def _watch(cmd: list[str], timeout: float, bpid: int | None, cwd: Path | None = None,
           env: dict[str, str] | None = None) -> tuple[int | None, list[str], str, float | None]:
    """Run a worker; sample the broker's CPU at its ``#clock-start`` / ``#clock-stop`` markers.

    Returns ``(exit status or None when killed, stdout lines, stderr tail, broker CPU seconds in the window)``.
    """
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, env=env,
                            stdin=subprocess.DEVNULL)
    lines: list[str] = []
    marks: dict[str, float | None] = {}
    err: list[str] = []
    t_err = threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
    t_err.start()

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            line = line.rstrip("\n")
            if line in ("#clock-start", "#clock-stop"):
                marks[line] = _cpu_of(bpid)
            else:
                lines.append(line)

    t_out = threading.Thread(target=read, daemon=True)
    t_out.start()
    try:
        code: int | None = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        code = None
    t_out.join(5)
    t_err.join(5)
    a, b = marks.get("#clock-start"), marks.get("#clock-stop")
    tail = "\n".join(ln.rstrip() for ln in err[-20:])
    return code, lines, tail, (b - a) if a is not None and b is not None else None


def _parse(code: int | None, lines: list[str], tail: str, timeout: float, what: str) -> Measurement:
    if code is None:
        return Measurement("error", error=f"{what} did not finish within {timeout:.0f} s (killed)")
    for line in reversed(lines):
        if line.startswith("{"):
            r = json.loads(line)
            extra = {k: r[k] for k in ("startup_s", "cpu_s") if k in r}
            return Measurement(r["status"], r.get("seconds"), int(r.get("messages", 0)), r.get("error", ""), extra)
    bad = [ln for ln in tail.splitlines() if ln.strip() and not ln.startswith(("%", "log4j", "SLF4J"))][-1:]
    return Measurement("error", error=f"{what} crashed: {(bad or [f'exit status {code}'])[0][:300]}")


def _python_worker(client: str, role: str, conn: Connection, topic: str, messages: int, size: int,
                   conf: dict[str, Any], timeout: float, starts: list[int], bpid: int | None) -> Measurement:
    cmd = [sys.executable, "-m", "helpers.bench_workers", client, role, *cli_args(conn),
           "--topic", topic, "--messages", str(messages), "--size", str(size),
           "--conf", bench_profiles.describe(conf), "--timeout", str(timeout),
           "--start-offsets", ",".join(map(str, starts))]
    res = _watch(cmd, timeout + 30, bpid, cwd=Path(__file__).parent.parent,
                 env={**os.environ, "PYTHONWARNINGS": "ignore"})
    m = _parse(*res[:3], timeout + 30, "worker")
    m.extra["broker_cpu_s"] = res[3]
    return m


def java_classes() -> Path:
    """The compiled Java worker, compiled once per source version into the workbook's cache (with javac,
    or with ECJ where there is no JDK: :mod:`helpers.javac`)."""
    import hashlib

    from . import javac

    digest = hashlib.sha256(JAVA_WORKER.read_bytes() + broker.DEFAULT_VERSION.encode()).hexdigest()[:12]
    out = broker.home() / "bench" / f"java-{digest}"
    if (out / "BenchWorker.class").exists():
        return out
    java, _ = broker.find_java()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="javac-", dir=out.parent))
    try:
        jars = sorted(broker.jar_dir(broker.DEFAULT_VERSION).glob("*.jar"))
        javac.compile_java(java, JAVA_WORKER, jars, tmp, broker.DEFAULT_VERSION)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():  # another process compiled it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(out)
    return out


def _java_worker(role: str, conn: Connection, topic: str, messages: int, size: int, conf: dict[str, Any],
                 timeout: float, starts: list[int], bpid: int | None, warm_topic: str, warmup: int) -> Measurement:
    try:
        java, _ = broker.find_java()
        classes = java_classes()
        props = conn.command_config()  # a secured broker: its Java-dialect properties file (None for plaintext)
    except WorkbookError as exc:
        return Measurement("error", error=str(exc))
    cmd = [java, "-Xmx1g", "-cp", f"{classes}{os.pathsep}{broker.classpath()}", "BenchWorker", role, conn.bootstrap,
           topic, str(messages),
           str(size), warm_topic, str(warmup), ",".join(map(str, starts)), str(timeout),
           *([f"@{props}"] if props else []), *[f"{k}={v}" for k, v in conf.items()]]
    res = _watch(cmd, timeout + 60, bpid)
    m = _parse(*res[:3], timeout + 60, "Java worker")
    m.extra["broker_cpu_s"] = res[3]
    return m


def _kcat_file(size: int, messages: int, workdir: Path) -> Path:
    from .bench_workers import payload

    path = workdir / f"kcat-{size}-{messages}.txt"
    if not path.exists():
        line = payload(size) + b"\n"
        with open(path, "wb") as f:
            chunk = line * 10_000
            for _ in range(messages // 10_000):
                f.write(chunk)
            f.write(line * (messages % 10_000))
    return path


def _kcat_config(conn: Connection, role: str, workdir: Path) -> list[str]:
    """kcat's ``-F FILE`` with the connection's security settings in librdkafka's names (a private file: it may
    hold a password), or nothing for plaintext. Without ``-F`` kcat would read ~/.config/kcat.conf instead."""
    if not conn.secured:
        return []
    rd = {k: v for k, v in conn.config("confluent-kafka", "producer" if role == "produce" else "consumer").items()
          if k not in ("bootstrap.servers", "log_level")}
    path = workdir / f"kcat-{role}.conf"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("".join(f"{k}={v}\n" for k, v in rd.items()))
    return ["-F", str(path)]


def _kcat(role: str, conn: Connection, topic: str, messages: int, size: int, conf: dict[str, Any],
          timeout: float, starts: list[int], bpid: int | None, workdir: Path) -> Measurement:
    """kcat, timed from outside: its whole process (start, connect, send or read, exit) is the window."""
    import resource

    exe = shutil.which("kcat") or "kcat"
    xs = [*_kcat_config(conn, role, workdir), *[a for k, v in conf.items() for a in ("-X", f"{k}={v}")]]
    bootstrap = conn.bootstrap
    if role == "produce":
        cmd = [exe, "-P", "-b", bootstrap, "-t", topic, "-p", "0", "-l", str(_kcat_file(size, messages, workdir)),
               "-X", "log_level=4", *xs]
    else:
        cmd = [exe, "-C", "-b", bootstrap, "-t", topic, "-p", "0", "-o", str(starts[0]), "-c", str(messages),
               "-e", "-q", "-f", "\\n", "-X", "log_level=4", *xs]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_b0 = _cpu_of(bpid)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE if role == "consume" else subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Measurement("error", error=f"kcat did not finish within {timeout:.0f} s (killed)")
    seconds = time.perf_counter() - t0
    cpu_b1 = _cpu_of(bpid)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    extra = {"cpu_s": cpu, "broker_cpu_s": (cpu_b1 - cpu_b0) if cpu_b0 is not None and cpu_b1 is not None else None}
    if proc.returncode != 0:
        err = [ln for ln in proc.stderr.decode(errors="replace").splitlines() if ln.strip()][-1:]
        return Measurement("error", error=f"kcat exit {proc.returncode}: {(err or ['no output'])[0][:300]}")
    got = proc.stdout.count(b"\n") if role == "consume" else messages
    if role == "consume" and got != messages:
        return Measurement("lost", messages=got, error=f"kcat read {got:,} of {messages:,}", extra=extra)
    return Measurement("ok", seconds, got, extra=extra)


# --------------------------------------------------------------------------- accounting


def stored_count(conn: ConnLike, topic: str) -> int:
    """How many records ``topic`` holds, all partitions (high watermark minus low watermark)."""
    return sum(high - low for low, high in offsets.watermarks(conn, topic).values())


def warm_read(conn: ConnLike, topic: str, expected: int, timeout: float) -> int:
    """Read the whole topic once (librdkafka, fast) so the timed read finds it in the page cache; returns the count.

    It counts in its own loop rather than :func:`helpers.clients.bounded_poll`, which keeps every message.
    """
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    c = Consumer(clients.ck_conf(conn, {"group.id": "bench-warm", "enable.auto.commit": False,
                                        "fetch.queue.backoff.ms": 1}, role="consumer"))
    try:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in admin.partitions(conn, topic)])
        got, deadline = 0, time.monotonic() + timeout
        while got < expected and time.monotonic() < deadline:
            got += sum(1 for m in c.consume(num_messages=10_000, timeout=0.5) if m.error() is None)
        return got
    finally:
        c.close()


# --------------------------------------------------------------------------- one variant


def _per_m(value: float | None, messages: int) -> float | None:
    return round(value / messages * 1e6, 3) if value is not None and messages else None


def _row(client: str, profile: str, role: str, rep: int, size: int, partitions: int, conf: dict[str, Any],
         m: Measurement, wanted: int, started: str, load: float, warmup: int) -> dict[str, Any]:
    ok = m.status == "ok" and m.seconds is not None and m.seconds > 0
    if m.status == "ok" and not ok:  # a figure needs a time: never an "ok" row without one
        m = Measurement("error", m.seconds, m.messages, f"no time measured (seconds={m.seconds!r})", m.extra)
    cpu, bcpu = (m.extra.get("cpu_s"), m.extra.get("broker_cpu_s")) if ok else (None, None)
    return {
        "client": client, "profile": profile, "role": role, "repetition": rep, "status": m.status,
        "messages": m.messages if m.status != "skipped" else wanted, "message_bytes": size, "partitions": partitions,
        "seconds": round(m.seconds, 4) if ok else None,
        "msgs_per_s": round(m.messages / m.seconds, 1) if ok else None,
        "mb_per_s": round(m.messages * size / m.seconds / MIB, 3) if ok else None,
        "startup_s": round(m.extra["startup_s"], 4) if "startup_s" in m.extra else None,
        "client_cpu_s": round(cpu, 3) if cpu is not None else None, "client_cpu_s_per_M": _per_m(cpu, m.messages),
        "broker_cpu_s": round(bcpu, 3) if bcpu is not None else None, "broker_cpu_s_per_M": _per_m(bcpu, m.messages),
        "load_1m": round(load, 2), "settings": bench_profiles.describe(conf), "warmup": warmup,
        "client_version": client_version(client), "error": m.error, "started_at": started,
    }


def _measure(client: str, role: str, conn: Connection, topic: str, n: int, size: int, conf: dict[str, Any],
             timeout: float, starts: list[int], bpid: int | None, warm_topic: str, warmup: int,
             workdir: Path) -> Measurement:
    if client == "java":
        return _java_worker(role, conn, topic, n, size, conf, timeout, starts, bpid, warm_topic, warmup)
    if client == "kcat":
        return _kcat(role, conn, topic, n, size, conf, timeout, starts, bpid, workdir)
    return _python_worker(client, role, conn, topic, n, size, conf, timeout, starts, bpid)


def run_variant(client: str, conn: ConnLike, messages: int, size: int = 100, profile: str = "tuned",
                repetition: int = 1, timeout: float | None = None, roles: tuple[str, ...] = ROLES,
                partitions: int = 1, overrides: dict[str, dict[str, Any]] | None = None,
                workdir: Path | None = None) -> list[dict[str, Any]]:
    """Measure one client once in one profile: fresh topic, timed produce, accounting, warm read, timed consume, delete.

    ``overrides`` (``{"produce": {...}, "consume": {...}}``, the client's own names) go on top of the
    profile. Returns a row per role. Counts that disagree give status ``lost`` and no figure. ``conn`` is a
    Connection (TLS and SASL reach every client) or a plaintext ``host:port``.
    """
    bootstrap = _conn(conn)  # a Connection from here on (the name kept for the accounting code below)
    timeout = timeout or max(60.0, messages / 2000)  # generous: pure-Python clients on a busy machine
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    load = os.getloadavg()[0]
    confs = {r: {**bench_profiles.settings(client, r, profile), **(overrides or {}).get(r, {})} for r in ROLES}
    warmup = min(bench_profiles.JAVA_WARMUP, messages) if client == "java" and profile == "tuned" else 0
    why = unavailable(client, bootstrap)
    if why:
        skipped = Measurement("skipped", error=why)
        return [_row(client, profile, r, repetition, size, partitions, confs[r], skipped, messages, started, load, 0)
                for r in roles]
    name = admin.unique_topic(f"bench-{client.replace('+', '-')}")
    CREATED.extend([name, name + "-warm"] if warmup else [name])
    topic = admin.create_topic(bootstrap, name, partitions=partitions,
                               config={"max.message.bytes": str(max(1_048_588, size * 2 + 1024))})
    warm_topic = admin.create_topic(bootstrap, name + "-warm") if warmup else "-"
    bpid = broker_pid(bootstrap)
    rows = []
    own_dir = workdir is None
    workdir = workdir or Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        prod = _measure(client, "produce", bootstrap, topic, messages, size, confs["produce"], timeout, [0], bpid,
                        warm_topic, warmup, workdir)
        stored = stored_count(bootstrap, topic)
        if prod.status == "ok" and stored != messages:
            prod = Measurement("lost", error=f"sent {messages:,} but the broker holds {stored:,}")
        rows.append(_row(client, profile, "produce", repetition, size, partitions, confs["produce"], prod, messages,
                         started, load, warmup))
        if "consume" not in roles:
            return rows
        load = os.getloadavg()[0]
        if prod.status != "ok":
            cons = Measurement("skipped", error=f"produce {prod.status}: nothing reliable to read")
        else:
            warm = warm_read(bootstrap, topic, messages, timeout)
            if warm != messages:
                cons = Measurement("lost", error=f"warm-up read found {warm:,} of {messages:,}")
            else:
                wm = offsets.watermarks(bootstrap, topic)
                starts = [wm[p][0] for p in sorted(wm)]  # where the timed read starts, no lookup
                cons = _measure(client, "consume", bootstrap, topic, messages, size, confs["consume"], timeout,
                                starts, bpid, warm_topic, warmup, workdir)
            if cons.status == "ok" and cons.messages != messages:
                cons = Measurement("lost", messages=cons.messages,
                                   error=f"consumer read {cons.messages:,} of {messages:,}")
        rows.append(_row(client, profile, "consume", repetition, size, partitions, confs["consume"], cons, messages,
                         started, load, warmup))
    finally:
        admin.delete_topic(bootstrap, topic, *([warm_topic] if warmup else []))
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)
    return rows


# --------------------------------------------------------------------------- runs


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython

        return get_ipython() is not None and "IPKernelApp" in get_ipython().config
    except Exception:
        return False


def _progress(total: int, desc: str, enabled: bool):
    """A text progress bar: in a notebook on stdout (a stored output shows its final state, never a frozen
    widget), in a terminal on stderr."""
    from tqdm import tqdm

    if _in_notebook():
        return tqdm(total=total, desc=desc, unit="run", disable=not enabled, file=sys.stdout, ncols=100,
                    mininterval=1.0, ascii=True)
    return tqdm(total=total, desc=desc, unit="run", disable=not enabled)


def _count(messages: int | dict[str, Any], client: str, profile: str) -> int:
    m = messages[client] if isinstance(messages, dict) else messages
    m = m[profile] if isinstance(m, dict) else m
    return _positive("messages", m, 1, 50_000_000)


def run(clients_: Iterable[str] = CLIENTS, messages: int | dict[str, Any] = QUICK_MESSAGES, size: int = 100,
        repeat: int = 1, profiles: Iterable[str] = PROFILES, bootstrap: ConnLike | None = None, progress: bool = True,
        check: bool = True, partial: Path | None = None, conn: Any = None):
    """Run the benchmark and return the tidy DataFrame (:data:`COLUMNS`).

    ``messages`` is one count for every client or a dict per client (and profile), like
    :data:`REFERENCE_MESSAGES`.
    Repetitions are interleaved (every client and profile once, then again), and the order of
    profiles alternates between repetitions, so a burst of load from elsewhere on the machine does
    not land on one variant only. With ``check`` a run whose counts disagree raises
    :class:`MessageLossError` after all rows are collected (they are in ``exc.rows``).
    """
    import pandas as pd

    names = check_clients(clients_)
    profs = check_profiles(profiles)
    counts = {(c, p): _count(messages, c, p) for c in names for p in profs}
    size = _positive("size", size, 1, 1_000_000)
    repeat = _positive("repeat", repeat, 1, 50)
    bootstrap = _conn(conn if conn is not None else bootstrap)  # ``conn=`` as in the lessons
    broker.check_reachable(bootstrap, timeout=10)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, \
            _progress(len(names) * repeat * len(profs), f"bench {size} B", progress) as bar:
        for rep in range(1, repeat + 1):
            order = profs if rep % 2 else profs[::-1]
            for client in names:
                for profile in order:
                    bar.set_postfix_str(f"{client} {profile} #{rep}")
                    rows.extend(run_variant(client, bootstrap, counts[client, profile], size, profile, rep,
                                           workdir=Path(tmp)))
                    bar.update()
                    if partial is not None:  # a long run keeps its evidence even if it is cut short
                        pd.DataFrame(rows, columns=list(COLUMNS)).to_csv(partial, index=False)
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    if check:
        check_accounting(df)
    return df


def check_accounting(df) -> None:
    """Raise MessageLossError naming every row whose counts disagreed (status ``lost``, which includes
    a consumer that ran out of time before reading them all)."""
    lost = df[df["status"] == "lost"]
    if len(lost):
        detail = "; ".join(f"{r.client} {getattr(r, 'profile', '')} {r.role} #{r.repetition}: {r.error}"
                           for r in lost.itertuples())
        exc = MessageLossError(f"MESSAGE COUNTS DO NOT AGREE: {detail}",
                               "no figure was recorded for these rows; see their error column")
        exc.rows = df  # type: ignore[attr-defined]
        raise exc


def sweep(kind: str, clients_: Iterable[str] = SWEEP_CLIENTS, messages: int = SWEEP_MESSAGES,
          bootstrap: ConnLike | None = None, progress: bool = True, values: list[Any] | None = None, repeat: int = 3):
    """Vary one thing (:data:`SWEEPS`) from the tuned profile, ``repeat`` times per point, interleaved.

    Every client gets ``batch.size`` :data:`SWEEP_BATCH` (matched) unless the batch sweep varies it.
    ``size`` and ``partitions`` time both roles (the size sweep sends at most :data:`SWEEP_BYTES`
    per point); the producer-setting sweeps time the producer only (the stored count is still
    checked). Returns the tidy rows plus ``sweep`` and ``value`` columns; losses are kept as rows.
    """
    import pandas as pd

    if kind not in SWEEPS:
        close = difflib.get_close_matches(kind, SWEEPS, n=1)
        raise ConfigError(f"unknown sweep {kind!r}", f"{'did you mean ' + repr(close[0]) + '? ' if close else ''}"
                                                     f"choose from {', '.join(SWEEPS)}")
    names = check_clients(clients_)
    messages = _positive("messages", messages, 1, 50_000_000)
    repeat = _positive("repeat", repeat, 1, 50)
    bootstrap = _conn(bootstrap)
    key, default_values = SWEEPS[kind]
    values = list(values or default_values)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, \
            _progress(len(names) * len(values) * repeat, f"sweep {kind}", progress) as bar:
        for rep in range(1, repeat + 1):
            for value in (values if rep % 2 else values[::-1]):
                for client in names:
                    bar.set_postfix_str(f"{client} {key}={value} #{rep}")
                    size, parts, n, roles = 100, 1, messages, ("produce",)
                    neutral: dict[str, Any] = {"batch_bytes": SWEEP_BATCH}
                    if kind == "size":
                        size, n, roles = int(value), max(1000, min(messages, SWEEP_BYTES // int(value))), ROLES
                    elif kind == "partitions":
                        parts, roles = int(value), ROLES
                    else:
                        neutral.update(check_settings({key: value}))
                    try:
                        over = {"produce": bench_profiles.native(client, neutral)}
                    except ValueError:
                        continue  # (pykafka has no batch.size)
                    for r in run_variant(client, bootstrap, n, size, "tuned", rep, roles=roles, partitions=parts,
                                         overrides=over, workdir=Path(tmp)):
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


def environment(bootstrap: ConnLike | None = None, note: str = "") -> dict[str, Any]:
    """What a reader needs to interpret the figures: clients, Kafka (read from the broker), CPU, cores, Python, load."""
    import psutil

    from .bench_env import broker_version

    conn = _conn(bootstrap)
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
        "kafka_broker": broker_version(conn),
        "bootstrap": conn.bootstrap,
        "security_protocol": conn.security_protocol,
        "broker_cpu_sampled": broker_pid(conn) is not None,
        "java": java_version,
        "clients": {c: client_version(c) for c in CLIENTS},
        "profiles": {p: {c: {r: bench_profiles.settings(c, r, p) for r in ROLES} for c in CLIENTS} for p in PROFILES},
        "java_warmup_records": bench_profiles.JAVA_WARMUP,
        "note": note,
    }


def stamp(env: dict[str, Any]) -> str:
    """One line naming the run's environment, for chart subtitles and printed summaries."""
    load = env.get("load_average_1m_5m_15m", ["?"])[0]
    after = env.get("load_average_after", ["?"])[0]
    return (f"{env['date'][:16].replace('T', ' ')} UTC, {env['cpu_model']}, {env['cores_logical']} cores, "
            f"Kafka {env['kafka_broker']}, Python {env['python']}; load {load} before / {after} after")


def load_2016() -> "pd.DataFrame":
    """The 2016 study's published figures (Kafka 0.9, 2.2 GHz i7 laptop, Docker in Vagrant)."""
    import pandas as pd

    return pd.read_csv(STUDY_2016_CSV)


def load_reference(path: str | Path | None = None) -> "tuple[pd.DataFrame, dict[str, Any]]":
    """The committed reference run (or your own run's CSV at ``path``): ``(rows, environment)``."""
    import pandas as pd

    csv = Path(path) if path else REFERENCE_CSV
    return pd.read_csv(csv, dtype={"settings": str, "error": str}), json.loads(csv.with_suffix(".json").read_text())


def load_sweeps() -> "tuple[pd.DataFrame, dict[str, Any]]":
    """The committed sweeps: ``(rows, environment)``."""
    import pandas as pd

    return (pd.read_csv(SWEEPS_CSV, dtype={"value": str, "settings": str, "error": str}),
            json.loads(SWEEPS_CSV.with_suffix(".json").read_text()))


def summarise(df: "pd.DataFrame") -> "pd.DataFrame":
    """Per client, profile and role (ok rows only): median, min and max msgs/s, MiB/s, CPU seconds per
    million messages (client and broker), median load; and the tuned-vs-Java ratio (:func:`ratios`)
    and the ratio to the 2016 figure (``vs_2016``, defaults profile only: what 2016 ran)."""
    import pandas as pd

    ok = df[df["status"] == "ok"].copy()
    keys = ["client", "profile", "role"]
    g = ok.groupby(keys)
    out = g["msgs_per_s"].agg(median="median", min="min", max="max", runs="count").reset_index()
    for col, name in (("mb_per_s", "mb_per_s"), ("client_cpu_s_per_M", "client_cpu_per_M"),
                      ("broker_cpu_s_per_M", "broker_cpu_per_M"), ("load_1m", "load_1m"), ("messages", "messages"),
                      ("seconds", "seconds")):
        out[name] = g[col].median().values
    out["spread"] = (out["max"] - out["min"]) / out["median"]
    r = ratios(df)
    out = out.merge(r, on=keys, how="left")
    old = load_2016().set_index(["client", "role"])["msgs_per_s"]
    out["msgs_per_s_2016"] = [old.get((c, ro), float("nan")) if p == "defaults" else float("nan")
                              for c, p, ro in zip(out["client"], out["profile"], out["role"])]
    out["vs_2016"] = out["median"] / out["msgs_per_s_2016"]
    failed = df[df["status"] != "ok"].groupby(keys)["error"].first().reset_index()
    failed = failed[~failed.set_index(keys).index.isin(out.set_index(keys).index)]
    out["error"] = ""
    if len(failed):
        out = pd.concat([out, failed], ignore_index=True)
    order = {c: i for i, c in enumerate(CLIENTS)}
    out = out.sort_values(["role", "profile", "client"], key=lambda s: s.map(order) if s.name == "client" else
                          s.map({"produce": 0, "consume": 1, "defaults": 0, "tuned": 1}))
    return out.reset_index(drop=True)


def ratios(df: "pd.DataFrame", yardstick: str = "java") -> "pd.DataFrame":
    """Each client's msgs/s over the yardstick's in the same profile, role and repetition (they ran
    minutes apart): the median of those per-repetition ratios with their min and max (``of_java``,
    ``of_java_min``, ``of_java_max``). Rows without a yardstick in the same repetition get none."""
    import pandas as pd

    ok = df[df["status"] == "ok"]
    keys = ["profile", "role", "repetition"]
    ys = ok[ok["client"] == yardstick].set_index(keys)["msgs_per_s"]
    per = ok.join(ys.rename("y"), on=keys)
    per = per[per["y"].notna()].assign(ratio=lambda d: d["msgs_per_s"] / d["y"])
    if per.empty:
        return pd.DataFrame(columns=["client", "profile", "role", "of_java", "of_java_min", "of_java_max"])
    return per.groupby(["client", "profile", "role"])["ratio"].agg(
        of_java="median", of_java_min="min", of_java_max="max").reset_index()


def figure(summary: "pd.DataFrame", client: str, profile: str, role: str, column: str = "median") -> float:
    """One figure of a summary (e.g. the median msgs/s of tuned confluent-kafka produce); NaN when absent."""
    rows = summary[(summary["client"] == client) & (summary["profile"] == profile) & (summary["role"] == role)]
    return float(rows[column].iloc[0]) if len(rows) else float("nan")


def fixed_costs(clients_: Iterable[str], bootstrap: ConnLike, profiles: Iterable[str] = PROFILES,
                progress: bool = True, messages: int = BATCH_PROBE) -> dict[str, dict[str, dict[str, float | None]]]:
    """What is inside each client's clock besides the work: the timed seconds of a ``messages``-record produce and
    read (an upper bound: it includes moving those records).

    ``{client: {profile: {"produce": s, "consume": s}}}``; compare with the reference run's timed windows.
    """
    bootstrap = _conn(bootstrap)
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    names, profs = check_clients(clients_), check_profiles(profiles)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, \
            _progress(len(names) * len(profs), "fixed costs", progress) as bar:
        for client in names:
            for profile in profs:
                rows = run_variant(client, bootstrap, messages, 100, profile, workdir=Path(tmp), timeout=60)
                out.setdefault(client, {})[profile] = {r["role"]: r["seconds"] for r in rows}
                bar.update()
    return out


def fixed_cost_share(summary: "pd.DataFrame", costs: dict[str, Any]) -> "pd.DataFrame":
    """Each client's fixed cost (one-message run) as a share of its median timed window in the reference run."""
    import pandas as pd

    rows = []
    for r in summary.dropna(subset=["median"]).itertuples():
        cost = costs.get(r.client, {}).get(r.profile, {}).get(r.role)
        window = r.messages / r.median
        rows.append({"client": r.client, "profile": r.profile, "role": r.role, "fixed_s": cost,
                     "window_s": window, "share": cost / window if cost is not None else None})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- harness overhead


_BARE_LOOP = """
import json, sys, time
from confluent_kafka import Producer


def main(config, topic, n, size):  # a function, as in the worker: module-level names would be slower globals
    value = (b"kafkatest" * (size // 9 + 1))[:size]
    p = Producer(config)  # the connection's confluent-kafka config (bootstrap, security, log_level 4)
    p.list_topics(topic, timeout=15)
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


print(main(json.loads(sys.stdin.read()), sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
"""


def overhead(messages: int = 1_000_000, size: int = 100, repeat: int = 5, bootstrap: ConnLike | None = None,
             progress: bool = True) -> dict[str, Any]:
    """Compare confluent-kafka's producer (defaults profile) inside the harness with a bare produce-and-flush loop.

    Both run ``repeat`` times, alternating, each in a fresh process into a fresh topic; returns the
    median seconds of each and the harness's overhead in percent (positive = harness slower).
    """
    bootstrap = _conn(bootstrap)
    bare: list[float] = []
    harness: list[float] = []
    with _progress(repeat * 2, "harness overhead", progress) as bar:
        for _ in range(repeat):
            topic = admin.create_topic(bootstrap, admin.unique_topic("bench-bare"))
            try:
                out = subprocess.run([sys.executable, "-c", _BARE_LOOP, topic, str(messages), str(size)],
                                     input=json.dumps(bootstrap.config("confluent-kafka", "producer")),
                                     capture_output=True, text=True, timeout=180)
                if out.returncode != 0:
                    lines = [ln for ln in out.stderr.splitlines() if ln.strip() and not ln.startswith("%")]
                    raise WorkbookError(f"bare loop failed: {lines[-1] if lines else out.returncode}")
                bare.append(float(out.stdout.strip()))
            finally:
                admin.delete_topic(bootstrap, topic)
            bar.update()
            rows = run_variant("confluent-kafka", bootstrap, messages, size, "defaults", roles=("produce",))
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
    b = sub.add_parser("bench", help="throughput benchmark of the Python clients, the Java client and kcat",
                       description="Produce and consume N messages per client and profile on the real broker "
                                   "(found or started like ensure_broker()); write a tidy CSV plus the "
                                   "environment as JSON beside it.")
    b.add_argument("--quick", action="store_true",
                   help=f"every client once, tuned profile, {QUICK_MESSAGES:,} messages: counts and rough rates only")
    b.add_argument("--messages", default=None,
                   help="messages per client and role (default: per client, 200 thousand to 5 million; see "
                        "helpers.bench.REFERENCE_MESSAGES)")
    b.add_argument("--size", default="100", help="message size in bytes (default 100)")
    b.add_argument("--clients", nargs="+", default=None, metavar="CLIENT", help=f"subset of: {' '.join(CLIENTS)}")
    b.add_argument("--profile", nargs="+", default=None, metavar="PROFILE",
                   help="defaults, tuned or both (default both; --quick: tuned)")
    b.add_argument("--repeat", default=None, help="repetitions (default 5; --quick: 1; sweeps: 3)")
    b.add_argument("--sweep", default=None,
                   help=f"instead of the benchmark, vary one thing: {', '.join(SWEEPS)}, or all of them")
    b.add_argument("--fixed-costs", action="store_true",
                   help="also time a one-message run per client and profile (what is inside each clock besides work)")
    b.add_argument("--overhead", action="store_true", help="measure the harness against a bare confluent-kafka loop")
    b.add_argument("--talk2017", action="store_true",
                   help="instead of the benchmark, run the talk-era code patterns and measure what breaks "
                        "(writes <out>.json; about a minute)")
    b.add_argument("--note", default="", help="free text stored in the environment JSON (e.g. machine load)")
    b.add_argument("--out", default="bench-results.csv", help="CSV to write (environment goes to <name>.json)")
    add_connection_arguments(b)
    b.add_argument("--no-progress", action="store_true", help="no progress bars")
    return b


def add_connection_arguments(p: argparse.ArgumentParser, starts: bool = True) -> None:
    """``--bootstrap`` and ``--config`` for a CLI command that talks to Kafka (read with :func:`cli_connection`)."""
    p.add_argument("--bootstrap", default=None,
                   help="broker address (default: like ensure_broker(): $KAFKA_CONFIG's bootstrap.servers, "
                        "$KAFKA_BOOTSTRAP_SERVERS, else the embedded broker" + (", started if needed)" if starts else ")"))
    p.add_argument("--config", default=None, metavar="FILE",
                   help="client properties file of a secured cluster (TLS, SASL), as KAFKA_CONFIG "
                        "(default: $KAFKA_CONFIG); --bootstrap overrides its bootstrap.servers")


def cli_connection(bootstrap: str | None = None, config: str | None = None, start: bool = True) -> Connection:
    """The connection a CLI command was given, checked reachable, as ensure_broker() finds it: ``--config FILE``
    (else ``$KAFKA_CONFIG``) with ``--bootstrap`` (else ``$KAFKA_BOOTSTRAP_SERVERS``) overriding its address;
    ``--bootstrap`` alone is plaintext; neither: ensure_broker()'s broker (the embedded one, started if needed;
    with ``start=False`` only its address, which must answer)."""
    config = config or os.environ.get("KAFKA_CONFIG", "").strip() or None
    if config:
        servers = bootstrap or os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip() or None
        conn = Connection.from_properties(config, bootstrap=servers)
    elif bootstrap or not start:
        conn = Connection(bootstrap or broker.bootstrap())
    else:
        return broker.ensure_broker(quiet=True).connection
    try:
        broker.check_reachable(conn, timeout=10)
    except BrokerUnreachableError as exc:
        if conn.secured or "a TLS server answered" not in exc.what:
            raise
        raise BrokerUnreachableError(exc.what, "give the broker's client properties file: --config FILE "
                                               "(or set KAFKA_CONFIG to it)") from None
    return conn


def cli(args: argparse.Namespace) -> int:
    """Handler for ``python -m helpers bench``; WorkbookErrors propagate to the CLI's one-line printer."""
    t0 = time.monotonic()
    names = check_clients(args.clients or CLIENTS)
    profs = check_profiles(args.profile or (["tuned"] if args.quick else ["both"]))
    messages: int | dict[str, Any] = (_positive("--messages", args.messages, 1, 50_000_000) if args.messages else
                                      QUICK_MESSAGES if args.quick else dict(REFERENCE_MESSAGES))
    size = _positive("--size", args.size, 1, 1_000_000)
    repeat = _positive("--repeat", args.repeat or (1 if args.quick else 3 if args.sweep else 5), 1, 50)
    out = Path(args.out)
    if out.suffix.lower() != ".csv":
        raise ConfigError(f"--out {args.out!r} should end in .csv", "e.g. --out results.csv")
    if not out.parent.exists():
        raise ConfigError(f"--out folder {str(out.parent)!r} does not exist", "create it or pick another path")
    if args.quick and args.sweep:
        raise ConfigError("--quick and --sweep do not go together (a sweep runs 5,000,000 messages per point)",
                          "drop --quick, or give --sweep a smaller --messages")
    kinds = list(SWEEPS) if args.sweep == "all" else [args.sweep] if args.sweep else []
    for kind in kinds:
        if kind not in SWEEPS:
            close = difflib.get_close_matches(kind, SWEEPS, n=1)
            raise ConfigError(f"unknown sweep {kind!r}", ("did you mean " + repr(close[0]) + "? " if close else "")
                              + f"choose from {', '.join(SWEEPS)} or all")
    bootstrap = cli_connection(args.bootstrap, args.config)
    if args.talk2017:
        from . import bench_talk

        items = bench_talk.run_all(bootstrap)
        env = environment(bootstrap, args.note)
        out.with_suffix(".json").write_text(json.dumps({"environment": env, "items": items}, indent=1) + "\n")
        for it in items:
            print(f"{it['item']}: {it['happened']}\n  fix: {it['fix']}")
        print(f"wrote {out.with_suffix('.json')}")
        return 0
    if args.overhead:
        res = overhead(messages=messages if isinstance(messages, int) and args.messages else 1_000_000, size=size,
                       repeat=repeat, bootstrap=bootstrap, progress=not args.no_progress)
        print(json.dumps(res, indent=1))
        return 0
    env = environment(bootstrap, args.note)
    busy = busy_machine()
    if busy and not args.quick:
        print(busy, file=sys.stderr)
    if kinds:
        import pandas as pd

        sweep_clients = [c for c in names if c in SWEEP_CLIENTS] if not args.clients else names
        df = pd.concat([sweep(k, sweep_clients, messages if isinstance(messages, int) else SWEEP_MESSAGES, bootstrap,
                              not args.no_progress, repeat=repeat) for k in kinds], ignore_index=True)
    else:
        if args.fixed_costs:  # first, so that a run cut short still has them (tuned: the profile the targets use)
            env["fixed_costs"] = fixed_costs(names, bootstrap, ["tuned"], progress=not args.no_progress)
            out.with_suffix(".partial.json").write_text(json.dumps(env, indent=1) + "\n")
        df = run(names, messages, size, repeat, profs, bootstrap, progress=not args.no_progress, check=False,
                 partial=out.with_suffix(".partial.csv"))
    env["elapsed_seconds"] = round(time.monotonic() - t0, 1)
    env["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    env["messages"], env["message_bytes"], env["repeat"] = messages, size, repeat
    df.to_csv(out, index=False)
    out.with_suffix(".json").write_text(json.dumps(env, indent=1) + "\n")
    if args.quick:
        _print_quick(df)
    elif not kinds:
        _print_summary(summarise(df))
    else:
        print(summarise(df.assign(profile=df["sweep"] + "=" + df["value"]))[
            ["client", "profile", "role", "median", "min", "max", "runs"]].to_string(index=False))
    print(f"wrote {out} and {out.with_suffix('.json')} in {env['elapsed_seconds']:.0f} s "
          f"(Kafka {env['kafka_broker']} at {bootstrap.describe()})")
    if not kinds:
        check_accounting(df)  # loud, after the CSV is written so the evidence is kept
        failed = df[df["status"] == "error"]
        if len(failed):
            raise WorkbookError(f"{len(failed)} measurement(s) failed: " + "; ".join(
                f"{r.client} {r.profile} {r.role} #{r.repetition}: {r.error}" for r in failed.itertuples()),
                f"their rows are in {out} with the client's error")
    return 0


def busy_machine() -> str | None:
    """A one-line warning when the 1-minute load average exceeds the logical cores, else None."""
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load <= cores:
        return None
    return (f"note: load average {load:.1f} on {cores} cores (other work, or a run that just ended): rates "
            "will be low and uneven while the machine is busy (CPU seconds per million messages stay steadier); "
            "for figures to keep, wait for an idle machine")


def _print_quick(df) -> None:
    """Counts and rough rates only: 20,000 messages say nothing about ratios to Java or to 2016."""
    print(f"quick run: counts and rough rates only (too few messages for ratios; the full run is "
          f"python -m helpers bench)")
    for r in df.itertuples():
        rate = f"~{r.msgs_per_s:,.0f} msgs/s" if r.status == "ok" else f"{r.status}: {r.error}"
        print(f"  {r.client:<20} {r.profile:<8} {r.role:<8} {r.messages:>9,} messages  {rate}")


def _fmt_ratio(r: Any) -> str:
    if r.of_java != r.of_java:
        return ""
    return f"  {r.of_java:5.2f}x Java [{r.of_java_min:.2f}-{r.of_java_max:.2f}]"


def _print_summary(summary) -> None:
    for role in ("produce", "consume"):
        print(f"\n{role}: msgs/s median [min-max] of the repetitions; CPU s per million (client/broker); "
              "x Java: per-repetition ratios, median [min-max], same profile")
        for r in summary[summary["role"] == role].itertuples():
            if r.median != r.median:  # NaN: no run of this client and role succeeded
                print(f"  {r.client:<20} {r.profile:<8} FAILED: {r.error}")
                continue
            cpu = f"cpu {r.client_cpu_per_M:5.1f}/{r.broker_cpu_per_M:4.1f}" if r.broker_cpu_per_M == r.broker_cpu_per_M \
                else f"cpu {r.client_cpu_per_M:5.1f}/ -  "
            print(f"  {r.client:<20} {r.profile:<8} {r.median:>11,.0f} [{r.min:,.0f}-{r.max:,.0f}]  {cpu}"
                  + _fmt_ratio(r))


# --------------------------------------------------------------------------- notebook helpers


def accounting_report(df) -> str:
    """One line per measurement: how many messages it accounted for, or why not."""
    lines = []
    for r in df.itertuples():
        mark = {"ok": "all accounted for", "skipped": "skipped", "lost": "COUNTS DISAGREE", "error": "failed"}[r.status]
        detail = f" ({r.error})" if r.error and isinstance(r.error, str) else ""
        lines.append(f"{r.client:<20} {r.profile:<8} {r.role:<8} #{r.repetition}: {r.messages:>9,} messages, "
                     f"{mark}{detail}")
    return "\n".join(lines)


SHOWN: dict[str, tuple[str, str]] = {
    "client": ("client", "{}"), "profile": ("profile", "{}"), "role": ("role", "{}"),
    "median": ("msgs/s (median)", "{:,.0f}"), "min": ("min", "{:,.0f}"), "max": ("max", "{:,.0f}"),
    "runs": ("runs", "{:.0f}"), "messages": ("messages", "{:,.0f}"), "mb_per_s": ("MiB/s", "{:.1f}"),
    "of_java": ("x Java (median)", "{:.2f}"), "of_java_min": ("x Java min", "{:.2f}"),
    "of_java_max": ("x Java max", "{:.2f}"), "client_cpu_per_M": ("client CPU s/M", "{:.2f}"),
    "broker_cpu_per_M": ("broker CPU s/M", "{:.2f}"), "load_1m": ("load (1 min)", "{:.1f}"),
    "vs_2016": ("x 2016", "{:.2f}"), "error": ("error", "{}"),
}
"""The summary columns a lesson shows, with readable names and number formats."""


def summary_table(summary: "pd.DataFrame", columns: Iterable[str] | None = None) -> "pd.DataFrame":
    """The summary as readable text (numbers formatted, no NaN: an empty cell where there is no figure).

    Plain strings, so the stored output reads the same in JupyterLab, on GitHub and as text/plain.
    """
    cols = [c for c in (columns or SHOWN) if c in summary.columns]
    out = summary[cols].copy()
    for c in cols:
        fmt = SHOWN.get(c, (c, "{}"))[1]
        out[c] = [("" if v is None or (isinstance(v, float) and v != v) or v == "" else fmt.format(v))
                  for v in summary[c]]
    if "error" in out and not out["error"].astype(bool).any():
        out = out.drop(columns="error")
    return out.rename(columns={c: SHOWN.get(c, (c, ""))[0] for c in cols}).reset_index(drop=True)


def check_fraction(summary: "pd.DataFrame", client: str, role: str, answer: float, profile: str = "tuned") -> "Check":
    """Exercise check: is ``answer`` the median msgs/s of ``client`` / ``role`` / ``profile`` over Java's (within 1%)?"""
    from .exercises import Check

    ex = f"fraction of Java ({client}, {profile}, {role})"
    want = figure(summary, client, profile, role) / figure(summary, "java", profile, role)
    if want != want:
        return Check(ex, False, f"there is no {client} {profile} {role} figure (or no Java one) in this summary",
                     f"check the spelling: one of {', '.join(CLIENTS)}; role produce or consume")
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or answer != answer:
        return Check(ex, False, f"{answer!r} is not a number", "give a fraction, e.g. 0.25 for a quarter of Java's rate")
    if abs(answer - want) <= 0.01 * want:
        return Check(ex, True, f"{client} {role}s at {want:.1%} of the Java client's median rate")
    if abs(answer - want * 100) <= want:
        return Check(ex, False, f"{answer} looks like a percentage", "give a fraction: 0.25, not 25")
    if want and abs(answer - 1 / want) <= 0.01 / want:
        return Check(ex, False, f"{answer} is upside down", "divide the client's median by Java's, not the reverse")
    return Check(ex, False, f"{answer} is not the fraction in this summary",
                 "divide the client's median msgs/s by the Java client's median, same profile and role")


def setting_effect(client: str, role: str, conf: dict[str, Any], messages: int = 200_000, repeat: int = 3,
                   bootstrap: ConnLike | None = None, progress: bool = True,
                   conn: ConnLike | None = None) -> "pd.DataFrame":
    """Measure ``client`` in the tuned profile with and without ``conf`` (its own setting names), alternating.

    Returns the tidy rows with ``profile`` ``tuned`` and ``tuned+setting``; read the medians with
    :func:`summarise`. Used by lesson 06's exercise (predict, then measure).
    """
    import pandas as pd

    names = check_clients([client])
    if role not in ROLES:
        raise ConfigError(f"role {role!r} is not produce or consume", "use role='produce' or role='consume'")
    if not isinstance(conf, dict) or not conf:
        raise ConfigError("conf must be a dict of the client's own settings", "e.g. {'fetch.queue.backoff.ms': 1000}")
    n = _positive("messages", messages, 1000, 5_000_000)
    repeat = _positive("repeat", repeat, 1, 10)
    bootstrap = _conn(conn if conn is not None else bootstrap)  # ``conn=`` as in the lessons
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, _progress(2 * repeat, "setting effect", progress) as bar:
        for rep in range(1, repeat + 1):
            for variant in (("tuned", "tuned+setting") if rep % 2 else ("tuned+setting", "tuned")):
                over = {role: conf} if variant != "tuned" else None
                for r in run_variant(names[0], bootstrap, n, 100, "tuned", rep, overrides=over, workdir=Path(tmp)):
                    if r["role"] == role:
                        rows.append({**r, "profile": variant})
                bar.update()
    return pd.DataFrame(rows, columns=list(COLUMNS))


def check_effect(df: "pd.DataFrame", prediction: float, answer: float) -> "Check":
    """Exercise check: is ``answer`` the measured ratio (median with the setting / median without, within 1%)?

    The prediction is not graded (a surprise is a finding): the message says how far it was.
    """
    from .exercises import Check

    ex = "06.1 the effect of one setting"
    ok = df[df["status"] == "ok"]
    med = ok.groupby("profile")["msgs_per_s"].median()
    if not {"tuned", "tuned+setting"} <= set(med.index):
        return Check(ex, False, "the measurement has no figure for both variants",
                     "run bench.setting_effect(...) again and look at its status and error columns")
    want = med["tuned+setting"] / med["tuned"]
    for name, v in (("prediction", prediction), ("answer", answer)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
            return Check(ex, False, f"{name} {v!r} is not a number", "write it as a ratio, e.g. 0.5 for half as fast")
    if abs(answer - want) > 0.01 * want:
        hint = ("that is upside down: divide the median WITH the setting by the median without"
                if abs(answer - 1 / want) <= 0.01 / want else
                "take the median msgs_per_s of the ok rows of each variant, then with / without")
        return Check(ex, False, f"{answer:.3g} is not the measured ratio", hint)
    off = prediction / want
    how = "close" if 0.8 <= off <= 1.25 else f"off by a factor of {max(off, 1 / off):.1f}"
    return Check(ex, True, f"measured {want:.2f}x with the setting; your prediction {prediction:.2f}x was {how}")


def launcher() -> "ipywidgets.VBox":
    """A small form (ipywidgets) to start a bigger run from the notebook; nothing runs until its button is pressed."""
    import ipywidgets as w
    from IPython.display import display

    messages = w.Dropdown(options=[("100 thousand", 100_000), ("300 thousand", 300_000), ("1 million", 1_000_000)],
                          value=100_000, description="messages")
    repeat = w.IntSlider(value=3, min=1, max=5, description="repetitions")
    chosen = w.SelectMultiple(options=CLIENTS, value=("confluent-kafka", "java"), rows=len(CLIENTS),
                              description="clients")
    profile = w.Dropdown(options=[("tuned", ("tuned",)), ("defaults", ("defaults",)), ("both", PROFILES)],
                         value=("tuned",), description="profile")
    size = w.Dropdown(options=[100, 1000, 10_000], value=100, description="bytes")
    button = w.Button(description="Run benchmark", button_style="primary", icon="play")
    out = w.Output()

    def go(_: object) -> None:
        button.disabled = True
        with out:
            out.clear_output()
            try:
                df = run(chosen.value, messages.value, size.value, repeat.value, profile.value, progress=False,
                         check=False)
                display(summary_table(summarise(df), ["client", "profile", "role", "median", "min", "max", "runs",
                                                      "of_java", "client_cpu_per_M", "error"]))
                check_accounting(df)
            except WorkbookError as exc:
                print(f"error: {exc}")
            finally:
                button.disabled = False

    button.on_click(go)
    return w.VBox([w.HBox([messages, size, repeat]), w.HBox([chosen, profile]), button, out])


def headline(summary: "pd.DataFrame") -> list[str]:
    """The lesson's headline findings as sentences, every figure read from ``summary`` (medians, spread)."""
    def ratio(client: str, profile: str, role: str) -> str:
        rows = summary[(summary["client"] == client) & (summary["profile"] == profile) & (summary["role"] == role)]
        if rows.empty or rows["of_java"].isna().all():
            return "not measured"
        r = rows.iloc[0]
        of_medians = figure(summary, client, profile, role) / figure(summary, "java", profile, role)
        return (f"{r['of_java']:.2f}x Java as the median of per-repetition ratios ({r['of_java_min']:.2f}-"
                f"{r['of_java_max']:.2f}; the ratio of the two medians is {of_medians:.2f})")

    def rate(client: str, profile: str, role: str) -> str:
        med = figure(summary, client, profile, role)
        if med != med:
            return "not measured"
        lo, hi = figure(summary, client, profile, role, "min"), figure(summary, client, profile, role, "max")
        n = figure(summary, client, profile, role, "messages")
        return f"{med:,.0f} msgs/s [{lo:,.0f}-{hi:,.0f}] at {n / 1e6:g}M messages"

    def cpu(client: str, profile: str, role: str) -> str:
        v = figure(summary, client, profile, role, "client_cpu_per_M")
        return "?" if v != v else f"{v:.2f}"

    lines = []
    for role in ("produce", "consume"):
        lines.append(f"{role}, tuned, client CPU seconds per million messages: Java {cpu('java', 'tuned', role)}, "
                     f"confluent-kafka {cpu('confluent-kafka', 'tuned', role)}, kcat {cpu('kcat', 'tuned', role)}, "
                     f"kafka-python {cpu('kafka-python', 'tuned', role)}")
        lines.append(f"{role}, tuned: Java {rate('java', 'tuned', role)}; confluent-kafka "
                     f"{rate('confluent-kafka', 'tuned', role)}, {ratio('confluent-kafka', 'tuned', role)}; "
                     f"kcat {ratio('kcat', 'tuned', role)}")
        lines.append(f"{role}, defaults: Java {rate('java', 'defaults', role)}; confluent-kafka "
                     f"{ratio('confluent-kafka', 'defaults', role)}")
    return lines


def default_cost(summary: "pd.DataFrame") -> "pd.DataFrame":
    """What a default costs: per client and role, the defaults and tuned medians and tuned / defaults (as text)."""
    import pandas as pd

    rows = []
    for client in CLIENTS:
        for role in ROLES:
            d, t = figure(summary, client, "defaults", role), figure(summary, client, "tuned", role)
            if d != d or t != t:
                continue
            rows.append({"client": client, "role": role, "defaults msgs/s": f"{d:,.0f}", "tuned msgs/s": f"{t:,.0f}",
                         "tuned / defaults": f"{t / d:.1f}x"})
    return pd.DataFrame(rows)


def cpu_ceiling(summary: "pd.DataFrame", profile: str = "tuned") -> "pd.DataFrame":
    """Messages per second one core could sustain at each client's measured CPU cost per message (1e6 / CPU s per
    million): a load-independent bound for a client whose work runs on one thread, beside the measured median."""
    import pandas as pd

    rows = []
    for client in CLIENTS:
        for role in ROLES:
            cpu = figure(summary, client, profile, role, "client_cpu_per_M")
            med = figure(summary, client, profile, role)
            if cpu != cpu or med != med or cpu <= 0:
                continue
            rows.append({"client": client, "role": role, "client CPU µs per message": f"{cpu:.2f}",
                         "one-core ceiling msgs/s": f"{1e6 / cpu:,.0f}", "measured median msgs/s": f"{med:,.0f}"})
    return pd.DataFrame(rows)
