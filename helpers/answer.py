"""Lesson 09: the decision table, every cell from a live check here or from data the workbook committed.

:func:`feature_checks` tries idempotence, transactions, headers and the admin API with each client on
the real broker; :func:`works_on` produces and reads with each client on a broker (3.9 and 4.x);
:func:`footprint` reads the installed packages' metadata; :func:`throughput` reads the committed
benchmark reference (:mod:`helpers.bench`); :data:`CITED` holds what cannot be checked here, each with
its source. :func:`decision_table` puts them together, one row per question, with a ``source`` column.
"""
from __future__ import annotations

import asyncio
import importlib.metadata as md
import json
import time
import uuid
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from . import admin, bench, offsets, rosetta
from .connection import Connection, ConnLike, aio_conf, as_connection, ck_conf, cli_args, kp_conf, pk_client

if TYPE_CHECKING:
    import pandas as pd

    from .exercises import Check

CLIENTS: tuple[str, ...] = ("kafka-python", "confluent-kafka", "pykafka", "pykafka+librdkafka", "aiokafka",
                            "confluent-kafka-aio")
"""The table's columns: the talk's three clients, pykafka's C mode, and the two asyncio ones."""

PACKAGE = {"kafka-python": "kafka-python", "confluent-kafka": "confluent-kafka", "pykafka": "pykafka",
           "pykafka+librdkafka": "pykafka", "aiokafka": "aiokafka", "confluent-kafka-aio": "confluent-kafka"}

FEATURES = ("idempotence", "transactions", "headers", "admin API")

SHARE_API = {"kafka-python": ("kafka", "KafkaShareConsumer"), "confluent-kafka": ("confluent_kafka", "ShareConsumer"),
             "pykafka": ("pykafka", "ShareConsumer"), "pykafka+librdkafka": ("pykafka", "ShareConsumer"),
             "aiokafka": ("aiokafka", "AIOKafkaShareConsumer"), "confluent-kafka-aio": ("confluent_kafka.aio",
                                                                                       "AIOShareConsumer")}
"""Where a share-group (KIP-932) consumer class would live in each client, named after the Java KafkaShareConsumer."""


def share_groups() -> dict[str, str]:
    """Live: does the installed client offer a share-group consumer class? (KIP-932's Java KafkaShareConsumer.)"""
    import importlib

    warnings.filterwarnings("ignore")
    out = {}
    for client, (module, name) in SHARE_API.items():
        mod = importlib.import_module(module)
        found = [n for n in dir(mod) if "share" in n.lower()]
        out[client] = f"{YES}: {name} class present (not exercised here)" if hasattr(mod, name) else f"{NO}: no share consumer in {module}" + (
            f" (has {', '.join(found)})" if found else "")
    return out

YES, NO = "yes", "no"


def _run(coro_fn: Callable[[], Any]) -> Any:
    """Run an asyncio coroutine function to completion, also from inside Jupyter's running event loop
    (there in a thread of its own, with its own loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro_fn())
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(coro_fn())).result(timeout=60)


def _short(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"{type(exc).__name__}: {text}"[:140]


# ----------------------------------------------------------------------------------- live feature checks


def _kp(conn: Connection, feature: str, topic: str) -> str:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic

    if feature == "admin API":
        a = KafkaAdminClient(**kp_conf(conn, "admin", request_timeout_ms=10_000))
        name = admin.unique_topic("answer-kp")
        a.create_topics([NewTopic(name, 1, 1)])
        a.delete_topics([name])
        a.close()
        return YES
    extra: dict[str, Any] = {"max_block_ms": 10_000}
    if feature == "idempotence":
        extra.update(enable_idempotence=True, acks="all")
    if feature == "transactions":
        extra.update(transactional_id=f"answer-{uuid.uuid4().hex[:6]}")
    p = KafkaProducer(**kp_conf(conn, "producer", **extra))
    try:
        if feature == "transactions":
            p.init_transactions()
            p.begin_transaction()
        headers = [("h", b"v")] if feature == "headers" else None
        p.send(topic, b"x", headers=headers).get(timeout=10)
        if feature == "transactions":
            p.commit_transaction()
    finally:
        p.close(timeout=5)
    if feature == "headers":
        c = KafkaConsumer(**kp_conf(conn, "consumer", group_id=None, auto_offset_reset="earliest"))
        try:
            c.assign([TopicPartition(topic, 0)])
            got = [r for recs in c.poll(timeout_ms=5000).values() for r in recs]
        finally:
            c.close()
        return YES if got and list(got[-1].headers) == [("h", b"v")] else f"{NO}: headers not read back"
    return YES


def _ck_producer_conf(conn: Connection, feature: str) -> dict[str, Any]:
    """The confluent-kafka producer config for one feature check (the sync and the asyncio producer share it)."""
    extra: dict[str, Any] = {"log_level": 0}
    if feature == "idempotence":
        extra["enable.idempotence"] = True
    if feature == "transactions":
        extra["transactional.id"] = f"answer-{uuid.uuid4().hex[:6]}"
    return ck_conf(conn, extra, role="producer")


def _ck(conn: Connection, feature: str, topic: str) -> str:
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    if feature == "admin API":
        a = AdminClient(ck_conf(conn, {"log_level": 0}, role="admin"))
        name = admin.unique_topic("answer-ck")
        list(a.create_topics([NewTopic(name, 1, 1)]).values())[0].result(10)
        list(a.delete_topics([name]).values())[0].result(10)
        return YES
    p = Producer(_ck_producer_conf(conn, feature))
    errors: list[str] = []
    if feature == "transactions":
        p.init_transactions(10)
        p.begin_transaction()
    p.produce(topic, b"x", headers=[("h", b"v")] if feature == "headers" else None,
              on_delivery=lambda err, msg: errors.append(str(err)) if err else None)
    if feature == "transactions":
        p.commit_transaction(10)
    if p.flush(10) or errors:
        return f"{NO}: {errors[:1] or 'not delivered'}"
    if feature == "headers":
        c = Consumer(ck_conf(conn, {"group.id": "answer", "log_level": 0}, role="consumer"))
        try:
            c.assign([TopicPartition(topic, 0, 0)])
            got = [m for m in c.consume(10, timeout=5) if m.error() is None]
        finally:
            c.close()
        return YES if got and got[-1].headers() == [("h", b"v")] else f"{NO}: headers not read back"
    return YES


def _ck_aio(conn: Connection, feature: str, topic: str) -> str:
    from confluent_kafka.aio import AIOProducer

    if feature == "admin API":
        return f"{NO}: confluent_kafka.aio has no admin client (use the synchronous AdminClient)"

    async def go() -> str:
        p = AIOProducer(_ck_producer_conf(conn, feature))
        try:
            if feature == "transactions":
                await p.init_transactions(10)
                await p.begin_transaction()
            kw = {"headers": [("h", b"v")]} if feature == "headers" else {}
            fut = await p.produce(topic, b"x", **kw)
            if feature == "transactions":
                await p.commit_transaction(10)
            await p.flush(10)
            await asyncio.wait_for(fut, 10)
        finally:
            await p.close()
        return YES

    return _run(go)


def _aio(conn: Connection, feature: str, topic: str) -> str:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    async def go() -> str:
        if feature == "admin API":
            a = AIOKafkaAdminClient(**aio_conf(conn, "admin"))
            await a.start()
            try:
                name = admin.unique_topic("answer-aio")
                await a.create_topics([NewTopic(name, 1, 1)])
                await a.delete_topics([name])
            finally:
                await a.close()
            return YES
        extra: dict[str, Any] = {}
        if feature == "idempotence":
            extra["enable_idempotence"] = True
        if feature == "transactions":
            extra["transactional_id"] = f"answer-{uuid.uuid4().hex[:6]}"
        p = AIOKafkaProducer(**aio_conf(conn, "producer", **extra))
        await asyncio.wait_for(p.start(), 10)
        try:
            headers = [("h", b"v")] if feature == "headers" else None
            if feature == "transactions":
                async with p.transaction():
                    await p.send_and_wait(topic, b"x")
            else:
                await p.send_and_wait(topic, b"x", headers=headers)
        finally:
            await p.stop()
        if feature == "headers":
            c = AIOKafkaConsumer(**aio_conf(conn, "consumer", group_id=None, auto_offset_reset="earliest"))
            await asyncio.wait_for(c.start(), 10)
            try:
                tp = TopicPartition(topic, 0)
                c.assign([tp])
                c.seek_to_beginning(tp)
                got = [r for recs in (await c.getmany(tp, timeout_ms=5000)).values() for r in recs]
            finally:
                await c.stop()
            return YES if got and list(got[-1].headers) == [("h", b"v")] else f"{NO}: headers not read back"
        return YES

    return _run(lambda: asyncio.wait_for(go(), 30))


def _pk(conn: Connection, feature: str, topic: str, rdkafka: bool = False) -> str:
    warnings.filterwarnings("ignore")
    import inspect

    from pykafka.producer import Producer

    if rdkafka:
        from .clients import pykafka_rdkafka_available

        if not pykafka_rdkafka_available():
            return "not checked: pykafka's C extension is not built here (make rdkafka)"
    params = inspect.signature(Producer.__init__).parameters
    if feature == "idempotence":
        return YES if "enable_idempotence" in params else f"{NO}: Producer() has no idempotence setting"
    if feature == "transactions":
        return YES if hasattr(Producer, "init_transactions") else f"{NO}: the producer has no transactions API"
    if feature == "headers":
        sig = inspect.signature(Producer.produce).parameters
        return YES if "headers" in sig else f"{NO}: produce() takes no headers (message format v0/v1 only)"
    # the admin calls below are pykafka's pure-Python Broker requests (no librdkafka in them, also with
    # rdkafka=True), so they work over TLS through pk_client's SslConfig; SASL raises pykafka's ConfigError
    name = admin.unique_topic("answer-pk")
    try:
        client = pk_client(conn)
        from pykafka.protocol.admin import CreateTopicRequest  # pykafka 2.7+: a low-level call per broker

        b = next(iter(client.brokers.values()))
        b.create_topics([CreateTopicRequest(name.encode(), 1, 1, [], [])], timeout=10_000)
        ok = name in admin.list_topics(conn)
    except Exception as exc:
        return f"{NO}: {_short(exc)}"
    finally:
        admin.delete_topic(conn, name)
    return "partly: Broker.create_topics / delete_topics only (no configs, groups, ACLs)" if ok else NO


_CHECKERS: dict[str, Callable[[Connection, str, str], str]] = {
    "kafka-python": _kp, "confluent-kafka": _ck, "pykafka": _pk,
    "pykafka+librdkafka": lambda c, f, t: _pk(c, f, t, rdkafka=True), "aiokafka": _aio,
    "confluent-kafka-aio": _ck_aio,
}


def feature_checks(conn: ConnLike, clients: tuple[str, ...] = CLIENTS, progress: bool = True) -> dict[str, dict[str, str]]:
    """``{feature: {client: "yes" | "no: <the client's error>" | ...}}``, each tried live on the connection
    ``conn`` (a Connection, the broker handle, or a plaintext "host:port"): over TLS/SASL every client is
    built from it through :mod:`helpers.connection`."""
    conn = as_connection(conn)
    out: dict[str, dict[str, str]] = {f: {} for f in FEATURES}
    with bench._progress(len(clients) * len(FEATURES), "feature checks", progress) as bar:
        for client in clients:
            topic = admin.create_topic(conn, admin.unique_topic("answer"))
            try:
                for feature in FEATURES:
                    try:
                        out[feature][client] = _CHECKERS[client](conn, feature, topic)
                    except Exception as exc:  # the client's own error is the finding
                        out[feature][client] = f"{NO}: {_short(exc)}"
                    bar.update()
            finally:
                admin.delete_topic(conn, topic)
    return out


# ----------------------------------------------------------------------------------- works on 3.9 / 4.x


def _worker(client: str, role: str, conn: Connection, topic: str, n: int, kill_after: float) -> dict[str, Any]:
    import subprocess
    import sys
    from pathlib import Path

    from . import bench_profiles

    conf = bench_profiles.settings(client, role, "tuned")  # a protocol check: not pykafka's 5 s linger
    # the connection travels as --bootstrap [--config <properties file>] (connection.cli_args / from_cli)
    cmd = [sys.executable, "-m", "helpers.bench_workers", client, role, *cli_args(conn), "--topic", topic,
           "--messages", str(n), "--size", "100", "--conf", json.dumps(conf), "--timeout", str(kill_after / 2)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=kill_after,
                             cwd=Path(__file__).parent.parent)
    except subprocess.TimeoutExpired:
        return {"status": "error", "error": f"no answer within {kill_after:.0f} s (killed)"}
    line = next((ln for ln in reversed(out.stdout.splitlines()) if ln.startswith("{")), "")
    return json.loads(line) if line else {"status": "error", "error": (out.stderr.strip().splitlines() or
                                                                        ["no output"])[-1][:120]}


def works_on(conn: ConnLike, clients: tuple[str, ...] = CLIENTS, n: int = 20, kill_after: float = 25.0) -> dict[str, str]:
    """Each client (tuned settings, in a fresh process killed after ``kill_after`` s) produces ``n`` messages and
    reads them back on the connection ``conn``; the broker counts them. ``"yes"`` or ``"no: <what happened>"``.

    Lesson 09 calls it twice: on the learner's connection (TLS/SASL when that is what the learner uses), and on
    the Kafka 4.x broker the lesson starts beside it with ``compat.start_kafka4()``, which listens on plaintext:
    there a plain ``"host:port"`` is the whole, correct connection."""
    conn = as_connection(conn)
    out: dict[str, str] = {}
    for client in clients:
        why = bench.unavailable(client)
        if why:
            out[client] = f"not checked: {why[:80]}"
            continue
        limit = bench.unavailable(client, conn)  # what this connection rules out: pykafka's TLS/SASL limits
        if limit:  # not tried: pykafka's own code cannot do it here (its reason, not a pass)
            out[client] = f"{NO} {limit}"
            continue
        topic = admin.create_topic(conn, admin.unique_topic("answer-works"))
        try:
            r = _worker(client, "produce", conn, topic, n, kill_after)
            stored = bench.stored_count(conn, topic)
            if r["status"] == "ok" and stored != n:
                r = {"status": "lost", "error": f"sent {n} but the broker holds {stored}"}
            if r["status"] == "ok":
                r = _worker(client, "consume", conn, topic, n, kill_after)
                role = "consume"
            else:
                role = "produce"
        finally:
            admin.delete_topic(conn, topic)
        out[client] = YES if r["status"] == "ok" else f"{NO}: {role} {r['status']}: {str(r.get('error'))[:110]}"
    return out


# ----------------------------------------------------------------------------------- installed metadata


def footprint(clients: tuple[str, ...] = CLIENTS) -> "pd.DataFrame":
    """From the installed packages' metadata: version, compiled parts, wheel tag, installed size, Requires-Python."""
    import pandas as pd

    rows = {}
    for client in clients:
        dist = md.distribution(PACKAGE[client])
        files = dist.files or []
        compiled = [str(f).rsplit("/", 1)[-1] for f in files if str(f).endswith((".so", ".pyd"))]
        tags = [ln.split(":", 1)[1].strip() for ln in (dist.read_text("WHEEL") or "").splitlines()
                if ln.startswith("Tag:")]
        bundled = sum((f.size or 0) for f in files if "confluent_kafka.libs" in str(f) or ".libs/" in str(f))
        rows[client] = {
            "version": dist.version,
            "compiled parts": (f"{len(compiled)} extension(s)" + (", bundles librdkafka" if bundled else ""))
            if compiled else "none (pure Python)",
            "wheel": tags[0] if tags else "?",
            "installed MB": round(sum((f.size or 0) for f in files) / 1e6, 1),
            "Requires-Python": dist.metadata.get("Requires-Python") or "not declared",
        }
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------- committed benchmark data


def throughput(summary: "pd.DataFrame") -> dict[str, dict[str, str]]:
    """``{"produce, defaults": {client: "median [min-max]"}, ...}`` from the benchmark reference summary."""
    out: dict[str, dict[str, str]] = {}
    for role in ("produce", "consume"):
        for profile in ("defaults", "tuned"):
            key = f"{role} msgs/s, {profile}"
            out[key] = {}
            for client in CLIENTS:
                med = bench.figure(summary, client, profile, role)
                if med != med:
                    out[key][client] = "not measured"
                    continue
                lo, hi = (bench.figure(summary, client, profile, role, c) for c in ("min", "max"))
                out[key][client] = f"{med:,.0f} [{lo:,.0f}-{hi:,.0f}]"
    return out


def rosetta_coverage() -> dict[str, str]:
    """Share of the Rosetta table's Java methods and settings each client has (lessons 04-05; tested by rosetta.run)."""
    out = {}
    for client in CLIENTS:
        base = "pykafka" if client.startswith("pykafka") else client
        cells = [r.cells[base] for r in rosetta.ROWS if base in r.cells]
        if not cells:
            out[client] = "not in the table (lessons 04-05 cover the talk's three clients)"
            continue
        have = sum(c.available for c in cells)
        out[client] = f"{have} of {len(cells)} ({have / len(cells):.0%})"
    return out


def talk_findings() -> list[dict[str, Any]]:
    """The committed measurements of the talk-era code patterns (lesson 06; ``bench --talk2017``)."""
    return json.loads(bench.TALK_JSON.read_text())["items"]


# ----------------------------------------------------------------------------------- cited cells


@dataclass(frozen=True)
class Cited:
    """A cell that cannot be checked here in a lesson's time, with its source."""

    value: str
    source: str


_L08 = "lesson 08 runs the TLS and SASL/SCRAM checks live"
_L10 = "lesson 10 shows the KIP-848 protocol live"
CITED: dict[str, dict[str, Cited]] = {
    "KIP-848 consumer protocol": {
        "kafka-python": Cited(NO, "kafka-python 3.0 release notes (dpkp/kafka-python, 2026-06-11): classic protocol, "
                                  "cooperative rebalancing added"),
        "confluent-kafka": Cited(YES, "librdkafka 2.12.0 release notes: KIP-848 generally available "
                                      f"(group.protocol=consumer, off by default); {_L10}"),
        "pykafka": Cited(NO, "pykafka 2.8.0 speaks Kafka 0.10-era group requests only (helpers.compat)"),
        "pykafka+librdkafka": Cited(NO, "pykafka's C mode has no consumer groups through librdkafka (lesson 03)"),
        "aiokafka": Cited("no (not checked here)", "aiokafka 0.14 documents the classic group protocol only"),
        "confluent-kafka-aio": Cited(YES, "wraps the same librdkafka consumer as confluent-kafka"),
    },
    "TLS": {
        "kafka-python": Cited(YES, _L08), "confluent-kafka": Cited(YES, _L08),
        "pykafka": Cited(YES, "pykafka SslConfig (docs); " + _L08),
        "pykafka+librdkafka": Cited(YES, "pykafka SslConfig is passed to librdkafka (docs)"),
        "aiokafka": Cited(YES, "aiokafka docs: security_protocol='SSL'"),
        "confluent-kafka-aio": Cited(YES, "same librdkafka configuration as confluent-kafka"),
    },
    "SASL (SCRAM)": {
        "kafka-python": Cited(YES, _L08), "confluent-kafka": Cited(YES, _L08),
        "pykafka": Cited("documented, not checked here", "pykafka 2.8 docs: PlainAuthenticator, ScramAuthenticator; "
                                                         "the workbook's connection helper does not build them"),
        "pykafka+librdkafka": Cited("documented, not checked here", "as pykafka"),
        "aiokafka": Cited(YES, "aiokafka docs: sasl_mechanism SCRAM-SHA-256/512"),
        "confluent-kafka-aio": Cited(YES, "same librdkafka configuration as confluent-kafka"),
    },
    "maintenance": {
        "kafka-python": Cited("maintained: 3.0.0 released 2026-06-11 by Dana Powers (dpkp)",
                              "github.com/dpkp/kafka-python/releases/tag/3.0.0"),
        "confluent-kafka": Cited("maintained by Confluent; frequent releases", "github.com/confluentinc/"
                                 "confluent-kafka-python (the installed 2.16 is recent)"),
        "pykafka": Cited("unmaintained: 'no longer under active development' (2019-12-17); last release 2.8.0",
                         "github.com/Parsely/pykafka/issues/944"),
        "pykafka+librdkafka": Cited("as pykafka", "github.com/Parsely/pykafka/issues/944"),
        "aiokafka": Cited("maintained by the aio-libs community", "github.com/aio-libs/aiokafka"),
        "confluent-kafka-aio": Cited("as confluent-kafka; the asyncio API is new (2.x) and documented as "
                                     "experimental", "confluent-kafka 2.16 docs (lesson 05)"),
    },
}


# ----------------------------------------------------------------------------------- the table


def data_safety(conn: ConnLike, findings: list[dict[str, Any]]) -> dict[str, str]:
    """What each producer does with your data when you set nothing: acks and idempotence read live, plus
    pykafka's measured stop() loss (committed)."""
    from kafka import KafkaProducer

    kp = KafkaProducer(**kp_conf(conn, "producer"))
    acks, idem = kp.config["acks"], kp.config["enable_idempotence"]
    kp.close(timeout=5)
    loss = next((f for f in findings if f["item"].startswith("pykafka's linger")), None)
    lost = f"; stop() silently dropped {loss['sent'] - loss['stored']:,} of {loss['sent']:,}" if loss else ""
    import inspect

    warnings.filterwarnings("ignore")
    from aiokafka import AIOKafkaProducer
    from pykafka.producer import Producer

    pk = inspect.signature(Producer.__init__).parameters
    ak = inspect.signature(AIOKafkaProducer.__init__).parameters
    rd = "acks=all (librdkafka default, CONFIGURATION.md), idempotence off; errors only in delivery reports"
    return {
        "kafka-python": f"acks={'all' if acks == -1 else acks}, idempotence {'on' if idem else 'off'} (read live)",
        "confluent-kafka": rd, "confluent-kafka-aio": rd,
        "pykafka": f"required_acks={pk['required_acks'].default}, linger_ms={pk['linger_ms'].default}, "
                   f"pending_timeout_ms={pk['pending_timeout_ms'].default}{lost} (measured, lesson 06)",
        "pykafka+librdkafka": f"required_acks={pk['required_acks'].default} (read live); librdkafka queues",
        # aiokafka's acks default is a sentinel that becomes 1 (or all with idempotence): producer.py, documented
        "aiokafka": f"acks=1 (aiokafka docs: unset means 1), idempotence "
                    f"{'on' if ak['enable_idempotence'].default else 'off'} (read live)",
    }


def decision_table(live: dict[str, dict[str, str]], summary: "pd.DataFrame", safety: dict[str, str],
                   foot: "pd.DataFrame") -> "pd.DataFrame":
    """One row per question, one column per client, plus ``source``: where each row's cells come from.

    ``live`` holds the rows measured in the notebook (``works on ...`` and :data:`FEATURES`)."""
    import pandas as pd

    rows: dict[str, dict[str, str]] = {}
    sources: dict[str, str] = {}
    for key, cells in live.items():
        rows[key] = cells
        sources[key] = "live check in this notebook"
    for key, cited in CITED.items():
        rows[key] = {c: cited[c].value for c in CLIENTS}
        srcs = {cited[c].source for c in CLIENTS}
        sources[key] = "cited: " + ("; ".join(sorted(srcs)) if len(srcs) <= 2 else "per client, see answer.CITED")
    rows["Rosetta coverage"] = rosetta_coverage()
    sources["Rosetta coverage"] = "committed: helpers/rosetta.py rows, each tested live by lessons 04-05"
    rows["data safety at defaults"] = safety
    sources["data safety at defaults"] = "live (defaults read from the installed clients) + lesson 06's measured loss"
    for key, cells in throughput(summary).items():
        rows[key] = cells
        sources[key] = "committed benchmark reference (helpers/data/bench-reference.csv): median [min-max] of its repetitions"
    for col in ("compiled parts", "wheel", "installed MB", "Requires-Python"):
        rows[col] = {c: str(foot.loc[col, c]) for c in CLIENTS}
        sources[col] = "live: installed package metadata"
    table = pd.DataFrame(rows).T[list(CLIENTS)]
    table["source"] = pd.Series(sources)
    return table


# ----------------------------------------------------------------------------------- which client for which job


def _rate(table: "pd.DataFrame", row: str, client: str) -> float:
    text = str(table.loc[row, client])
    try:
        return float(text.split(" ")[0].replace(",", ""))
    except ValueError:
        return float("nan")


def _no_compiled(table: "pd.DataFrame", client: str) -> bool:
    return str(table.loc["compiled parts", client]).startswith("none")


def _works_everywhere(table: "pd.DataFrame", client: str) -> bool:
    return all(str(table.loc[r, client]) == YES for r in table.index if r.startswith("works on"))


@dataclass(frozen=True)
class Job:
    """A kind of project, the table row that decides it, and how that row picks a client."""

    name: str
    row: str
    rule: str
    pick: Callable[["pd.DataFrame"], list[str]]


def _fastest(row: str, among: tuple[str, ...] = CLIENTS) -> Callable[["pd.DataFrame"], list[str]]:
    def pick(t: "pd.DataFrame") -> list[str]:
        rates = {c: _rate(t, row, c) for c in among if _works_everywhere(t, c)}
        rates = {c: r for c, r in rates.items() if r == r}
        if not rates:  # no client works everywhere (or none was measured): the table picks none
            return []
        best = max(rates.values())
        return [c for c, r in rates.items() if r >= 0.9 * best]  # within 10%: the spread makes them a tie
    return pick


def _yes(row: str, among: tuple[str, ...] = CLIENTS) -> Callable[["pd.DataFrame"], list[str]]:
    return lambda t: [c for c in among if str(t.loc[row, c]) == YES and _works_everywhere(t, c)]


def _pure(t: "pd.DataFrame") -> list[str]:
    return [c for c in CLIENTS if _no_compiled(t, c) and _works_everywhere(t, c)]


JOBS: tuple[Job, ...] = (
    Job("a new service that must not lose data (transactions, Kafka 4)", "transactions",
        "has transactions and works on 3.9 and 4.x", _yes("transactions", ("kafka-python", "confluent-kafka",
                                                                          "aiokafka"))),
    Job("maximum produce throughput from Python", "produce msgs/s, tuned",
        "fastest tuned producer (within 10%) that works on 3.9 and 4.x", _fastest("produce msgs/s, tuned")),
    Job("an asyncio application", "consume msgs/s, tuned",
        "fastest tuned asyncio consumer that works on 3.9 and 4.x",
        _fastest("consume msgs/s, tuned", ("aiokafka", "confluent-kafka-aio"))),
    Job("a pure-Python environment (PyPy, no compiler, restricted installs)", "compiled parts",
        "no compiled parts and works on 3.9 and 4.x", _pure),
    Job("the newest Kafka 4 consumer features (KIP-848)", "KIP-848 consumer protocol",
        "KIP-848 yes and works on 3.9 and 4.x", _yes("KIP-848 consumer protocol")),
    Job("a notebook or a small script", "Rosetta coverage",
        "works on 3.9 and 4.x, no compiler needed, widest Java-API coverage", _pure),
)


def which_client(table: "pd.DataFrame") -> "pd.DataFrame":
    """For each job in :data:`JOBS`: the client(s) the table picks, the deciding row and its rule."""
    import pandas as pd

    return pd.DataFrame([{"job": j.name, "pick": ", ".join(j.pick(table)) or "none", "deciding row": j.row,
                          "rule": j.rule} for j in JOBS])


SCENARIOS: dict[str, Job] = {
    "A": JOBS[3],  # pure Python
    "B": JOBS[1],  # max throughput
    "C": JOBS[2],  # asyncio
}
"""The closing exercise's three scenarios (09.1), told in the notebook as short stories."""


def check_choice(table: "pd.DataFrame", answers: dict[str, tuple[str, str]]) -> "Check":
    """Exercise 09.1: ``{"A": (client, row), ...}``; each client must be one the table picks for that
    scenario and the row the one that decides it (compared with the table, not with a fixed answer)."""
    from .exercises import Check

    ex = "09.1 pick a client and name the deciding row"
    if not isinstance(answers, dict) or set(answers) != set(SCENARIOS):
        return Check(ex, False, f"give an answer for each scenario {sorted(SCENARIOS)}",
                     'e.g. {"A": ("client", "row"), "B": (...), "C": (...)}')
    wrong = []
    for key, job in SCENARIOS.items():
        try:
            client, row = answers[key]
        except (TypeError, ValueError):
            return Check(ex, False, f"scenario {key}: give a pair (client, row)", 'e.g. ("kafka-python", "wheel")')
        if row not in table.index:
            wrong.append(f"{key}: {row!r} is not a row of the table")
            continue
        picks = job.pick(table)
        if row != job.row:
            wrong.append(f"{key}: the row {row!r} does not decide it (think: what does the scenario demand?)")
        elif client not in picks:
            wrong.append(f"{key}: by the row {row!r} the table picks {', '.join(picks)}, not {client!r}")
    if wrong:
        return Check(ex, False, "; ".join(wrong), "read the row you named across the table")
    return Check(ex, True, "all three match the table: " + "; ".join(
        f"{k}: {answers[k][0]} ({answers[k][1]})" for k in SCENARIOS))


def then_and_now_data(summary: "pd.DataFrame") -> "pd.DataFrame":
    """2016's published msgs/s beside today's defaults-profile medians (different hardware: labelled)."""
    import pandas as pd

    old = bench.load_2016()
    rows = []
    for r in old.itertuples():
        now = bench.figure(summary, r.client, "defaults", r.role)
        rows.append({"client": r.client, "role": r.role, "run": "2016 study (Kafka 0.9, laptop VM)",
                     "msgs_per_s": r.msgs_per_s})
        if now == now:
            rows.append({"client": r.client, "role": r.role, "run": "today, defaults (Kafka 3.9, shared 2-core VM)",
                         "msgs_per_s": now})
    return pd.DataFrame(rows)


def then_and_now_chart(summary: "pd.DataFrame", stamp: str) -> Any:
    """Grouped bars: 2016 beside today per client and role, log scale, labelled as different hardware."""
    import altair as alt

    data = then_and_now_data(summary)
    runs = list(dict.fromkeys(data["run"]))
    return alt.Chart(data).mark_bar().encode(
        x=alt.X("client:N", title=None, axis=alt.Axis(labelAngle=-30)),
        xOffset=alt.XOffset("run:N", sort=runs),
        y=alt.Y("msgs_per_s:Q", scale=alt.Scale(type="log"), title="messages per second (log scale)"),
        color=alt.Color("run:N", sort=runs, title=None, legend=alt.Legend(orient="bottom", labelLimit=400)),
        tooltip=["client", "role", "run", alt.Tooltip("msgs_per_s:Q", format=",.0f")],
    ).properties(width=260, height=220).facet(column=alt.Column("role:N", sort=["produce", "consume"], title=None)
                                              ).properties(title=alt.Title(
        "2016 beside today: different hardware, different Kafka; read ratios, not digits", subtitle=stamp))


def elapsed(t0: float) -> str:
    """Seconds since ``t0`` as text, for the notebook's timing line."""
    return f"{time.monotonic() - t0:.0f} s"


__all__ = ["CLIENTS", "FEATURES", "feature_checks", "works_on", "footprint", "throughput", "decision_table",
           "which_client", "check_choice", "SCENARIOS", "then_and_now_chart", "offsets"]
