"""The benchmark's two profiles per client, in each client's own configuration names.

* ``defaults``: each client as it comes, which is what the 2016 study and the talk's code used
  (acks, batching, linger and CRC checks all at the client's defaults). The only settings given
  are the ones the harness needs to run and count at all (:data:`HARNESS`), named in every row.
* ``tuned``: each client set up for throughput at ``acks=1`` (the 2016 study's durability),
  idempotence off, no compression: batches of up to 1,000,000 bytes (librdkafka's default
  ``batch.size``, matched for Java and the pure-Python clients) and linger 5 ms (librdkafka's
  default) for every producer; fetch settings that keep each consumer's queue full (librdkafka:
  ``fetch.queue.backoff.ms=1`` instead of its 1000 ms default; no CRC checks in the pure-Python
  consumers, as Java's ConsumerPerformance). Chosen from a few trials on this workbook's shared
  2-core machine, not an exhaustive search. Every setting is named in each row.
  Java's tuned rows also warm the JVM up before the clock starts (:data:`JAVA_WARMUP`).

:func:`native` translates the neutral sweep settings (``acks``, ``linger_ms``, ``batch_bytes``,
``compression``) into each client's names, so a sweep varies the same thing for every client.
"""
from __future__ import annotations

import json
from typing import Any

PROFILES: tuple[str, ...] = ("defaults", "tuned")

Conf = dict[str, Any]

HARNESS: dict[str, dict[str, Conf]] = {
    # pykafka's stop() waits at most pending_timeout_ms (5 s) and then drops what is still queued:
    # without this the count check fails (see the "talk's original benchmark" section of lesson 06)
    "pykafka": {"produce": {"pending_timeout_ms": 600_000}, "consume": {}},
    # pykafka's default buffer sizes are rejected by librdkafka 2.x (see helpers.clients)
    # (its limits leave nothing to tune: queued_max_messages x fetch_message_max_bytes is capped)
    "pykafka+librdkafka": {"produce": {}, "consume": {"fetch_message_max_bytes": 32 * 1024 * 1024,
                                                      "queued_max_messages": 60}},
}
"""Settings every profile carries because the measurement cannot run or count without them."""

_TUNED_RDKAFKA_PRODUCE: Conf = {"acks": "1", "batch.num.messages": 100_000}
_TUNED_RDKAFKA_CONSUME: Conf = {"fetch.queue.backoff.ms": 1, "queued.min.messages": 1_000_000}

TUNED: dict[str, dict[str, Conf]] = {
    "kafka-python": {"produce": {"acks": 1, "enable_idempotence": False, "linger_ms": 5, "batch_size": 1_000_000},
                     "consume": {"check_crcs": False, "max_partition_fetch_bytes": 4_194_304,
                                 "max_poll_records": 5000}},
    "pykafka": {"produce": {"required_acks": 1, "linger_ms": 5, "min_queued_messages": 10_000,
                            "max_queued_messages": 500_000},
                "consume": {"queued_max_messages": 20_000, "fetch_message_max_bytes": 4_194_304}},
    "pykafka+librdkafka": {"produce": {"required_acks": 1, "linger_ms": 5, "max_queued_messages": 500_000},
                           "consume": {}},
    "confluent-kafka": {"produce": _TUNED_RDKAFKA_PRODUCE, "consume": _TUNED_RDKAFKA_CONSUME},
    "confluent-kafka-aio": {"produce": _TUNED_RDKAFKA_PRODUCE, "consume": _TUNED_RDKAFKA_CONSUME},
    "aiokafka": {"produce": {"acks": 1, "linger_ms": 5, "max_batch_size": 1_000_000},
                 "consume": {"check_crcs": False, "max_partition_fetch_bytes": 4_194_304}},
    # batch.size matched to librdkafka's default (1,000,000 bytes), linger.ms to librdkafka's (5)
    "java": {"produce": {"acks": "1", "enable.idempotence": "false", "linger.ms": "5", "batch.size": "1000000"},
             "consume": {"check.crcs": "false", "max.partition.fetch.bytes": "4194304", "fetch.max.bytes": "52428800",
                         "max.poll.records": "10000"}},
    # kcat 1.7 on Debian 12 links librdkafka 2.0.2, which predates fetch.queue.backoff.ms (added in
    # librdkafka 2.2.0, CHANGELOG): there is no such setting to tune
    "kcat": {"produce": _TUNED_RDKAFKA_PRODUCE, "consume": {"queued.min.messages": 1_000_000}},
}
"""Each client's tuned settings, by role (the settings are named in every row's ``settings`` column)."""

JAVA_WARMUP = 1_000_000
"""Tuned Java sends this many records to a scratch topic (and reads its partitions once) before the clock."""

_NEUTRAL: dict[str, dict[str, str]] = {
    "kafka-python": {"acks": "acks", "linger_ms": "linger_ms", "batch_bytes": "batch_size",
                     "compression": "compression_type"},
    "aiokafka": {"acks": "acks", "linger_ms": "linger_ms", "batch_bytes": "max_batch_size",
                 "compression": "compression_type"},
    "pykafka": {"acks": "required_acks", "linger_ms": "linger_ms", "compression": "compression"},
    "java": {"acks": "acks", "linger_ms": "linger.ms", "batch_bytes": "batch.size", "compression": "compression.type"},
}
for _c in ("confluent-kafka", "confluent-kafka-aio", "kcat"):
    _NEUTRAL[_c] = {"acks": "acks", "linger_ms": "linger.ms", "batch_bytes": "batch.size",
                    "compression": "compression.type"}
_NEUTRAL["pykafka+librdkafka"] = _NEUTRAL["pykafka"]


def settings(client: str, role: str, profile: str) -> Conf:
    """The native settings ``client`` gets for ``role`` under ``profile`` (harness needs included)."""
    if profile not in PROFILES:
        from .errors import ConfigError

        raise ConfigError(f"unknown profile {profile!r}", f"choose from {', '.join(PROFILES)}")
    base = dict(HARNESS.get(client, {}).get(role, {}))
    if profile == "tuned":
        base.update(TUNED.get(client, {}).get(role, {}))
    return base


def native(client: str, neutral: dict[str, Any]) -> Conf:
    """Neutral sweep settings in ``client``'s own names; raises ValueError for one the client does not have."""
    names = _NEUTRAL[client]
    out: Conf = {}
    for key, value in neutral.items():
        if key not in names:
            raise ValueError(f"{client} has no {key} setting")
        if key == "acks":
            value = {"all": -1}.get(value, int(value)) if client.startswith("pykafka") else (
                value if client not in ("kafka-python", "aiokafka") or value == "all" else int(value))
            if client in ("java", "confluent-kafka", "confluent-kafka-aio", "kcat"):
                value = str(value)
        elif key == "compression" and client.startswith("pykafka"):
            from pykafka.common import CompressionType

            value = getattr(CompressionType, str(value).upper())
        out[names[key]] = value
    return out


def describe(conf: Conf) -> str:
    """The settings of one row, as the CSV stores them: JSON, keys sorted; ``{}`` means all defaults."""
    return json.dumps(conf, sort_keys=True, default=str)
