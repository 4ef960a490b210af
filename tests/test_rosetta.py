"""The Rosetta table: every row's call, for every client, against the real broker."""
from __future__ import annotations

import pytest

from helpers import rosetta

JAVA_PRODUCER = {"send(ProducerRecord(topic, value))", "send(ProducerRecord(topic, key, value))",
                 "send(ProducerRecord(topic, partition, key, value))", "send(record).get()  (synchronous)",
                 "send(record, callback)  (asynchronous)", "flush()", "close()", "partitionsFor(topic)", "metrics()"}
JAVA_CONSUMER = {"assign(partitions)", "assignment()", "beginningOffsets(partitions)", "close()",
                 "commitAsync(offsets, callback)", "commitSync(offsets)", "committed(partition)",
                 "endOffsets(partitions)", "listTopics()", "metrics()", "offsetsForTimes(timestamps)",
                 "partitionsFor(topic)", "pause(partitions)", "poll(timeout)", "position(partition)",
                 "resume(partitions)", "seek(partition, offset)", "seekToBeginning(partitions)",
                 "seekToEnd(partitions)", "subscribe(topics, listener)", "subscribe(pattern, listener)",
                 "subscription()", "unsubscribe()", "wakeup()"}
PRODUCER_SETTINGS = {"bootstrap.servers", "client.id", "acks", "retries", "linger.ms", "batch.size", "buffer.memory",
                     "key.serializer", "value.serializer"}
CONSUMER_SETTINGS = {"group.id", "session.timeout.ms", "heartbeat.interval.ms", "max.poll.records",
                     "enable.auto.commit", "auto.commit.interval.ms", "auto.offset.reset"}


def test_table_covers_the_talks_java_api() -> None:
    have = {(r.api, r.kind, r.java) for r in rosetta.ROWS}
    assert {("producer", "method", j) for j in JAVA_PRODUCER} <= have
    assert {("consumer", "method", j) for j in JAVA_CONSUMER} <= have
    assert {("producer", "setting", j) for j in PRODUCER_SETTINGS} <= have
    assert {("consumer", "setting", j) for j in CONSUMER_SETTINGS} <= have


def test_every_row_has_a_check_for_every_client() -> None:
    for row in rosetta.ROWS:
        for client in rosetta.CLIENTS:
            assert callable(rosetta.check_for(row, client)), (row.java, client)
            cell = row.cells[client]
            assert cell.code if cell.available else cell.workaround, (row.java, client)


@pytest.fixture(scope="module")
def results(bootstrap: str) -> list[rosetta.Result]:
    return rosetta.run(bootstrap)


def test_every_row_runs_for_every_client(results: list[rosetta.Result]) -> None:
    assert len(results) == len(rosetta.ROWS) * len(rosetta.CLIENTS)
    failed = [f"{r.api} {r.java} [{r.client}]: {r.observed}" for r in results if not r.ok]
    assert not failed, "\n".join(failed)


def test_observations_match_the_table(results: list[rosetta.Result]) -> None:
    seen = {(r.api, r.java, r.client): r.observed for r in results}
    # the seeded topic has two partitions: every client must have seen exactly those
    for client in rosetta.CLIENTS:
        assert seen[("producer", "partitionsFor(topic)", client)] == "the partitions are [0, 1]"
    # a "not available" setting is refused by the translator and confirmed missing in the client
    assert seen[("producer", "buffer.memory", "kafka-python")].startswith("translate() refuses it")
    assert seen[("consumer", "seek(partition, offset)", "pykafka")].startswith("reset_offsets(2)")
    # keyed sends: every client's check saw all records of one key land in a single partition
    for client in rosetta.CLIENTS:
        assert seen[("producer", "send(ProducerRecord(topic, key, value))", client)].startswith("every record with one key went to partition")


def test_a_drifted_row_fails(bootstrap: str) -> None:
    # a row claiming pykafka lacks produce() must fail its check: the runner really looks
    row = rosetta.Row("producer", "method", "fake", {c: rosetta.Cell("x") for c in rosetta.CLIENTS})
    rosetta.CHECKS[("producer", "fake", "pykafka")] = lambda ctx: rosetta._lacks(
        __import__("pykafka.producer", fromlist=["Producer"]).Producer, "produce") or "missing"
    try:
        res = rosetta.run(bootstrap, rows=[row], clients=("pykafka",))
    finally:
        del rosetta.CHECKS[("producer", "fake", "pykafka")]
    assert not res[0].ok and "update the Rosetta row" in res[0].observed


def test_result_cells_read_as_sentences(results: list[rosetta.Result]) -> None:
    frame = rosetta.results_frame(results)
    cells = [c for col in frame.columns for c in frame[col].dropna()]
    assert cells and all(c[0].isupper() and c.endswith((".", "…")) for c in cells), cells[:5]
    assert all(c.split(":")[0] in ("Works", "Not available", "Not available; the workaround works") for c in cells)
    digest = rosetta.results_frame([r for r in results if r.api == "producer"], digest=True)
    assert list(digest.index) == list(rosetta.DIGEST["producer"])
    assert list(rosetta.table("consumer", digest=True).index) == list(rosetta.DIGEST["consumer"])
