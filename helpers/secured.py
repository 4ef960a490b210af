"""Lesson 08's experiments: connect each client to a secured broker, bounded, and answer failures in one line.

:func:`attempt` builds one client the way a learner would (from Java-style settings, e.g. a client
properties file), asks the broker for its metadata within a deadline, and reports what the client
itself said next to the workbook's one-line answer (:func:`helpers.security.explain`).
:func:`roundtrip` produces and consumes a record through a client. The client configs here cover
only the security settings; helpers.connection builds every other client.
"""
from __future__ import annotations

import contextlib
import logging
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from . import broker, security
from .errors import ConfigError, WorkbookError

CLIENTS = ("kafka-python", "confluent-kafka", "pykafka")


@dataclass
class Attempt:
    """One connection attempt: did it work, how long it took, what the client said, what it means."""

    client: str
    ok: bool
    seconds: float
    client_said: str = ""
    answer: WorkbookError | None = None

    def row(self) -> dict[str, object]:
        return {"client": self.client, "connected": self.ok, "seconds": round(self.seconds, 1),
                "what the client said": self.client_said[:160], "the workbook's answer": str(self.answer or "")}


def connection(bootstrap: str, settings: dict[str, Any] | None = None) -> Any:
    """A :class:`helpers.connection.Connection` for ``bootstrap`` and Java-style ``settings`` (empty values
    dropped: an empty CA file means "none given"; librdkafka spellings accepted)."""
    from .connection import Connection

    view = security._client_view(settings)
    java: dict[str, str] = {"security.protocol": view["protocol"]}
    if view["ca"]:
        java["ssl.truststore.location"] = str(view["ca"])
    if not view["check_hostname"]:
        java["ssl.endpoint.identification.algorithm"] = ""
    if view["protocol"].startswith("SASL"):
        java["sasl.mechanism"] = str((settings or {}).get("sasl.mechanism", security.MECHANISM))
        java["sasl.jaas.config"] = security._jaas(view["user"] or "", view["password"] or "")
    return Connection(bootstrap, java)


def client_config(client: str, bootstrap: str, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """``client``'s own config for ``bootstrap`` + Java-style ``settings``, built by helpers.connection
    (the one place clients are configured); pykafka + SASL raises its ConfigError."""
    if client not in CLIENTS:
        raise ConfigError(f"unknown client {client!r}", f"one of {CLIENTS}")
    cfg = connection(bootstrap, settings).config(client, "any")
    if client == "confluent-kafka":
        cfg["log_level"] = 0  # failures are reported by the callers, not as librdkafka's stderr lines
    return cfg


def _metadata(client: str, cfg: dict[str, Any], timeout: float, said: list[str]) -> None:
    deadline = time.monotonic() + timeout
    if client == "confluent-kafka":
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        def on_error(err: Any) -> None:
            said.append(err.str())

        # librdkafka retries a failed connection for ever; its error callback tells us at once
        admin = AdminClient({**cfg, "error_cb": on_error, "log_level": 0})
        while True:
            try:
                admin.list_topics(timeout=0.5)
                return
            except KafkaException:
                admin.poll(0.1)  # serves the error callback
                if said or time.monotonic() > deadline:
                    raise
    elif client == "kafka-python":
        from kafka import KafkaAdminClient

        KafkaAdminClient(**cfg, bootstrap_timeout_ms=int(timeout * 1000), request_timeout_ms=int(timeout * 1000)).close()
    else:
        from pykafka import KafkaClient

        KafkaClient(**cfg, socket_timeout_ms=int(timeout * 1000 / 3))


def attempt(client: str, bootstrap: str, settings: dict[str, Any] | None = None, timeout: float = 5.0) -> Attempt:
    """Connect ``client`` with ``settings`` and ask for metadata within ``timeout`` s; never raises for
    a connection failure: the result holds the client's own words and the one-line answer."""
    t0 = time.monotonic()
    said: list[str] = []
    try:
        cfg = client_config(client, bootstrap, settings)
        _metadata(client, cfg, timeout, said)
        return Attempt(client, True, time.monotonic() - t0)
    except ConfigError as exc:
        return Attempt(client, False, time.monotonic() - t0, "(refused before connecting)", exc)
    except Exception as exc:  # each client fails in its own way; the answer below names the cause
        text = str(exc)
        words = said[0] if said else (text if text.startswith(type(exc).__name__) else f"{type(exc).__name__}: {text}")
        seconds = time.monotonic() - t0
        answer = security.explain(words, bootstrap, settings, timeout=timeout)
        return Attempt(client, False, seconds, words.splitlines()[0] if words else "", answer)


@contextlib.contextmanager
def quiet_clients() -> Any:
    """Keep kafka-python's and pykafka's retry logging off the notebook (their errors are shown in tables)."""
    saved = []
    for name in ("kafka", "pykafka"):
        log = logging.getLogger(name)
        saved.append((log, log.level, log.propagate))
        log.setLevel(logging.CRITICAL + 1)
        log.propagate = False
    try:
        yield
    finally:
        for log, level, propagate in saved:
            log.setLevel(level)
            log.propagate = propagate


def attempts(cases: dict[str, tuple[str, dict[str, Any]]], clients: tuple[str, ...] = CLIENTS,
             timeout: float = 5.0) -> Any:
    """Run :func:`attempt` for every (case, client) at once (threads) and return a pandas table."""
    import pandas as pd
    from concurrent.futures import ThreadPoolExecutor

    jobs = [(case, client, bootstrap, settings) for case, (bootstrap, settings) in cases.items() for client in clients]
    with quiet_clients(), ThreadPoolExecutor(min(8, len(jobs))) as pool:
        results = list(pool.map(lambda j: (j[0], attempt(j[1], j[2], j[3], timeout)), jobs))
    rows = [{"case": case, **a.row()} for case, a in results]
    return pd.DataFrame(rows).set_index(["case", "client"])


def show_attempts(cases: dict[str, tuple[str, dict[str, Any]]], clients: tuple[str, ...] = CLIENTS,
                  timeout: float = 5.0) -> Any:
    """:func:`attempts`, displayed as what each client did, then the workbook's answer once per case."""
    import pandas as pd
    from IPython.display import display

    table = attempts(cases, clients, timeout)
    answers = table["the workbook's answer"]
    with pd.option_context("display.max_colwidth", 170):
        display(table.drop(columns="the workbook's answer"))
    for case in cases:
        found = [a for a in answers.loc[case] if a]
        print(f"{case}:\n    " + (found[0] if found else "(connected: nothing to answer)"))
    return None


def load_properties(path: str | Any) -> tuple[str, dict[str, str]]:
    """``(bootstrap, settings)`` from a client properties file (Java or librdkafka dialect)."""
    from pathlib import Path

    props = security._properties(Path(path))
    bootstrap = props.pop("bootstrap.servers", "")
    if not bootstrap:
        raise ConfigError(f"{path} has no bootstrap.servers line", "add bootstrap.servers=host:port")
    return bootstrap, props


_ROWS = {  # each client's key -> the Java setting it carries
    "bootstrap_servers": "bootstrap.servers", "hosts": "bootstrap.servers", "bootstrap.servers": "bootstrap.servers",
    "security_protocol": "security.protocol", "security.protocol": "security.protocol",
    "ssl_cafile": "ssl.truststore.location", "ssl.ca.location": "ssl.truststore.location",
    "ssl_config": "ssl.truststore.location",
    "ssl_check_hostname": "ssl.endpoint.identification.algorithm",
    "ssl.endpoint.identification.algorithm": "ssl.endpoint.identification.algorithm",
    "sasl_mechanism": "sasl.mechanism", "sasl.mechanism": "sasl.mechanism",
    "sasl_plain_username": "sasl.jaas.config", "sasl.username": "sasl.jaas.config",
    "sasl_plain_password": "sasl.jaas.config", "sasl.password": "sasl.jaas.config",
}


def tls_table(settings: dict[str, Any], bootstrap: str = "HOST:PORT", short: str | None = None) -> Any:
    """The same TLS (or SASL_SSL) settings in each client's own names, one row per Java setting (pandas).

    ``short`` (a folder) is shown as ``<run>`` to keep paths readable."""
    import pandas as pd

    java = ["bootstrap.servers", "security.protocol", "ssl.truststore.location", "ssl.endpoint.identification.algorithm"]
    if "sasl.jaas.config" in settings:
        java += ["sasl.mechanism", "sasl.jaas.config"]
    table = {j: {"Java (properties file)": str(settings.get(j, bootstrap if j == "bootstrap.servers" else ""))}
             for j in java}
    table["ssl.endpoint.identification.algorithm"]["Java (properties file)"] = \
        settings.get("ssl.endpoint.identification.algorithm", "https (the default)")
    for client in CLIENTS:
        try:
            cfg = client_config(client, bootstrap, settings)
        except ConfigError as exc:
            cfg = {"bootstrap_servers": f"not possible: {exc.what}"}
        for key, value in cfg.items():
            if client == "pykafka" and key == "ssl_config":
                value = f"SslConfig(cafile={value.cafile!r}) [no host-name check]"
            elif key.endswith("password"):
                value = "..."
            row = _ROWS.get(key)
            if row in table:
                table[row][client] = (table[row].get(client, "") + f" {key}={value!r}").strip()
        if client == "confluent-kafka" and "ssl.endpoint.identification.algorithm" not in cfg:
            table["ssl.endpoint.identification.algorithm"][client] = "(https is librdkafka's default)"
        if client == "kafka-python" and "ssl_check_hostname" not in cfg:
            table["ssl.endpoint.identification.algorithm"][client] = "(ssl_check_hostname=True is the default)"
    out = pd.DataFrame(table).T.fillna("")
    if short:
        out = out.map(lambda v: v.replace(str(short), "<run>"))
    return out


def roundtrip(client: str, bootstrap: str, settings: dict[str, Any], topic: str, *,
              group: str | None = None, timeout: float = 10.0) -> bytes:
    """Produce one record to ``topic`` and consume it back through ``client``; returns the value read.

    Authorization errors are raised as one-line SecurityErrors (the user, the resource, the grant).
    """
    value = f"{client}-{uuid.uuid4().hex[:8]}".encode()
    group = group or f"g-{uuid.uuid4().hex[:8]}"
    cfg = client_config(client, bootstrap, settings)
    try:
        return _roundtrip(client, cfg, topic, group, value, timeout)
    except WorkbookError:
        raise
    except Exception as exc:
        answer = security.explain(exc, None, settings, resource=_resource_of(exc, topic, group))
        if answer is not None:
            raise answer from None
        raise


def consume_and_commit(bootstrap: str, settings: dict[str, Any], topic: str, group: str) -> int:
    """Read the first record of ``topic`` partition 0 as a member of ``group`` and commit; returns the offset
    committed. Missing ACLs come back as one-line SecurityErrors."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

    cfg = client_config("confluent-kafka", bootstrap, settings)
    c = Consumer({**cfg, "log_level": 0, "group.id": group, "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        m = c.poll(8)
        if m is not None and m.error():
            raise KafkaException(m.error())
        offset = (m.offset() + 1) if m is not None else 0
        c.commit(offsets=[TopicPartition(topic, 0, offset)], asynchronous=False)
        return offset
    except KafkaException as exc:
        raise security.explain(exc, None, settings, resource=_resource_of(exc, topic, group)) or exc
    finally:
        c.close()


def _resource_of(exc: Any, topic: str, group: str) -> str:
    return group if security._error_code(exc) == 30 else topic


def _roundtrip(client: str, cfg: dict[str, Any], topic: str, group: str, value: bytes, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    if client == "confluent-kafka":
        from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

        errors: list[Any] = []
        p = Producer({**cfg, "log_level": 0, "message.timeout.ms": int(timeout * 1000)})
        p.produce(topic, value, on_delivery=lambda err, msg: errors.append(err) if err else None)
        p.flush(timeout)
        if errors:
            raise KafkaException(errors[0])
        c = Consumer({**cfg, "log_level": 0, "group.id": group, "auto.offset.reset": "earliest",
                      "enable.auto.commit": False})
        try:
            # assign, not subscribe: no group join to wait for; the commit still needs the group's ACL
            c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
            while time.monotonic() < deadline:
                msg = c.poll(0.5)
                if msg is None:
                    continue
                if msg.error():
                    raise KafkaException(msg.error())
                if msg.value() == value:
                    c.commit(msg, asynchronous=False)
                    return msg.value()
        finally:
            c.close()
    elif client == "kafka-python":
        from kafka import KafkaConsumer, KafkaProducer, TopicPartition as KpPartition

        p = KafkaProducer(**cfg, bootstrap_timeout_ms=int(timeout * 1000), max_block_ms=int(timeout * 1000))
        try:
            p.send(topic, value).get(timeout)
        finally:
            p.close(timeout=2)
        c = KafkaConsumer(**cfg, group_id=group, auto_offset_reset="earliest", enable_auto_commit=False,
                          bootstrap_timeout_ms=int(timeout * 1000))
        try:
            c.assign([KpPartition(topic, 0)])  # no group join (kafka-python's join race); commit needs the group ACL
            while time.monotonic() < deadline:
                for records in c.poll(1000).values():
                    for r in records:
                        if r.value == value:
                            c.commit()
                            return r.value
        finally:
            c.close()
    else:
        from pykafka import KafkaClient

        kc = KafkaClient(**cfg, socket_timeout_ms=int(timeout * 1000 / 3))
        t = kc.topics[topic]
        with t.get_sync_producer(linger_ms=0) as p:
            p.produce(value)
        from pykafka.common import OffsetType

        c = t.get_simple_consumer(auto_offset_reset=OffsetType.EARLIEST, consumer_timeout_ms=int(timeout * 1000))
        try:
            for m in c:
                if m.value == value:
                    return m.value
        finally:
            c.stop()
    raise TimeoutError(f"{client} did not read back its record from {topic!r} within {timeout:.0f} s")


# --------------------------------------------------------------------------- what travels on the wire


class WireTap:
    """A tiny loopback TCP proxy that forwards to ``target`` and keeps a copy of every byte that passes.

    Point a client's ``bootstrap.servers`` at :attr:`address`: the client's first connection (the
    bootstrap) goes through the tap. Used as a context manager; stops within a second.
    """

    def __init__(self, target: str, limit: int = 1 << 20) -> None:
        import socket

        from .protocol import split_address

        self.target = split_address(target)
        self.sent = bytearray()  # client -> broker
        self.received = bytearray()  # broker -> client
        self.limit = limit
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.address = f"127.0.0.1:{self._server.getsockname()[1]}"
        self._stop = False
        import threading

        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        import socket
        import threading

        while not self._stop:
            try:
                client, _ = self._server.accept()
            except (socket.timeout, OSError):
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            for src, dst, buf in ((client, upstream, self.sent), (upstream, client, self.received)):
                t = threading.Thread(target=self._pump, args=(src, dst, buf), daemon=True)
                t.start()
                self._threads.append(t)

    def _pump(self, src: Any, dst: Any, buf: bytearray) -> None:
        import socket

        src.settimeout(0.2)
        try:
            while not self._stop:
                try:
                    data = src.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    break
                if len(buf) < self.limit:
                    buf.extend(data[: self.limit - len(buf)])
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def find(self, needle: bytes) -> int:
        """How many times ``needle`` appears in what the client sent."""
        return bytes(self.sent).count(needle)

    def readable(self, min_len: int = 6, limit: int = 12) -> list[str]:
        """Runs of printable ASCII (like ``strings``) in what the client sent, the longest first."""
        runs = re.findall(rb"[\x20-\x7e]{%d,}" % min_len, bytes(self.sent))
        return [r.decode() for r in sorted(set(runs), key=len, reverse=True)[:limit]]

    def close(self) -> None:
        self._stop = True
        self._server.close()
        for t in self._threads:
            t.join(timeout=1)

    def __enter__(self) -> "WireTap":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- users and ACLs (Admin API)

def create_topic(bootstrap: str, settings: dict[str, Any], name: str, timeout: float = 15) -> str:
    """Create a one-partition topic through a secured (or plaintext) listener; returns its name."""
    from confluent_kafka.admin import NewTopic

    client = admin(bootstrap, settings)
    try:
        client.create_topics([NewTopic(name, 1, 1)])[name].result(timeout)
    except Exception as exc:
        raise (security.explain(exc, bootstrap, settings, resource=name) or exc) from None
    return name


def admin(bootstrap: str, settings: dict[str, Any]) -> Any:
    """A confluent-kafka AdminClient for ``settings`` (the admin user's, for users and ACLs)."""
    from confluent_kafka.admin import AdminClient

    return AdminClient({**client_config("confluent-kafka", bootstrap, settings), "log_level": 0})


def create_user(bootstrap: str, admin_settings: dict[str, Any], user: str, password: str, timeout: float = 10) -> None:
    """Create (or reset) a SCRAM-SHA-512 user with the Admin API (KIP-554 AlterUserScramCredentials)."""
    from confluent_kafka.admin import ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion

    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192)
    client = admin(bootstrap, admin_settings)  # keep a reference: a collected AdminClient cancels its futures
    futures = client.alter_user_scram_credentials([UserScramCredentialUpsertion(user, info, password.encode())])
    for f in futures.values():
        f.result(timeout)


def user_settings(settings: dict[str, Any], user: str, password: str) -> dict[str, Any]:
    """``settings`` with another SCRAM user and password in ``sasl.jaas.config``."""
    return {**settings, "sasl.jaas.config": security._jaas(user, password)}


def _resource(kind: str) -> Any:
    from confluent_kafka.admin import ResourceType

    table = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP, "cluster": ResourceType.BROKER,
             "transactional_id": ResourceType.TRANSACTIONAL_ID}
    if kind not in table:
        raise ConfigError(f"unknown resource kind {kind!r}", f"one of {sorted(table)}")
    return table[kind]


def _operation(op: str) -> Any:
    from confluent_kafka.admin import AclOperation

    try:
        return AclOperation[op.upper()]
    except KeyError:
        raise ConfigError(f"unknown ACL operation {op!r}",
                          "one of " + ", ".join(o.name.lower() for o in AclOperation if o.name not in ("UNKNOWN", "ANY"))) from None


def grant(bootstrap: str, admin_settings: dict[str, Any], user: str, kind: str, name: str, *operations: str,
          timeout: float = 10) -> list[Any]:
    """Allow ``user`` the ``operations`` (read, write, describe, ...) on the topic/group ``name``."""
    from confluent_kafka.admin import AclBinding, AclPermissionType, ResourcePatternType

    bindings = [AclBinding(_resource(kind), name, ResourcePatternType.LITERAL, f"User:{user}", "*", _operation(op),
                           AclPermissionType.ALLOW) for op in operations]
    client = admin(bootstrap, admin_settings)
    for f in client.create_acls(bindings).values():
        f.result(timeout)
    return bindings


def acls(bootstrap: str, admin_settings: dict[str, Any], timeout: float = 10) -> Any:
    """Every ACL on the cluster as a pandas DataFrame (principal, resource, operation, permission)."""
    import pandas as pd
    from confluent_kafka.admin import (AclBindingFilter, AclOperation, AclPermissionType, ResourcePatternType,
                                       ResourceType)

    flt = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY,
                           AclPermissionType.ANY)
    client = admin(bootstrap, admin_settings)
    found = client.describe_acls(flt).result(timeout)
    rows = [{"principal": b.principal, "resource": b.restype.name.lower(), "name": b.name,
             "pattern": b.resource_pattern_type.name.lower(), "operation": b.operation.name.lower(),
             "permission": b.permission_type.name.lower(), "host": b.host} for b in found]
    cols = ["principal", "resource", "name", "pattern", "operation", "permission", "host"]
    return pd.DataFrame(rows, columns=cols).sort_values(["principal", "resource", "name", "operation"]).reset_index(drop=True)


def delete_acls_for(bootstrap: str, admin_settings: dict[str, Any], user: str, timeout: float = 10) -> int:
    """Remove every ACL of ``user``; returns how many were removed."""
    from confluent_kafka.admin import (AclBindingFilter, AclOperation, AclPermissionType, ResourcePatternType,
                                       ResourceType)

    flt = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, f"User:{user}", None, AclOperation.ANY,
                           AclPermissionType.ANY)
    client = admin(bootstrap, admin_settings)
    return sum(len(f.result(timeout)) for f in client.delete_acls([flt]).values())


# --------------------------------------------------------------------------- what TLS costs


def first_message_seconds(client: str, bootstrap: str, settings: dict[str, Any], topic: str, timeout: float = 15) -> float:
    """Seconds from building a ``client`` producer (TLS/SASL handshakes included) to its first record acknowledged."""
    cfg = client_config(client, bootstrap, settings)
    t0 = time.perf_counter()
    if client == "confluent-kafka":
        from confluent_kafka import Producer

        done: list[Any] = []
        p = Producer({**cfg, "log_level": 0, "linger.ms": 0})
        p.produce(topic, b"first", on_delivery=lambda err, msg: done.append(err))
        p.flush(timeout)
        if not done or done[0] is not None:
            raise security.explain(done[0] if done else "timeout", bootstrap, settings) or TimeoutError("no delivery")
    elif client == "kafka-python":
        from kafka import KafkaProducer

        p = KafkaProducer(**cfg, linger_ms=0, bootstrap_timeout_ms=int(timeout * 1000))
        p.send(topic, b"first").get(timeout)
        seconds = time.perf_counter() - t0
        p.close(timeout=2)
        return seconds
    else:
        from pykafka import KafkaClient

        kc = KafkaClient(**cfg, socket_timeout_ms=int(timeout * 1000 / 3))
        with kc.topics[topic].get_sync_producer(linger_ms=0) as p:
            p.produce(b"first")
    return time.perf_counter() - t0


def compare_rates(pairs: dict[str, tuple[str, dict[str, Any]]], topic: str, count: int = 30_000, rounds: int = 2) -> Any:
    """Best-of-``rounds`` :func:`produce_rate` for each (name -> (bootstrap, settings)), interleaved so that
    a busy moment of the machine does not fall on one side only; a pandas table with the ratio."""
    import pandas as pd

    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, (bootstrap, settings) in pairs.items():
            best[name] = max(best.get(name, 0.0), produce_rate(bootstrap, settings, topic, count))
    first = next(iter(best.values()))
    table = pd.DataFrame({"records/s": {k: round(v) for k, v in best.items()}})
    table["relative"] = (table["records/s"] / first).round(2)
    return table


def produce_rate(bootstrap: str, settings: dict[str, Any], topic: str, count: int = 100_000, size: int = 100,
                 timeout: float = 60) -> float:
    """confluent-kafka produce throughput in records/s: ``count`` records of ``size`` bytes, until all are acked."""
    from confluent_kafka import Producer

    p = Producer({**client_config("confluent-kafka", bootstrap, settings), "log_level": 0, "linger.ms": 5,
                  "queue.buffering.max.messages": 1_000_000})
    p.produce(topic, b"w")  # connect (and shake hands) before the clock starts
    p.flush(timeout)
    payload = b"x" * size
    t0 = time.perf_counter()
    for _ in range(count):
        while True:
            try:
                p.produce(topic, payload)
                break
            except BufferError:
                p.poll(0.05)
    left = p.flush(timeout)
    if left:
        raise WorkbookError(f"{left} records were still unacknowledged after {timeout:.0f} s", "try a smaller count")
    return count / (time.perf_counter() - t0)


# --------------------------------------------------------------------------- the lesson's two brokers


@dataclass
class LessonBrokers:
    """Lesson 08's brokers: one TLS broker with plaintext side doors, one SCRAM-over-TLS broker with ACLs.

    The TLS broker listens three times: ``tls`` (SSL), ``plain`` (PLAINTEXT, for comparisons) and a
    PLAINTEXT listener that advertises :attr:`tap` (a :class:`WireTap` in front of it), so every
    connection of a client bootstrapped there passes the tap (Kafka answers Metadata with the
    addresses of the listener the request came in on).
    """

    tls_broker: broker.Broker
    sasl_broker: broker.Broker
    tls_material: security.Material
    sasl_material: security.Material
    plain: str
    tap: WireTap

    @property
    def tls(self) -> str:
        return self.tls_broker.bootstrap

    @property
    def sasl(self) -> str:
        return self.sasl_broker.bootstrap

    def stop(self) -> None:
        """Stop both brokers and the tap, and delete their run directories (certificates, passwords, data)."""
        import shutil

        self.tap.close()
        for b in (self.tls_broker, self.sasl_broker):
            b.stop()
            if b.run_dir:
                shutil.rmtree(b.run_dir, ignore_errors=True)


@contextlib.contextmanager
def reserved_ports(singles: int, pairs: int = 0) -> Any:
    """Distinct free ports, held (bound) until the block ends: ``(singles, pair_starts)``; each pair
    start P comes with P+1 free too (a broker's controller port). Brokers started side by side from
    ports picked one by one can collide; ports picked while all are held cannot."""
    import socket

    held: list[socket.socket] = []

    def bind(port: int) -> bool:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((broker.HOST, port))
        except OSError:
            s.close()
            return False
        held.append(s)
        return True

    try:
        ones = []
        for _ in range(singles):
            bind(0)
            ones.append(held[-1].getsockname()[1])
        starts: list[int] = []
        while len(starts) < pairs:
            bind(0)
            p = held[-1].getsockname()[1]
            if bind(p + 1):
                starts.append(p)
        yield ones, starts
    finally:
        for s in held:
            s.close()


def _tls_broker_with_doors(quiet: bool, ports: list[int], tap: "WireTap") -> tuple[broker.Broker, str, WireTap]:
    host = broker.HOST
    port, cport, plain, tapped = ports
    tap.target = (host, tapped)
    tap_port = int(tap.address.rsplit(":", 1)[1])
    extra = {  # overrides the listener settings helpers.security gives a plain ssl broker
        "listeners": f"SSL://{host}:{port},PLAINTEXT://{host}:{plain},TAPPED://{host}:{tapped},CONTROLLER://{host}:{cport}",
        "advertised.listeners": f"SSL://{host}:{port},PLAINTEXT://{host}:{plain},TAPPED://{host}:{tap_port}",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,SSL:SSL,PLAINTEXT:PLAINTEXT,TAPPED:PLAINTEXT",
        "controller.quorum.voters": f"1@{host}:{cport}",
    }
    try:
        b = broker.start(port, security="ssl", extra_config=extra, quiet=quiet, timeout=150)
    except BaseException:
        tap.close()
        raise
    return b, f"{host}:{plain}", tap


def start_lesson_brokers(quiet: bool = True) -> LessonBrokers:
    """Start lesson 08's TLS and SCRAM brokers side by side on free ports (about 10-30 s), with a progress bar."""
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm  # the text bar: it reads well in a saved notebook too

    with reserved_ports(4, 1) as (ones, (sasl_port,)):
        tap = WireTap(f"{broker.HOST}:{ones[3]}")  # bound while the others are held: distinct
    with ThreadPoolExecutor(2) as pool, tqdm(total=2, desc="starting the TLS and the SCRAM broker", unit="broker") as bar:
        tls_f = pool.submit(_tls_broker_with_doors, quiet, ones, tap)
        sasl_f = pool.submit(broker.start, sasl_port, security="sasl_ssl", quiet=quiet, timeout=150)
        tls_f.add_done_callback(lambda f: bar.update())
        sasl_f.add_done_callback(lambda f: bar.update())
        try:
            tls_b, plain, tap = tls_f.result()
        except BaseException:
            with contextlib.suppress(Exception):
                sasl_f.result().stop()
            raise
        try:
            sasl_b = sasl_f.result()
        except BaseException:
            tap.close()
            tls_b.stop()
            raise
    return LessonBrokers(tls_b, sasl_b, security.load(tls_b.run_dir), security.load(sasl_b.run_dir), plain, tap)
