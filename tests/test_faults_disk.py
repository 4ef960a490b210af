"""Disk faults caused for real: a read-only home, a disk that fills while fetching jars and under a
running broker (a tiny tmpfs, so root is needed; skipped with the reason otherwise)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from helpers import broker, doctor, jarcache
from helpers.errors import DiskFullError, StorageError

from fault_helpers import CLI, _one_line, _share_jars, tmpfs_fixture  # tests/ is on sys.path

tmpfs = pytest.fixture(tmpfs_fixture)


@pytest.fixture(autouse=True)
def _local_plaintext(monkeypatch: pytest.MonkeyPatch) -> None:
    """These faults are the local workbook's: its own brokers on plaintext, whatever KAFKA_CONFIG the session
    uses (under make test-secure the doctor would otherwise check the TLS broker's connection instead)."""
    monkeypatch.delenv("KAFKA_CONFIG", raising=False)


# --------------------------------------------------------------------------- read-only and full disks


def test_read_only_home_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tmpfs) -> None:
    if os.geteuid() == 0:
        home = tmpfs("ro-home", 1, read_only=True)  # root ignores permissions: a read-only mount is real
    else:
        home = tmp_path / "ro-home"
        home.mkdir()
        home.chmod(0o555)
    monkeypatch.setenv("KFP_HOME", str(home))
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    port = broker.free_port()
    t0 = time.monotonic()
    with pytest.raises(StorageError, match=r"(read-only file system|no permission).*KFP_HOME") as info:
        broker.start(port, quiet=True)
    assert time.monotonic() - t0 < 15 and "\n" not in str(info.value)
    out = subprocess.run([*CLI, "broker", "start", "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "KFP_HOME" in _one_line(out.stderr)


@pytest.mark.parametrize("via", ["maven", "python"])
def test_disk_full_while_fetching_jars(via: str, tmpfs, monkeypatch: pytest.MonkeyPatch) -> None:
    if via == "maven" and not shutil.which("mvn"):
        pytest.skip("no Maven on this machine")
    home = tmpfs(f"full-{via}", 24)  # room for the manifest and some jars, not for 56 MB of them
    monkeypatch.setenv("KFP_HOME", str(home))
    t0 = time.monotonic()
    with pytest.raises(DiskFullError, match=rf"the disk holding {home}.* is full .*fetch.*KFP_HOME") as info:
        jarcache.resolve(broker.DEFAULT_VERSION, quiet=True, via=via)  # Maven's repository (~/.m2) is warm
    assert "network" not in str(info.value)
    assert time.monotonic() - t0 < (120 if via == "maven" else 30)  # Maven resolving the poms is most of it
    assert not jarcache.jar_dir(broker.DEFAULT_VERSION).exists() and not list(home.glob("jars/*/libs.partial*"))


def _produce_until_broken(bootstrap: str, topic: str, seconds: float) -> int:
    from confluent_kafka import KafkaException, Producer

    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "message.timeout.ms": 5000,
                  "log_level": 0, "logger": lambda *a: None})
    chunk, sent, deadline = os.urandom(200_000), 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            p.produce(topic, chunk)
            sent += 1
        except (BufferError, KafkaException):
            p.poll(0.2)
        p.poll(0)
        if sent % 50 == 0 and not broker.status(int(bootstrap.rsplit(":", 1)[1]))["running"]:
            break
    p.flush(2)
    return sent


def test_disk_full_under_a_running_broker(tmpfs, monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers import admin

    home = tmpfs("full-run", 64)
    _share_jars(home)
    monkeypatch.setenv("KFP_HOME", str(home))
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    port = broker.free_port()
    b = broker.start(port, quiet=True)
    try:
        topic = admin.create_topic(b.bootstrap, admin.unique_topic("fill"))
        _produce_until_broken(b.bootstrap, topic, seconds=40)
        deadline = time.monotonic() + 20
        while broker.status(port)["running"] and time.monotonic() < deadline:
            time.sleep(0.5)
        st = broker.status(port)
        assert st["running"] is False, "the broker should have stopped on the full disk"
        assert "disk filled up" in st["reason"] and str(home) in st["reason"], st
        assert "KFP_HOME" in st["fix"]
        out = subprocess.run([*CLI, "broker", "status", "--port", str(port)], capture_output=True, text=True, timeout=30)
        assert out.returncode == 3 and "disk filled up" in json.loads(out.stdout)["reason"]
        checks = {c.name: c for c in doctor.run_checks(port=port, timeout=3)}
        assert checks["broker"].problem and "disk filled up" in checks["broker"].detail
        # a new start on the same full disk is refused at once, saying why
        t0 = time.monotonic()
        with pytest.raises(DiskFullError, match="is full"):
            broker.start(port, quiet=True)
        assert time.monotonic() - t0 < 15
    finally:
        broker.stop(port, quiet=True)


