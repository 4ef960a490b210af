"""Jar cache faults caused for real: two starts at once with an empty cache, a jar corrupted without
changing its size, a Maven mirror that accepts and never answers; and both resolvers give the same jars."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from helpers import broker, doctor, jarcache
from helpers.errors import JarResolutionError

from fault_helpers import CLI, has_jgo, tmpfs_fixture  # tests/ is on sys.path

tmpfs = pytest.fixture(tmpfs_fixture)

# --------------------------------------------------------------------------- the jar cache


def test_two_brokers_start_at_once_with_an_empty_cache(tmp_path: Path) -> None:
    """The lock around fetching is shared by every port: no `libs.partial -> libs` race."""
    env = {**os.environ, "KFP_HOME": str(tmp_path), "KFP_RESOLVER": "python" if has_jgo() else "maven"}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    ports = [broker.free_port(), broker.free_port()]
    procs = [subprocess.Popen([*CLI, "broker", "start", "--port", str(p)], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for p in ports]
    try:
        outs = [p.communicate(timeout=240) for p in procs]
        for proc, (out, err) in zip(procs, outs):
            assert proc.returncode == 0, err
        assert sum("Fetched" in out for out, _ in outs) == 1  # one fetched, the other waited and reused
        for port in ports:
            assert broker.protocol.is_ready(f"127.0.0.1:{port}")
    finally:
        for port in ports:
            subprocess.run([*CLI, "broker", "stop", "--port", str(port)], env=env, capture_output=True, timeout=60)


def _copy_cache_with(real: Path, home: Path, victim_prefix: str) -> Path:
    """A private jar cache: symlinks to the session's jars (in ``real``), except a real copy of one victim."""
    libs = home / "jars" / broker.DEFAULT_VERSION / "libs"
    libs.mkdir(parents=True)
    shutil.copy(real.parent / "MANIFEST.json", libs.parent / "MANIFEST.json")
    victim = None
    for jar in real.iterdir():
        if jar.name.startswith(victim_prefix) and victim is None:
            victim = libs / jar.name
            shutil.copy(jar, victim)
        else:
            (libs / jar.name).symlink_to(jar)
    assert victim is not None
    return victim


def test_jar_corrupted_without_changing_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert broker.jars_ok(), "the session's jar cache should be complete"
    real = broker.jar_dir()
    monkeypatch.setenv("KFP_HOME", str(tmp_path))
    victim = _copy_cache_with(real, tmp_path, "scala-library-")
    assert broker.jars_ok()
    size = victim.stat().st_size
    with open(victim, "r+b") as fh:  # inside a compressed class, far from the zip directory
        fh.seek(size // 2)
        block = fh.read(64)
        fh.seek(size // 2)
        fh.write(bytes(b ^ 0xFF for b in block))
    assert victim.stat().st_size == size and not broker.jars_ok()
    checks = {c.name: c for c in doctor.run_checks(timeout=2)}
    jar_check = checks[f"kafka {broker.DEFAULT_VERSION} jars"]
    assert jar_check.problem and victim.name in jar_check.detail and "corrupted" in jar_check.detail
    assert "python -m helpers broker jars" in jar_check.fix
    # the command the doctor names fetches it again, and the cache is whole afterwards
    if has_jgo():
        monkeypatch.setenv("KFP_RESOLVER", "python")  # the cheaper route; both share the check
    broker.resolve_jars(quiet=True)
    assert broker.jars_ok() and not victim.is_symlink()


def test_both_routes_give_the_same_jars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One pom, two resolvers: the same artifacts and versions, the logging binding included."""
    if not shutil.which("mvn") or not has_jgo():
        pytest.skip("needs both Maven and jgo")
    session = jarcache.read_manifest(broker.DEFAULT_VERSION)
    assert session is not None
    other = "python" if session.get("route") == "maven" else "maven"
    reference = jarcache.artifact_list(broker.DEFAULT_VERSION)
    monkeypatch.setenv("KFP_HOME", str(tmp_path))
    jarcache.resolve(broker.DEFAULT_VERSION, quiet=True, via=other)
    assert jarcache.read_manifest(broker.DEFAULT_VERSION)["route"] == other
    assert jarcache.artifact_list(broker.DEFAULT_VERSION) == reference
    assert any(g.startswith("org.slf4j:slf4j-reload4j:") for g in reference)
    assert any(g.startswith(f"org.apache.kafka:kafka_2.13:{broker.DEFAULT_VERSION}") for g in reference)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A socket on loopback that accepts connections and never answers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join(2)
    for c in held:
        c.close()
    srv.close()


@pytest.mark.parametrize("via", ["maven", "python"])
def test_silent_mirror(via: str, silent_server: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if via == "maven" and not shutil.which("mvn"):
        pytest.skip("no Maven on this machine")
    if via == "python" and not has_jgo():
        pytest.skip("jgo is not installed")
    url = f"http://127.0.0.1:{silent_server}/maven2"
    monkeypatch.setenv("KFP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KFP_M2_REPO", str(tmp_path / "empty-m2"))  # nothing cached: the mirror must be asked
    args: list[str] = []
    if via == "maven":
        settings = tmp_path / "settings.xml"
        settings.write_text(f"<settings><mirrors><mirror><id>silent</id><mirrorOf>*</mirrorOf><url>{url}</url>"
                            "</mirror></mirrors></settings>")
        args = ["-s", str(settings)]
    else:
        monkeypatch.setenv("KFP_MAVEN_REPOSITORY", url)
    t0 = time.monotonic()
    with pytest.raises(JarResolutionError, match=rf"{url} accepted the connection but did not answer within \d+ s"):
        jarcache.resolve(broker.DEFAULT_VERSION, quiet=True, via=via, maven_args=args)
    assert time.monotonic() - t0 < 15


