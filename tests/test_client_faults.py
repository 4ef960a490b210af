"""Faults a learner causes from the client side (issue 8): each is one WorkbookError line within 15 s,
and every blocking helper call gives way to Ctrl-C within 2 s. Caused for real on the session broker."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import admin, broker, clients
from helpers.errors import BrokerUnreachableError, WorkbookError

ROOT = Path(__file__).resolve().parent.parent


def _timed(fn, *args, **kw) -> tuple[BaseException, float]:
    t0 = time.monotonic()
    with pytest.raises(WorkbookError) as info:
        fn(*args, **kw)
    return info.value, time.monotonic() - t0


@pytest.mark.parametrize("call", [
    lambda c, t: clients.read_partition("kafka-python", c, t, 3),
    lambda c, t: clients.read_partition("confluent-kafka", c, t, 3),
    lambda c, t: clients.read_partition("pykafka", c, t, 3),
    lambda c, t: clients.end_offsets(c, t),
    lambda c, t: admin.partition_count(c, t),
    lambda c, t: clients.kafka_python_roundtrip(c, t, [b"x"], timeout=5),
    lambda c, t: clients.confluent_roundtrip(c, t, [b"x"], timeout=5),
    lambda c, t: clients.pykafka_roundtrip(c, t, [b"x"], timeout=5),
], ids=["read-kp", "read-ck", "read-pk", "end_offsets", "partition_count", "kp-roundtrip", "ck-roundtrip",
        "pk-roundtrip"])
def test_a_missing_topic_is_named_in_one_line(conn, call) -> None:
    missing = admin.unique_topic("no-such-topic")
    err, seconds = _timed(call, conn, missing)
    assert f"topic {missing!r} does not exist" in str(err) and "\n" not in str(err)
    assert seconds < 15, seconds
    assert not admin.topic_exists(conn, missing)  # and nothing created it on the way


def test_a_wrong_address_is_one_summarising_line_not_librdkafka_chatter(topic: str, capfd) -> None:
    dead = f"127.0.0.1:{broker.free_port()}"
    err, seconds = _timed(clients.read_partition, "confluent-kafka", dead, topic, 1)
    assert isinstance(err, BrokerUnreachableError) and seconds < 15, seconds
    assert f"no broker answered at {dead}" in str(err) and "Connection refused" in str(err), str(err)
    time.sleep(0.5)  # librdkafka's threads would have printed by now
    printed = capfd.readouterr().err
    assert "%3|" not in printed and "FAIL" not in printed, printed[:500]


_INTERRUPT = """
import signal, sys
# Ctrl-C as a terminal or a Jupyter kernel delivers it: a suite started in the background (`make test &`)
# hands its children SIGINT ignored, and Python then keeps ignoring it
signal.signal(signal.SIGINT, signal.default_int_handler)
from helpers import admin, clients
print("go", flush=True)
what = sys.argv[1]
if what == "end_offsets":
    clients.end_offsets(sys.argv[2], "t")
elif what == "list_topics":
    admin.list_topics(sys.argv[2])
elif what == "wait_assigned":
    from kafka import KafkaConsumer
    c = KafkaConsumer(sys.argv[3], **clients.kp_conf(sys.argv[2]), group_id="never-assigned-" + sys.argv[3])
    c.subscribe(["no-such-topic-" + sys.argv[3]])
    clients.wait_assigned(c, timeout=60)
"""


@pytest.mark.parametrize("what", ["end_offsets", "list_topics", "wait_assigned"])
def test_blocking_helpers_give_way_to_ctrl_c_within_2_s(what: str, conn) -> None:
    address = conn.bootstrap if what == "wait_assigned" else f"127.0.0.1:{broker.free_port()}"
    if what == "wait_assigned" and conn.secured:
        pytest.skip("the subprocess builds a plaintext consumer from the address alone")
    p = subprocess.Popen([sys.executable, "-c", _INTERRUPT, what, address, admin.unique_topic("x")], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "go"
        time.sleep(2.0)  # well inside the call (each would block 10 s or more)
        assert p.poll() is None, p.stderr.read()
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        p.wait(10)
        took = time.monotonic() - t0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert "KeyboardInterrupt" in p.stderr.read()
    assert took < 2.0, took
