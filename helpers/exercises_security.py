"""Checks for lesson 08's exercises; each looks at the real (secured) broker and returns a Check."""
from __future__ import annotations

from typing import Any

from . import secured, security
from .exercises import Check


def _fail(ex: str, msg: str, hint: str) -> Check:
    return Check(ex, False, msg, hint)


def _values(bootstrap: str, admin_settings: dict[str, Any], topic: str, timeout: float = 8) -> list[bytes]:
    """Every value in partition 0 of ``topic``, read as the admin (assign, no group)."""
    import time

    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    cfg = secured.client_config("confluent-kafka", bootstrap, admin_settings)
    c = Consumer({**cfg, "log_level": 0, "group.id": "exercise-check", "enable.auto.commit": False})
    out: list[bytes] = []
    try:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=timeout)
        if hi <= lo:
            return out
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            out.append(m.value())
            if m.offset() >= hi - 1:
                break
    finally:
        c.close()
    return out


def check_properties_login(bootstrap: str, admin_settings: dict[str, Any], topic: str, expected: bytes) -> Check:
    """08.1: the record ``expected`` is in ``topic`` (written with the settings of a properties file)."""
    ex = "08.1 properties file"
    found = _values(bootstrap, admin_settings, topic)
    if expected in found:
        return Check(ex, True, f"{expected.decode()!r} is in {topic} ({len(found)} record(s))")
    return _fail(ex, f"no record {expected.decode()!r} in {topic} yet",
                 "load the file with Connection.from_properties(path) and produce with conn.config(client)")


def check_group_acls(bootstrap: str, admin_settings: dict[str, Any], user: str, password: str,
                     topic: str, group: str) -> Check:
    """08.2: ``user`` has exactly Read on ``topic`` and Read on ``group``, and can consume + commit with them."""
    ex = "08.2 group ACLs"
    table = secured.acls(bootstrap, admin_settings)
    mine = table[table.principal == f"User:{user}"]
    got = {(r.resource, r.name, r.operation, r.permission) for r in mine.itertuples()}
    want = {("topic", topic, "read", "allow"), ("group", group, "read", "allow")}
    if got != want:
        extra, missing = sorted(got - want), sorted(want - got)
        return _fail(ex, f"{user}'s ACLs are not exactly what a consumer group needs"
                     + (f"; missing {missing}" if missing else "") + (f"; not needed {extra}" if extra else ""),
                     "a group consumer needs Read on the topic and Read on the group (Read implies Describe)")
    settings = secured.user_settings(admin_settings, user, password)
    try:
        secured.consume_and_commit(bootstrap, settings, topic, group)
    except security.SecurityError as exc:
        return _fail(ex, f"{user} still cannot consume: {exc.what}", exc.fix)
    return Check(ex, True, f"{user} read {topic} in group {group} and committed, with exactly two ACLs")


def check_fixed_tls(bootstrap: str, fixed: dict[str, Any], tls_port: int) -> Check:
    """08.3: ``bootstrap`` + ``fixed`` reach the TLS listener on ``tls_port`` with verification on (two clients)."""
    ex = "08.3 broken TLS config"
    if not bootstrap.endswith(f":{tls_port}"):
        return _fail(ex, f"{bootstrap} is not the TLS listener", f"the TLS broker listens on port {tls_port}")
    view = security._client_view(fixed)
    if view["protocol"] != "SSL":
        return _fail(ex, f"security.protocol is {view['protocol']}", "this listener speaks TLS: SSL")
    if not view["check_hostname"]:
        return _fail(ex, "host-name verification is switched off", "fix the address instead of switching the check off")
    with secured.quiet_clients():
        for client in ("kafka-python", "confluent-kafka"):
            a = secured.attempt(client, bootstrap, fixed)
            if not a.ok:
                return _fail(ex, f"{client} still cannot connect", str(a.answer or a.client_said))
    return Check(ex, True, "both clients connect, certificate and host name verified")
