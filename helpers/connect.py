"""A Kafka Connect worker (distributed mode, one worker) run from the official Maven Central jars.

Connect is Kafka's framework for moving data in and out without writing a poll loop: a *connector*
(FileStream, JDBC, S3, ...) says what to read or write, the worker runs it, keeps its offsets in Kafka
and restarts it. Like the broker (``helpers.broker``), the worker runs on your JVM with its state in a
run directory (``run/connect-<port>``): :func:`start` waits until its REST API answers ``/health``,
:func:`stop` ends it (SIGTERM, and waits), :func:`kill` crashes it (SIGKILL) for the resume demo.
:class:`Worker` drives the REST API: create, status, pause, resume, delete.

Jars: the ``connect`` profile of ``helpers/jars/pom.xml``, fetched by ``helpers.jarcache`` into
``jars/<version>/connect-libs``.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import broker
from .connection import ConnLike, Connection, as_connection
from .errors import BrokerStartError, WorkbookError

# The worker runs the 3.9 jars, the default broker's: Maven Central serves no connect-file 4.4.0, and the 4.3.1
# one fails on the 4.4 runtime (NoClassDefFoundError: org/apache/kafka/common/utils/AppInfoParser, moved in 4.4).
VERSION = broker.DEFAULT_VERSION
HOST = "127.0.0.1"


# --------------------------------------------------------------------------- jars


def jar_dir(version: str = VERSION) -> Path:
    """The folder with the Connect jars (``jars/<version>/connect-libs``)."""
    from . import jarcache

    return jarcache.jar_dir(version, "connect-libs")


def jars_ok(version: str = VERSION) -> bool:
    """True when the broker jars and the Connect jars of ``version`` are cached and intact."""
    from . import jarcache

    return broker.jars_ok(version) and jarcache.jars_ok(version, "connect-libs")


def resolve_jars(version: str = VERSION, quiet: bool = True) -> Path:
    """Fetch (once) the ``connect`` profile of ``helpers/jars/pom.xml``: the FileStream connectors and
    what they need, by the same route as the broker's jars (Maven, or the pure-Python resolver), with the
    same lock, checksums and offline reuse."""
    from . import jarcache

    broker.resolve_jars(version, quiet=quiet)
    return Path(jarcache.resolve(version, quiet=quiet, profiles=[jarcache.profile(version), "connect"],
                                 name="connect-libs"))


def classpath(version: str = VERSION) -> str:
    """The worker's classpath: the broker's jars plus the Connect extras."""
    return f"{broker.jar_dir(version) / '*'}{os.pathsep}{jar_dir(version) / '*'}"


# --------------------------------------------------------------------------- the worker


@dataclass
class Worker:
    """A handle on a running Connect worker and its REST API."""

    url: str
    port: int
    bootstrap: str
    group_id: str
    pid: int | None = None
    run_dir: str = ""
    log_file: str = ""
    exactly_once: bool = True
    ready_seconds: float | None = None
    version: str = VERSION
    #: the connection's security settings (Java names), for the worker and its clients; empty = plaintext
    security: dict[str, str] = field(default_factory=dict, repr=False)
    started: bool = field(default=False, compare=False)

    @property
    def connection(self) -> Connection:
        """The connection the worker was started with (its cluster, over the same security)."""
        return Connection(self.bootstrap, self.security)

    # ------------------------------------------------------------ REST
    def rest(self, method: str, path: str, body: dict | None = None, timeout: float = 15.0) -> Any:
        """Call the worker's REST API; returns the decoded JSON (None for an empty answer).

        Connect's own error message comes back as one WorkbookError line."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                text = resp.read().decode()
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read().decode()).get("message", "")
            except ValueError:
                message = exc.reason
            raise WorkbookError(f"Connect said {exc.code} to {method} {path}: {message}"[:400],
                                "check the connector name and config; worker log: connect.log_tail(worker)") from None
        except (urllib.error.URLError, OSError) as exc:
            raise WorkbookError(f"the Connect worker at {self.url} did not answer {method} {path} ({exc})",
                                "is it running? connect.status(worker); start it with connect.start(...)") from None
        return json.loads(text) if text.strip() else None

    def create(self, name: str, config: dict[str, Any]) -> dict:
        """Create (or update) connector ``name`` with ``config`` (PUT /connectors/<name>/config)."""
        return self.rest("PUT", f"/connectors/{name}/config", {k: str(v) for k, v in config.items()})

    def status(self, name: str) -> dict:
        """The connector's state and each task's (GET /connectors/<name>/status)."""
        return self.rest("GET", f"/connectors/{name}/status")

    def pause(self, name: str) -> None:
        """Pause the connector and its tasks (PUT /connectors/<name>/pause); offsets stay."""
        self.rest("PUT", f"/connectors/{name}/pause")

    def resume(self, name: str) -> None:
        """Resume a paused connector (PUT /connectors/<name>/resume)."""
        self.rest("PUT", f"/connectors/{name}/resume")

    def delete(self, name: str) -> None:
        """Delete the connector (DELETE /connectors/<name>)."""
        self.rest("DELETE", f"/connectors/{name}")

    def connectors(self) -> list[str]:
        """Names of the connectors this worker's cluster runs (GET /connectors)."""
        return self.rest("GET", "/connectors")

    def plugins(self) -> list[dict]:
        """The connector plugins the worker found on its classpath (GET /connector-plugins)."""
        return self.rest("GET", "/connector-plugins")

    def offsets(self, name: str) -> dict:
        """The connector's committed offsets (GET /connectors/<name>/offsets, KIP-875)."""
        return self.rest("GET", f"/connectors/{name}/offsets")

    def wait_state(self, name: str, state: str = "RUNNING", timeout: float = 30.0, tasks: int = 1) -> dict:
        """Wait (bounded) until the connector and ``tasks`` tasks report ``state``; returns the status."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = self.status(name)
                if last["connector"]["state"] == state and len(last["tasks"]) >= tasks and all(
                        t["state"] == state for t in last["tasks"]):
                    return last
                failed = [t for t in last["tasks"] if t["state"] == "FAILED"]
                if failed:
                    trace = failed[0].get("trace", "").splitlines()
                    raise WorkbookError(f"connector {name} task failed: {trace[0] if trace else 'no trace'}"[:300],
                                        "fix the config and create it again (worker.create)")
            except WorkbookError as exc:
                if "task failed" in str(exc):
                    raise
                last = str(exc)
            time.sleep(0.25)
        raise WorkbookError(f"connector {name} is not {state} after {timeout:.0f} s (last: {last})"[:400],
                            "see connect.log_tail(worker)")

    def describe(self) -> str:
        """One line: version, REST address, pid, start time."""
        how = f"started in {self.ready_seconds:.1f} s" if self.ready_seconds else "already running"
        eos = ", exactly-once source support on" if self.exactly_once else ""
        return (f"Kafka Connect {self.version} worker at {self.url} (pid {self.pid}, group {self.group_id}, "
                f"broker {self.bootstrap}{eos}, {how})")

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc: object) -> None:
        stop(self)


def run_dir(port: int) -> Path:
    """The folder with the worker's config, state and log."""
    return broker.home() / "run" / f"connect-{port}"


def _state_file(port: int) -> Path:
    return run_dir(port) / "state.json"


def _is_ours(pid: int | None, rdir: str) -> bool:
    """True when ``pid`` is alive and is the worker JVM launched for ``rdir`` (not a recycled pid)."""
    if not pid:
        return False
    try:
        import psutil

        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and f"-Dkfp.run={rdir}" in proc.cmdline()
    except Exception:
        return False


def worker_properties(w: Worker, topics_prefix: str) -> str:
    """The worker's configuration: one worker in distributed mode, with everything stored in Kafka."""
    settings: dict[str, Any] = {
        "bootstrap.servers": w.bootstrap,
        # workers with the same group.id form one Connect cluster; the broker coordinates them like a group
        "group.id": w.group_id,
        # connector configs, source offsets and statuses live in three compacted topics on the broker
        "config.storage.topic": f"{topics_prefix}-configs",
        "offset.storage.topic": f"{topics_prefix}-offsets",
        "status.storage.topic": f"{topics_prefix}-status",
        # one broker: one replica each; one partition each instead of 25 and 5 (quicker to create)
        "config.storage.replication.factor": 1, "offset.storage.replication.factor": 1,
        "status.storage.replication.factor": 1, "offset.storage.partitions": 1, "status.storage.partitions": 1,
        # keys are plain strings, values JSON without the schema envelope
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
        # commit source offsets every second (default 60 s), so the resume demo has little to redo
        "offset.flush.interval.ms": 1000,
        # KIP-618 (Kafka 3.3): source records and their offsets in one transaction, so a crash cannot duplicate
        "exactly.once.source.support": "enabled" if w.exactly_once else "disabled",
        # sink connectors' consumers skip records of aborted transactions (the default reads them)
        "consumer.isolation.level": "read_committed",
        # a killed worker's sink consumer keeps its partitions until its session times out (45 s by default),
        # so the restarted worker's sink would wait that long before it copies anything again
        "consumer.session.timeout.ms": 10000,
        # a worker that comes back after a crash gets its tasks at once (default: wait up to 5 minutes)
        "scheduled.rebalance.max.delay.ms": 0,
        "listeners": f"http://{HOST}:{w.port}",
        "rest.advertised.host.name": HOST,
        "rest.advertised.port": w.port,
        # the FileStream connectors come from the classpath; every plugin there has a ServiceLoader manifest, so
        # the worker need not scan every class of every jar by reflection (that took 20 s here)
        "plugin.discovery": "service_load",
    }
    # over TLS/SASL: the worker's own clients (group membership, the three storage topics) and the ones it builds
    # for connectors - producer. for sources, consumer. for sinks, admin. for topic creation - each need the
    # connection's settings; Java reads the PEM truststore itself (ssl.truststore.type=PEM)
    for prefix in ("", "producer.", "consumer.", "admin."):
        settings.update({prefix + k: v for k, v in w.security.items()})
    return "".join(f"{k}={v}\n" for k, v in settings.items())


# Console logging only (stdout goes to connect.log): log4j 1 (reload4j) for the 3.x jars, log4j2 for 4.x
_LOG4J = """\
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.reflections=ERROR
"""
_LOG4J2 = """\
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
logger.reflections.name = org.reflections
logger.reflections.level = ERROR
"""


def start(conn: ConnLike, *, port: int | None = None, group_id: str | None = None, exactly_once: bool = True,
          timeout: float = 170.0, heap: str = "384m", quiet: bool = True) -> Worker:
    """Start a Connect worker against the cluster behind ``conn`` (plaintext, TLS or SASL: the worker and its
    connectors' clients get the connection's settings) and wait until its REST API reports it healthy (``/health``).

    Starting again with the same ``port`` and ``group_id`` (after :func:`kill` or :func:`stop`) brings back
    the same Connect cluster: its connectors and offsets are in the broker's topics.
    """
    c = as_connection(conn)
    broker.check_reachable(c, timeout=10)
    java, _ = broker.find_java()
    resolve_jars(quiet=quiet)
    port = port or broker.free_port()
    rdir = run_dir(port)
    old = _read_state(port)
    if old is not None and _is_ours(old.pid, old.run_dir):
        if not quiet:
            print(old.describe(), flush=True)
        return old
    if not broker._port_free(port):
        raise WorkbookError(f"port {port} is taken by {broker._who_listens(port)}", "pick another port (or none)")
    rdir.mkdir(parents=True, exist_ok=True)
    group_id = group_id or f"connect-{uuid.uuid4().hex[:6]}"
    w = Worker(url=f"http://{HOST}:{port}", port=port, bootstrap=c.bootstrap, group_id=group_id,
               run_dir=str(rdir), log_file=str(rdir / "connect.log"), exactly_once=exactly_once,
               security=dict(c.settings) if c.secured else {}, started=True)
    props = rdir / "worker.properties"
    fd = os.open(props, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it may hold a password (sasl.jaas.config)
    with os.fdopen(fd, "w") as f:
        f.write(worker_properties(w, f"_{group_id}"))
    if VERSION.startswith("3."):
        (rdir / "log4j.properties").write_text(_LOG4J)
        logging = f"-Dlog4j.configuration=file:{rdir / 'log4j.properties'}"
    else:
        (rdir / "log4j2.properties").write_text(_LOG4J2)
        logging = f"-Dlog4j2.configurationFile={rdir / 'log4j2.properties'}"
    # C1 only and the serial collector: a worker this small starts faster (it carries little load)
    cmd = [java, f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
           "-Djava.awt.headless=true", logging, f"-Dkfp.run={rdir}",
           "-cp", classpath(), "org.apache.kafka.connect.cli.ConnectDistributed", str(props)]
    t0 = time.monotonic()
    with open(w.log_file, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=rdir,
                                start_new_session=True)
    w.pid = proc.pid
    _write_state(w)
    try:
        _wait_healthy(w, proc, timeout)
    except BaseException:
        broker._kill(proc.pid, 10)
        _state_file(port).unlink(missing_ok=True)
        raise
    w.ready_seconds = round(time.monotonic() - t0, 2)
    _write_state(w)
    if not quiet:
        print(w.describe(), flush=True)
    return w


def _wait_healthy(w: Worker, proc: subprocess.Popen, timeout: float) -> None:
    """Until GET /health says the worker is ready (KIP-1017): the REST server answers before the worker has
    joined its group and read its config topic, and /connectors would then answer 409 or time out."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BrokerStartError(f"the Connect worker exited during start (code {proc.returncode}): "
                                   f"{_first_error(w)}", f"full log: {w.log_file}")
        try:
            with urllib.request.urlopen(w.url + "/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            last = f"/health {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.3)
    raise BrokerStartError(f"the Connect worker was not healthy within {timeout:.0f} s ({last})",
                           f"see {w.log_file}")


def _first_error(w: Worker) -> str:
    lines = log_tail(w, 300)
    errors = [ln for ln in lines if " ERROR " in ln or "Exception" in ln]
    return (errors[0] if errors else (lines[-1] if lines else "(empty log)"))[:300]


def log_tail(w: Worker, lines: int = 20) -> list[str]:
    """The last ``lines`` lines of the worker's log."""
    try:
        return Path(w.log_file).read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def _write_state(w: Worker) -> None:
    data = asdict(w)
    data.pop("started")
    tmp = _state_file(w.port).with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # security may hold a password
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(data, indent=1))
    tmp.replace(_state_file(w.port))


def _read_state(port: int) -> Worker | None:
    try:
        return Worker(**json.loads(_state_file(port).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def status(w: Worker | int) -> dict[str, Any]:
    """Running or not, pid, REST address, and (when running) whether ``/health`` says ready."""
    port = w if isinstance(w, int) else w.port
    state = _read_state(port)
    running = state is not None and _is_ours(state.pid, state.run_dir)
    out: dict[str, Any] = {"port": port, "running": running}
    if running and state is not None:
        try:
            with urllib.request.urlopen(state.url + "/health", timeout=2) as resp:
                out["healthy"] = resp.status == 200
        except Exception:
            out["healthy"] = False
        out.update(pid=state.pid, url=state.url, group_id=state.group_id)
    return out


def stop(w: Worker, timeout: float = 30.0, wipe: bool = False) -> bool:
    """Stop the worker cleanly (SIGTERM: tasks stop, offsets are committed) and wait for the JVM to exit.

    True if it was running. ``wipe`` also deletes its run folder (the state in Kafka stays)."""
    state = _read_state(w.port)
    pid = state.pid if state else w.pid
    was = _is_ours(pid, w.run_dir)
    if was and pid:
        broker._kill(pid, timeout)
    _state_file(w.port).unlink(missing_ok=True)
    if wipe:
        shutil.rmtree(w.run_dir, ignore_errors=True)
    return was


def kill(w: Worker) -> int:
    """Crash the worker: SIGKILL, no goodbye, no last offset commit; waits until the JVM is gone.
    Returns the pid killed."""
    import psutil

    pid = w.pid
    if not _is_ours(pid, w.run_dir):
        raise WorkbookError(f"no Connect worker of ours runs as pid {pid}", "start one with connect.start(...)")
    proc = psutil.Process(pid)
    proc.kill()
    proc.wait(15)
    _state_file(w.port).unlink(missing_ok=True)
    return int(pid or 0)
