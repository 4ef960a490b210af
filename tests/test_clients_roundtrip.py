"""Each client produces to and consumes from the real broker: every message back, in order."""
from __future__ import annotations

import pytest

from helpers import clients

MESSAGES = [f"message {i}".encode() for i in range(25)]


@pytest.mark.parametrize("name", ["kafka-python", "confluent-kafka", "pykafka"])
def test_roundtrip(name: str, bootstrap: str, topic: str) -> None:
    got = clients.ROUNDTRIPS[name](bootstrap, topic, MESSAGES)
    assert got == MESSAGES


def test_pykafka_managed_balanced_consumer(bootstrap: str, topic: str) -> None:
    # the balanced consumer joins a group through the broker's group API (managed=True, no ZooKeeper)
    assert clients.pykafka_roundtrip(bootstrap, topic, MESSAGES, balanced=True) == MESSAGES


def test_versions_lists_every_client() -> None:
    v = clients.versions()
    assert v["kafka-python"].startswith("3.") and v["confluent-kafka"].startswith("2.") and v["pykafka"] == "2.8.0"
