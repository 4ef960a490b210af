"""Checks for the exercises of lessons 01-03: each returns a :class:`Check` that says pass or fail,
and on failure a hint. Checks look at the real broker (topics, committed offsets, stored
records) wherever the exercise changes something there.

Other lessons keep their checks in their own modules and may reuse :class:`Check`.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from .connection import ConnLike


@dataclass
class Check:
    """The outcome of one exercise check; ``bool(check)`` is ``passed``."""

    exercise: str
    passed: bool
    message: str
    hint: str = ""

    def __post_init__(self) -> None:
        # one numbering style in every lesson: "04.1", never "04-1"
        self.exercise = re.sub(r"^(\d\d)-(\d+)\b", r"\1.\2", self.exercise)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        if self.passed:
            return f"PASS {self.exercise}: {self.message}"
        return f"FAIL {self.exercise}: {self.message}" + (f"\n  hint: {self.hint}" if self.hint else "")

    def _repr_pretty_(self, p, cycle) -> None:  # noqa: ANN001 - IPython's signature
        p.text(str(self))

    def _repr_html_(self) -> str:
        """The same badge in every lesson: white PASS on green or FAIL on red, then the exercise and message."""
        from html import escape

        color = "#2e7d32" if self.passed else "#c62828"
        mark = "PASS" if self.passed else "FAIL"
        hint = f'<div style="margin-left:3.6em"><i>hint:</i> {escape(self.hint)}</div>' if (
            self.hint and not self.passed) else ""
        badge = (f'<span style="background:{color};color:white;font-weight:bold;padding:0 0.4em;'
                 f'border-radius:3px">{mark}</span>')
        return f'<div>{badge} <b>{escape(self.exercise)}</b>: {escape(self.message)}{hint}</div>'


def _ok(ex: str, msg: str) -> Check:
    return Check(ex, True, msg)


def _fail(ex: str, msg: str, hint: str) -> Check:
    return Check(ex, False, msg, hint)


# --------------------------------------------------------------------------- lesson 01


def check_connections(sources: int, sinks: int, point_to_point: int | None, via_log: int | None) -> Check:
    """01.1: how many pipelines does wiring ``sources`` to ``sinks`` take, directly and through a log?"""
    ex = "01.1 pipelines"
    if point_to_point is None or via_log is None:
        return _fail(ex, "fill in both numbers", "replace the None values with your answers")
    want_p2p, want_log = sources * sinks, sources + sinks
    if point_to_point != want_p2p:
        return _fail(ex, f"point to point: {point_to_point} is not right",
                     "every source needs its own pipeline to every sink: multiply")
    if via_log != want_log:
        return _fail(ex, f"through a log: {via_log} is not right",
                     "each system connects once, to the log only: add")
    return _ok(ex, f"{want_p2p} pipelines become {want_log} connections")


def check_positions(conn: ConnLike, topic: str, positions: dict[str, int]) -> Check:
    """01.2: each group in ``positions`` has committed exactly that offset on partition 0 of ``topic``."""
    from .offsets import committed

    ex = "01.2 reader positions"
    for group, want in positions.items():
        got = committed(conn, group, topic).get(0)
        if got is None:
            return _fail(ex, f"group {group!r} has committed nothing on {topic}",
                         "consume with that group.id and enable.auto.commit=False, then consumer.commit(...)")
        if got != want:
            return _fail(ex, f"group {group!r} stands at offset {got}, not {want}",
                         "the committed offset is the NEXT message to read: after reading offsets 0..n-1, commit n")
    return _ok(ex, f"{len(positions)} groups at offsets " + ", ".join(str(o) for o in positions.values())
               + " (independent positions in one log)")


def check_page_counts(conn: ConnLike, topic: str, counts: dict[str, int] | None) -> Check:
    """01.3: ``counts`` is the number of page views per page in ``topic`` (JSON events with a ``page``)."""
    from .events import decode
    from .offsets import read

    ex = "01.3 page views"
    if not counts:
        return _fail(ex, "no counts given", "consume the topic from the beginning and count event['page']")
    truth = Counter(decode(r.value)["page"] for r in read(conn, topic))
    if dict(truth) != dict(counts):
        missing = sum(truth.values()) - sum(counts.values())
        return _fail(ex, f"your counts differ from the topic's ({sum(counts.values())} events counted, "
                     f"{sum(truth.values())} in the topic)",
                     "read until the end of the log (poll until nothing new arrives), from the beginning "
                     "(auto.offset.reset='earliest')" if missing > 0 else "did you count some events twice?")
    return _ok(ex, f"{sum(truth.values())} events over {len(truth)} pages")


# --------------------------------------------------------------------------- lesson 02


def check_compacted_topic(conn: ConnLike, topic: str, partitions: int = 3) -> Check:
    """02.1: ``topic`` exists with ``partitions`` partitions and ``cleanup.policy=compact``."""
    from .admin import partition_count, topic_exists
    from .topics import configs

    ex = "02.1 create a topic"
    if not topic_exists(conn, topic):
        return _fail(ex, f"there is no topic {topic!r}", "create it: admin.create_topic(...) or kafka-topics --create")
    n = partition_count(conn, topic)
    if n != partitions:
        return _fail(ex, f"{topic!r} has {n} partitions, not {partitions}",
                     "partitions can be added later (add_partitions / kafka-topics --alter), never removed")
    policy = configs(conn, topic, only_changed=False).get("cleanup.policy")
    if policy != "compact":
        return _fail(ex, f"cleanup.policy is {policy!r}", "pass config={'cleanup.policy': 'compact'} when creating, "
                     "or change it: topics.set_config(...) / kafka-configs --alter")
    return _ok(ex, f"the topic has {n} partitions and keeps the last value per key")


def check_same_partition(conn: ConnLike, topic: str, key: str) -> Check:
    """02.2: ``key`` was sent by kafka-python (value ``kafka-python``) and confluent-kafka (value
    ``confluent-kafka``) and both copies are in the partition Java would choose."""
    from .offsets import read
    from .partitioning import java_partition

    ex = "02.2 make the partitioners agree"
    recs = [r for r in read(conn, topic) if r.key == key]
    by_client = {}
    for r in recs:
        by_client.setdefault(r.value, set()).add(r.partition)
    missing = [c for c in ("kafka-python", "confluent-kafka") if c not in by_client]
    if missing:
        return _fail(ex, f"no message with key {key!r} and value {missing[0]!r} in {topic}",
                     "send the key once with each client, the value naming the client")
    parts = set().union(*by_client.values())
    if len(parts) > 1:
        return _fail(ex, f"the key {key!r} is in partitions {sorted(parts)}: the clients still disagree",
                     "confluent-kafka hashes with crc32 by default; give its Producer 'partitioner': 'murmur2_random'")
    from .admin import partition_count

    want = java_partition(key, partition_count(conn, topic))
    if parts != {want}:
        return _fail(ex, f"both are in partition {parts.pop()}, Java would use {want}",
                     "send without choosing a partition yourself, and let both clients hash with murmur2")
    return _ok(ex, f"{key!r} is in partition {want} whichever client sent it, as the Java client would do")


def check_replay(conn: ConnLike, topic: str, since_ms: int, values: list[str] | None) -> Check:
    """02.3: ``values`` are the values of the records of ``topic`` stamped at or after ``since_ms``, in order."""
    from .offsets import read

    ex = "02.3 replay from a time"
    want = [r.value for r in read(conn, topic) if r.timestamp >= since_ms]
    if values is None:
        return _fail(ex, "no values given", "offsets_for_times() turns a timestamp into an offset; seek there")
    if list(values) == want:
        return _ok(ex, f"{len(want)} records, from {want[0] if want else '-'} to {want[-1] if want else '-'}")
    if len(values) > len(want):
        return _fail(ex, f"{len(values)} values, expected {len(want)}",
                     "start at the offset offsets_for_times() returns, not at the beginning")
    return _fail(ex, f"{len(values)} values, expected {len(want)} ({want[:3]}...)",
                 "read up to the end of the partition (the high watermark), in offset order")


# --------------------------------------------------------------------------- lesson 03


def check_balanced(assignment: dict[str, list[int]], partitions: int, predicted: list[str] | None = None) -> Check:
    """03.1: every partition owned by exactly one consumer, no consumer owns 2+ more than another, and
    ``predicted`` names exactly the consumers that own the most partitions."""
    ex = "03.1 a balanced group"
    owned = [p for ps in assignment.values() for p in ps]
    if not assignment:
        return _fail(ex, "the assignment is empty", "start the consumers and wait_stable() before reading it")
    if predicted is None:
        return _fail(ex, "no prediction given", "set predicted to the consumers you expect to own two partitions")
    dup = [p for p, n in Counter(owned).items() if n > 1]
    if dup:
        return _fail(ex, f"partitions {dup} have two owners", "read the assignment after the rebalance finished")
    if sorted(owned) != list(range(partitions)):
        return _fail(ex, f"{partitions - len(set(owned))} partitions have no owner",
                     "wait until the group is stable (runner.wait_stable())")
    sizes = [len(ps) for ps in assignment.values()]
    if max(sizes) - min(sizes) > 1:
        return _fail(ex, f"owned per consumer: {sizes}", "with N partitions and C consumers each should get N/C")
    most = sorted(m for m, ps in assignment.items() if len(ps) == max(sizes))
    if sorted(predicted) != most:
        return _fail(ex, f"the group is balanced, but {most} own {max(sizes)} partitions, not {sorted(predicted)}",
                     "the range assignor sorts the members (by member id, which starts with the client id) and "
                     "gives the first ones the extra partitions")
    return _ok(ex, f"{len(assignment)} consumers own {sizes} partitions; {', '.join(most)} got the extra ones, "
               "as predicted")


def check_caught_up(conn: ConnLike, group: str, topic: str) -> Check:
    """03.2: ``group`` has committed on every partition of ``topic`` and its lag is zero everywhere."""
    from .offsets import lag

    ex = "03.2 lag zero"
    df = lag(conn, group, topic)
    never = [int(p) for p, c in df["committed"].items() if c is None or c != c]
    if never:
        return _fail(ex, f"group {group!r} never committed on partitions {never}",
                     "subscribe with that group.id, read everything and commit (or enable auto commit and close())")
    behind = {int(p): int(v) for p, v in df["lag"].items() if v > 0}
    if behind:
        return _fail(ex, f"still behind: {behind} (partition: messages)",
                     "keep polling until every partition reached its end, then commit; close() the consumer")
    return _ok(ex, f"the group has read and committed all {int(df['log end offset'].sum())} messages")


def check_exactly_once(conn: ConnLike, source: str, topic: str, group: str, n: int) -> Check:
    """03.3: the numbers 0..n-1 were copied from ``source`` to ``topic`` in transactions that also
    committed ``group``'s offsets: a read_committed reader of ``topic`` sees each number exactly once,
    ``group`` stands at ``n`` on ``source``, and ``topic`` holds transaction markers."""
    from .offsets import committed, read, watermarks

    ex = "03.3 exactly once"
    records = read(conn, topic, isolation="read_committed")
    seen = Counter(int(r.value) for r in records if r.value is not None)
    lost = [i for i in range(n) if seen[i] == 0]
    dups = {i: c for i, c in seen.items() if c > 1}
    if lost:
        return _fail(ex, f"{len(lost)} numbers missing (first: {lost[:5]})",
                     "commit the transaction after each batch; init_transactions() once at start")
    if dups:
        return _fail(ex, f"{len(dups)} numbers twice (first: {sorted(dups)[:5]})",
                     "send the consumer offsets with send_offsets_to_transaction() instead of consumer.commit()")
    at = committed(conn, group, source)
    if at != {0: n}:
        return _fail(ex, f"group {group!r} stands at {at} on the input, not {{0: {n}}}",
                     "commit the input offsets inside each transaction: producer.send_offsets_to_transaction("
                     "[TopicPartition(source, 0, last offset + 1)], consumer.consumer_group_metadata())")
    stored = len(read(conn, topic, isolation="read_uncommitted"))
    end = sum(high for _, high in watermarks(conn, topic).values())
    if end <= stored:
        return _fail(ex, f"the output holds {stored} records and no transaction markers (log end {end})",
                     "produce with a transactional producer: 'transactional.id', init_transactions(), "
                     "begin_transaction() ... commit_transaction()")
    return _ok(ex, f"all {n} numbers exactly once in the output topic, written in transactions "
               f"that also committed the input offsets (the group stands at {n})")
