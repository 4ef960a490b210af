"""Which partition a key goes to, for each client's default partitioner, and how to make them agree.

* The Java client (and so Kafka's own tools) hashes the key bytes with **murmur2**:
  ``(murmur2(key) & 0x7fffffff) % partitions`` (``BuiltInPartitioner.partitionForKey``).
  kafka-python's ``DefaultPartitioner`` does the same.
* librdkafka (confluent-kafka) defaults to ``partitioner=consistent_random``: **CRC32** of
  the key, ``crc32(key) % partitions``.
* Keyless messages are **sticky**, not round robin, in all of today's producers: they go to one
  partition until a batch is done or ``sticky.partitioning.linger.ms`` (librdkafka, default 10 ms,
  CONFIGURATION.md) passes, then to another (Java since KIP-480 in 2.4, refined by KIP-794 in 3.3;
  kafka-python since 3.0). :func:`send_sequenced` with ``round_robin=`` writes round robin out.
  Setting ``partitioner=murmur2_random`` makes it agree with Java.
* pykafka's default ``RandomPartitioner`` ignores the key entirely (a round-robin counter);
  its ``hashing_partitioner`` uses SHA-1. :func:`pykafka_murmur2_partitioner` makes it agree.

The functions here compute placements offline; :func:`observe` checks them on a real broker.
"""
from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any, Iterable

from .clients import bounded_poll
from .connection import ConnLike, ck_conf, kp_conf, pk_conf

if TYPE_CHECKING:
    import pandas as pd

#: What each client does with a message key by default.
DEFAULTS = {
    "java / Kafka tools": "murmur2(key) & 0x7fffffff % n",
    "kafka-python": "murmur2(key) & 0x7fffffff % n (same as Java)",
    "confluent-kafka": "crc32(key) % n (librdkafka partitioner=consistent_random)",
    "pykafka": "round robin, the key is ignored (RandomPartitioner)",
}


def _b(key: str | bytes) -> bytes:
    return key.encode() if isinstance(key, str) else key


def murmur2(data: bytes) -> int:
    """Kafka's 32-bit murmur2 hash of ``data`` (seed 0x9747b28c), as a signed Java int."""
    m, r, mask = 0x5BD1E995, 24, 0xFFFFFFFF
    length = len(data)
    h = (0x9747B28C ^ length) & mask
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    tail = length % 4
    if tail == 3:
        h ^= data[whole + 2] << 16
    if tail >= 2:
        h ^= data[whole + 1] << 8
    if tail >= 1:
        h ^= data[whole]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def java_partition(key: str | bytes, partitions: int) -> int:
    """Where the Java producer (and kafka-python) put ``key`` among ``partitions``."""
    return (murmur2(_b(key)) & 0x7FFFFFFF) % partitions


kafka_python_partition = java_partition


def librdkafka_partition(key: str | bytes, partitions: int) -> int:
    """Where confluent-kafka's default ``consistent_random`` partitioner puts a non-empty ``key``."""
    return zlib.crc32(_b(key)) % partitions


def partition_for(client: str, key: str | bytes, partitions: int) -> int | None:
    """The default partition of ``key`` for ``client``; None where the key does not decide it (pykafka)."""
    if client in ("java", "kafka-python", "confluent-kafka murmur2_random", "pykafka murmur2"):
        return java_partition(key, partitions)
    if client == "confluent-kafka":
        return librdkafka_partition(key, partitions)
    if client == "pykafka":
        return None
    raise ValueError(f"unknown client {client!r}")


def table(keys: Iterable[str], partitions: int) -> "pd.DataFrame":
    """A DataFrame: for each key, the partition each client's default partitioner picks."""
    import pandas as pd

    rows = [{"key": k, "Java & kafka-python (murmur2)": java_partition(k, partitions),
             "confluent-kafka (crc32)": librdkafka_partition(k, partitions)} for k in keys]
    return pd.DataFrame(rows).set_index("key")


class Murmur2Partitioner:
    """A pykafka partitioner that places keys exactly as the Java client does."""

    def __call__(self, partitions, key=None):  # noqa: ANN001 - pykafka's signature
        ordered = sorted(partitions, key=lambda p: p.id)
        if key is None:  # keyless: keep pykafka's spread-the-load behaviour
            self._next = (getattr(self, "_next", -1) + 1) % len(ordered)
            return ordered[self._next]
        return ordered[java_partition(key, len(ordered))]


def pykafka_murmur2_partitioner() -> Murmur2Partitioner:
    """Pass as ``topic.get_producer(partitioner=...)`` to make pykafka agree with Java."""
    return Murmur2Partitioner()


# --------------------------------------------------------------------------- on the real broker

PRODUCERS = ("kafka-python", "confluent-kafka", "confluent-kafka murmur2_random", "pykafka", "pykafka murmur2")


def produce_keys(conn: ConnLike, topic: str, keys: list[str], client: str, timeout: float = 20.0) -> None:
    """Send one message per key with ``client``'s producer; the value names the client, so the
    placements of several clients can be read back from one topic."""
    value = client.encode()
    if client == "kafka-python":
        from kafka import KafkaProducer

        p = KafkaProducer(**kp_conf(conn), request_timeout_ms=int(timeout * 1000))
        try:
            for k in keys:
                p.send(topic, value=value, key=k.encode())
            p.flush(timeout=timeout)
        finally:
            p.close(timeout=5)
    elif client.startswith("confluent-kafka"):
        from confluent_kafka import Producer

        conf = {"message.timeout.ms": int(timeout * 1000)}
        if client.endswith("murmur2_random"):
            conf["partitioner"] = "murmur2_random"
        p = Producer(ck_conf(conn, conf))
        for k in keys:
            p.produce(topic, value=value, key=k.encode())
        if p.flush(timeout):
            raise TimeoutError(f"confluent-kafka could not deliver within {timeout} s")
    elif client.startswith("pykafka"):
        import warnings

        with warnings.catch_warnings():  # pykafka 2.8 imports pkg_resources, which warns on import
            warnings.simplefilter("ignore")
            from pykafka import KafkaClient

        client_ = KafkaClient(**pk_conf(conn), socket_timeout_ms=int(timeout * 1000))  # keep a reference:
        t = client_.topics[topic]  # a topic only holds its cluster weakly
        kwargs = {"partitioner": Murmur2Partitioner()} if client.endswith("murmur2") else {}
        with t.get_producer(linger_ms=10, min_queued_messages=1, **kwargs) as p:
            for k in keys:
                p.produce(value, partition_key=k.encode())
    elif client == "java":
        from . import tools

        tools.console_produce(conn, topic, [(k, "java") for k in keys], timeout=max(timeout, 60))
    else:
        raise ValueError(f"unknown client {client!r}; use one of {PRODUCERS + ('java',)}")


def observe(conn: ConnLike, topic: str, expected: int, timeout: float = 20.0) -> "pd.DataFrame":
    """Read ``topic`` from the beginning and return a DataFrame: key, client (the value), partition."""
    import pandas as pd
    from confluent_kafka import Consumer, TopicPartition

    from . import admin

    c = Consumer(ck_conf(conn, {"group.id": "observe", "enable.auto.commit": False}))  # never commits
    try:
        c.assign([TopicPartition(topic, p, 0) for p in admin.partitions(conn, topic)])
        msgs = bounded_poll(lambda: [m for m in c.consume(500, 0.5) if m.error() is None], expected, timeout)
    finally:
        c.close()
    rows = [{"key": m.key().decode(), "client": m.value().decode(), "partition": m.partition()} for m in msgs]
    return pd.DataFrame(rows, columns=["key", "client", "partition"])


def placements(conn: ConnLike, topic: str, keys: list[str], clients: Iterable[str] = PRODUCERS,
               repeat: int = 2, timeout: float = 30.0) -> "pd.DataFrame":
    """Produce every key ``repeat`` times with every client into ``topic``; return key x client -> partition.

    A cell holds the partition number, or ``"p0/p2"``-style text when one client spread the
    same key over several partitions (pykafka's key-blind default).
    """
    clients = list(clients)
    for client in clients:
        produce_keys(conn, topic, keys * repeat, client, timeout=timeout)
    df = observe(conn, topic, expected=len(keys) * repeat * len(clients), timeout=timeout)
    grid = df.groupby(["key", "client"])["partition"].agg(lambda s: sorted(set(s)))
    out = grid.map(lambda ps: ps[0] if len(ps) == 1 else "/".join(f"p{p}" for p in ps)).unstack("client")
    return out.reindex(index=keys, columns=clients)


def ordering_report(records: Iterable[Any]) -> dict[str, bool]:
    """Given records whose JSON values carry ``seq`` (global send order) and ``user``/``n`` (that user's
    count), read back partition after partition (as one consumer might): is every user's order kept,
    and is the global order kept?"""
    import json

    ordered = sorted(records, key=lambda r: (r.partition, r.offset))
    values = [json.loads(r.value) for r in ordered]
    last: dict[str, int] = {}
    per_user_ok = True
    for v in values:
        if v["n"] <= last.get(v["user"], -1):
            per_user_ok = False
        last[v["user"]] = v["n"]
    seqs = [v["seq"] for v in values]
    return {"every user's messages in the order sent": per_user_ok,
            "all messages in the order sent": seqs == sorted(seqs)}


def send_sequenced(conn: ConnLike, topic: str, n: int = 400, users: int = 5, keyed: bool = True,
                   client: str = "confluent-kafka", timeout: float = 20.0, round_robin: int | None = None) -> int:
    """Send ``n`` JSON messages ``{"seq", "user", "n"}`` from ``users`` users in turn, keyed by user
    or without a key; ``client`` is ``confluent-kafka`` or ``kafka-python``. With ``round_robin=P``
    message ``i`` is sent to partition ``i % P`` explicitly (the 2017 round-robin partitioner, written
    out; confluent-kafka only). Returns ``n``."""
    if round_robin is not None and client != "confluent-kafka":
        raise ValueError("round_robin= is written for confluent-kafka's produce(partition=...)")
    import json

    msgs = []
    per_user: dict[str, int] = {}
    for i in range(n):
        u = f"user-{i % users}"
        per_user[u] = per_user.get(u, -1) + 1
        msgs.append((u.encode() if keyed else None, json.dumps({"seq": i, "user": u, "n": per_user[u]}).encode()))
    if client == "kafka-python":
        from kafka import KafkaProducer

        p = KafkaProducer(**kp_conf(conn), request_timeout_ms=int(timeout * 1000))
        try:
            for k, v in msgs:
                p.send(topic, value=v, key=k)
            p.flush(timeout=timeout)
        finally:
            p.close(timeout=5)
    else:
        from confluent_kafka import Producer

        p = Producer(ck_conf(conn, {"message.timeout.ms": int(timeout * 1000)}))
        for i, (k, v) in enumerate(msgs):
            if round_robin is None:
                p.produce(topic, value=v, key=k)
            else:
                p.produce(topic, value=v, key=k, partition=i % round_robin)
            p.poll(0)
        if p.flush(timeout):
            raise TimeoutError(f"not all messages delivered within {timeout} s")
    return n


def runs(records: Iterable[Any]) -> dict[str, float]:
    """How sticky a keyless send was: taking the records in send order (their JSON ``seq``), the longest and the
    mean number of consecutive messages that went to the same partition (round robin: exactly 1)."""
    import json

    parts = [r.partition for r in sorted(records, key=lambda r: json.loads(r.value)["seq"])]
    lengths: list[int] = []
    for i, p in enumerate(parts):
        if i and p == parts[i - 1]:
            lengths[-1] += 1
        else:
            lengths.append(1)
    return {"longest run": max(lengths, default=0), "mean run": round(sum(lengths) / len(lengths), 1) if lengths else 0}


def partition_counts(records: Iterable[Any], how: str) -> "pd.DataFrame":
    """Messages per partition of ``records`` as a DataFrame (partition, count, how)."""
    import pandas as pd

    df = pd.DataFrame([{"partition": r.partition} for r in records])
    out = df.value_counts("partition").sort_index().rename("count").reset_index()
    out["how"] = how
    return out


def key_partitions(conn: ConnLike, topic: str, keys: list[str]) -> "pd.DataFrame":
    """Send one record per key with each client's default keyed partitioning; the partition each landed in.

    kafka-python hashes keys with murmur2 like the Java client; librdkafka (confluent-kafka) uses
    CRC32 unless you set ``partitioner: murmur2_random``; pykafka ignores the key unless you pass
    ``partitioner=hashing_partitioner`` (SHA-1): its default ``RandomPartitioner`` is in fact a
    round-robin counter over the partitions. Same key, three different answers.
    """
    import pandas as pd
    from confluent_kafka import Producer
    from kafka import KafkaProducer
    from pykafka import KafkaClient
    from pykafka.partitioners import hashing_partitioner

    rows: dict[str, dict[str, int]] = {k: {} for k in keys}
    kp = KafkaProducer(**kp_conf(conn))
    for k in keys:
        rows[k]["kafka-python"] = kp.send(topic, b"v", key=k.encode()).get(timeout=10).partition
    kp.close(timeout=5)
    for label, conf in (("confluent-kafka", {}), ("confluent-kafka murmur2", {"partitioner": "murmur2_random"})):
        ck = Producer(ck_conf(conn, conf))
        for k in keys:
            got: list[int] = []
            ck.produce(topic, b"v", k.encode(), on_delivery=lambda err, msg: got.append(msg.partition()))
            ck.flush(10)
            rows[k][label] = got[0]
    kc = KafkaClient(**pk_conf(conn))
    with kc.topics[topic].get_producer(partitioner=hashing_partitioner, linger_ms=0, min_queued_messages=1,
                                        delivery_reports=True) as p:
        for k in keys:
            p.produce(b"v", partition_key=k.encode())
            msg, _exc = p.get_delivery_report(block=True, timeout=10)
            rows[k]["pykafka hashing"] = msg.partition_id
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("key")
