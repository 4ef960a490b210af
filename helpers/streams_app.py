"""Lesson 10's stream processor, a Faust app (faust-streaming, on aiokafka). :mod:`helpers.streams` runs it.

It is configured through environment variables (set by :func:`helpers.streams.start`): ``KFP_FAUST_ID``
(the app id: consumer group and prefix of its changelog topics), ``KFP_FAUST_BROKER`` and ``KFP_FAUST_CONFIG``
(the connection: bootstrap and, when secured, its properties file), ``KFP_FAUST_TOPICS``
(JSON: views, clean, per_minute, users, clicks, enriched). Three agents:

* ``clean_and_count``: page views -> drop bots (stateless filter) -> trim the page (stateless map) -> topic
  ``clean``; and a count per page in tumbling one-minute windows of *event* time (the record's timestamp),
  kept in the table ``views_per_minute`` and published to ``per_minute`` at every change;
* ``load_profiles``: the compacted ``users`` topic -> the table ``profiles`` (user -> profile);
* ``enrich``: clicks joined with ``profiles`` -> ``enriched`` (a stream-table join).

Tables live in memory and are backed by changelog topics on the broker
(``<app id>-views_per_minute-changelog``, ``<app id>-profiles-changelog``): a restarted worker rebuilds
them from there before it processes anything new.
"""
from __future__ import annotations

import json
import os
import ssl
from datetime import timedelta

import faust

from helpers.connection import Connection, aio_conf, from_cli

APP_ID = os.environ.get("KFP_FAUST_ID", "lesson10-streams")
TOPICS = json.loads(os.environ.get("KFP_FAUST_TOPICS", "{}") or "{}")
WINDOW_S = 60

# the connection helpers.streams.start passed on (connection.cli_args' bootstrap and properties file)
CONN = from_cli(os.environ.get("KFP_FAUST_BROKER", "127.0.0.1:9092"), os.environ.get("KFP_FAUST_CONFIG") or None)


def broker_credentials(conn: Connection) -> "ssl.SSLContext | faust.SASLCredentials | None":
    """Faust's ``broker_credentials`` for ``conn``: None (plaintext), the TLS context (SSL), or SASL credentials
    (SASL_PLAINTEXT / SASL_SSL); built from the connection's aiokafka settings, Faust's transport being aiokafka."""
    if not conn.secured:
        return None
    cfg = aio_conf(conn)
    ctx = cfg.get("ssl_context")
    if conn.sasl:
        return faust.SASLCredentials(username=cfg["sasl_plain_username"], password=cfg["sasl_plain_password"],
                                     mechanism=conn.mechanism, ssl_context=ctx)
    return ctx


app = faust.App(
    APP_ID,
    broker=f"kafka://{CONN.bootstrap}",
    broker_credentials=broker_credentials(CONN),
    store="memory://",           # state in memory, durable through the changelog topics
    value_serializer="json",
    topic_partitions=1,          # the lesson's topics have one partition (co-partitioned for the join)
    topic_replication_factor=1,  # one broker
    web_enabled=False,           # no HTTP server for this demo
    consumer_auto_offset_reset="earliest",
)

views = app.topic(TOPICS.get("views", "views"), key_type=str)
clean = app.topic(TOPICS.get("clean", "clean"), key_type=str)
per_minute = app.topic(TOPICS.get("per_minute", "per_minute"), key_type=str)
users = app.topic(TOPICS.get("users", "users"), key_type=str)
clicks = app.topic(TOPICS.get("clicks", "clicks"), key_type=str)
enriched = app.topic(TOPICS.get("enriched", "enriched"), key_type=str)

# tumbling windows of event time; keep every window of the demo (expires), not just the latest
views_per_minute = app.Table("views_per_minute", default=int).tumbling(
    timedelta(seconds=WINDOW_S), expires=timedelta(days=3650)).relative_to_stream()
profiles = app.Table("profiles", default=dict)


@app.agent(views)
async def clean_and_count(stream):  # noqa: ANN001, ANN201 - faust's agent signature
    async for event in stream.filter(lambda e: not str(e.get("user", "")).startswith("bot")):
        page = str(event.get("page", "/")).rstrip("/") or "/"
        await clean.send(key=event.get("user"), value={"user": event.get("user"), "page": page})
        views_per_minute[page] += 1
        ts = faust.current_event().message.timestamp  # seconds, from the record's timestamp
        start = int(ts // WINDOW_S) * WINDOW_S
        await per_minute.send(key=f"{page}@{start}", value={"page": page, "window_start": start,
                                                             "count": views_per_minute[page].current()})


@app.agent(users)
async def load_profiles(stream):  # noqa: ANN001, ANN201
    async for key, profile in stream.items():
        profiles[key] = profile


@app.agent(clicks)
async def enrich(stream):  # noqa: ANN001, ANN201
    async for key, click in stream.items():
        profile = profiles.get(key) or {}
        await enriched.send(key=key, value={**click, "name": profile.get("name", "?"),
                                            "country": profile.get("country", "?")})
