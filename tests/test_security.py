"""Secured embedded brokers (TLS; SCRAM over TLS with ACLs): the three clients, and every fault in one line."""
from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

from helpers import broker, secured, security
from helpers.errors import ConfigError

pytestmark = pytest.mark.slow  # two extra broker JVMs for this file


def _start(mode: str, port: int, out: dict) -> None:
    try:
        out[mode] = broker.start(port, security=mode, quiet=True, timeout=150)
    except BaseException as exc:  # surfaced by the fixture below
        out[mode] = exc


@pytest.fixture(scope="module")
def brokers():
    """An ssl and a sasl_ssl broker, started side by side on free ports (own run directories)."""
    out: dict = {}
    with secured.reserved_ports(0, 2) as (_, starts):  # client + controller port each, none shared
        pass
    threads = [threading.Thread(target=_start, args=(m, p, out)) for m, p in zip(("ssl", "sasl_ssl"), starts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        for b in out.values():
            if isinstance(b, BaseException):
                raise b
        yield out
    finally:
        for b in out.values():
            if isinstance(b, broker.Broker):
                b.stop()
                import shutil

                shutil.rmtree(b.run_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def tls(brokers):
    b = brokers["ssl"]
    return b, security.load(b.run_dir)


@pytest.fixture(scope="module")
def sasl(brokers):
    b = brokers["sasl_ssl"]
    return b, security.load(b.run_dir)


def _topic(bootstrap: str, settings: dict) -> str:
    from confluent_kafka.admin import AdminClient, NewTopic

    name = f"sec-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({**secured.client_config("confluent-kafka", bootstrap, settings), "log_level": 0})
    admin.create_topics([NewTopic(name, 1, 1)])[name].result(20)
    return name


# ------------------------------------------------------------------ files and properties (no broker)


def test_prepare_writes_only_into_the_run_dir(tmp_path: Path) -> None:
    m = security.prepare(tmp_path, "sasl_ssl", "127.0.0.1:9999")
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert all(p.startswith("security/") for p in written), written
    props = dict(line.split("=", 1) for line in m.client_properties.read_text().splitlines() if not line.startswith("#"))
    assert props["bootstrap.servers"] == "127.0.0.1:9999"
    assert props["security.protocol"] == "SASL_SSL" and props["sasl.mechanism"] == "SCRAM-SHA-512"
    assert props["ssl.truststore.type"] == "PEM" and Path(props["ssl.truststore.location"]) == m.ca_file
    assert f'username="learner" password="{m.users["learner"]}";' in props["sasl.jaas.config"]
    assert m.client_properties.stat().st_mode & 0o077 == 0  # a password inside: owner only
    assert m.format_args() == ["--add-scram", f"SCRAM-SHA-512=[name=admin,password={m.users['admin']}]",
                               "--add-scram", f"SCRAM-SHA-512=[name=learner,password={m.users['learner']}]"]
    again = security.prepare(tmp_path, "sasl_ssl", "127.0.0.1:9999")
    assert again.users == m.users and again.ca_file.read_text() == m.ca_file.read_text()  # a restart keeps them


def test_server_config_is_pem_with_the_authorizer(tmp_path: Path) -> None:
    cfg = security.prepare(tmp_path, "sasl_ssl", "127.0.0.1:9999").server_config("127.0.0.1", 9999, 10000)
    assert cfg["ssl.keystore.type"] == "PEM" and cfg["ssl.keystore.key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert cfg["authorizer.class.name"].endswith("StandardAuthorizer") and cfg["super.users"] == "User:admin"
    assert cfg["listeners"] == "SASL_SSL://127.0.0.1:9999,CONTROLLER://127.0.0.1:10000"


# ------------------------------------------------------------------ TLS: three clients


@pytest.mark.parametrize("client", secured.CLIENTS)
def test_tls_roundtrip(tls, client: str) -> None:
    b, m = tls
    topic = _topic(b.bootstrap, m.settings())
    assert secured.roundtrip(client, b.bootstrap, m.settings(), topic).startswith(client.encode())


def test_cli_prints_the_properties_file(tls) -> None:
    b, m = tls
    assert b.client_properties == m.client_properties and b.client_properties.exists()
    assert broker.status(b.port)["ready"] is True  # readiness over TLS, not over a plaintext side door


# ------------------------------------------------------------------ SASL_SSL


@pytest.mark.parametrize("client", ["kafka-python", "confluent-kafka"])
def test_sasl_roundtrip_as_admin(sasl, client: str) -> None:
    b, m = sasl
    admin = m.settings("admin")
    topic = _topic(b.bootstrap, admin)
    assert secured.roundtrip(client, b.bootstrap, admin, topic).startswith(client.encode())


def test_pykafka_sasl_is_refused_honestly(sasl) -> None:
    b, m = sasl
    a = secured.attempt("pykafka", b.bootstrap, m.settings())
    assert not a.ok and isinstance(a.answer, ConfigError) and "no SASL" in str(a.answer)


# ------------------------------------------------------------------ faults: one line, within 15 s

FAULTS = {
    "no CA": ("ssl", lambda b, m: (b.bootstrap, {**m.settings(), "ssl.truststore.location": ""}), "no CA file was given"),
    "wrong CA": ("ssl", lambda b, m: (b.bootstrap, m.settings(ca_file=m.dir / "other-ca.pem")), "not signed by the CA"),
    "host name": ("ssl", lambda b, m: (b.bootstrap.replace("127.0.0.1", "127.1"), m.settings()), "not valid for '127.1'"),
    "plaintext on TLS": ("ssl", lambda b, m: (b.bootstrap, {}), "is a TLS listener"),
    "wrong password": ("sasl_ssl", lambda b, m: (b.bootstrap, m.settings(password="not-it")), "refused the login of 'learner'"),
}


@pytest.mark.parametrize("client", ["kafka-python", "confluent-kafka"])
@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_answered_in_one_line(brokers, fault: str, client: str) -> None:
    mode, make, expected = FAULTS[fault]
    b = brokers[mode]
    bootstrap, settings = make(b, security.load(b.run_dir))
    t0 = time.monotonic()
    a = secured.attempt(client, bootstrap, settings)
    assert time.monotonic() - t0 < 15
    assert not a.ok and a.answer is not None, a
    assert expected in str(a.answer) and "\n" not in str(a.answer)


def test_tls_client_on_the_plaintext_port(kafka, tls) -> None:
    _, m = tls
    for client in secured.CLIENTS:
        t0 = time.monotonic()
        a = secured.attempt(client, kafka.bootstrap, m.settings())
        assert time.monotonic() - t0 < 15 and not a.ok
        assert "is a plaintext listener" in str(a.answer), (client, a)


def test_pykafka_tls_faults(tls) -> None:
    b, m = tls
    wrong = secured.attempt("pykafka", b.bootstrap, m.settings(ca_file=m.dir / "other-ca.pem"))
    assert "not signed by the CA" in str(wrong.answer)
    # pykafka's SslConfig switches host-name checking off (check_hostname = False): it connects anyway
    assert secured.attempt("pykafka", b.bootstrap.replace("127.0.0.1", "127.1"), m.settings()).ok


def test_missing_acls_answered(sasl) -> None:
    from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType, AdminClient, ResourcePatternType,
                                       ResourceType)

    b, m = sasl
    topic = _topic(b.bootstrap, m.settings("admin"))
    learner = m.settings()
    for client in ("kafka-python", "confluent-kafka"):
        t0 = time.monotonic()
        with pytest.raises(security.SecurityError, match="TopicAuthorizationFailed") as err:
            secured.roundtrip(client, b.bootstrap, learner, topic, timeout=8)
        assert time.monotonic() - t0 < 15 and "learner" in str(err.value) and topic in str(err.value)
    admin = AdminClient({**secured.client_config("confluent-kafka", b.bootstrap, m.settings("admin")), "log_level": 0})
    grants = [AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, "User:learner", "*", op,
                         AclPermissionType.ALLOW) for op in (AclOperation.WRITE, AclOperation.READ)]
    for f in admin.create_acls(grants).values():
        f.result(10)
    for client in ("kafka-python", "confluent-kafka"):
        t0 = time.monotonic()
        with pytest.raises(security.SecurityError, match="GroupAuthorizationFailed") as err:
            secured.roundtrip(client, b.bootstrap, learner, topic, group="no-acl-group", timeout=8)
        assert time.monotonic() - t0 < 15 and "no-acl-group" in str(err.value)


def test_explain_recognises_each_clients_authorization_errors() -> None:
    from confluent_kafka import KafkaError, KafkaException
    from kafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError

    settings = {"sasl.jaas.config": security._jaas("bob", "x")}
    for error, name in [(KafkaException(KafkaError(29)), "TopicAuthorizationFailed"),
                        (KafkaError(30), "GroupAuthorizationFailed"),
                        (TopicAuthorizationFailedError(), "TopicAuthorizationFailed"),
                        (GroupAuthorizationFailedError(), "GroupAuthorizationFailed"),
                        ("Broker: Cluster authorization failed CLUSTER_AUTHORIZATION_FAILED", "ClusterAuthorizationFailed")]:
        answer = security.explain(error, None, settings, resource="t")
        assert answer is not None and name in str(answer) and "User:bob" in str(answer), (error, answer)
    assert security.explain(ValueError("unrelated")) is None
