"""helpers.partitioning: the hash functions, and the placements observed on the real broker."""
from __future__ import annotations

import os

import pytest
from kafka.partitioner.default import murmur2 as kafka_python_murmur2

from helpers import admin, offsets, partitioning as pt

# test vectors from Apache Kafka's UtilsTest.testMurmur2 (clients/src/test/java/.../utils/UtilsTest.java)
JAVA_VECTORS = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536,
                b"a-little-bit-longer-string": -1486304829,
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971, b"abc": 479470107}


@pytest.mark.parametrize("data,expected", JAVA_VECTORS.items())
def test_murmur2_matches_java(data, expected):
    assert pt.murmur2(data) == expected


def test_murmur2_matches_kafka_python_for_random_bytes():
    for i in range(500):
        data = os.urandom(i % 40)
        assert pt.murmur2(data) & 0xFFFFFFFF == kafka_python_murmur2(data) & 0xFFFFFFFF


def test_the_defaults_disagree_for_some_keys():
    t = pt.table([f"k{i}" for i in range(20)], 4)
    assert (t.iloc[:, 0] != t.iloc[:, 1]).any()
    assert pt.partition_for("pykafka", "x", 4) is None
    with pytest.raises(ValueError):
        pt.partition_for("kafka-go", "x", 4)


def test_placements_on_the_broker_match_the_predictions(bootstrap):
    keys = ["alice", "bob", "carol", "dave", "erin", "frank"]
    t = admin.create_topic(bootstrap, admin.unique_topic("t-place"), partitions=4)
    try:
        clients = ["java", "kafka-python", "confluent-kafka", "confluent-kafka murmur2_random", "pykafka murmur2"]
        grid = pt.placements(bootstrap, t, keys, clients=clients)
        for k in keys:
            java = pt.java_partition(k, 4)
            assert grid.loc[k, "java"] == java  # the real Java producer
            assert grid.loc[k, "kafka-python"] == java
            assert grid.loc[k, "confluent-kafka murmur2_random"] == java
            assert grid.loc[k, "pykafka murmur2"] == java
            assert grid.loc[k, "confluent-kafka"] == pt.librdkafka_partition(k, 4)
        assert (grid["confluent-kafka"] != grid["java"]).any()
    finally:
        admin.delete_topic(bootstrap, t)


def test_pykafka_default_ignores_the_key(bootstrap):
    t = admin.create_topic(bootstrap, admin.unique_topic("t-pyk"), partitions=4)
    try:
        grid = pt.placements(bootstrap, t, ["alice"], clients=["pykafka"], repeat=4)
        assert grid.loc["alice", "pykafka"].count("p") == 4  # four sends, four partitions
    finally:
        admin.delete_topic(bootstrap, t)


def test_keyed_sends_keep_per_key_order_keyless_do_not(bootstrap):
    a = admin.create_topic(bootstrap, admin.unique_topic("t-keyed"), partitions=4)
    b = admin.create_topic(bootstrap, admin.unique_topic("t-keyless"), partitions=4)
    try:
        pt.send_sequenced(bootstrap, a, n=200, users=5, keyed=True)
        pt.send_sequenced(bootstrap, b, n=200, users=5, keyed=False, round_robin=4)
        keyed, keyless = offsets.read(bootstrap, a), offsets.read(bootstrap, b)
        assert len(keyed) == len(keyless) == 200
        assert pt.ordering_report(keyed) == {"every user's messages in the order sent": True,
                                             "all messages in the order sent": False}
        # round robin (a sticky keyless burst could land in one partition and keep its order by luck)
        assert pt.ordering_report(keyless)["every user's messages in the order sent"] is False
        assert pt.partition_counts(keyless, "rr")["count"].tolist() == [50, 50, 50, 50]
        assert pt.runs(keyless) == {"longest run": 1, "mean run": 1.0}  # round robin never repeats a partition
        sticky = admin.create_topic(bootstrap, admin.unique_topic("t-sticky"), partitions=4)
        try:  # librdkafka's default sticky partitioner: keyless messages come in runs on one partition
            pt.send_sequenced(bootstrap, sticky, n=200, users=5, keyed=False)
            assert pt.runs(offsets.read(bootstrap, sticky))["longest run"] > 1
        finally:
            admin.delete_topic(bootstrap, sticky)
        counts = pt.partition_counts(keyed, "keyed")
        assert counts["count"].sum() == 200 and set(counts["how"]) == {"keyed"}
    finally:
        admin.delete_topic(bootstrap, a, b)


def test_unknown_client_is_an_error(bootstrap, topic):
    with pytest.raises(ValueError, match="unknown client"):
        pt.produce_keys(bootstrap, topic, ["k"], "kafka-go")
