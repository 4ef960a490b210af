"""helpers.tools: Kafka's own CLI tools run from the jars."""
from __future__ import annotations

import time

import pytest

from helpers import WorkbookError, admin, offsets, tools


def test_kafka_topics_create_describe_alter_delete(bootstrap):
    name = admin.unique_topic("t-cli")
    out = tools.kafka_topics(bootstrap, "--create", "--topic", name, "--partitions", "2", "--replication-factor", "1")
    assert f"Created topic {name}" in str(out)
    try:
        tools.kafka_topics(bootstrap, "--alter", "--topic", name, "--partitions", "3")
        assert admin.partition_count(bootstrap, name) == 3
        desc = tools.kafka_topics(bootstrap, "--describe", "--topic", name)
        assert "PartitionCount: 3" in desc.stdout
        assert len([line for line in desc.lines if "Partition: " in line]) == 3
        assert name in tools.kafka_topics(bootstrap, "--list").lines
    finally:
        tools.kafka_topics(bootstrap, "--delete", "--topic", name)
    deadline = time.monotonic() + 15
    while name in admin.list_topics(bootstrap) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert name not in admin.list_topics(bootstrap)


def test_a_failing_tool_is_one_clear_line(bootstrap):
    with pytest.raises(WorkbookError, match="does not exist") as err:
        tools.kafka_topics(bootstrap, "--describe", "--topic", admin.unique_topic("t-missing"))
    assert "\n" not in str(err.value)
    result = tools.kafka_topics(bootstrap, "--bogus-option", check=False)
    assert result.returncode != 0 and "bogus-option" in result.stdout + result.stderr


def test_unknown_tool_and_timeout():
    with pytest.raises(WorkbookError, match="unknown Kafka tool"):
        tools.run("kafka-everything")
    with pytest.raises(WorkbookError, match="did not finish within"):
        tools.run("kafka-topics", "--bootstrap-server", "127.0.0.1:9092", "--list", timeout=0.05)


def test_console_producer_and_consumer_groups_tool(bootstrap, topic):
    tools.console_produce(bootstrap, topic, [("k1", "v1"), ("k2", "v2")])
    recs = offsets.read(bootstrap, topic)
    assert [(r.key, r.value) for r in recs] == [("k1", "v1"), ("k2", "v2")]
    group = admin.unique_topic("t-cli-group")
    offsets.commit(bootstrap, group, topic, {0: 1})
    desc = tools.kafka_consumer_groups(bootstrap, "--describe", "--group", group)
    row = next(line.split() for line in desc.lines if topic in line)
    assert row[2:6] == ["0", "1", "2", "1"]  # partition, current offset, log end, lag
    assert admin.delete_groups(bootstrap, group) == [group]
    with pytest.raises(WorkbookError):
        tools.console_produce(bootstrap, topic, [("bad\tkey", "v")])
