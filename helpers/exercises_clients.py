"""Checks for the exercises of lessons 04 (producers) and 05 (consumers).

Each returns a :class:`helpers.exercises.Check` (pass/fail, and a hint on failure) and looks
at the real broker wherever the exercise changed something there.
"""
from __future__ import annotations

import json
from typing import Any

from . import clients, offsets, settings
from .errors import ConfigError
from .exercises import Check, _fail, _ok


def check_portable_config(conf: dict[str, Any] | None) -> Check:
    """04-1: one Java-style producer config that all three clients accept, asking for
    leader-only acks, 20 ms of linger and gzip."""
    ex = "04-1 one config, three clients"
    if not conf:
        return _fail(ex, "my_conf is still empty", "write a dict with Java-style names, e.g. {'linger.ms': 20}")
    # accepted values, and the one the hint suggests (fixed, so the hint reads the same on every run)
    want = {"acks": ({1, "1"}, 1), "linger.ms": ({20, "20"}, 20), "compression.type": ({"gzip"}, "gzip")}
    for key, (values, shown) in want.items():
        if conf.get(key) not in values:
            return _fail(ex, f"{key} is {conf.get(key)!r}", f"set {key!r} to {shown!r}")
    for client in clients.CLIENTS:
        try:
            settings.translate(conf, client, "producer")
        except ConfigError as exc:
            return _fail(ex, f"{client} refuses it: {exc.what}", exc.fix or "leave that setting out")
    return _ok(ex, "kafka-python, confluent-kafka and pykafka all accept it")


def check_json_records(bootstrap: str, topic: str, n: int = 10) -> Check:
    """04-2: ``n`` JSON objects {"n": 0} ... {"n": n-1} in ``topic``, in order, written by a serializer."""
    ex = "04-2 a JSON serializer"
    values = clients.read_partition("confluent-kafka", bootstrap, topic, n + 1, timeout=5)
    if len(values) != n:
        return _fail(ex, f"the topic holds {len(values)} records, not {n}",
                     "send exactly ten records; make a fresh topic if you sent some before")
    try:
        decoded = [json.loads(v) for v in values]
    except (TypeError, ValueError):
        return _fail(ex, "a record is not JSON", "value_serializer=lambda v: json.dumps(v).encode()")
    if decoded != [{"n": i} for i in range(n)]:
        return _fail(ex, f"the records are {decoded[:3]}...", "send {'n': i} for i in range(10), in order")
    return _ok(ex, f"{n} JSON records, in order")


def check_committed(bootstrap: str, group: str, topic: str, expected: int = 5) -> Check:
    """05-1: the group committed offset ``expected`` on partition 0 (it processed that many)."""
    ex = "05-1 commit after processing"
    got = offsets.committed(bootstrap, group, topic).get(0)
    if got is None:
        return _fail(ex, f"group {group!r} has committed nothing",
                     "enable_auto_commit=False, read five records, then consumer.commit() before close()")
    if got != expected:
        return _fail(ex, f"committed offset is {got}, not {expected}",
                     "the committed offset is the next record to read: after 5 records it is 5")
    return _ok(ex, f"committed offset {got}: a restart resumes at record {expected}")


def check_replay(values: list[Any] | None, bootstrap: str, topic: str, start: int = 3) -> Check:
    """05-2: ``values`` are the topic's records from offset ``start`` to the end (bytes or str)."""
    ex = "05-2 seek and replay"
    if values is None:
        return _fail(ex, "replayed is still None", "seek to offset 3 and collect the values until the end")
    everything = clients.read_partition("kafka-python", bootstrap, topic, 1000, timeout=5)
    want = everything[start:]
    got = [v.encode() if isinstance(v, str) else v for v in values]
    if got == want:
        return _ok(ex, f"{len(got)} records replayed from offset {start}")
    if got == everything:
        return _fail(ex, "you replayed from the beginning", f"seek to offset {start}, not to the beginning")
    return _fail(ex, f"got {len(got)} records, expected {len(want)}",
                 f"seek(partition, {start}) then poll until you have read to the end offset")
