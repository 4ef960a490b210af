"""tools/conn_codemod.py: the notebook rewrite to the connection convention (pure text, no broker)."""
from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("conn_codemod", ROOT / "tools" / "conn_codemod.py")
codemod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(codemod)

OLD = '''from helpers import admin, clients
bootstrap = kafka.bootstrap
t = admin.create_topic(bootstrap, admin.unique_topic("x"))
kp = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
kc = KafkaConsumer(t, bootstrap_servers=bootstrap, group_id="g")
ck = Producer(clients.ck_conf(bootstrap))
cc = Consumer(clients.ck_conf(bootstrap, {"group.id": "g",
                                         "auto.offset.reset": "earliest"}))
raw = Consumer({"bootstrap.servers": bootstrap, "group.id": "g"})
pk = KafkaClient(hosts=bootstrap)
df = clients.batching_experiment(bootstrap)
conf = {"bootstrap.servers": bootstrap, "acks": "all"}
tools.kafka_topics(bootstrap, "--list")
cmd = tools.command("kafka-topics", "--bootstrap-server", bootstrap, "--list")
bench.run(messages=10, bootstrap=kafka.bootstrap)
print("bootstrap is", kafka.bootstrap)  # a string mentioning bootstrap stays
print(f"deleted {len(admin.delete_groups(bootstrap, *gs))} groups from {bootstrap!r}")
'''

NEW = '''from helpers import admin, clients
conn = kafka.connection
t = admin.create_topic(conn, admin.unique_topic("x"))
kp = KafkaProducer(**conn.config("kafka-python"), linger_ms=5)
kc = KafkaConsumer(t, **conn.config("kafka-python", "consumer"), group_id="g")
ck = Producer(conn.config("confluent-kafka"))
cc = Consumer({**conn.config("confluent-kafka", "consumer"), "group.id": "g",
              "auto.offset.reset": "earliest"})
raw = Consumer({**conn.config("confluent-kafka", "consumer"), "group.id": "g"})
pk = KafkaClient(**conn.config("pykafka"))
df = producing.batching_experiment(conn)
conf = {"bootstrap.servers": conn.bootstrap, "acks": "all"}
tools.kafka_topics(conn, "--list")
cmd = tools.command("kafka-topics", *tools.connection_args(conn), "--list")
bench.run(messages=10, conn=conn)
print("bootstrap is", kafka.bootstrap)  # a string mentioning bootstrap stays
print(f"deleted {len(admin.delete_groups(conn, *gs))} groups from {conn!r}")
'''


def test_cell_source_conversion_and_idempotence() -> None:
    assert codemod.convert_source(OLD) == NEW
    assert codemod.convert_source(NEW) == NEW


def _nb(cells: list[str], outputs: list) -> dict:
    return {"cells": [{"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": outputs,
                       "source": c.splitlines(keepends=True)} for c in cells] +
            [{"cell_type": "markdown", "metadata": {}, "source": ["`bootstrap = kafka.bootstrap` in prose stays"]}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_notebook_sources_change_outputs_never(tmp_path: Path) -> None:
    out = [{"name": "stdout", "output_type": "stream", "text": ["bootstrap = kafka.bootstrap\n"]}]
    nb = _nb(["from helpers import ensure_broker\nkafka = ensure_broker()",
              "from helpers import admin, clients\nbootstrap = kafka.bootstrap\nclients.rebalance_story('x', bootstrap, 't')"],
             out)
    path = tmp_path / "99_x.ipynb"
    path.write_text(json.dumps(nb, indent=1))
    changed, report = codemod.convert(path)
    assert changed and not report
    after = json.loads(path.read_text())
    assert [c["outputs"] for c in after["cells"][:2]] == [out, out]
    md = after["cells"][2]
    assert md["cell_type"] == "markdown" and "".join(md["source"]) == "".join(nb["cells"][2]["source"])
    src = "".join(after["cells"][1]["source"])
    assert "from helpers import admin, clients, consuming" in src
    assert "consuming.rebalance_story('x', conn, 't')" in src and "conn = kafka.connection" in src
    assert codemod.convert(path) == (False, [])


def test_a_notebook_without_the_variable_gets_conn_after_ensure_broker(tmp_path: Path) -> None:
    path = tmp_path / "98_y.ipynb"
    path.write_text(json.dumps(_nb(["kafka = ensure_broker()", "admin.delete_topic(kafka.bootstrap, 't')"], [])))
    codemod.convert(path)
    cells = json.loads(path.read_text())["cells"]
    assert "".join(cells[0]["source"]) == "kafka = ensure_broker()\nconn = kafka.connection"
    assert "".join(cells[1]["source"]) == "admin.delete_topic(conn, 't')"


def test_the_lessons_are_converted(tmp_path: Path) -> None:
    """After merging a branch written the old way, re-run: .venv/bin/python tools/conn_codemod.py"""
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        copy = tmp_path / nb.name
        shutil.copy(nb, copy)
        changed, _ = codemod.convert(copy)
        assert not changed, f"{nb.name} is not in the connection convention: run tools/conn_codemod.py"
