"""The embedded 3-broker cluster: start, status, a crash of a partition leader, restart, stop.

One cluster for the module (its start is the expensive part), on free ports in a private KFP_HOME.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from helpers import admin, cluster, protocol
from helpers.errors import WorkbookError

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]


def _free_block(n: int) -> int:
    """A base port with ``n`` free ports above it (inclusive), below the ephemeral range."""
    from helpers import broker

    return broker.free_port(span=n + 1)


def _our_jvms(rdir: str) -> list[int]:
    return [p.info["pid"] for p in psutil.process_iter(["pid", "cmdline"])
            if "kafka.Kafka" in (p.info["cmdline"] or []) and
            any(a.startswith(f"-Dkfp.run={rdir}/") for a in p.info["cmdline"] or [])]


def _cli(*args: str, port: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "helpers", "cluster", *args, "--port", str(port)],
                          capture_output=True, text=True, timeout=150)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from helpers import broker

    real_jars = broker.home() / "jars"
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("cluster-home")
    (path / "jars").symlink_to(real_jars)
    mp.setenv("KFP_HOME", str(path))
    yield path
    mp.undo()


@pytest.fixture(scope="module")
def started(home: Path):
    """The cluster, started through the CLI the way a learner starts it; stopped (and checked) at the end."""
    port = _free_block(3)
    out = _cli("start", port=port)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == ",".join(f"127.0.0.1:{port + i}" for i in (1, 2, 3))
    assert "started in" in out.stdout  # start-to-ready seconds reported
    c = cluster.attach(port)
    yield c
    cluster.stop(port, quiet=True)


def test_settings_of_a_node() -> None:
    nodes = [cluster.Node(i, "broker", 9100 + i, f"/x/node-{i}", rack=f"r{i}") for i in (1, 2, 3)]
    ctrl = cluster.Node(0, "controller", 9100, "/x/node-0")
    props = dict(line.split("=", 1) for line in
                 cluster._node_properties(nodes[1], nodes, ctrl, cluster.SecurityPlan()).splitlines())
    assert props["node.id"] == "2" and props["process.roles"] == "broker" and props["broker.rack"] == "r2"
    assert props["default.replication.factor"] == props["offsets.topic.replication.factor"] == "3"
    assert props["min.insync.replicas"] == props["transaction.state.log.min.isr"] == "2"
    assert props["controller.quorum.voters"] == "0@127.0.0.1:9100"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9102"
    cprops = dict(line.split("=", 1) for line in
                  cluster._node_properties(ctrl, nodes, ctrl, cluster.SecurityPlan()).splitlines())
    assert cprops["process.roles"] == "controller" and "advertised.listeners" not in cprops


def test_status_lists_every_node(started: cluster.Cluster) -> None:
    out = _cli("status", port=started.port)
    assert out.returncode == 0, out.stderr
    st = json.loads(out.stdout)
    brokers = [n for n in st["nodes"] if n["role"] == "broker"]
    assert [(n["id"], n["rack"], n["alive"], n["ready"]) for n in brokers] == \
        [(1, "r1", True, True), (2, "r2", True, True), (3, "r3", True, True)]
    assert sorted(b[0] for b in protocol.probe(started.nodes[0].address).brokers) == [1, 2, 3]
    # a second caller finds the running cluster instead of starting a rival
    again = cluster.start_cluster(port=started.port, quiet=True)
    assert not again.started and [n.pid for n in again.nodes] == [n.pid for n in started.nodes]
    with pytest.raises(WorkbookError, match="already runs"):
        cluster.start_cluster(brokers=2, port=started.port, quiet=True)
    assert sorted(_our_jvms(started.run_dir)) == sorted(n.pid for n in [started.controller, *started.nodes])


def test_each_broker_reports_its_own_view_of_the_leaders(started: cluster.Cluster) -> None:
    topic = admin.create_topic(started.bootstrap, admin.unique_topic("views"), partitions=3, replication_factor=3)
    assert started.wait_leaders_agree(topic, timeout=10)
    views = started.leaders_by_broker(topic)
    assert sorted(views) == [1, 2, 3] and all(v == started.leaders(topic) for v in views.values()), views
    assert sorted(views[1]) == [0, 1, 2] and set(views[1].values()) <= {1, 2, 3}
    # a topic that does not exist: each broker answers, with no partitions
    assert started.leaders_by_broker(admin.unique_topic("nope")) == {1: {}, 2: {}, 3: {}}
    admin.delete_topic(started.bootstrap, topic)


def test_leader_crash_loses_nothing_and_leader_comes_back(started: cluster.Cluster) -> None:
    from confluent_kafka import Consumer, Producer

    c = started
    topic = admin.create_topic(c.bootstrap, admin.unique_topic("crash"), partitions=1, replication_factor=3)
    before = c.describe_topic(topic)[0]
    leader = before["leader"]
    assert sorted(before["replicas"]) == [1, 2, 3] and before["isr"] == [1, 2, 3]
    assert before["replicas"][0] == leader  # a new topic is led by its preferred replica

    acked: list[int] = []
    p = Producer({"bootstrap.servers": c.bootstrap, "acks": "all", "enable.idempotence": True,
                  "linger.ms": 5, "log_level": 2, "message.timeout.ms": 30000})

    def send(lo: int, hi: int) -> None:
        for i in range(lo, hi):
            p.produce(topic, str(i).encode(), on_delivery=lambda err, m: acked.append(int(m.value())) if err is None else None)
            p.poll(0)

    send(0, 500)
    p.flush(10)
    out = _cli("kill", str(leader), port=c.port)  # SIGKILL, the way a learner breaks it from a terminal
    assert out.returncode == 0, out.stderr
    killed_at = time.monotonic()
    assert not c.node(leader).alive
    send(500, 1000)
    assert p.flush(30) == 0
    new = c.describe_topic(topic)[0]
    assert new["leader"] not in (leader, -1) and leader not in new["isr"]
    print(f"new leader {new['leader']} {time.monotonic() - killed_at:.1f} s after the kill")

    # ensure/start on a cluster with a dead broker heals it: the broker is started again
    c = cluster.start_cluster(port=c.port, quiet=True)
    assert not c.started and c.alive() == [1, 2, 3]
    c.wait_in_sync(topic, timeout=60)
    assert c.elect_leaders(topic) == {0: "elected"}
    # elect_leaders returns once every broker records the preferred leader: asking one broker, then another,
    # used to show the leader flip back (a broker that had not yet applied the change answered the second time)
    assert c.leaders_by_broker(topic) == {b: {0: leader} for b in (1, 2, 3)}, c.describe_topic(topic)
    assert c.leaders(topic) == {0: leader}  # the preferred replica leads again

    cons = Consumer({"bootstrap.servers": c.bootstrap, "group.id": admin.unique_topic("g"), "log_level": 2,
                     "auto.offset.reset": "earliest", "enable.auto.commit": False})
    cons.subscribe([topic])
    seen: list[int] = []
    deadline = time.monotonic() + 30
    while len(seen) < 1000 and time.monotonic() < deadline:
        seen += [int(m.value()) for m in cons.consume(500, 0.5) if m.error() is None]
    cons.close()
    assert sorted(acked) == list(range(1000))
    assert sorted(seen) == list(range(1000))  # acks=all + idempotence: nothing lost, nothing twice
    admin.delete_topic(c.bootstrap, topic)


def test_cli_errors_are_one_line(started: cluster.Cluster) -> None:
    out = _cli("kill", "7", port=started.port)
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "no broker 7" in out.stderr
    out = _cli("restart", "2", port=started.port)  # a running broker is left as it is
    assert out.returncode == 0 and "running again" in out.stdout, out.stderr
    out = _cli("status", port=started.port + 50)
    assert out.returncode == 3 and json.loads(out.stdout)["running"] is False


# --------------------------------------------------------------------------- lesson 07's helpers on the cluster
# (same module: one cluster start serves both; the lesson's own run is notebooks/07_replication.ipynb)


def test_high_watermark_holds_while_followers_are_frozen(started: cluster.Cluster) -> None:
    from helpers import replication as rp

    c = cluster.start_cluster(port=started.port, quiet=True)
    topic = rp.create_topic(c, admin.unique_topic("hw"), [[1, 2, 3]])
    df = rp.watermark_demo(c, topic, [2, 3], seconds=3.0, pause_at=0.8, pause_for=1.5)
    frozen = df[(df["t"] > 1.1) & df["followers frozen"]]
    assert len(frozen) >= 3
    assert frozen["high watermark"].nunique() == 1  # nobody in the ISR could fetch: no commit
    assert frozen["log end offset (leader)"].max() > frozen["high watermark"].max() + 30  # acks=1 ran ahead
    assert (frozen["consumer has read"] <= frozen["high watermark"]).all()
    assert df["high watermark"].iloc[-1] > frozen["high watermark"].max()  # thawed: committed again
    assert all(n.alive for n in c.nodes)  # frozen brokers were thawed


def test_crash_counts_what_each_setting_keeps(started: cluster.Cluster) -> None:
    from helpers import replication as rp

    c = cluster.start_cluster(port=started.port, quiet=True)
    r = rp.crash_experiment(c, victim=1, frozen=2, clients=("confluent-kafka",),
                            settings=("acks=1", "acks=all + idempotence"), seconds=6.0, progress=False)
    t = r.table().set_index(["setting", "new leader"])
    assert r.election_seconds is not None and 0 < r.election_seconds < 30
    assert r.not_led_by_victim == []  # broker 1 led every topic when it was killed
    assert set(r.new_leaders.values()) == {2, 3}  # stale topics chose the frozen follower, fresh ones the other
    for run in r.runs:
        row = t.loc[(run.setting, r.scenario_label(run))]
        assert row["sent"] == 900 and row["stored"] <= row["sent"]
        if run.setting == "acks=all + idempotence":  # nothing lost, nothing twice: the lesson's claim
            assert (row["acknowledged"], row["lost"], row["duplicated"]) == (900, 0, 0)
        else:
            # acks=1: whatever was lost, the books balance (no invented records, none counted twice)
            stored = {int(v) for v in r.stored[run.topic] if v != "-1"}  # "-1": the warm-up record
            assert stored <= set(range(900))
            assert row["lost"] == len(set(run.acked) - stored) and row["acknowledged"] == len(run.acked)
    c.wait_ready(120, nodes=[1])  # the victim was restarted in the background


def test_min_insync_refuses_acks_all(started: cluster.Cluster) -> None:
    # the unclean election (a kill and two restarts) is checked by the lesson itself under nbval
    from helpers import replication as rp

    c = cluster.start_cluster(port=started.port, quiet=True)
    c.wait_ready(120, nodes=[1, 2, 3])
    t_isr = rp.create_topic(c, admin.unique_topic("isr"), [[1, 2, 3]])
    c.stop_node(2)
    c.stop_node(3)
    rp.watch_isr(c, t_isr, lambda d: d[0]["isr"] == [1], timeout=30)
    refused = rp.refused_table(c, t_isr).set_index(["client", "acks"])
    for client in rp.CLIENTS:
        assert refused.loc[(client, "all"), "acknowledged"] == 0
        error = refused.loc[(client, "all"), "first error (the client's own words)"]
        assert "NotEnoughReplicas" in error or "NOT_ENOUGH_REPLICAS" in error, error
        assert refused.loc[(client, "1"), "acknowledged"] == 20
    c.restart(2, wait=False)
    c.restart(3, wait=False)
    rp.watch_isr(c, t_isr, lambda d: len(d[0]["isr"]) == 3, timeout=120)  # the ISR grows back


def test_exercise_checks(started: cluster.Cluster) -> None:
    from helpers import replication as rp

    c = cluster.start_cluster(port=started.port, quiet=True)
    t = rp.create_topic(c, admin.unique_topic("ex"), [[1, 2, 3]], config={"min.insync.replicas": "1"})
    # create_topic returns once every broker has the topic on record, not only the one that answered
    # (describe_configs right after it, on another broker, once said UNKNOWN_TOPIC_OR_PART)
    assert c.leaders_by_broker(t) == {1: {0: 1}, 2: {0: 1}, 3: {0: 1}}
    assert not rp.check_durable(c, t, {"acks": "all"})             # min.insync.replicas=1
    t2 = rp.create_topic(c, admin.unique_topic("ex"), [[1, 2, 3]])
    assert not rp.check_durable(c, t2, {"acks": "1", "enable.idempotence": False})
    assert rp.check_durable(c, t2, {"acks": "all"})
    assert not rp.check_prediction(c, t2, 1, None)                 # nothing stopped without a prediction
    assert c.alive() == [1, 2, 3]


def test_state_file_lost_then_stop_leaves_no_jvm(started: cluster.Cluster) -> None:
    rdir = started.run_dir
    pids = _our_jvms(rdir)
    assert len(pids) == 4
    (Path(rdir) / "state.json").unlink()  # a crashed notebook or a stray rm: the JVMs must not be orphaned
    st = cluster.status(started.port)
    assert sorted(n["pid"] for n in st["nodes"]) == sorted(pids)
    out = _cli("stop", port=started.port)
    assert out.returncode == 0 and "Stopped" in out.stdout
    assert _our_jvms(rdir) == []
    assert all(not psutil.pid_exists(p) or psutil.Process(p).status() == psutil.STATUS_ZOMBIE for p in pids)
    assert cluster.status(started.port)["running"] is False
