"""Checks for lesson 10's exercises: they look at the Connect worker and the broker, not at your code."""
from __future__ import annotations

from typing import Any

from .clients import ck_conf
from .connection import ConnLike, as_connection
from .exercises import Check, _fail, _ok


def check_connector(worker: Any, name: str, topic: str, lines: int, field: str = "course",
                    value: str = "kafka") -> Check:
    """10.1: connector ``name`` runs on ``worker``, copied ``lines`` lines into ``topic``, each with
    ``field`` = ``value`` added by a Single Message Transform."""
    from . import file_pipeline
    from .errors import WorkbookError

    ex = "10.1 a connector with a transform"
    try:
        status = worker.status(name)
    except WorkbookError as exc:
        return _fail(ex, f"the worker knows no connector {name!r} ({exc})",
                     "create it with worker.create(name, config)")
    states = [status["connector"]["state"]] + [t["state"] for t in status["tasks"]]
    if any(s != "RUNNING" for s in states) or not status["tasks"]:
        return _fail(ex, f"{name} is not running: {states}", "look at worker.status(name) for the trace")
    records = file_pipeline.read_topic(worker.connection, topic)
    if len(records) != lines:
        return _fail(ex, f"{topic} holds {len(records)} records, the file has {lines} lines",
                     "did the connector read the right file into the right topic? give it a second")
    missing = [r for r in records if not isinstance(r, dict) or r.get(field) != value]
    if missing:
        return _fail(ex, f"{len(missing)} records lack {field}={value!r}, e.g. {missing[0]}",
                     "HoistField$Value first (a line is a plain string), then InsertField$Value with static.field")
    return _ok(ex, f"{name} is RUNNING and every one of the {lines} records has {field}={value!r}")


def check_consumer_protocol_group(conn: ConnLike, group: str, topic: str) -> Check:
    """10.2: ``group`` is a KIP-848 ("consumer") group and it committed the end of every partition of ``topic``."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient

    from .clients import end_offsets

    ex = "10.2 the consumer protocol"
    admin = AdminClient(ck_conf(conn))
    try:
        d = admin.describe_consumer_groups([group], request_timeout=10)[group].result(15)
    except Exception as exc:
        return _fail(ex, f"the broker knows no group {group!r} ({exc})"[:200], "use group.id=" + group)
    kind = getattr(d.type, "name", str(d.type)).lower()
    if kind != "consumer":
        return _fail(ex, f"{group} is a {kind} group", "set group.protocol=consumer (and drop session.timeout.ms)")
    ends = end_offsets(conn, topic)
    res = admin.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in ends])], request_timeout=10)
    committed = {tp.partition: tp.offset for tp in res[group].result(15).topic_partitions}
    behind = {p: ends[p] - max(0, committed.get(p, -1)) for p in ends if committed.get(p, -1) < ends[p]}
    if behind:
        return _fail(ex, f"{group} has not committed the end of {topic}: behind by {behind}",
                     "read until there is nothing left, and close() the consumer (it commits)")
    return _ok(ex, f"{group} is a consumer-protocol group and has read all {sum(ends.values())} records of {topic}")


def delivery_count_limit(conn: ConnLike, group: str) -> int:
    """The share group's ``share.delivery.count.limit`` (the broker's ``group.share.delivery.count.limit``
    unless the group overrides it), from DescribeConfigs."""
    from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

    admin = AdminClient(ck_conf(conn))
    res = admin.describe_configs([ConfigResource(ResourceType.GROUP, group)], request_timeout=10)
    for fut in res.values():
        entries = fut.result(15)
        if "share.delivery.count.limit" in entries:
            return int(entries["share.delivery.count.limit"].value)
    return 5


def check_delivery_limit(conn: ConnLike, group: str, deliveries: int | None) -> Check:
    """10.3: how many times did the share group deliver a record every consumer RELEASEd?"""
    ex = "10.3 a record nobody wants"
    if deliveries is None:
        return _fail(ex, "fill in the number of deliveries you counted", "keep the largest delivery_count() you saw")
    limit = delivery_count_limit(conn, group)
    if deliveries != limit:
        return _fail(ex, f"{deliveries} deliveries, but the broker's limit for {group} is {limit}",
                     "RELEASE it every time and poll until it stops coming (a few seconds)")
    return _ok(ex, f"{deliveries} deliveries, then the broker archived it: share.delivery.count.limit = {limit}")
