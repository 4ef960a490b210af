"""Address, Java and port faults caused for real: an HTTP server as the bootstrap, a JAVA_HOME pointing
nowhere, a port held by another checkout's broker; and what the doctor says about Java, disk and --port."""
from __future__ import annotations

import http.server
import os
import subprocess
import threading
import time
from pathlib import Path

import psutil
import pytest

from helpers import broker, doctor, java
from helpers.errors import BrokerUnreachableError, JavaNotFoundError, OtherHomeBrokerError

from fault_helpers import CLI, tmpfs_fixture  # tests/ is on sys.path

tmpfs = pytest.fixture(tmpfs_fixture)

# --------------------------------------------------------------------------- addresses, Java, ports



@pytest.fixture(autouse=True)
def _local_plaintext(monkeypatch: pytest.MonkeyPatch) -> None:
    """These faults are the local workbook's: its own brokers on plaintext, whatever KAFKA_CONFIG the session
    uses (under make test-secure the doctor would otherwise check the TLS broker's connection instead)."""
    monkeypatch.delenv("KAFKA_CONFIG", raising=False)


def test_http_server_as_bootstrap() -> None:
    class Quiet(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        address = f"127.0.0.1:{srv.server_address[1]}"
        t0 = time.monotonic()
        with pytest.raises(BrokerUnreachableError, match=r"HTTP server answered.*not a Kafka broker\?") as info:
            broker.check_reachable(address, timeout=5)
        assert address in str(info.value) and time.monotonic() - t0 < 15
    finally:
        srv.shutdown()
        srv.server_close()


def test_java_home_nowhere_with_a_good_java_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    good = java.system_java()
    if good is None or good.source != "PATH":
        pytest.skip("needs a Java 17+ on PATH")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk-nowhere"))
    with pytest.raises(JavaNotFoundError, match=r"JAVA_HOME=.*jdk-nowhere has no bin/java -> unset JAVA_HOME") as info:
        java.find_java()
    assert "install" not in str(info.value)
    out = subprocess.run([*CLI, "doctor", "--port", str(broker.free_port())], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "JAVA_HOME": str(tmp_path / "jdk-nowhere")})
    line = next(l for l in out.stdout.splitlines() if " java " in f" {l} ")
    assert "PROBLEM" in line and "unset JAVA_HOME" in line


def test_doctor_says_which_java_and_where_from() -> None:
    found = java.find_java()
    checks = {c.name: c for c in doctor.run_checks(port=broker.free_port(), timeout=2)}
    assert checks["java"].ok and found.path in checks["java"].detail and f"from {found.source}" in checks["java"].detail
    assert checks["disk"].ok and " free for " in checks["disk"].detail


def test_doctor_port_and_free_space(tmpfs, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmpfs("small-home", 8)
    monkeypatch.setenv("KFP_HOME", str(home))
    port = broker.free_port()
    out = subprocess.run([*CLI, "doctor", "--port", str(port)], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "KFP_HOME": str(home)})
    lines = {l.split()[1]: l for l in out.stdout.splitlines() if len(l.split()) > 1}
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert lines["disk"].startswith("PROBLEM") and "MB free" in lines["disk"] and "KFP_HOME" in lines["disk"]
    assert f"127.0.0.1:{port}" in lines["broker"] and f"--port {port}" in lines["broker"]


def test_port_held_by_a_broker_from_another_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 kafka: broker.Broker) -> None:
    if not kafka.embedded:
        pytest.skip("the session broker is external")
    their_home = broker.home()
    monkeypatch.setenv("KFP_HOME", str(tmp_path))  # a fresh home: no jars, nothing run from here
    t0 = time.monotonic()
    with pytest.raises(OtherHomeBrokerError, match=rf"port {kafka.port} is held by a workbook broker from another "
                                                   rf"KFP_HOME \({their_home}, pid {kafka.pid}\).*KAFKA_BOOTSTRAP_SERVERS"
                                                   rf".*KFP_HOME={their_home} python -m helpers broker stop"):
        broker.start(kafka.port, quiet=True)
    assert time.monotonic() - t0 < 15
    assert not (tmp_path / "jars").exists() or not any((tmp_path / "jars").glob("*/libs"))  # said before fetching
    assert psutil.pid_exists(kafka.pid)
