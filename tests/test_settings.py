"""The settings translator: Java-style names into each client's dialect, never a silent drop."""
from __future__ import annotations

import pytest

from helpers import settings
from helpers.errors import ConfigError


def test_translates_into_each_dialect() -> None:
    conf = {"bootstrap.servers": "127.0.0.1:9092", "linger.ms": "5", "acks": "all"}
    assert settings.translate(conf, "kafka-python", "producer") == {
        "bootstrap_servers": "127.0.0.1:9092", "linger_ms": 5, "acks": "all"}
    assert settings.translate(conf, "confluent-kafka", "producer") == {
        "bootstrap.servers": "127.0.0.1:9092", "linger.ms": 5, "acks": "all"}
    assert settings.translate(conf, "pykafka", "producer") == {
        "hosts": "127.0.0.1:9092", "linger_ms": 5, "required_acks": -1}


def test_pykafka_split_separates_client_and_producer_keywords() -> None:
    client_kw, producer_kw = settings.pykafka_split({"bootstrap.servers": "h:1", "retries": 2, "request.timeout.ms": 900})
    assert client_kw == {"hosts": "h:1", "socket_timeout_ms": 900}
    assert producer_kw == {"max_retries": 2}


def test_pykafka_values_are_converted() -> None:
    from pykafka.common import CompressionType, OffsetType

    out = settings.translate({"group.id": "g", "auto.offset.reset": "earliest"}, "pykafka", "consumer")
    assert out == {"consumer_group": b"g", "auto_offset_reset": OffsetType.EARLIEST}
    assert settings.translate({"compression.type": "gzip"}, "pykafka")["compression"] == CompressionType.GZIP


@pytest.mark.parametrize("typo, suggestion", [("linger.sm", "linger.ms"), ("bootstrap.server", "bootstrap.servers"),
                                              ("enable.auto.comit", "enable.auto.commit")])
def test_a_typo_names_the_closest_valid_key(typo: str, suggestion: str) -> None:
    with pytest.raises(ConfigError, match=f"unknown setting '{typo}'.*did you mean '{suggestion}'"):
        settings.translate({typo: 1}, "kafka-python")


def test_another_dialects_spelling_is_named_as_such() -> None:
    with pytest.raises(ConfigError, match="'bootstrap_servers' is kafka-python's spelling.*write 'bootstrap.servers'"):
        settings.translate({"bootstrap_servers": "h:1"}, "confluent-kafka")


@pytest.mark.parametrize("client, key", [("kafka-python", "buffer.memory"), ("pykafka", "enable.idempotence"),
                                         ("pykafka", "session.timeout.ms"), ("confluent-kafka", "key.serializer"),
                                         ("pykafka", "client.id")])
def test_a_setting_the_client_lacks_is_an_error_not_a_drop(client: str, key: str) -> None:
    with pytest.raises(ConfigError, match=f"{client} has no equivalent of '{key}'") as info:
        settings.translate({key: 1}, client)
    assert info.value.fix, "the error must say what to do instead"


def test_role_mismatch_is_reported() -> None:
    with pytest.raises(ConfigError, match="'group.id' is a consumer setting"):
        settings.translate({"group.id": "g"}, "kafka-python", "producer")


def test_unknown_client_is_reported() -> None:
    with pytest.raises(ConfigError, match="did you mean 'pykafka'"):
        settings.translate({}, "pykafak")


def test_translated_settings_build_real_clients(bootstrap: str, topic: str) -> None:
    from confluent_kafka import Producer
    from kafka import KafkaProducer
    from pykafka import KafkaClient

    if bootstrap.sasl:
        pytest.skip("the translator's one-to-one rows cannot carry sasl.jaas.config: Connection.config does that")
    security = {k: v for k, v in bootstrap.settings.items() if k != "ssl.truststore.type"}  # TLS under test-secure
    conf = {"bootstrap.servers": bootstrap.bootstrap, **security, "acks": "all", "linger.ms": 1, "retries": 2,
            "compression.type": "gzip"}
    kp = KafkaProducer(**settings.translate(conf, "kafka-python", "producer"))
    assert kp.send(topic, b"kp").get(timeout=10).offset == 0
    kp.close(timeout=5)
    ck = Producer(settings.translate(conf, "confluent-kafka", "producer"))
    ck.produce(topic, b"ck")
    assert ck.flush(10) == 0
    client_kw, prod_kw = settings.pykafka_split(conf)
    kc = KafkaClient(**client_kw)
    with kc.topics[topic].get_sync_producer(min_queued_messages=1, **prod_kw) as p:
        p.produce(b"pk")
    from helpers import clients

    assert clients.end_offsets(bootstrap, topic) == {0: 3}


def test_table_has_every_setting() -> None:
    df = settings.table()
    assert set(df.index) == set(settings.SETTINGS)
    assert df.loc["buffer.memory", "kafka-python"].startswith("not available")


def test_one_list_of_clients_everywhere() -> None:
    from helpers import clients, compat, rosetta

    assert settings.CLIENTS is clients.CLIENTS is rosetta.CLIENTS is compat.CLIENTS
