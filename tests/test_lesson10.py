"""Lesson 10's helpers on real brokers: Kafka 4 group protocols and share groups, Connect, Faust, Avro, inspector."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from helpers import admin, broker, cluster_view, connect, file_pipeline, group_protocols, kafka4, schemas, share_groups, streams
from helpers.connection import ck_conf
from helpers.errors import WorkbookError


# --------------------------------------------------------------------------- no broker needed


def test_counts_find_duplicates_and_gaps() -> None:
    c = file_pipeline._count("x", [0, 1, 1, 3, 3, 3], expected=5)
    assert (c.records, c.distinct, c.duplicates, c.missing) == (6, 3, 3, 2)
    assert file_pipeline._line_no('{"line": "line 7 GET /page/0 200", "origin": "web-1"}') == 7
    assert file_pipeline._line_no("line 12 GET /page/5 200") == 12
    assert file_pipeline._line_no("{line=line 3 GET, origin=web-1}") is None  # Java's map text is not JSON


def test_avro_without_the_writer_schema_reads_wrong_values() -> None:
    v2 = schemas.encode(schemas.RECORDS["v2"], schemas.V2)
    wrong = schemas.decode(v2, schemas.V1)  # the consumer only knows v1: no error, a wrong timestamp
    assert wrong["ts"] != schemas.RECORDS["v2"]["ts"]
    assert schemas.decode(v2, schemas.V2, schemas.V1)["ts"] == schemas.RECORDS["v2"]["ts"]
    import fastavro

    with pytest.raises(fastavro.read.SchemaResolutionError):
        schemas.decode(schemas.encode(schemas.RECORDS["v3"], schemas.V3), schemas.V3, schemas.V1)


def test_pauses_measured_from_callbacks() -> None:
    class Fake:  # what a stopped ProtocolRunner holds
        protocol = "classic"
        assignment = "range"
        stopped_at = 10.0
        marks = [{"t": 0.0, "label": "c1 joins"}, {"t": 2.0, "label": "c2 joins"}]
        events = [{"t": 0.1, "member": "c1", "event": "assigned", "partitions": [0, 1]},
                  {"t": 2.2, "member": "c1", "event": "revoked", "partitions": [0, 1]},
                  {"t": 2.5, "member": "c1", "event": "assigned", "partitions": [0]},
                  {"t": 2.7, "member": "c2", "event": "assigned", "partitions": [1]},
                  {"t": 10.0, "member": "c1", "event": "revoked", "partitions": [0]}]

    row = group_protocols.pauses(Fake()).iloc[0]  # type: ignore[arg-type]
    assert row["what happened"] == "c2 joins"
    assert row["pauses"] == 2 and row["partitions moved"] == 1
    assert row["longest pause (s)"] == pytest.approx(0.5) and row["idle partition-seconds"] == pytest.approx(0.8)
    assert row["settled after (s)"] == pytest.approx(0.7)


def test_worker_config_is_exactly_once_and_single_node() -> None:
    w = connect.Worker(url="http://127.0.0.1:1", port=1, bootstrap="127.0.0.1:9", group_id="g")
    props = dict(line.split("=", 1) for line in connect.worker_properties(w, "_g").splitlines())
    assert props["exactly.once.source.support"] == "enabled"
    assert props["consumer.isolation.level"] == "read_committed"
    assert props["config.storage.replication.factor"] == "1" and props["offset.storage.topic"] == "_g-offsets"


def test_unknown_protocol_is_one_line() -> None:
    with pytest.raises(WorkbookError, match="group protocol 'eager' is unknown"):
        group_protocols.ProtocolRunner("127.0.0.1:9", "t", protocol="eager")


# --------------------------------------------------------------------------- the session broker (3.9)


def test_inspector_sees_topic_offsets_and_group_lag(bootstrap: str) -> None:
    from confluent_kafka import Consumer, Producer, TopicPartition

    topic = admin.create_topic(bootstrap, admin.unique_topic("inspect"), partitions=3)
    group = admin.unique_topic("inspect-group")
    try:
        p = Producer(ck_conf(bootstrap))
        for i in range(9):
            p.produce(topic, b"x", partition=i % 3)
        assert p.flush(10) == 0
        c = Consumer(ck_conf(bootstrap, {"group.id": group, "enable.auto.commit": False}))
        c.commit(offsets=[TopicPartition(topic, 0, 1)], asynchronous=False)  # 2 behind on p0, p1/p2 not committed
        c.close()
        snap = cluster_view.snapshot(bootstrap)
        row = snap.topics.set_index("topic").loc[topic]
        assert (row["partitions"], row["replication"], row["ISR"], row["end offsets"]) == (3, 1, "3/3", 9)
        g = snap.groups.set_index("group").loc[group]
        assert g["total lag"] == 2 and f"{topic}[0]=2" in g["lag per partition"]
        bundle = cluster_view.Inspector(bootstrap)._repr_mimebundle_()
        assert topic in bundle["text/html"] and topic in bundle["text/plain"]
        assert "application/vnd.jupyter.widget-view+json" in bundle
    finally:
        admin.delete_topic(bootstrap, topic)
        admin.delete_groups(bootstrap, group)


def test_schema_change_through_kafka(bootstrap: str) -> None:
    topic = admin.create_topic(bootstrap, admin.unique_topic("avro"))
    try:
        df = schemas.schema_change_table(bootstrap, topic)
    finally:
        admin.delete_topic(bootstrap, topic)
    assert "1496966400000" in df.loc["v1", "consumer decodes with v1 only"]
    assert "1496966401000" not in df.loc["v2", "consumer decodes with v1 only"]  # silently wrong
    assert "1496966401000" in df.loc["v2", "writer schema known, read as v1"]
    assert "SchemaResolutionError" in df.loc["v3", "writer schema known, read as v1"]


@pytest.mark.slow
def test_faust_windows_join_and_state_after_restart(bootstrap: str) -> None:
    st = streams.make_topics(bootstrap, prefix="t-streams")
    app = streams.start(bootstrap, st)
    try:
        views = streams.page_views(120, minutes=2, seed=3)
        humans = sum(1 for user, _v, _ts in views if not user.startswith("bot"))
        streams.produce(bootstrap, st["views"], views)
        streams.produce(bootstrap, st["users"], [("user-1", {"name": "Ada", "country": "TW"}, None)])
        assert len(streams.wait_for(bootstrap, st["per_minute"], humans)) == humans
        counts = streams.window_counts(bootstrap, st["per_minute"])
        assert counts["views"].sum() == humans and set(counts["minute"]) == {"00:00", "00:01"}
        assert len(streams.read_values(bootstrap, st["clean"])) == humans
        time.sleep(1)
        streams.produce(bootstrap, st["clicks"], [("user-1", {"ad": "a"}, None), ("user-99", {"ad": "b"}, None)])
        enriched = {k: v for k, v in streams.wait_for(bootstrap, st["enriched"], 2)}
        assert enriched["user-1"]["name"] == "Ada" and enriched["user-99"]["name"] == "?"
        assert any(t.endswith("views_per_minute-changelog") for t in app.changelogs())
        before = counts.set_index(["page", "minute"]).loc[("/talks", "00:01"), "views"]
        assert streams.stop(app)
        app = streams.start(bootstrap, st, app_id=app.app_id)
        streams.produce(bootstrap, st["views"], [("user-1", {"page": "/talks"}, views[-1][2])] * 3)
        streams.wait_for(bootstrap, st["per_minute"], humans + 3)
        after = streams.window_counts(bootstrap, st["per_minute"]).set_index(["page", "minute"]).loc[("/talks", "00:01"), "views"]
        assert after == before + 3  # recovered from the changelog, not counted from zero
    finally:
        streams.stop(app)
        admin.delete_topic(bootstrap, *st.values(), *[t for t in admin.list_topics(bootstrap) if t.startswith(app.app_id)])
        admin.delete_groups(bootstrap, app.app_id)


@pytest.mark.slow
def test_connect_resumes_after_kill_without_duplicates(bootstrap: str, tmp_path: Path) -> None:
    w = connect.start(bootstrap)
    topic = admin.create_topic(bootstrap, admin.unique_topic("t-access"))
    src = tmp_path / "access.log"
    src.touch()
    try:
        assert connect.status(w)["healthy"]
        w.create("src", file_pipeline.source_config(src, topic))
        w.wait_state("src")
        writer = file_pipeline.LogWriter(src, total=1500, rate=300)
        time.sleep(2)
        connect.kill(w)
        assert not connect.status(w)["running"]
        w = connect.start(bootstrap, port=w.port, group_id=w.group_id)
        assert w.status("src")["connector"]["state"] in ("RUNNING", "UNASSIGNED")  # it came back from the config topic
        writer.join()
        count = file_pipeline.wait_for_lines(bootstrap, topic, 1500)
        assert (count.distinct, count.duplicates, count.missing) == (1500, 0, 0)
        assert file_pipeline.read_topic(bootstrap, topic)[0] == {"line": "line 0 GET /page/0 200", "origin": "web-1"}
        w.pause("src")
        assert w.wait_state("src", "PAUSED")["connector"]["state"] == "PAUSED"
        w.delete("src")
        assert w.connectors() == []  # (its status lingers a moment: the status topic is read asynchronously)
    finally:
        assert connect.stop(w, wipe=True)
        assert not connect.status(w)["running"]
        admin.delete_topic(bootstrap, topic, *[t for t in admin.list_topics(bootstrap, include_internal=True)
                                               if t.startswith(f"_{w.group_id}-")])


# --------------------------------------------------------------------------- the Kafka 4 broker


@pytest.fixture(scope="module")
def k4():
    b = kafka4.start()
    try:
        yield b
    finally:
        assert kafka4.stop(b)
    assert not broker.status(b.port)["running"]


@pytest.mark.slow
def test_consumer_protocol_group_is_assigned_by_the_broker(k4: broker.Broker) -> None:
    topic = admin.create_topic(k4.bootstrap, admin.unique_topic("k848"), partitions=4)
    runner = group_protocols.join_leave(k4.bootstrap, topic, "consumer", hold=0.3)
    assert runner.errors == []
    assert runner.described["type"] == "consumer" and runner.described["assignor"] == "uniform"
    assert runner.described["members"] == 3
    table = group_protocols.pauses(runner)
    assert list(table["what happened"]) == ["c2 joins, c3 joins", "c1 leaves"]
    # incremental: c1 gives up only some of its partitions when c2 and c3 join
    kept = [e for e in runner.events if e["member"] == "c1" and e["event"] == "revoked"][0]["partitions"]
    assert len(kept) < 4
    errors = group_protocols.moved_settings(k4.bootstrap).iloc[:, 0]
    assert all("not supported for `group.protocol=consumer`" in e for e in errors)


@pytest.mark.slow
def test_share_group_shares_one_partition_and_redelivers(k4: broker.Broker) -> None:
    topic = admin.create_topic(k4.bootstrap, admin.unique_topic("jobs"))
    run = share_groups.run_workers(k4.bootstrap, topic, f"share-{topic}", n_records=40)
    s = run.summary()
    assert run.deliveries.errors == []
    assert s["records accepted"] == 40 and s["accepted twice"] == 0
    assert s["workers that accepted records"] >= 2
    df = run.frame()
    assert set(df[(df.offset == 7) & (df.outcome == "released")].delivery) == {1}
    assert 2 in set(df[(df.offset == 7) & (df.outcome == "accepted")].delivery)
    assert s["held by the killed member"] == [0, 1, 2, 3, 4]  # it joined first, alone
    for off in s["held by the killed member"]:  # whatever the killed member held came back, counted
        assert df[(df.offset == off) & (df.outcome == "accepted")].delivery.max() >= 2
