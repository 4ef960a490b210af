"""The talk-era code patterns: a reproduction broker that auto-creates topics, and the topic CLI."""
from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from helpers import admin, bench_workers, broker, offsets
from helpers.connection import Connection, cli_args

ROOT = Path(__file__).parent.parent


def _cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "helpers", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env={**os.environ, **(env or {})})


def _stored(bootstrap: str, topic: str) -> int:
    return sum(h - lo for lo, h in offsets.watermarks(bootstrap, topic).values())


def test_auto_create_broker_runs_the_talk_era_patterns(iso_home: Path) -> None:
    """broker start --auto-create-topics says so in its banner; pykafka client.topics[...] + get_producer(),
    kafka-python and confluent-kafka at their defaults then write to topics nobody created."""
    port = broker.free_port()
    env = {"KFP_HOME": str(iso_home)}
    proc = _cli("broker", "start", "--port", str(port), "--auto-create-topics", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "REPRODUCTION MODE" in proc.stdout and "auto.create.topics.enable=true" in proc.stdout
    bootstrap = f"127.0.0.1:{port}"
    try:
        warnings.filterwarnings("ignore")
        from confluent_kafka import Producer
        from kafka import KafkaProducer
        from pykafka import KafkaClient

        from pykafka.exceptions import UnknownTopicOrPartition

        names = {c: admin.unique_topic(f"talk-{c}") for c in ("pykafka", "kafka-python", "confluent-kafka")}
        client = KafkaClient(hosts=bootstrap)
        # a KRaft broker answers UNKNOWN_TOPIC_OR_PARTITION (not 2017's LEADER_NOT_AVAILABLE) while it creates
        # the topic, and pykafka gives up on that answer: the first call fails, the topic is made, a second works
        with pytest.raises(UnknownTopicOrPartition):
            client.topics[names["pykafka"]]
        deadline = __import__("time").monotonic() + 15
        while names["pykafka"] not in admin.list_topics(bootstrap):
            assert __import__("time").monotonic() < deadline, "the broker did not auto-create pykafka's topic"
            __import__("time").sleep(0.2)
        producer = client.topics[names["pykafka"]].get_producer(linger_ms=5)
        for _ in range(50):
            producer.produce(bench_workers.payload(100))
        producer.stop()
        kp = KafkaProducer(bootstrap_servers=bootstrap)
        for _ in range(50):
            kp.send(names["kafka-python"], b"x")
        kp.flush(30)
        kp.close()
        ck = Producer({"bootstrap.servers": bootstrap})
        for _ in range(50):
            ck.produce(names["confluent-kafka"], b"x")
        assert ck.flush(30) == 0
        for c, name in names.items():
            assert _stored(bootstrap, name) == 50, c
        # the topic CLI lists what auto-creation made, and deletes it
        listed = _cli("topic", "list", "--bootstrap", bootstrap, env=env).stdout.split()
        assert set(names.values()) <= set(listed)
        gone = _cli("topic", "delete", *names.values(), "--bootstrap", bootstrap, env=env)
        assert gone.returncode == 0 and gone.stdout.count("deleted") == 3
    finally:
        _cli("broker", "stop", "--port", str(port), "--wipe", env=env)


def test_topic_cli_creates_lists_deletes(bootstrap: Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    """The connection given as --bootstrap [--config FILE] (cli_args), or, with no option, as ensure_broker()
    finds it ($KAFKA_CONFIG under make test-secure)."""
    name = admin.unique_topic("cli-topic")
    given = cli_args(bootstrap)  # --bootstrap HOST:PORT, plus --config FILE for a secured broker
    with monkeypatch.context() as m:  # --config alone must carry the security settings
        m.delenv("KAFKA_CONFIG", raising=False)
        made = _cli("topic", "create", name, "--partitions", "3", *given)
    assert made.returncode == 0 and f"created {name} (3 partitions)" in made.stdout, made.stderr
    assert admin.partition_count(bootstrap, name) == 3
    assert name in _cli("topic", "list").stdout.split()
    again = _cli("topic", "create", name, *given)
    assert again.returncode == 1 and again.stderr.startswith("error: ") and again.stderr.count("\n") == 1
    assert f"deleted {name}" in _cli("topic", "delete", name, *given).stdout
    assert name not in admin.list_topics(bootstrap)


@pytest.mark.parametrize("argv, expected", [
    (["topic", "create"], "topic create needs at least one NAME"),
    (["topic", "list", "x"], "topic list takes no names"),
    (["topic", "create", "t", "--partitions", "0"], "--partitions must be between 1 and 1000"),
])
def test_topic_cli_bad_input_is_one_line(argv: list[str], expected: str) -> None:
    proc = _cli(*argv)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and expected in proc.stderr


def test_committed_talk_findings_were_measured() -> None:
    """The committed talk-era findings: each item happened for real (counts and seconds recorded)."""
    import json

    from helpers import bench

    data = json.loads(bench.TALK_JSON.read_text())
    items = {i["item"]: i for i in data["items"]}
    loss = items["pykafka's linger and stop()"]
    assert loss["stored"] < loss["sent"]
    assert items["a missing topic, confluent-kafka"]["seconds"] >= 29 and items["a missing topic, confluent-kafka"][
        "failed"] == 1000
    assert "UnknownTopicOrPartition" in items["topic auto-creation"]["happened"]
    assert all(i["fix"] for i in data["items"])


def test_cli_at_a_tls_broker_without_its_config_says_config(bootstrap: Connection,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A bare --bootstrap is plaintext: at a TLS listener the one line names --config FILE."""
    if not bootstrap.tls:
        pytest.skip("needs the session broker to speak TLS (make test-secure)")
    monkeypatch.delenv("KAFKA_CONFIG", raising=False)
    proc = _cli("topic", "list", "--bootstrap", bootstrap.bootstrap)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert "a TLS server answered" in proc.stderr and "--config FILE" in proc.stderr
