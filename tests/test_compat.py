"""Kafka 3.9 beside Kafka 4.x: the compatibility matrix from a live run (starts a real 4.x broker)."""
from __future__ import annotations

import re

import pytest

from helpers import broker, compat
from helpers.errors import WorkbookError


@pytest.fixture(scope="module")
def kafka4():
    b = compat.start_kafka4()
    try:
        yield b
    finally:
        compat.stop_kafka4(b)
    assert not broker.status(b.port)["running"]
    assert not broker.run_dir(b.port).exists()


@pytest.mark.slow
def test_matrix_on_39_and_4x(bootstrap: str, kafka4: broker.Broker) -> None:
    here = broker.Broker(bootstrap=bootstrap.bootstrap, version="3.9", embedded=False,
                         properties_file=bootstrap.source)
    results = compat.matrix({"Kafka 3.9": here, f"Kafka {kafka4.version}": kafka4}, timeout=6)
    ok = {(a.broker, a.client, a.step): a for a in results}
    assert len(results) == 2 * 3 * 2
    for client in ("kafka-python", "confluent-kafka", "pykafka"):
        for step in ("produce", "consume"):
            assert ok[("Kafka 3.9", client, step)].ok, ok[("Kafka 3.9", client, step)]
    k4 = f"Kafka {kafka4.version}"
    for client in ("kafka-python", "confluent-kafka"):
        for step in ("produce", "consume"):
            assert ok[(k4, client, step)].ok, ok[(k4, client, step)]
    produce, consume = ok[(k4, "pykafka", "produce")], ok[(k4, "pykafka", "consume")]
    assert not produce.ok and not consume.ok
    # the broker itself names the removed request versions (KIP-896)
    assert "Produce" in produce.broker_says and "unsupported version 0" in produce.broker_says
    assert "unsupported version" in consume.broker_says
    frame = compat.matrix_frame(results)
    assert frame.loc[("pykafka", "produce"), k4].startswith("✗")


@pytest.mark.slow
def test_protocol_table_shows_removed_versions(bootstrap: str, kafka4: broker.Broker) -> None:
    df = compat.protocol_table({"3.9": bootstrap, "4.x": kafka4.bootstrap})
    assert df.loc["Produce", "3.9"].endswith("✓")
    assert "removed" in df.loc["Produce", "4.x"]
    assert "removed" in df.loc["ListOffsets", "4.x"] and "removed" in df.loc["OffsetCommit", "4.x"]
    assert df.loc["Metadata", "4.x"].endswith("✓")


def test_start_kafka4_failure_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # whatever goes wrong deep inside broker.start, the learner sees one WorkbookError line with a fix
    def boom(**kw):
        raise OSError("no space left on device")

    monkeypatch.setattr(broker, "start", boom)
    version = compat.KAFKA4_VERSION
    with pytest.raises(WorkbookError, match=rf"Kafka {re.escape(version)} did not start: OSError: no space left on device -> run `make jars`") as exc:
        compat.start_kafka4(version)
    assert "\n" not in str(exc.value)


def test_kafka4_is_a_4x_release_make_setup_fetched() -> None:
    # `make setup` (the jars target) fetches exactly this version; lesson 05's matrix and lesson 10 start it
    major, minor, _ = (int(x) for x in compat.KAFKA4_VERSION.split("."))
    assert (major, minor) >= (4, 4), compat.KAFKA4_VERSION
    assert broker.jars_ok(compat.KAFKA4_VERSION), "run `make setup`"
    assert any(p.name == f"kafka_2.13-{compat.KAFKA4_VERSION}.jar" for p in broker.jar_dir(compat.KAFKA4_VERSION).iterdir())
