"""The settings translator: one dict of Java-style names, turned into each client's dialect.

The Java client (and Kafka's docs) spell settings with dots: ``linger.ms``. confluent-kafka
passes them to librdkafka with the same dots; kafka-python wants keyword arguments with
underscores (``linger_ms``); pykafka splits them between ``KafkaClient(...)`` and
``topic.get_producer(...)`` / ``get_simple_consumer(...)`` keywords of its own names, some
with other units or types. Mixing the dialects is the commonest beginner's error, and some
clients silently accept or ignore an unknown key. :func:`translate` never drops a setting:
a typo raises :class:`~helpers.errors.ConfigError` naming the closest valid key, and a
setting that a client lacks raises ConfigError saying so and what to do instead.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from .errors import ConfigError

CLIENTS = ("kafka-python", "confluent-kafka", "pykafka")  # the one list; other modules import it
Role = Literal["producer", "consumer", "any"]


@dataclass(frozen=True)
class Missing:
    """A setting this client does not have: why, and what to do instead."""

    why: str
    workaround: str = ""


@dataclass(frozen=True)
class Name:
    """A client's spelling of a setting; ``where`` is pykafka's target (client/producer/consumer)."""

    name: str
    convert: Callable[[Any], Any] | None = None
    where: str = ""
    note: str = ""


Spelling = Name | Missing


@dataclass(frozen=True)
class Setting:
    """One Java setting and each client's equivalent."""

    java: str
    role: Role
    meaning: str
    spellings: dict[str, Spelling] = field(default_factory=dict)


def _bool(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("true", "1", "yes")
    return bool(v)


def _acks_kp(v: Any) -> Any:
    return "all" if str(v) in ("all", "-1") else int(v)


def _acks_pk(v: Any) -> int:
    return -1 if str(v) in ("all", "-1") else int(v)


def _bytes(v: Any) -> bytes:
    return v if isinstance(v, bytes) else str(v).encode()


def _offset_reset_pk(v: Any) -> int:
    from pykafka.common import OffsetType

    table = {"earliest": OffsetType.EARLIEST, "latest": OffsetType.LATEST}
    if str(v) not in table:
        raise ConfigError(f"auto.offset.reset={v!r} has no pykafka equivalent", "use 'earliest' or 'latest'")
    return table[str(v)]


def _compression_pk(v: Any) -> int:
    from pykafka.common import CompressionType

    table = {"none": CompressionType.NONE, "gzip": CompressionType.GZIP, "snappy": CompressionType.SNAPPY,
             "lz4": CompressionType.LZ4}
    if str(v) not in table:
        raise ConfigError(f"pykafka cannot compress with {v!r}", "pykafka knows none, gzip, snappy, lz4 (not zstd)")
    return table[str(v)]


def _n(name: str, convert: Callable[[Any], Any] | None = None, note: str = "") -> Name:
    """kafka-python's or confluent-kafka's spelling (``where`` only matters for pykafka)."""
    return Name(name, convert, note=note)


def _pk(name: str, where: str, convert: Callable[[Any], Any] | None = None, note: str = "") -> Name:
    return Name(name, convert, where=where, note=note)


_S = Setting
SETTINGS: dict[str, Setting] = {s.java: s for s in [
    # ----------------------------------------------------------------- both
    _S("bootstrap.servers", "any", "brokers to ask for the cluster's metadata first", {
        "kafka-python": _n("bootstrap_servers"), "confluent-kafka": _n("bootstrap.servers"),
        "pykafka": _pk("hosts", "client")}),
    _S("client.id", "any", "a name for this client in the broker's logs and quotas", {
        "kafka-python": _n("client_id"), "confluent-kafka": _n("client.id"),
        "pykafka": Missing("pykafka sends the fixed client id 'pykafka' in every request",
                           "none supported; tell clients apart by host and port in the broker's request log")}),
    _S("request.timeout.ms", "any", "how long to wait for a broker's answer", {
        "kafka-python": _n("request_timeout_ms", int), "confluent-kafka": _n("request.timeout.ms", int),
        "pykafka": _pk("socket_timeout_ms", "client", int)}),
    # ----------------------------------------------------------------- security (helpers.connection uses these)
    _S("security.protocol", "any", "PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL (log in over TLS)", {
        "kafka-python": _n("security_protocol", lambda v: str(v).upper()),
        "confluent-kafka": _n("security.protocol", lambda v: str(v).lower()),
        "pykafka": _pk("protocol", "ssl_config", lambda v: str(v).upper(),
                       "TLS through KafkaClient(ssl_config=SslConfig(cafile=...)); no SASL in 2.8.0")}),
    _S("ssl.truststore.location", "any", "the CA certificate(s) that signed the brokers' certificates (PEM)", {
        "kafka-python": _n("ssl_cafile", str), "confluent-kafka": _n("ssl.ca.location", str),
        "pykafka": _pk("cafile", "ssl_config", str, "SslConfig(cafile=...)")}),
    _S("ssl.endpoint.identification.algorithm", "any", "https: check the broker's certificate names its host", {
        "kafka-python": _n("ssl_check_hostname", lambda v: str(v).lower() == "https"),
        "confluent-kafka": _n("ssl.endpoint.identification.algorithm",
                              lambda v: "https" if str(v).lower() == "https" else "none"),
        "pykafka": _pk("check_hostname", "ssl_config", lambda v: str(v).lower() == "https",
                       "pykafka's SslConfig never checks the host name (it sets check_hostname=False)")}),
    _S("sasl.mechanism", "any", "how a client logs in: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 ...", {
        "kafka-python": _n("sasl_mechanism", lambda v: str(v).upper()),
        "confluent-kafka": _n("sasl.mechanism", lambda v: str(v).upper()),
        "pykafka": Missing("pykafka 2.8.0 has no SASL support at all",
                           "use kafka-python or confluent-kafka for a cluster that needs a login")}),
    # ----------------------------------------------------------------- producer
    _S("acks", "producer", "how many replicas must have a record before it counts as sent", {
        "kafka-python": _n("acks", _acks_kp, "kafka-python 3 defaults to 'all' with enable_idempotence=True"),
        "confluent-kafka": _n("acks", str), "pykafka": _pk("required_acks", "producer", _acks_pk)}),
    _S("retries", "producer", "how often a failed send is retried", {
        "kafka-python": _n("retries", int), "confluent-kafka": _n("retries", int),
        "pykafka": _pk("max_retries", "producer", int)}),
    _S("linger.ms", "producer", "how long to wait for more records to fill a batch", {
        "kafka-python": _n("linger_ms", int), "confluent-kafka": _n("linger.ms", int),
        "pykafka": _pk("linger_ms", "producer", int, "pykafka's default is 5000 ms: set it low for interactive use")}),
    _S("batch.size", "producer", "the most bytes in one partition's batch", {
        "kafka-python": _n("batch_size", int), "confluent-kafka": _n("batch.size", int),
        "pykafka": Missing("pykafka batches by message count, not bytes",
                           "min_queued_messages (count per batch) with max_request_size (bytes per request)")}),
    _S("buffer.memory", "producer", "the most bytes buffered before send() blocks", {
        "kafka-python": Missing("kafka-python 3 removed buffer_memory",
                                "bound the queue with max_block_ms and flush() regularly"),
        "confluent-kafka": _n("queue.buffering.max.kbytes", lambda v: max(1, int(v) // 1024),
                               "librdkafka counts kilobytes: the value is divided by 1024"),
        "pykafka": Missing("pykafka bounds its queue by message count, not bytes",
                           "max_queued_messages (count) with block_on_queue_full")}),
    _S("key.serializer", "producer", "turns a key object into bytes", {
        "kafka-python": _n("key_serializer"),
        "confluent-kafka": Missing("Producer takes bytes/str only; the serializer settings belong to SerializingProducer",
                                   "serialize before produce(), or use confluent_kafka.SerializingProducer"),
        "pykafka": Missing("pykafka has one serializer for value and key together",
                           "serializer=lambda value, key: (value_bytes, key_bytes)")}),
    _S("value.serializer", "producer", "turns a value object into bytes", {
        "kafka-python": _n("value_serializer"),
        "confluent-kafka": Missing("Producer takes bytes/str only; the serializer settings belong to SerializingProducer",
                                   "serialize before produce(), or use confluent_kafka.SerializingProducer"),
        "pykafka": _pk("serializer", "producer",
                       lambda f: (lambda value, key: (f(value), key)),
                       "wrapped: pykafka's serializer takes and returns (value, key)")}),
    _S("compression.type", "producer", "codec for record batches", {
        "kafka-python": _n("compression_type", lambda v: None if str(v) == "none" else str(v)),
        "confluent-kafka": _n("compression.type", str),
        "pykafka": _pk("compression", "producer", _compression_pk)}),
    _S("enable.idempotence", "producer", "producer id + sequence numbers: no duplicates from retries", {
        "kafka-python": _n("enable_idempotence", _bool, "default True in kafka-python 3"),
        "confluent-kafka": _n("enable.idempotence", _bool),
        "pykafka": Missing("pykafka speaks the Produce v0 protocol, which has no producer ids",
                           "deduplicate downstream, or use kafka-python / confluent-kafka")}),
    _S("max.request.size", "producer", "the largest request (and so record) the producer sends", {
        "kafka-python": _n("max_request_size", int), "confluent-kafka": _n("message.max.bytes", int),
        "pykafka": _pk("max_request_size", "producer", int)}),
    _S("delivery.timeout.ms", "producer", "give up on a record after this long", {
        "kafka-python": _n("delivery_timeout_ms", int), "confluent-kafka": _n("message.timeout.ms", int),
        "pykafka": Missing("pykafka has no overall delivery deadline",
                           "pending_timeout_ms bounds a sync produce; max_retries bounds the attempts")}),
    # ----------------------------------------------------------------- consumer
    _S("group.id", "consumer", "the consumer group this consumer belongs to", {
        "kafka-python": _n("group_id"), "confluent-kafka": _n("group.id"),
        "pykafka": _pk("consumer_group", "consumer", _bytes)}),
    _S("session.timeout.ms", "consumer", "a member silent for longer is removed from the group", {
        "kafka-python": _n("session_timeout_ms", int), "confluent-kafka": _n("session.timeout.ms", int),
        "pykafka": Missing("pykafka's managed consumer always sends 30000 ms in its JoinGroup",
                           "none supported; keep the broker's group.max.session.timeout.ms >= 30000")}),
    _S("heartbeat.interval.ms", "consumer", "how often a member tells the coordinator it is alive", {
        "kafka-python": _n("heartbeat_interval_ms", int), "confluent-kafka": _n("heartbeat.interval.ms", int),
        "pykafka": _pk("heartbeat_interval_ms", "consumer", int, "get_balanced_consumer(managed=True) only")}),
    _S("max.poll.records", "consumer", "the most records one poll() returns", {
        "kafka-python": _n("max_poll_records", int),
        "confluent-kafka": Missing("librdkafka 2.16 accepts the name, but its classic consumer ignores it "
                                   "(consume() returns more records)",
                                   "consumer.consume(num_messages=N, timeout=...)"),
        "pykafka": Missing("pykafka's consume() returns one message at a time",
                           "call consume() N times; queued_max_messages bounds the prefetch")}),
    _S("enable.auto.commit", "consumer", "commit positions in the background", {
        "kafka-python": _n("enable_auto_commit", _bool), "confluent-kafka": _n("enable.auto.commit", _bool),
        "pykafka": _pk("auto_commit_enable", "consumer", _bool)}),
    _S("auto.commit.interval.ms", "consumer", "how often background commits happen", {
        "kafka-python": _n("auto_commit_interval_ms", int), "confluent-kafka": _n("auto.commit.interval.ms", int),
        "pykafka": _pk("auto_commit_interval_ms", "consumer", int)}),
    _S("auto.offset.reset", "consumer", "where to start when the group has no committed offset", {
        "kafka-python": _n("auto_offset_reset", str), "confluent-kafka": _n("auto.offset.reset", str),
        "pykafka": _pk("auto_offset_reset", "consumer", _offset_reset_pk,
                       "OffsetType.EARLIEST/LATEST; add reset_offset_on_start=True to apply it on every start")}),
    _S("key.deserializer", "consumer", "turns key bytes back into an object", {
        "kafka-python": _n("key_deserializer"),
        "confluent-kafka": Missing("Consumer returns bytes; deserializer settings belong to DeserializingConsumer",
                                   "decode msg.key() yourself, or use confluent_kafka.DeserializingConsumer"),
        "pykafka": Missing("pykafka has one deserializer for value and key together",
                           "deserializer=lambda value, key: (value_obj, key_obj)")}),
    _S("value.deserializer", "consumer", "turns value bytes back into an object", {
        "kafka-python": _n("value_deserializer"),
        "confluent-kafka": Missing("Consumer returns bytes; deserializer settings belong to DeserializingConsumer",
                                   "decode msg.value() yourself, or use confluent_kafka.DeserializingConsumer"),
        "pykafka": _pk("deserializer", "consumer", lambda f: (lambda value, key: (f(value), key)),
                       "wrapped: pykafka's deserializer takes and returns (value, key)")}),
]}


def _all_spellings() -> dict[str, list[tuple[str, str]]]:
    """Every client spelling -> [(client, java name)], to recognise a name from the wrong dialect."""
    out: dict[str, list[tuple[str, str]]] = {}
    for s in SETTINGS.values():
        for client, sp in s.spellings.items():
            if isinstance(sp, Name) and sp.name != s.java:
                out.setdefault(sp.name, []).append((client, s.java))
    return out


def _check_client(client: str) -> None:
    if client not in CLIENTS:
        close = difflib.get_close_matches(client, CLIENTS, n=1)
        raise ConfigError(f"unknown client {client!r}", f"did you mean {close[0]!r}?" if close else f"one of {CLIENTS}")


def lookup(java: str) -> Setting:
    """The :class:`Setting` for a Java-style name; a typo or another dialect's spelling raises ConfigError."""
    if java in SETTINGS:
        return SETTINGS[java]
    other = _all_spellings().get(java)
    if other:
        client, real = other[0]
        raise ConfigError(f"{java!r} is {client}'s spelling, not a Java-style name",
                          f"write {real!r}; translate() turns it into each client's dialect")
    dotted = java.replace("_", ".")
    if dotted in SETTINGS:
        raise ConfigError(f"unknown setting {java!r}", f"did you mean {dotted!r}? (Java-style names use dots)")
    close = difflib.get_close_matches(java, list(SETTINGS), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else "see helpers.settings.SETTINGS for the names this workbook knows"
    raise ConfigError(f"unknown setting {java!r}", hint)


def translate(config: dict[str, Any], client: str, role: Role = "any") -> dict[str, Any]:
    """``config`` (Java-style names) in ``client``'s dialect; never drops a key.

    For pykafka the result is flat; :func:`pykafka_split` separates the KafkaClient keywords
    from the producer/consumer keywords.
    """
    _check_client(client)
    out: dict[str, Any] = {}
    for key, value in config.items():
        setting = lookup(key)
        if role != "any" and setting.role not in ("any", role):
            raise ConfigError(f"{key!r} is a {setting.role} setting, not a {role} one",
                              f"pass it when you build the {setting.role}")
        sp = setting.spellings[client]
        if isinstance(sp, Missing):
            raise ConfigError(f"{client} has no equivalent of {key!r}: {sp.why}",
                              sp.workaround or "leave it out for this client")
        out[sp.name] = sp.convert(value) if sp.convert else value
    return out


def pykafka_split(config: dict[str, Any], role: Role = "producer") -> tuple[dict[str, Any], dict[str, Any]]:
    """Java-style ``config`` for pykafka, split into (KafkaClient kwargs, get_producer/consumer kwargs)."""
    flat = translate(config, "pykafka", role)
    where = {sp.name: sp.where for s in SETTINGS.values() for c, sp in s.spellings.items()
             if c == "pykafka" and isinstance(sp, Name)}
    client_kw = {k: v for k, v in flat.items() if where.get(k) == "client"}
    other = {k: v for k, v in flat.items() if where.get(k) not in ("client", "ssl_config")}
    tls = {k: v for k, v in flat.items() if where.get(k) == "ssl_config"}
    protocol = tls.get("protocol", "PLAINTEXT")
    if protocol.startswith("SASL"):
        raise ConfigError(f"pykafka 2.8.0 has no SASL (security.protocol={protocol})",
                          "use kafka-python or confluent-kafka for a cluster that needs a login")
    if protocol == "SSL":  # TLS is a KafkaClient keyword: ssl_config=SslConfig(cafile=...)
        from pykafka import SslConfig

        client_kw["ssl_config"] = SslConfig(cafile=tls.get("cafile"))
    return client_kw, other


def table(role: Role = "any") -> "Any":
    """A pandas DataFrame: one row per Java setting, one column per client's spelling."""
    import pandas as pd

    rows = []
    for s in SETTINGS.values():
        if role != "any" and s.role not in ("any", role):
            continue
        row: dict[str, str] = {"Java setting": s.java, "meaning": s.meaning}
        for client in CLIENTS:
            sp = s.spellings[client]
            row[client] = (f"{sp.name}" + (f" ({sp.note})" if sp.note else "")) if isinstance(sp, Name) \
                else f"not available: {sp.workaround}"
        rows.append(row)
    return pd.DataFrame(rows).set_index("Java setting")
