"""Records with a schema: Avro (fastavro) through Kafka, and what happens when the producer's schema changes.

Avro's binary encoding carries no field names or types: a reader needs the *writer's* schema to decode
it. :func:`schema_change_table` produces page views with three versions of the producer's schema to a
topic, reads them back with a consumer that only knows version 1, and shows, record by record, what the
consumer got: the right values, silently wrong values, or an error. Then it decodes the same bytes the
way a schema registry makes possible (writer schema known, Avro schema resolution to the reader's).
"""
from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from .clients import ck_conf
from .connection import ConnLike

if TYPE_CHECKING:
    import pandas as pd

V1 = {"type": "record", "name": "PageView", "namespace": "workbook", "fields": [
    {"name": "user", "type": "string"}, {"name": "page", "type": "string"}, {"name": "ts", "type": "long"}]}
# v2: a new field, with a default (a "backward compatible" change in registry terms), inserted before ts
V2 = {"type": "record", "name": "PageView", "namespace": "workbook", "fields": [
    {"name": "user", "type": "string"}, {"name": "page", "type": "string"},
    {"name": "referrer", "type": "string", "default": ""}, {"name": "ts", "type": "long"}]}
# v3: ts becomes a string (an incompatible change)
V3 = {"type": "record", "name": "PageView", "namespace": "workbook", "fields": [
    {"name": "user", "type": "string"}, {"name": "page", "type": "string"}, {"name": "ts", "type": "string"}]}
VERSIONS = {"v1": V1, "v2": V2, "v3": V3}
RECORDS = {"v1": {"user": "user-1", "page": "/talks", "ts": 1496966400000},
           "v2": {"user": "user-2", "page": "/talks", "referrer": "https://tw.pycon.org", "ts": 1496966401000},
           "v3": {"user": "user-3", "page": "/talks", "ts": "2017-06-09T00:00:02Z"}}


def encode(record: dict, schema: dict) -> bytes:
    """Avro binary of ``record`` under ``schema`` (no schema in the bytes)."""
    import fastavro

    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), record)
    return buf.getvalue()


def decode(data: bytes, writer: dict, reader: dict | None = None) -> dict:
    """Decode Avro binary written with ``writer``, resolved to ``reader`` (Avro's schema resolution)."""
    import fastavro

    return fastavro.schemaless_reader(io.BytesIO(data), fastavro.parse_schema(writer),
                                      fastavro.parse_schema(reader) if reader else None)


def _attempt(fn: Any) -> str:
    try:
        return repr(fn())
    except Exception as exc:  # fastavro's own exception, shown as it is
        return f"✗ {type(exc).__name__}: {exc}"[:160]


def schema_change_table(conn: ConnLike, topic: str) -> "pd.DataFrame":
    """Produce one record per schema version to ``topic``, consume them, and decode each three ways."""
    import pandas as pd
    from confluent_kafka import Consumer, Producer, TopicPartition

    p = Producer(ck_conf(conn))
    for version in VERSIONS:  # the schema version goes in a header: only so this table can say which it was
        p.produce(topic, encode(RECORDS[version], VERSIONS[version]), headers={"schema": version}, partition=0)
    if p.flush(10):
        raise RuntimeError(f"records not delivered to {topic}")
    c = Consumer(ck_conf(conn, {"group.id": "unused", "enable.auto.commit": False}))
    got = []
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        from .clients import bounded_poll, ck_poll_one

        got = bounded_poll(lambda: ck_poll_one(c), len(VERSIONS), 15)
    finally:
        c.close()
    rows = []
    for msg in got:
        version = dict(msg.headers() or [])["schema"].decode()
        data = msg.value()
        rows.append({
            "producer's schema": version, "bytes": len(data),
            "consumer decodes with v1 only": _attempt(lambda: decode(data, V1)),
            "writer schema known, read as v1": _attempt(lambda: decode(data, VERSIONS[version], V1)),
        })
    return pd.DataFrame(rows).set_index("producer's schema")
