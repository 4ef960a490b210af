"""helpers.exercises (lessons 01-03): every check passes on a right answer and fails, with a hint, on a wrong one."""
from __future__ import annotations

from collections import Counter

from helpers import admin, delivery, events, exercises as ex, offsets, topics


def _fails(check, *words):
    assert not check and not check.passed and check.hint, str(check)
    assert str(check).startswith("FAIL") and "hint:" in str(check)
    for w in words:
        assert w in str(check)


def test_check_connections():
    assert ex.check_connections(6, 5, 30, 11)
    _fails(ex.check_connections(6, 5, None, 11))
    _fails(ex.check_connections(6, 5, 11, 30), "point to point")
    _fails(ex.check_connections(6, 5, 30, 30), "through a log")
    assert "PASS" in ex.check_connections(2, 2, 4, 4)._repr_html_()


def test_check_positions(bootstrap, topic):
    g = admin.unique_topic("t-ex-a")
    topics.send(bootstrap, topic, [("k", str(i)) for i in range(6)])
    _fails(ex.check_positions(bootstrap, topic, {g: 4}), "committed nothing")
    offsets.consume_n(bootstrap, topic, g, 3)
    _fails(ex.check_positions(bootstrap, topic, {g: 4}), "stands at offset 3")
    offsets.consume_n(bootstrap, topic, g, 1)
    assert ex.check_positions(bootstrap, topic, {g: 4})
    admin.delete_groups(bootstrap, g)


def test_check_page_counts(bootstrap, topic):
    clicks = events.clickstream(20)
    events.produce(bootstrap, topic, clicks)
    truth = dict(Counter(c["page"] for c in clicks))
    assert ex.check_page_counts(bootstrap, topic, truth)
    _fails(ex.check_page_counts(bootstrap, topic, None))
    short = dict(truth, **{"/": truth["/"] - 1})
    _fails(ex.check_page_counts(bootstrap, topic, short), "19 events counted")


def test_check_compacted_topic(bootstrap):
    name = admin.unique_topic("t-ex-compact")
    _fails(ex.check_compacted_topic(bootstrap, name), "no topic")
    admin.create_topic(bootstrap, name, partitions=2)
    try:
        _fails(ex.check_compacted_topic(bootstrap, name), "2 partitions")
        topics.add_partitions(bootstrap, name, 3)
        _fails(ex.check_compacted_topic(bootstrap, name), "cleanup.policy")
        topics.set_config(bootstrap, name, {"cleanup.policy": "compact"})
        assert ex.check_compacted_topic(bootstrap, name)
    finally:
        admin.delete_topic(bootstrap, name)


def test_check_same_partition(bootstrap):
    from confluent_kafka import Producer

    t = admin.create_topic(bootstrap, admin.unique_topic("t-ex-agree"), partitions=4)
    try:
        def send(conf, value):
            p = Producer({**bootstrap.config("confluent-kafka"), **conf})
            p.produce(t, key=b"order-7", value=value)
            p.flush(10)

        send({}, b"kafka-python")  # with confluent's default (crc32) partitioner: the wrong place
        _fails(ex.check_same_partition(bootstrap, t, "order-7"), "confluent-kafka")
        send({}, b"confluent-kafka")
        _fails(ex.check_same_partition(bootstrap, t, "order-7"), "Java would use")
        send({"partitioner": "murmur2_random"}, b"kafka-python")
        _fails(ex.check_same_partition(bootstrap, t, "order-7"), "still disagree")
    finally:
        admin.delete_topic(bootstrap, t)
    t = admin.create_topic(bootstrap, admin.unique_topic("t-ex-agree"), partitions=4)
    try:
        from helpers import partitioning

        partitioning.produce_keys(bootstrap, t, ["order-7"], "kafka-python")
        p = Producer({**bootstrap.config("confluent-kafka"), "partitioner": "murmur2_random"})
        p.produce(t, key=b"order-7", value=b"confluent-kafka")
        p.flush(10)
        assert ex.check_same_partition(bootstrap, t, "order-7")
    finally:
        admin.delete_topic(bootstrap, t)


def test_check_replay(bootstrap, topic):
    import time

    t0 = (int(time.time()) - 60) * 1000
    topics.send(bootstrap, topic, [(None, f"r{i}") for i in range(10)], timestamps=[t0 + 500 * i for i in range(10)])
    assert ex.check_replay(bootstrap, topic, t0 + 3200, ["r7", "r8", "r9"])
    _fails(ex.check_replay(bootstrap, topic, t0 + 3200, None))
    _fails(ex.check_replay(bootstrap, topic, t0 + 3200, [f"r{i}" for i in range(10)]), "offsets_for_times")
    _fails(ex.check_replay(bootstrap, topic, t0 + 3200, ["r7"]), "expected 3")


def test_check_balanced():
    good = {"a": [0, 1], "b": [2, 3], "c": [4], "d": [5]}
    assert ex.check_balanced(good, 6, predicted=["b", "a"])
    _fails(ex.check_balanced(good, 6), "no prediction")
    _fails(ex.check_balanced(good, 6, predicted=["c", "d"]), "['a', 'b'] own 2 partitions")
    _fails(ex.check_balanced({}, 6, predicted=[]))
    _fails(ex.check_balanced({"a": [0, 1, 2], "b": [2, 3, 4, 5]}, 6, predicted=["b"]), "two owners")
    _fails(ex.check_balanced({"a": [0, 1], "b": [2, 3]}, 6, predicted=["a", "b"]), "no owner")
    _fails(ex.check_balanced({"a": [0, 1, 2, 3, 4], "b": [5]}, 6, predicted=["a"]), "[5, 1]")


def test_check_caught_up(bootstrap):
    t = admin.create_topic(bootstrap, admin.unique_topic("t-ex-lag"), partitions=2)
    try:
        topics.send(bootstrap, t, [(f"k{i}", "v") for i in range(20)])
        g = admin.unique_topic("t-ex-reader")
        _fails(ex.check_caught_up(bootstrap, g, t), "never committed")
        ends = {p: hi for p, (_, hi) in offsets.watermarks(bootstrap, t).items()}
        offsets.commit(bootstrap, g, t, {p: max(0, hi - 1) for p, hi in ends.items()})
        _fails(ex.check_caught_up(bootstrap, g, t), "still behind")
        offsets.commit(bootstrap, g, t, ends)
        assert ex.check_caught_up(bootstrap, g, t)
    finally:
        admin.delete_topic(bootstrap, t)
        admin.delete_groups(bootstrap, g)


def test_check_exactly_once(bootstrap, tmp_path):
    src = admin.create_topic(bootstrap, admin.unique_topic("t-ex-in"))
    plain = admin.create_topic(bootstrap, admin.unique_topic("t-ex-plain"))
    txn = admin.create_topic(bootstrap, admin.unique_topic("t-ex-txn"))
    g_plain, g_txn = admin.unique_topic("t-ex-plain"), admin.unique_topic("t-ex-eos")
    try:
        delivery.fill(bootstrap, src, 30)
        _fails(ex.check_exactly_once(bootstrap, src, plain, g_plain, 30), "30 numbers missing")
        # a plain copy: every number once, offsets committed, but no transaction: it must not pass
        delivery.fill(bootstrap, plain, 30)
        _fails(ex.check_exactly_once(bootstrap, src, plain, g_plain, 30), "stands at {0: None}")
        offsets.commit(bootstrap, g_plain, src, {0: 30})
        _fails(ex.check_exactly_once(bootstrap, src, plain, g_plain, 30), "no transaction markers")
        delivery.fill(bootstrap, plain, 2)
        _fails(ex.check_exactly_once(bootstrap, src, plain, g_plain, 30), "2 numbers twice")
        # the real thing: read-process-write in transactions that carry the consumer offsets
        done = delivery.work(bootstrap, src, g_txn, "exactly-once", str(tmp_path / "sink"), end=30, batch=10,
                             process_ms=0, out_topic=txn)
        assert done == 30
        check = ex.check_exactly_once(bootstrap, src, txn, g_txn, 30)
        assert check, str(check)
        assert offsets.watermarks(bootstrap, txn)[0][1] == 33  # 30 records + 3 commit markers
    finally:
        admin.delete_topic(bootstrap, src, plain, txn)
        admin.delete_groups(bootstrap, g_plain, g_txn)
