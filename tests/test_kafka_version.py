"""The session broker really is Apache Kafka 3.9: its ApiVersions ranges say so."""
from __future__ import annotations

from helpers import broker


def test_api_versions_are_kafka_3_9(bootstrap: str) -> None:
    v = broker.check_reachable(bootstrap).api_versions  # over TLS too (make test-secure)
    # Produce v0 and Fetch v0 still accepted (pykafka needs them); Kafka 4.0 removed them (KIP-896)
    assert v[0] == (0, 11), v[0]  # Produce: v11 is the 3.7+ maximum
    assert v[1] == (0, 17), v[1]  # Fetch: v17 arrived in 3.9 (KIP-853)
    assert v[2][0] == 0 and v[8][0] == 0  # ListOffsets v0, OffsetCommit v0
    assert v[18] == (0, 4)  # ApiVersions
    assert v[68] == (0, 0)  # ConsumerGroupHeartbeat exists but only at v0 (KIP-848 preview in 3.x)


def test_embedded_default_is_newest_3_9_patch() -> None:
    assert broker.DEFAULT_VERSION.startswith("3.9.")
    assert broker.jars_ok(broker.DEFAULT_VERSION)
    assert any(p.name == f"kafka_2.13-{broker.DEFAULT_VERSION}.jar" for p in broker.jar_dir().iterdir())
