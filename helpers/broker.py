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
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
import base64
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

from . import protocol
from .errors import (
    WorkbookError,
    BrokerStartError,
    BrokerUnreachableError,
    ForeignBrokerError,
    JarResolutionError,
    JavaNotFoundError,
    PortInUseError,
)

DEFAULT_VERSION = "3.9.2"  # newest 3.9 patch on Maven Central; pykafka still works against 3.9
DEFAULT_PORT = 9092
HOST = "127.0.0.1"
POM = Path(__file__).parent / "jars" / "pom.xml"
MIN_JAVA = 17


def home() -> Path:
    """Where jars and run state live: ``$KFP_HOME``, else ``~/.cache/kafka-from-python``."""
    return Path(os.environ.get("KFP_HOME") or Path.home() / ".cache" / "kafka-from-python")


def _log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, flush=True)


# --------------------------------------------------------------------------- Java


def find_java() -> tuple[str, int]:
    """Return ``(path, major version)`` of the Java that will run the broker.

    ``$JAVA_HOME/bin/java`` wins when JAVA_HOME is set, else ``java`` on PATH.
    Raises JavaNotFoundError when there is none or it is older than 17.
    """
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        where = f"JAVA_HOME={java_home} has no bin/java" if java_home else "no `java` on PATH"
        raise JavaNotFoundError(
            f"Java {MIN_JAVA}+ is needed to run the embedded Kafka broker, but {where}",
            "install a JDK 17+ (apt-get install openjdk-17-jre-headless, brew install openjdk@17, "
            "or conda env create -f environment.yml), or use Docker: docker compose up -d",
        )
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise JavaNotFoundError(f"{java} -version failed ({exc})", "reinstall Java 17+") from None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    major = 0
    if match:
        major = int(match.group(1))
        if major == 1 and match.group(2):  # "1.8.0_392" is Java 8
            major = int(match.group(2))
    if major < MIN_JAVA:
        raise JavaNotFoundError(
            f"{java} is Java {major or '?'}, Kafka {DEFAULT_VERSION} needs Java {MIN_JAVA}+",
            "install JDK 17+ and put it first on PATH or set JAVA_HOME",
        )
    return java, major


# --------------------------------------------------------------------------- jars


def jar_dir(version: str = DEFAULT_VERSION) -> Path:
    """The cache folder holding every jar the broker of ``version`` needs."""
    return home() / "jars" / version / "libs"


def _manifest(version: str) -> Path:
    return jar_dir(version).parent / "MANIFEST.json"


def jars_ok(version: str = DEFAULT_VERSION) -> bool:
    """True when the jar cache for ``version`` is complete: every jar in the manifest, intact."""
    manifest = _manifest(version)
    try:
        expected = json.loads(manifest.read_text())["jars"]
    except (OSError, ValueError, KeyError):
        return False
    libs = jar_dir(version)
    for name, size in expected.items():
        path = libs / name
        try:
            if path.stat().st_size != size:
                return False
        except OSError:
            return False
    # a cheap integrity check of the jars that matter most: can their zip directories be read?
    for name in expected:
        if name.startswith(("kafka_2.13-", "kafka-clients-", "kafka-server-")):
            try:
                with zipfile.ZipFile(libs / name) as zf:
                    zf.namelist()
            except (OSError, zipfile.BadZipFile):
                return False
    return bool(expected)


def _profile(version: str) -> str:
    return "kafka3" if version.startswith("3.") else "kafka4"


def resolve_jars(version: str = DEFAULT_VERSION, *, quiet: bool = False, maven_args: list[str] | None = None) -> Path:
    """Fetch the Kafka ``version`` jars with Maven into the cache (once) and return the folder.

    An incomplete or corrupted cache is wiped and resolved again. Extra ``maven_args``
    (or ``$KFP_MAVEN_ARGS``) go to ``mvn``, e.g. ``-o`` to stay offline.
    """
    if jars_ok(version):
        return jar_dir(version)
    mvn = shutil.which("mvn")
    artifact = f"org.apache.kafka:kafka_2.13:{version}"
    if not mvn:
        raise JarResolutionError(
            f"the Kafka {version} jars are not cached yet and Maven (`mvn`) is not installed",
            "install Maven (apt-get install maven, brew install maven, or use environment.yml), "
            "then run `make setup`; or use Docker: docker compose up -d",
        )
    libs = jar_dir(version)
    staging = libs.parent / "libs.partial"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(libs, ignore_errors=True)
    _manifest(version).unlink(missing_ok=True)
    staging.mkdir(parents=True, exist_ok=True)
    extra = maven_args if maven_args is not None else os.environ.get("KFP_MAVEN_ARGS", "").split()
    cmd = [mvn, "-B", "-q", "-f", str(POM), f"-Dkafka.version={version}", f"-P{_profile(version)}",
           "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={staging}", *extra]
    _log(f"Resolving Apache Kafka {version} jars from Maven Central (once; about 60 MB)...", quiet)
    t0 = time.monotonic()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        raise JarResolutionError(f"Maven took over 15 minutes resolving {artifact}", "check the network and run `make setup` again") from None
    if out.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
        text = out.stdout + out.stderr
        missing = re.search(r"(?:resolve|find artifact|dependencies for project)\s+([\w.\-]+:[\w.\-]+(?::[\w.\-]+)*)", text)
        what = missing.group(1) if missing else artifact
        offline = "offline" in text.lower() or "Could not transfer" in text or "UnknownHost" in text
        shutil.rmtree(staging, ignore_errors=True)
        raise JarResolutionError(
            f"Maven could not resolve {what}" + (" (offline or Maven Central unreachable)" if offline else ""),
            "connect to the network (Maven Central) and run `make setup`; details: mvn -f helpers/jars/pom.xml "
            f"-Dkafka.version={version} -P{_profile(version)} dependency:copy-dependencies",
        )
    jars = {p.name: p.stat().st_size for p in sorted(staging.glob("*.jar"))}
    staging.rename(libs)
    _manifest(version).write_text(json.dumps({"version": version, "jars": jars}, indent=1))
    _log(f"Resolved {len(jars)} jars in {time.monotonic() - t0:.1f} s into {libs}", quiet)
    return libs


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
    started: bool = field(default=False, compare=False)

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
    b = Broker(bootstrap=f"{HOST}:{port}", version=version, pid=pid, port=port, run_dir=rdir,
               log_file=str(Path(rdir) / "broker.log"), data_dir=str(Path(rdir) / "data"))
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
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return _is_our_jvm(proc.cmdline(), rdir)
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
    rdir.mkdir(parents=True, exist_ok=True)
    with open(rdir / ".lock", "w") as fh:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks, accept the small race
            yield
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _who_listens(port: int) -> str:
    try:
        import psutil

        for conn in psutil.net_connections("tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
                return f"{psutil.Process(conn.pid).name()} (pid {conn.pid})"
    except Exception:  # AccessDenied on macOS without root, or the process went away
        pass
    return "another program"


def _check_port(port: int, what: str) -> None:
    if _port_free(port):
        return
    address = f"{HOST}:{port}"
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


def _format_storage(java: str, version: str, rdir: Path, props: Path, data: Path, timeout: float) -> None:
    if (data / "meta.properties").exists():
        return
    cmd = [java, *_jvm_args(version, rdir, "256m"), "kafka.tools.StorageTool", "format",
           "-t", _cluster_id(), "-c", str(props), "--ignore-formatted"]
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
) -> Broker:
    """Start the embedded broker on ``port`` (or find the one already running there).

    Waits until the broker answers ApiVersions and Metadata on its client port. The
    returned handle has ``started=True`` only when this call launched the JVM.
    """
    check_port_number(port)
    with _lock(port):
        rdir = run_dir(port)
        state = _read_state(port)
        if state is not None:
            if _pid_is_our_broker(state.pid, state.run_dir):
                if state.version != version:
                    raise PortInUseError(f"the embedded Kafka {state.version} already runs on port {port}",
                                         f"stop it (python -m helpers broker stop --port {port}) or pick another port")
                _wait_ready(state, None, timeout)
                return state
            _log(f"Cleaning up after a broker on port {port} that is gone (pid {state.pid}).", quiet)
            _state_file(port).unlink(missing_ok=True)

        java, _ = find_java()
        resolve_jars(version, quiet=quiet)
        _check_port(port, "the broker's")
        cport = port + 1 if _port_free(port + 1) else free_port()

        data = rdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        props = rdir / "server.properties"
        props.write_text(server_properties(port, cport, data, extra_config))
        (rdir / "log4j.properties").write_text(_LOG4J)
        (rdir / "log4j2.properties").write_text(_LOG4J2)
        t0 = time.monotonic()
        _format_storage(java, version, rdir, props, data, timeout)

        heap = heap or os.environ.get("KFP_BROKER_HEAP", "512m")
        log_file = rdir / "broker.log"
        cmd = [java, *_jvm_args(version, rdir, heap), "kafka.Kafka", str(props)]
        with open(log_file, "wb") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=rdir, start_new_session=True)  # survives a kernel restart; stop() ends it
        broker = Broker(bootstrap=f"{HOST}:{port}", version=version, pid=proc.pid, port=port, controller_port=cport,
                        run_dir=str(rdir), log_file=str(log_file), data_dir=str(data), started_at=time.time(),
                        started=True)
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
        if protocol.is_ready(b.bootstrap, timeout=1.0):
            return
        time.sleep(0.2)
    raise BrokerStartError(f"the broker on port {b.port} did not become ready within {timeout:.0f} s: {_why_it_died(b.port)}",
                           f"see python -m helpers broker logs --port {b.port}; a slow machine may need a longer timeout")


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
                   ready=protocol.is_ready(state.bootstrap), ready_seconds=state.ready_seconds,
                   log_file=state.log_file)
    elif state is not None:
        out["stale_pid"] = state.pid
    return out


def _addresses(bootstrap: str) -> list[str]:
    return [a.strip() for a in bootstrap.split(",") if a.strip()]


def check_reachable(bootstrap: str, timeout: float = 10.0) -> protocol.BrokerInfo:
    """Probe every address in a comma-separated bootstrap list; return the first broker that answers.

    Raises BrokerUnreachableError, naming the address, within about ``timeout`` seconds; also
    when something answers the Kafka protocol there but is not a broker's client listener
    (a KRaft controller port, say).
    """
    addresses = _addresses(bootstrap)
    if not addresses:
        raise BrokerUnreachableError("the bootstrap address is empty", "set it to host:port, e.g. 127.0.0.1:9092")
    per = max(1.0, timeout / len(addresses))
    problems = []
    for address in addresses:
        try:
            info = protocol.probe(address, timeout=per)
        except ValueError:
            raise BrokerUnreachableError(f"{address!r} is not a host:port address", "write it like 127.0.0.1:9092") from None
        except (OSError, ConnectionError) as exc:
            problems.append(f"{address} ({exc.strerror or exc.__class__.__name__ if isinstance(exc, OSError) else exc})")
            continue
        if 3 not in info.api_versions or not info.brokers:
            problems.append(f"{address} (answers Kafka's protocol but is not a broker's client listener: "
                            "a controller port, or a broker still starting)")
            continue
        return info
    raise BrokerUnreachableError(
        f"no Kafka broker answers at {', '.join(problems)}",
        "start one (python -m helpers broker start, or docker compose up -d) or fix KAFKA_BOOTSTRAP_SERVERS",
    )


def _external(bootstrap: str) -> Broker:
    address = _addresses(bootstrap)[0]
    return Broker(bootstrap=",".join(_addresses(bootstrap)), version="external",
                  port=protocol.split_address(address)[1], embedded=False)


def ensure_broker(*, quiet: bool = False, timeout: float = 90.0) -> Broker:
    """Return a reachable broker: ``$KAFKA_BOOTSTRAP_SERVERS`` if set, else the embedded one (started if needed).

    Every notebook calls this first. A Kafka already listening on 127.0.0.1:9092 that the
    workbook did not start (e.g. the docker compose one) is used as it is.
    """
    from .errors import install_ipython_handler

    install_ipython_handler()
    env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
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
