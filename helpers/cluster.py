"""An embedded N-broker Apache Kafka cluster (KRaft) on one machine, for the replication lessons.

Same jars, Java and run-state discipline as :mod:`helpers.broker` (a state file, a lock, a JVM
marker ``-Dkfp.run=<node dir>``, stale-state recovery, ``stop`` waits for every JVM), in its own
run directory ``run/cluster-<port>`` under :func:`helpers.broker.home`.

Layout: **one KRaft controller beside N brokers** (not N combined controller+broker nodes). The
lessons kill brokers, two of three at times (``min.insync.replicas``, unclean leader election).
With combined nodes two dead brokers would also be two dead voters of a 3-voter quorum: no
controller majority, so no leader election, no ISR change, nothing to see. A separate controller
keeps the metadata quorum alive whatever happens to the brokers; one voter is enough on one
machine (it is never killed), and costs one small JVM instead of two more.

Node ids 1..N are the Kafka broker ids (what Metadata reports as a partition's leader), racks
``r1..rN``; the controller is node 0 on the base port, broker ``i`` listens on base port + ``i``.

Python API: :func:`start_cluster` / :func:`ensure_cluster` return a :class:`Cluster` handle
(``kill``, ``stop_node``, ``restart``, ``pause``/``resume``, ``leaders``, ``isr``, ``stop``; also a
context manager); :func:`status` and :func:`stop` work from the run state alone (the CLI).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import struct
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

from . import broker as _b
from . import protocol
from .locking import flocked
from .errors import BrokerStartError, PortInUseError, WorkbookError

DEFAULT_BROKERS = 3
#: the controller's port; broker i listens on DEFAULT_CLUSTER_PORT + i (9101-9103 by default,
#: beside the single broker's 9092/9093; $KFP_PORT moves both)
DEFAULT_CLUSTER_PORT = _b.DEFAULT_PORT + 8
CONTROLLER_ID = 0
SECURITY_MODES = ("plaintext", "ssl", "sasl_ssl")

# Memory: three brokers and the controller must fit in about 1.5 GB RSS. A fixed small heap, the
# serial collector (no G1 remembered sets, few GC threads) and the C1 compiler only (less code
# cache and compile CPU on a 2-core machine, at some cost in peak throughput we never need).
_BROKER_HEAP = "256m"
_CONTROLLER_HEAP = "160m"
_JVM_FLAGS = ["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:ReservedCodeCacheSize=40m",
              "-XX:MaxMetaspaceSize=128m", "-XX:MaxDirectMemorySize=128m", "-Xss512k",
              "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true"]


def _log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, flush=True)


# --------------------------------------------------------------------------- security hook


@dataclass
class SecurityPlan:
    """What a security mode adds to the cluster (plaintext adds nothing).

    ``listener`` names the client/inter-broker listener and ``protocol`` its security protocol;
    ``broker_config`` goes into every broker's server.properties (the controller listener stays
    PLAINTEXT on loopback), ``format_args`` go to ``kafka-storage format`` (e.g. ``--add-scram``),
    ``client_settings`` are the clients' Java-style settings (the Connection's), and
    ``client_properties`` is the client properties file written for Kafka's tools and clients.
    """

    listener: str = "PLAINTEXT"
    protocol: str = "PLAINTEXT"
    broker_config: dict[str, str] = field(default_factory=dict)
    controller_config: dict[str, str] = field(default_factory=dict)
    format_args: list[str] = field(default_factory=list)
    client_settings: dict[str, str] = field(default_factory=dict)
    client_properties: str | None = None


def security_plan(rdir: Path, mode: str, bootstrap: str) -> SecurityPlan:
    """The listener, broker settings and client material for ``mode`` (files go under ``rdir``)."""
    if mode not in SECURITY_MODES:
        raise WorkbookError(f"unknown security mode {mode!r}", "use one of: " + ", ".join(SECURITY_MODES))
    if mode == "plaintext":
        return SecurityPlan()
    # ssl / sasl_ssl come from helpers/security.py: its CA, certificate, users and the client
    # properties file go into rdir/security; a cluster formatted for another mode starts afresh
    from . import security

    _wipe_if_mode_changed(rdir, mode)
    m = security.prepare(rdir, mode, bootstrap)
    broker_config, controller_config = m.cluster_configs()
    return SecurityPlan(listener=m.listener, protocol=m.listener, broker_config=broker_config,
                        controller_config=controller_config, format_args=m.format_args(),
                        client_settings=m.settings(), client_properties=str(m.client_properties))


def _wipe_if_mode_changed(rdir: Path, mode: str) -> None:
    marker = rdir / "security-mode"
    before = marker.read_text().strip() if marker.exists() else "plaintext"
    if before != mode:
        for data in rdir.glob("node-*/data"):
            shutil.rmtree(data, ignore_errors=True)
        (rdir / "cluster.id").unlink(missing_ok=True)
    rdir.mkdir(parents=True, exist_ok=True)
    marker.write_text(mode)


def _probe(c: "Cluster", address: str, timeout: float, topic: str | None = None) -> protocol.BrokerInfo:
    """Metadata from one broker (with ``topic``: its partitions' leaders as that broker has them); over TLS
    (and SCRAM as admin) when the cluster is secured."""
    if c.security == "plaintext":
        return protocol.probe(address, timeout=timeout, topic=topic)
    from . import security

    m = security.load(c.run_dir)
    if m is None:
        raise ConnectionError(f"no security material in {c.run_dir}")
    return security.probe(address, m.mode, m.ca_file, security.ADMIN, m.users.get(security.ADMIN), timeout, topic)


# --------------------------------------------------------------------------- handle


@dataclass
class Node:
    """One JVM of the cluster: a broker (id 1..N) or the controller (id 0)."""

    id: int
    role: str  # "broker" | "controller"
    port: int
    run_dir: str
    pid: int | None = None
    rack: str | None = None

    @property
    def alive(self) -> bool:
        """True while this node's JVM runs (a paused JVM is alive)."""
        _reap()
        return _b._pid_is_our_broker(self.pid, self.run_dir)

    @property
    def address(self) -> str:
        return f"{_b.HOST}:{self.port}"

    @property
    def log_file(self) -> Path:
        return Path(self.run_dir) / "broker.log"


_admins: dict[str, Any] = {}

# Popen objects of the JVMs this process started: polled so that killed nodes do not linger as zombies
_children: dict[int, subprocess.Popen] = {}


def _reap() -> None:
    for pid, proc in list(_children.items()):
        if proc.poll() is not None:
            del _children[pid]


@dataclass
class Cluster:
    """A handle on a running embedded cluster. ``started`` is True when this handle started it."""

    port: int
    brokers: int
    nodes: list[Node]
    controller: Node
    version: str = _b.DEFAULT_VERSION
    run_dir: str = ""
    cluster_id: str = ""
    security: str = "plaintext"
    client_settings: dict[str, str] = field(default_factory=dict)
    client_properties: str | None = None
    started_at: float = 0.0
    ready_seconds: float | None = None
    started: bool = field(default=False, compare=False)

    # ---- addresses

    @property
    def bootstrap(self) -> str:
        """Every broker's address, comma-separated (clients need only one that answers)."""
        return ",".join(n.address for n in self.nodes)

    @property
    def connection(self) -> Any:
        """A :class:`helpers.connection.Connection` when that module exists, else the bootstrap string."""
        try:
            from .connection import Connection  # engineer C's module; a plain string until it lands
        except ImportError:
            return self.bootstrap
        return Connection(self.bootstrap, dict(self.client_settings))

    def node(self, node_id: int) -> Node:
        """The broker with Kafka broker id ``node_id``; a WorkbookError for any other number."""
        for n in self.nodes:
            if n.id == node_id:
                return n
        ids = ", ".join(str(n.id) for n in self.nodes)
        raise WorkbookError(f"there is no broker {node_id!r} in this cluster",
                            f"use a broker id Kafka reports ({ids}); the controller (0) is not killed by the lessons")

    def alive(self) -> list[int]:
        """Ids of the brokers whose JVM runs."""
        return [n.id for n in self.nodes if n.alive]

    # ---- failures and repairs

    def kill(self, node_id: int) -> float:
        """SIGKILL broker ``node_id`` (a crash: no clean shutdown, no leadership hand-over); returns
        the moment (time.monotonic()) the signal was sent. Waits until the JVM is gone."""
        n = self.node(node_id)
        if not n.alive:
            raise WorkbookError(f"broker {node_id} is not running", f"restart it first: cluster.restart({node_id})")
        t = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            os.kill(n.pid, signal.SIGKILL)  # type: ignore[arg-type]
        _wait_gone(n, 15.0)
        return t

    def stop_node(self, node_id: int, timeout: float = 30.0) -> None:
        """Stop broker ``node_id`` cleanly (SIGTERM: controlled shutdown moves its leaderships first)."""
        _stop_nodes([self.node(node_id)], timeout)

    def pause(self, node_id: int) -> None:
        """Freeze broker ``node_id`` (SIGSTOP), like a long GC pause: it keeps its sockets and stays in the
        ISR until replica.lag.time.max.ms, but neither fetches nor answers. :meth:`resume` thaws it."""
        n = self.node(node_id)
        if not n.alive:
            raise WorkbookError(f"broker {node_id} is not running", f"restart it first: cluster.restart({node_id})")
        os.kill(n.pid, signal.SIGSTOP)  # type: ignore[arg-type]

    def resume(self, node_id: int) -> None:
        """Thaw a broker frozen by :meth:`pause` (harmless on a running one)."""
        _resume(self.node(node_id))

    @contextlib.contextmanager
    def paused(self, *node_ids: int) -> Iterator[None]:
        """Freeze brokers for the duration of a ``with`` block; they are thawed even on Ctrl-C."""
        try:
            for i in node_ids:
                self.pause(i)
            yield
        finally:
            for i in node_ids:
                self.resume(i)

    def restart(self, node_id: int, *, wait: bool = True, timeout: float = 90.0, quiet: bool = True) -> float | None:
        """Start broker ``node_id`` again (after ``kill`` or ``stop_node``); with ``wait`` block until
        Metadata lists it and return the seconds that took. A running broker is left as it is."""
        n = self.node(node_id)
        with _lock(Path(self.run_dir)):
            if n.alive:
                return 0.0
            t0 = time.monotonic()
            _launch(n, self.version)
            _write_state(self)
        if not wait:
            return None
        self.wait_ready(timeout, nodes=[node_id])
        seconds = round(time.monotonic() - t0, 2)
        _log(f"broker {node_id} back in {seconds:.1f} s", quiet)
        return seconds

    def wait_ready(self, timeout: float = 90.0, nodes: list[int] | None = None) -> float:
        """Block until every running broker (or those in ``nodes``) answers and Metadata lists all of them;
        returns the seconds waited. Raises BrokerStartError, with the log's reason, if a node dies."""
        return _wait_ready(self, timeout, nodes)

    # ---- what the cluster says

    def _admin(self):
        """One AdminClient per cluster address, kept: polling leaders() must not build a client each time.
        librdkafka's log is cut to critical lines: refused connections to a killed broker are the point."""
        key = self.bootstrap
        if key not in _admins:
            from confluent_kafka.admin import AdminClient

            conn = self.connection
            conf = conn.config("confluent-kafka", role="admin") if hasattr(conn, "config") else {"bootstrap.servers": conn}
            _admins[key] = AdminClient({**conf, "log_level": 2, "socket.timeout.ms": 10000})
        return _admins[key]

    def wait_in_sync(self, topic: str, timeout: float = 60.0) -> float:
        """Block until every partition of ``topic`` has all its replicas in the ISR; returns the seconds."""
        t0 = time.monotonic()
        while True:
            d = self.describe_topic(topic)
            if all(len(p["isr"]) == len(p["replicas"]) for p in d.values()):
                return round(time.monotonic() - t0, 2)
            if time.monotonic() - t0 > timeout:
                lagging = {p: x["isr"] for p, x in d.items() if len(x["isr"]) < len(x["replicas"])}
                raise WorkbookError(f"{topic}: replicas still out of sync after {timeout:.0f} s (ISR {lagging})",
                                    "is every broker running? cluster.status()")
            time.sleep(0.2)

    def describe_topic(self, topic: str, timeout: float = 10.0) -> dict[int, dict[str, Any]]:
        """Per partition: ``leader`` (-1 when none), ``replicas`` and ``isr`` (broker ids), from a fresh
        Metadata request through the Admin API."""
        # Each broker learns of a new topic from the metadata log on its own, tens of ms apart: a topic that
        # create_topic saw on one broker may not be on the one asked now, so a missing topic gets 3 s to appear.
        deadline = time.monotonic() + 3.0
        while True:
            md = self._admin().list_topics(topic, timeout=timeout).topics.get(topic)
            if (md is not None and md.partitions) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if md is None or (md.error is not None and not md.partitions):
            raise WorkbookError(f"topic {topic!r} does not exist on the cluster",
                                "create it first (helpers.admin.create_topic with replication_factor=3)")
        return {p: {"leader": pm.leader, "replicas": list(pm.replicas), "isr": sorted(pm.isrs)}
                for p, pm in sorted(md.partitions.items())}

    def leaders(self, topic: str) -> dict[int, int]:
        """``{partition: leader broker id}``; -1 while a partition has no leader."""
        return {p: d["leader"] for p, d in self.describe_topic(topic).items()}

    def leaders_by_broker(self, topic: str, timeout: float = 3.0) -> dict[int, dict[int, int]]:
        """``{broker id: {partition: leader}}`` as each running broker has it on record. Brokers learn of a
        leader change from the metadata log one by one, so for a moment they can disagree (and a client
        that asks one broker, then another, can see the leader flip back). A broker that does not answer
        (paused, starting) is left out."""
        out = {}
        for n in self.nodes:
            if n.alive:
                with contextlib.suppress(OSError, ValueError, ConnectionError, struct.error):
                    out[n.id] = _probe(self, n.address, timeout, topic).leaders
        return out

    def wait_leaders_agree(self, topic: str, expected: dict[int, int] | None = None, timeout: float = 10.0) -> bool:
        """Block until every running broker records ``expected`` (``{partition: leader}``), or with None
        the same leader (not -1) for every partition; False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            seen = list(self.leaders_by_broker(topic).values())
            if expected is None:
                agree = bool(seen) and bool(seen[0]) and all(v == seen[0] for v in seen) and -1 not in seen[0].values()
            else:
                agree = bool(seen) and all(all(v.get(p) == ld for p, ld in expected.items()) for v in seen)
            if agree:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)

    def isr(self, topic: str) -> dict[int, list[int]]:
        """``{partition: in-sync replica ids}``."""
        return {p: d["isr"] for p, d in self.describe_topic(topic).items()}

    def replicas(self, topic: str) -> dict[int, list[int]]:
        """``{partition: replica ids in preference order}`` (the first is the preferred leader)."""
        return {p: d["replicas"] for p, d in self.describe_topic(topic).items()}

    def elect_leaders(self, topic: str, unclean: bool = False, timeout: float = 15.0) -> dict[int, str]:
        """Ask the controller for a preferred (or, with ``unclean``, an unclean) leader election on every
        partition of ``topic``; returns ``{partition: "elected" | the reason it was not}``."""
        from confluent_kafka import ElectionType, KafkaException, TopicPartition

        parts = [TopicPartition(topic, p) for p in self.describe_topic(topic)]
        kind = ElectionType.UNCLEAN if unclean else ElectionType.PREFERRED
        try:
            # no timeout kwargs: confluent-kafka 2.16.1's elect_leaders raises SystemError on any of them
            # ("more argument specifiers than keyword list entries"); socket.timeout.ms (10 s) bounds it
            result = self._admin().elect_leaders(kind, parts).result(timeout=timeout)
        except KafkaException as exc:
            raise WorkbookError(f"leader election on {topic!r} failed: {exc.args[0].str()}",
                                "are the preferred leaders running? cluster.status()") from None
        out = {}
        for tp, err in sorted(result.items(), key=lambda kv: kv[0].partition):
            err = getattr(err, "args", [err])[0] if err is not None else None  # KafkaException or KafkaError
            out[tp.partition] = ("elected" if err is None else "already the preferred leader"
                                 if err.name() == "ELECTION_NOT_NEEDED" else err.str())
        if not unclean:  # return once every broker has the preferred leaders, so what follows sees them
            preferred = {p: r[0] for p, r in self.replicas(topic).items() if out.get(p) == "elected"}
            self.wait_leaders_agree(topic, preferred, timeout=5.0)
        return out

    def describe(self) -> str:
        """One line: version, brokers, address, and how the cluster came to be."""
        how = f"started in {self.ready_seconds:.1f} s" if self.started and self.ready_seconds else "already running"
        up = len(self.alive())
        return (f"Apache Kafka {self.version} cluster: {up}/{self.brokers} brokers up at {self.bootstrap} "
                f"(embedded, one KRaft controller on {self.controller.port}, {how})")

    def status(self) -> dict[str, Any]:
        """The cluster's state as a dict (what ``cluster status`` prints)."""
        return status(self.port)

    # ---- life

    def stop(self, wipe: bool = False, timeout: float = 30.0) -> bool:
        """Stop every JVM of this cluster and wait for each; ``wipe`` deletes the data too."""
        return stop(self.port, wipe=wipe, timeout=timeout, quiet=True)

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.started:
            self.stop()


# --------------------------------------------------------------------------- run state


def run_dir(port: int = DEFAULT_CLUSTER_PORT) -> Path:
    """The folder holding the state, nodes' configs, data and logs of the cluster on ``port``."""
    return _b.home() / "run" / f"cluster-{port}"


def _state_file(rdir: Path) -> Path:
    return rdir / "state.json"


def _write_state(c: Cluster) -> None:
    data = asdict(c)
    data.pop("started")
    path = _state_file(Path(c.run_dir))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def _from_dict(data: dict[str, Any]) -> Cluster:
    data = dict(data)
    data["nodes"] = [Node(**n) for n in data["nodes"]]
    data["controller"] = Node(**data["controller"])
    return Cluster(**data)


def _read_props(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            out[key.strip()] = value.strip()
    return out


def _read_state(port: int) -> Cluster | None:
    """The recorded cluster on ``port``. When state.json is missing or corrupt but node configs are
    there, the layout is rebuilt from them and live JVMs are found by their marker (never orphaned)."""
    rdir = run_dir(port)
    try:
        return _from_dict(json.loads(_state_file(rdir).read_text()))
    except (OSError, ValueError, TypeError, KeyError):
        pass
    nodes, controller, version = [], None, _b.DEFAULT_VERSION
    for props_file in sorted(rdir.glob("node-*/server.properties")):
        try:
            props = _read_props(props_file)
            nid = int(props["node.id"])
            ndir = props_file.parent
            if props["process.roles"] == "controller":
                nport = int(props["listeners"].rsplit(":", 1)[1])
                controller = Node(nid, "controller", nport, str(ndir), _b._find_our_jvm(str(ndir)))
            else:
                nport = int(props["advertised.listeners"].rsplit(":", 1)[1])
                nodes.append(Node(nid, "broker", nport, str(ndir), _b._find_our_jvm(str(ndir)), props.get("broker.rack")))
            with contextlib.suppress(OSError):
                version = (ndir / "version").read_text().strip() or version
        except (OSError, KeyError, ValueError, IndexError):
            continue
    if controller is None or not nodes:
        return None
    nodes.sort(key=lambda n: n.id)
    c = Cluster(port=port, brokers=len(nodes), nodes=nodes, controller=controller, version=version, run_dir=str(rdir))
    with contextlib.suppress(OSError):
        _write_state(c)
    return c


@contextlib.contextmanager
def _lock(rdir: Path) -> Iterator[None]:
    """Serialise start/stop/restart of one cluster between processes (a notebook and `make test`)."""
    rdir.mkdir(parents=True, exist_ok=True)
    with flocked(rdir / ".lock"):
        yield


# --------------------------------------------------------------------------- configuration


def _node_properties(node: Node, brokers: list[Node], controller: Node, plan: SecurityPlan) -> str:
    """server.properties of one node: the single broker's teaching settings plus the cluster ones."""
    data = Path(node.run_dir) / "data"
    base = _read_props_text(_b.server_properties(node.port, controller.port, data))
    voters = f"{controller.id}@{_b.HOST}:{controller.port}"
    n = len(brokers)
    common = {
        "node.id": str(node.id),
        "controller.quorum.voters": voters,
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": f"CONTROLLER:PLAINTEXT,{plan.listener}:{plan.protocol}",
        # Brokers that stop heartbeating are fenced (and dropped from every ISR) after this long;
        # Kafka's 9 s default would make every crash demo wait 9 s for the election.
        "broker.session.timeout.ms": "4000",
        "broker.heartbeat.interval.ms": "500",
    }
    if node.role == "controller":
        props = {k: v for k, v in base.items() if k not in ("advertised.listeners", "inter.broker.listener.name")}
        props.update(common)
        props.update({"process.roles": "controller", "listeners": f"CONTROLLER://{_b.HOST}:{controller.port}",
                      **plan.controller_config})
        return "".join(f"{k}={v}\n" for k, v in props.items())
    props = dict(base)
    props.update(common)
    props.update({
        "process.roles": "broker",
        "listeners": f"{plan.listener}://{_b.HOST}:{node.port}",
        "advertised.listeners": f"{plan.listener}://{_b.HOST}:{node.port}",
        "inter.broker.listener.name": plan.listener,
        # each broker its own rack: replicas of a partition are spread over racks (KIP-36), and
        # consumers may fetch from the nearest replica (KIP-392)
        "broker.rack": node.rack or f"r{node.id}",
        # replication: three copies of every topic and of the internal topics; a write with
        # acks=all needs two of them in sync
        "default.replication.factor": str(n),
        "offsets.topic.replication.factor": str(n),
        "transaction.state.log.replication.factor": str(n),
        "min.insync.replicas": str(min(2, n)),
        "transaction.state.log.min.isr": str(min(2, n)),
        # fewer threads than the defaults (8 I/O, 3 network): three brokers share two cores
        "num.io.threads": "2",
        "num.network.threads": "2",
        "background.threads": "4",
        **plan.broker_config,
    })
    return "".join(f"{k}={v}\n" for k, v in props.items())


def _read_props_text(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key] = value
    return out


def _jvm_cmd(node: Node, version: str, java: str, main: list[str]) -> list[str]:
    ndir = Path(node.run_dir)
    heap = _CONTROLLER_HEAP if node.role == "controller" else os.environ.get("KFP_CLUSTER_HEAP", _BROKER_HEAP)
    logging = ndir / ("log4j.properties" if version.startswith("3.") else "log4j2.properties")
    prop = "-Dlog4j.configuration=file:" if version.startswith("3.") else "-Dlog4j2.configurationFile="
    return [java, f"-Xms{heap}", f"-Xmx{heap}", *_JVM_FLAGS, f"{prop}{logging}", f"-Dkafka.logs.dir={ndir}",
            f"-Dkfp.run={ndir}",  # marks the JVM as ours: status/stop never touch a stranger
            "-cp", _b.classpath(version), *main]


def _format_all(java: str, version: str, nodes: list[Node], cluster_id: str, plan: SecurityPlan, timeout: float) -> None:
    """``kafka-storage format`` every node that is not formatted yet, all at once."""
    procs = []
    for n in nodes:
        if (Path(n.run_dir) / "data" / "meta.properties").exists():
            continue
        cmd = _jvm_cmd(n, version, java, ["kafka.tools.StorageTool", "format", "-t", cluster_id,
                                          "-c", str(Path(n.run_dir) / "server.properties"), "--ignore-formatted",
                                          *plan.format_args])
        cmd = [a for a in cmd if not a.startswith("-Dkfp.run=")]  # a formatter is not a node
        procs.append((n, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                          stdin=subprocess.DEVNULL)))
    try:
        for n, p in procs:
            out, _ = p.communicate(timeout=timeout)
            if p.returncode != 0:
                tail = " | ".join(out.strip().splitlines()[-3:])
                raise BrokerStartError(f"formatting the KRaft storage of node {n.id} failed: {tail}",
                                       f"delete {Path(n.run_dir).parent} and start again")
    finally:
        for _, p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def _launch(node: Node, version: str) -> None:
    java, _ = _b.find_java()
    ndir = Path(node.run_dir)
    cmd = _jvm_cmd(node, version, java, ["kafka.Kafka", str(ndir / "server.properties")])
    with open(node.log_file, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ndir,
                                start_new_session=True)  # survives a kernel restart; stop() ends it
    _children[proc.pid] = proc
    node.pid = proc.pid


def _resume(node: Node) -> None:
    if node.pid and node.alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(node.pid, signal.SIGCONT)


def _wait_gone(node: Node, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while node.alive and time.monotonic() < deadline:
        proc = _children.get(node.pid or -1)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(0.1)
        else:
            time.sleep(0.05)


def _why_it_died(node: Node) -> str:
    try:
        with open(node.log_file, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            tail = fh.read().decode(errors="replace").splitlines()[-400:]
    except OSError:
        return "(no log)"
    first = next((i for i, line in enumerate(tail) if " ERROR " in line or " FATAL " in line), None)
    shown = tail[-2:] if first is None else [tail[first]] + [x for x in tail[first + 1:first + 40] if x.startswith("Caused by:")][-1:]
    return " | ".join(s.strip()[:300] for s in shown) or "(the log is empty)"


def _wait_ready(c: Cluster, timeout: float, only: list[int] | None = None) -> float:
    """Ready = every running broker answers, and a Metadata answer lists each of them (unfenced)."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while True:
        if not c.controller.alive:
            raise BrokerStartError(f"the cluster's controller (node 0) is not running: {_why_it_died(c.controller)}",
                                   f"start the cluster again: python -m helpers cluster start --port {c.port}")
        want = [n for n in c.nodes if n.alive or (only and n.id in only)]
        dead = [n for n in want if not n.alive]
        if dead:
            n = dead[0]
            raise BrokerStartError(f"broker {n.id} exited while starting: {_why_it_died(n)}",
                                   f"its log: {n.log_file}")
        ids = {n.id for n in want}
        listed_everywhere = bool(want)
        for n in want:
            try:
                listed = {b[0] for b in _probe(c, n.address, 1.0).brokers}
            except (OSError, ValueError, ConnectionError, Exception):
                listed = set()
            if not ids <= listed:
                listed_everywhere = False
                break
        if listed_everywhere:
            return round(time.monotonic() - t0, 2)
        if time.monotonic() > deadline:
            raise BrokerStartError(f"the cluster on port {c.port} was not ready within {timeout:.0f} s "
                                   f"(brokers {sorted(ids)} expected in Metadata)",
                                   f"see the node logs in {c.run_dir}; a busy machine may need a longer timeout")
        time.sleep(0.2)


# --------------------------------------------------------------------------- lifecycle


def start_cluster(brokers: int = DEFAULT_BROKERS, security: str = "plaintext", quiet: bool = False, *,
                  port: int = DEFAULT_CLUSTER_PORT, version: str = _b.DEFAULT_VERSION,
                  timeout: float = 120.0) -> Cluster:
    """Start an embedded cluster of ``brokers`` brokers and one controller (or find the one running).

    Ready when every broker answers and Metadata lists all of them. A cluster already running on
    ``port`` is reused (brokers that died are started again); ``started`` is True only when this call
    launched JVMs.
    """
    if not isinstance(brokers, int) or not 1 <= brokers <= 9:
        raise WorkbookError(f"{brokers!r} brokers: the embedded cluster has 1 to 9", "use brokers=3 (the default)")
    _b.check_port_number(port)
    if port + brokers > 65535:
        raise WorkbookError(f"port {port} leaves no room for {brokers} brokers above it", "use a lower --port")
    rdir = run_dir(port)
    with _lock(rdir):
        state = _read_state(port)
        if state is not None and (state.controller.alive or any(n.alive for n in state.nodes)):
            if state.brokers != brokers or state.version != version or state.security != security:
                raise PortInUseError(
                    f"a {state.brokers}-broker Kafka {state.version} cluster ({state.security}) already runs on port {port}",
                    f"use it, or stop it first: python -m helpers cluster stop --port {port}")
            return _heal(state, timeout, quiet)
        if state is not None:
            _log(f"Cleaning up after a cluster on port {port} that is gone.", quiet)
            _state_file(rdir).unlink(missing_ok=True)
            if state.brokers != brokers:
                shutil.rmtree(rdir / "data", ignore_errors=True)
                for n in [*state.nodes, state.controller]:
                    shutil.rmtree(Path(n.run_dir) / "data", ignore_errors=True)
        return _start_fresh(rdir, port, brokers, security, version, timeout, quiet)


def _heal(c: Cluster, timeout: float, quiet: bool) -> Cluster:
    """Reuse a running cluster; start again whatever node of it died (a killed broker, say)."""
    c.started = False
    if not c.controller.alive:
        _launch(c.controller, c.version)
    for n in c.nodes:
        if not n.alive:
            _log(f"Broker {n.id} of the cluster is not running: starting it again.", quiet)
            _launch(n, c.version)
        else:
            _resume(n)
    _write_state(c)
    _wait_ready(c, timeout, [n.id for n in c.nodes])
    return c


def _start_fresh(rdir: Path, port: int, brokers: int, security: str, version: str, timeout: float,
                 quiet: bool) -> Cluster:
    java, _ = _b.find_java()
    _b.resolve_jars(version, quiet=quiet)
    ports = [port + i for i in range(brokers + 1)]
    taken = [p for p in ports if not _b._port_free(p)]
    if taken:
        raise PortInUseError(f"port {taken[0]} (of {ports[0]}-{ports[-1]}, the cluster's ports) is in use by "
                             f"{_b._who_listens(taken[0])}",
                             f"stop that program, or pick another base port: python -m helpers cluster start --port {port + 100}")
    controller = Node(CONTROLLER_ID, "controller", port, str(rdir / f"node-{CONTROLLER_ID}"))
    nodes = [Node(i, "broker", port + i, str(rdir / f"node-{i}"), rack=f"r{i}") for i in range(1, brokers + 1)]
    bootstrap = ",".join(n.address for n in nodes)
    plan = security_plan(rdir, security, bootstrap)
    cluster_id = _existing_cluster_id(rdir) or _b._cluster_id()
    for n in [controller, *nodes]:
        ndir = Path(n.run_dir)
        (ndir / "data").mkdir(parents=True, exist_ok=True)
        (ndir / "server.properties").write_text(_node_properties(n, nodes, controller, plan))
        (ndir / "log4j.properties").write_text(_b._LOG4J)
        (ndir / "log4j2.properties").write_text(_b._LOG4J2)
        (ndir / "version").write_text(version)
    c = Cluster(port=port, brokers=brokers, nodes=nodes, controller=controller, version=version, run_dir=str(rdir),
                cluster_id=cluster_id, security=security, client_settings=dict(plan.client_settings),
                client_properties=plan.client_properties, started_at=time.time(), started=True)
    t0 = time.monotonic()
    try:
        _format_all(java, version, [controller, *nodes], cluster_id, plan, timeout)
        (rdir / "cluster.id").write_text(cluster_id)
        for n in [controller, *nodes]:
            _launch(n, version)
        _write_state(c)
        _wait_ready(c, timeout, [n.id for n in nodes])
    except BaseException:  # Ctrl-C included: no JVM is left behind untracked
        _stop_nodes([*nodes, controller], 10.0)
        _state_file(rdir).unlink(missing_ok=True)
        raise
    c.ready_seconds = round(time.monotonic() - t0, 2)
    _write_state(c)
    _log(c.describe(), quiet)
    return c


def _existing_cluster_id(rdir: Path) -> str | None:
    with contextlib.suppress(OSError):
        return (rdir / "cluster.id").read_text().strip() or None
    return None


def ensure_cluster(brokers: int = DEFAULT_BROKERS, *, quiet: bool = False, timeout: float = 120.0,
                   port: int = DEFAULT_CLUSTER_PORT) -> Cluster:
    """The cluster lessons 07+ call first: the running one on ``port`` (healed if a broker died), or a new one."""
    from .errors import install_ipython_handler

    install_ipython_handler()
    c = start_cluster(brokers, quiet=True, port=port, timeout=timeout)
    _log(c.describe(), quiet)
    return c


def _stop_nodes(nodes: list[Node], timeout: float) -> None:
    """SIGCONT + SIGTERM to every live node at once, SIGKILL after ``timeout``; wait for every exit.

    "Exited" includes a zombie: a JVM another process started (the CLI, a notebook kernel) stays a
    zombie until that parent reaps it, and waiting for the pid to vanish would wait for nothing.
    """
    live = [n for n in nodes if n.alive]
    for sig in (signal.SIGCONT, signal.SIGTERM):
        for n in live:
            with contextlib.suppress(ProcessLookupError, TypeError):
                os.kill(n.pid, sig)  # type: ignore[arg-type]
    deadline = time.monotonic() + timeout
    while any(n.alive for n in live) and time.monotonic() < deadline:
        time.sleep(0.1)
    for n in live:
        if n.alive:
            with contextlib.suppress(ProcessLookupError, TypeError):
                os.kill(n.pid, signal.SIGKILL)  # type: ignore[arg-type]
    for n in live:
        _wait_gone(n, 10.0)


def stop(port: int = DEFAULT_CLUSTER_PORT, *, wipe: bool = False, timeout: float = 30.0, quiet: bool = False) -> bool:
    """Stop every JVM of the cluster on ``port`` (brokers first, then the controller) and wait for each;
    True if any was running. ``wipe`` deletes the cluster's data too."""
    rdir = run_dir(port)
    if not rdir.exists():
        _log(f"No embedded cluster on port {port}.", quiet)
        return False
    with _lock(rdir):
        c = _read_state(port)
        running = c is not None and (c.controller.alive or any(n.alive for n in c.nodes))
        if c is not None:
            # brokers first, all at once: their controlled shutdown needs the controller
            _stop_nodes(c.nodes, timeout)
            _stop_nodes([c.controller], timeout)
        _log(f"Stopped the embedded cluster on port {port}." if running else f"No embedded cluster runs on port {port}.",
             quiet)
        _state_file(rdir).unlink(missing_ok=True)
        if wipe:
            for child in rdir.iterdir():
                if child.name != ".lock":
                    shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
        return running


def status(port: int = DEFAULT_CLUSTER_PORT) -> dict[str, Any]:
    """The cluster on ``port`` as a dict: one entry per node (id, role, port, pid, alive, ready, rack)."""
    c = _read_state(port)
    out: dict[str, Any] = {"port": port, "run_dir": str(run_dir(port)), "running": False, "nodes": []}
    if c is None:
        return out
    listed: set[int] = set()
    for n in c.nodes:
        if n.alive:
            with contextlib.suppress(Exception):
                listed = {b[0] for b in _probe(c, n.address, 2.0).brokers}
                break
    for n in [c.controller, *c.nodes]:
        alive = n.alive
        entry = {"id": n.id, "role": n.role, "port": n.port, "pid": n.pid if alive else None, "alive": alive}
        if n.role == "broker":
            entry.update(rack=n.rack, ready=alive and n.id in listed)
        out["nodes"].append(entry)
    out.update(running=any(e["alive"] for e in out["nodes"]), brokers=c.brokers, version=c.version,
               bootstrap=c.bootstrap, security=c.security, ready_seconds=c.ready_seconds,
               client_properties=c.client_properties)
    return out


def attach(port: int = DEFAULT_CLUSTER_PORT) -> Cluster:
    """A handle on the cluster already running on ``port`` (for the CLI's kill/restart)."""
    c = _read_state(port)
    if c is None or not (c.controller.alive or any(n.alive for n in c.nodes)):
        raise WorkbookError(f"no embedded cluster runs on port {port}", "start one: python -m helpers cluster start")
    return c


# --------------------------------------------------------------------------- command line


def add_parser(sub: Any) -> None:
    """``python -m helpers cluster start|status|kill|restart|stop|logs``."""
    p = sub.add_parser("cluster", help="start, inspect, break and stop the embedded N-broker Kafka cluster")
    p.add_argument("action", choices=["start", "status", "kill", "restart", "stop", "logs"],
                   help="kill ID = SIGKILL broker ID (a crash); restart ID starts it again")
    p.add_argument("id", nargs="?", type=int, help="with kill/restart/logs: the broker id (1..N, as Kafka reports it)")
    p.add_argument("--brokers", type=int, default=DEFAULT_BROKERS, help=f"with start: how many brokers (default {DEFAULT_BROKERS})")
    p.add_argument("--security", choices=SECURITY_MODES, default="plaintext", help="with start: listener security")
    p.add_argument("--port", type=int, default=DEFAULT_CLUSTER_PORT,
                   help=f"the controller's port; broker i gets port + i (default {DEFAULT_CLUSTER_PORT})")
    p.add_argument("--wipe", action="store_true", help="with stop: also delete the cluster's data")
    p.add_argument("--lines", type=int, default=40, help="with logs: how many lines")


def cli(args: Any) -> int:
    """Run one ``cluster`` action; a WorkbookError reaches the caller (one line on stderr)."""
    if args.action == "start":
        c = start_cluster(args.brokers, args.security, quiet=True, port=args.port)
        print(c.describe())
        print(c.bootstrap)
        if c.client_properties:
            print(c.client_properties)
        return 0
    if args.action == "status":
        st = status(args.port)
        print(json.dumps(st, indent=1))
        return 0 if st["running"] else 3
    if args.action == "stop":
        stop(args.port, wipe=args.wipe)
        return 0
    if args.id is None:
        raise WorkbookError(f"cluster {args.action} needs a broker id", f"e.g. python -m helpers cluster {args.action} 2")
    c = attach(args.port)
    if args.action == "kill":
        c.kill(args.id)
        print(f"broker {args.id} killed (SIGKILL)")
    elif args.action == "restart":
        seconds = c.restart(args.id)
        print(f"broker {args.id} running again ({seconds:.1f} s)")
    else:
        path = c.node(args.id).log_file
        try:
            lines = path.read_text(errors="replace").splitlines()[-args.lines:]
        except OSError:
            lines = [f"no log at {path}"]
        print("\n".join(lines))
    return 0
