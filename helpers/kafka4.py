"""Lesson 10's Kafka 4 broker: the newest 4.x (``compat.KAFKA4_VERSION``) with settings for a one-node class.

The 3.9 broker stays the workbook's default (pykafka needs it); lesson 10 starts this one beside it on
a free port, shows what Kafka 4 added for consumers (the KIP-848 group protocol, KIP-932 share groups)
and stops it in its clean-up. Every setting that differs from Kafka's default is listed in
:data:`SETTINGS` with the reason.
"""
from __future__ import annotations

from . import broker, compat
from .connection import ConnLike
from .errors import BrokerStartError, WorkbookError

# Defaults checked in the 4.4.0 jars (GroupCoordinatorConfig, ShareGroupConfig, ShareCoordinatorConfig).
SETTINGS: dict[str, str] = {
    # KIP-848: the heartbeat interval moved from the client to the broker (default 5000 ms, and 5000 is
    # also the minimum). Lesson 03's classic members heartbeat every 500 ms; the same here keeps the
    # side-by-side comparison fair.
    "group.consumer.min.heartbeat.interval.ms": "500",
    "group.consumer.heartbeat.interval.ms": "500",
    # KIP-932 share groups keep their state in __share_group_state: 3 replicas (min ISR 2) and 50
    # partitions by default, which one broker cannot host; one replica and one partition here.
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "share.coordinator.state.topic.num.partitions": "1",
    # share consumers heartbeat like KIP-848 ones (default and minimum 5000 ms)
    "group.share.min.heartbeat.interval.ms": "500",
    "group.share.heartbeat.interval.ms": "500",
    # a record a share consumer took but never acknowledged goes back after this lock (default 30 s,
    # minimum 15 s): 3 s lets the lesson show a redelivery without a long wait
    "group.share.min.record.lock.duration.ms": "1000",
    "group.share.record.lock.duration.ms": "3000",
}


def start(quiet: bool = True, timeout: float = 170.0) -> broker.Broker:
    """Start (and wait for) a Kafka :data:`compat.KAFKA4_VERSION` broker with :data:`SETTINGS` on a free port.

    Stop it with :func:`stop`. Any failure is one WorkbookError line with what to do.
    """
    # Plaintext on purpose, also under make test-secure: this broker is the lesson's own (a free port, started and
    # stopped here), not the learner's. Its clients still go through b.connection, so a secured one would work too.
    version = compat.KAFKA4_VERSION
    try:
        return broker.start(port=broker.free_port(), version=version, extra_config=SETTINGS, quiet=quiet,
                            timeout=timeout)
    except WorkbookError:
        raise
    except Exception as exc:  # anything else from deep inside: still one line
        raise BrokerStartError(f"Kafka {version} did not start: {type(exc).__name__}: {exc}",
                               "run `make jars`, then `python -m helpers broker start --version "
                               f"{version}` to see the broker's own log") from None


def stop(b: broker.Broker) -> bool:
    """Stop a broker :func:`start` started, wait for its JVM to exit and delete its run folder; True if it ran."""
    was = bool(broker.status(b.port)["running"])
    compat.stop_kafka4(b)
    return was


def features(conn: ConnLike, timeout: float = 30.0) -> dict[str, int]:
    """The broker's finalized feature levels (``share.version``, ``group.version`` ...), from Kafka's own tool."""
    import subprocess

    from .connection import as_connection

    c = as_connection(conn)
    bootstrap, cfg = c.bootstrap, c.command_config()  # a secured cluster: its properties file for the tool

    java, _ = broker.find_java()
    version = compat.KAFKA4_VERSION
    out = subprocess.run([java, "-Xmx128m", "-cp", broker.classpath(version), "org.apache.kafka.tools.FeatureCommand",
                          "--bootstrap-server", bootstrap,
                          *(["--command-config", str(cfg)] if cfg else []), "describe"], capture_output=True, text=True, timeout=timeout)
    levels: dict[str, int] = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "Feature:" and "FinalizedVersionLevel:" in parts:
            value = parts[parts.index("FinalizedVersionLevel:") + 1]
            if value.isdigit():
                levels[parts[1]] = int(value)
    if not levels:
        raise WorkbookError(f"kafka-features describe gave no feature levels for {bootstrap}",
                            f"is the broker up? {(out.stderr.strip().splitlines() or ['no output'])[-1][:200]}")
    return levels
