"""docker-compose.yml stays in step with the embedded broker: same Kafka, same teaching settings."""
from __future__ import annotations

from pathlib import Path

import yaml

from helpers import broker

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
KAFKA = COMPOSE["services"]["kafka"]


def test_same_kafka_version_as_embedded() -> None:
    image, tag = KAFKA["image"].split(":")
    assert image == "apache/kafka"
    assert tag == broker.DEFAULT_VERSION


def test_teaching_settings_match_embedded() -> None:
    embedded = dict(line.split("=", 1) for line in broker.server_properties(9092, 9093, Path("/d")).splitlines())
    env = {k: str(v) for k, v in KAFKA["environment"].items()}
    for key in ("offsets.topic.replication.factor", "transaction.state.log.replication.factor",
                "transaction.state.log.min.isr", "offsets.topic.num.partitions", "group.initial.rebalance.delay.ms",
                "group.min.session.timeout.ms", "auto.create.topics.enable", "num.partitions",
                "log.retention.check.interval.ms", "log.cleaner.backoff.ms", "process.roles", "node.id"):
        assert env.get("KAFKA_" + key.upper().replace(".", "_")) == embedded[key], key


def test_host_listener_ui_and_healthcheck() -> None:
    assert "127.0.0.1:9092:9092" in KAFKA["ports"]
    assert "HOST://localhost:9092" in KAFKA["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert "kafka-broker-api-versions" in " ".join(KAFKA["healthcheck"]["test"])
    ui = COMPOSE["services"]["kafka-ui"]
    name, tag = ui["image"].split(":")
    assert name == "kafbat/kafka-ui" and tag not in ("latest", "main")
    assert ui["environment"]["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"] == "kafka:19092"
    assert "127.0.0.1:8080:8080" in ui["ports"]
    for service in COMPOSE["services"].values():
        assert ":" in service["image"] and not service["image"].endswith(":latest")


def test_every_published_port_is_loopback_only() -> None:
    """No TLS, no login: a port published on every interface would open the broker (or UI) to the network."""
    for name, service in COMPOSE["services"].items():
        for port in service.get("ports", []):
            spec = port if isinstance(port, str) else f"{port.get('host_ip', '')}:{port.get('published')}"
            assert spec.startswith("127.0.0.1:"), (name, port)
