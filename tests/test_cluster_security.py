"""The 3-broker cluster with SCRAM over TLS: ready on the secured listeners, clients in and out, no JVM left."""
from __future__ import annotations

import uuid

import psutil
import pytest

from helpers import broker, cluster, secured, security

pytestmark = pytest.mark.slow  # four JVMs


def _start() -> cluster.Cluster:
    return cluster.start_cluster(3, security="sasl_ssl", quiet=True, port=broker.free_port(span=4), timeout=240)


def test_sasl_ssl_cluster() -> None:
    c = _start()
    pids = [n.pid for n in [c.controller, *c.nodes]]
    try:
        m = security.load(c.run_dir)
        assert c.client_properties == str(m.client_properties)
        bootstrap, learner = secured.load_properties(c.client_properties)
        assert bootstrap == c.bootstrap and learner["security.protocol"] == "SASL_SSL"
        assert all(n["ready"] for n in cluster.status(c.port)["nodes"] if n["role"] == "broker")  # probed over TLS+SCRAM
        admin = m.settings("admin")
        topic = f"rf3-{uuid.uuid4().hex[:6]}"
        from confluent_kafka.admin import NewTopic

        a = secured.admin(c.bootstrap, admin)
        a.create_topics([NewTopic(topic, 1, 3)])[topic].result(30)
        # each broker's own record of the leader, asked over TLS + SCRAM as admin (what elect_leaders waits on)
        # (the learner may not describe this topic yet, so the leader comes from the brokers themselves)
        assert c.wait_leaders_agree(topic, timeout=10), c.leaders_by_broker(topic)
        views = c.leaders_by_broker(topic)
        assert sorted(views) == [1, 2, 3] and views[1][0] in (1, 2, 3), views
        secured.grant(c.bootstrap, admin, "learner", "topic", topic, "read", "write")
        secured.grant(c.bootstrap, admin, "learner", "group", "g-cluster", "read")
        for client in ("kafka-python", "confluent-kafka"):
            got = secured.roundtrip(client, c.bootstrap, learner, topic, group="g-cluster", timeout=20)
            assert got.startswith(client.encode())
        wrong = secured.attempt("kafka-python", c.bootstrap, secured.user_settings(learner, "learner", "bad"))
        assert not wrong.ok and "refused the login of 'learner'" in str(wrong.answer)
    finally:
        c.stop(wipe=True)
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids if p)
