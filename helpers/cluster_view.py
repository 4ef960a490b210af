"""``inspector(conn)``: brokers, topics and consumer groups of a cluster, in one panel, refreshed on demand.

The talk showed Kafka Tool and Landoop's UI (slides 50-52); this is the notebook-sized version, built on
the Admin API: :func:`snapshot` asks the cluster, :class:`Inspector` shows the result as HTML tables with a
Refresh button (ipywidgets). Saved in a notebook it still reads well: the output carries the last
snapshot as HTML and text, besides the live widget. Usable from any lesson: ``helpers.inspector(conn)``.
"""
from __future__ import annotations

import html
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .clients import ck_conf
from .connection import ConnLike, as_connection, kp_conf

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Snapshot:
    """What the cluster said at ``taken`` (local time, HH:MM:SS)."""

    bootstrap: str
    taken: str
    seconds: float
    brokers: "pd.DataFrame"
    topics: "pd.DataFrame"
    groups: "pd.DataFrame"


def _bootstrap(conn: Any) -> str:
    """The bootstrap list of a str, a broker/cluster handle or a Connection (for display)."""
    return as_connection(conn).bootstrap


def _log_dir_bytes(conn: ConnLike) -> dict[tuple[str, int], int]:
    """Bytes on disk per (topic, partition), from DescribeLogDirs (kafka-python's admin client has it)."""
    from kafka import KafkaAdminClient

    a = KafkaAdminClient(**kp_conf(conn, "admin", request_timeout_ms=10000))
    try:
        out: dict[tuple[str, int], int] = {}
        for b in a.describe_log_dirs():
            for d in b["log_dirs"]:
                for t in d["topics"]:
                    for p in t["partitions"]:
                        out[(t["name"], p["partition_index"])] = out.get((t["name"], p["partition_index"]), 0) + \
                            p["partition_size"]
        return out
    except Exception:  # an older broker or a client without the call: bytes unknown, the rest still works
        return {}
    finally:
        a.close()


def snapshot(conn: Any, include_internal: bool = False, max_topics: int = 60, timeout: float = 10.0) -> Snapshot:
    """Ask the cluster for its brokers, topics (partitions, replication, ISR, bytes, end offsets) and consumer
    groups (type, state, members, lag per partition)."""
    import pandas as pd
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient

    bootstrap = _bootstrap(conn)
    t0 = time.monotonic()
    admin = AdminClient(ck_conf(conn))
    md = admin.list_topics(timeout=timeout)
    controller = None
    try:
        controller = admin.describe_cluster(request_timeout=timeout).result(timeout).controller.id
    except Exception:
        pass
    brokers = pd.DataFrame([{"id": b.id, "address": f"{b.host}:{b.port}", "controller": b.id == controller}
                            for b in sorted(md.brokers.values(), key=lambda b: b.id)])
    sizes = _log_dir_bytes(conn)
    names = sorted(n for n in md.topics if include_internal or not n.startswith("_"))[:max_topics]
    c = Consumer(ck_conf(conn, {"group.id": "inspector", "enable.auto.commit": False}))
    ends: dict[tuple[str, int], int] = {}
    topic_rows = []
    try:
        for name in names:
            t = md.topics[name]
            parts = t.partitions.values()
            for p in parts:
                try:
                    ends[(name, p.id)] = c.get_watermark_offsets(TopicPartition(name, p.id), timeout=timeout)[1]
                except Exception:
                    ends[(name, p.id)] = -1
            rf = max((len(p.replicas) for p in parts), default=0)
            in_sync = sum(len(p.isrs) for p in parts)
            topic_rows.append({"topic": name, "partitions": len(t.partitions), "replication": rf,
                               "ISR": f"{in_sync}/{sum(len(p.replicas) for p in parts)}",
                               "under-replicated": sum(1 for p in parts if len(p.isrs) < len(p.replicas)),
                               "bytes": sum(sizes.get((name, p.id), 0) for p in parts) if sizes else None,
                               "end offsets": sum(max(0, ends[(name, p.id)]) for p in parts)})
    finally:
        c.close()
    topics = pd.DataFrame(topic_rows, columns=["topic", "partitions", "replication", "ISR", "under-replicated",
                                               "bytes", "end offsets"])
    group_rows = []
    try:
        listed = admin.list_consumer_groups(request_timeout=timeout).result(timeout).valid
        ids = sorted(g.group_id for g in listed)[:max_topics]
        described = {g: f.result(timeout) for g, f in admin.describe_consumer_groups(ids, request_timeout=timeout).items()} \
            if ids else {}
        from confluent_kafka import ConsumerGroupTopicPartitions

        for gid in ids:
            d = described[gid]
            lag_parts = []
            try:
                res = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(gid)], request_timeout=timeout)
                offsets = res[gid].result(timeout).topic_partitions
                for tp in offsets:
                    end = ends.get((tp.topic, tp.partition))
                    if end is None:
                        end = c2_end(conn, tp.topic, tp.partition, timeout)
                    if tp.offset >= 0 and end >= 0:
                        lag_parts.append((tp.topic, tp.partition, end - tp.offset))
            except Exception:
                pass
            group_rows.append({"group": gid, "type": getattr(d.type, "name", str(d.type)).lower(),
                               "state": getattr(d.state, "name", str(d.state)).lower(), "members": len(d.members),
                               "total lag": sum(lag for *_x, lag in lag_parts) if lag_parts else None,
                               "lag per partition": " ".join(f"{t}[{p}]={lag}" for t, p, lag in sorted(lag_parts))[:200]})
    except Exception as exc:
        group_rows.append({"group": f"(could not list groups: {exc})"[:120]})
    groups = pd.DataFrame(group_rows, columns=["group", "type", "state", "members", "total lag", "lag per partition"])
    return Snapshot(bootstrap, time.strftime("%H:%M:%S"), round(time.monotonic() - t0, 2), brokers, topics, groups)


def c2_end(conn: ConnLike, topic: str, partition: int, timeout: float) -> int:
    """The end offset of one partition (for a group's topic the topic list left out)."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer(ck_conf(conn, {"group.id": "inspector", "enable.auto.commit": False}))
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)[1]
    except Exception:
        return -1
    finally:
        c.close()


def to_html(s: Snapshot) -> str:
    """The snapshot as three HTML tables with headings (what a saved notebook shows)."""
    def table(df: "pd.DataFrame", empty: str) -> str:
        return df.to_html(index=False, na_rep="", border=0) if len(df) else f"<p><i>{html.escape(empty)}</i></p>"

    return (f"<div><p><b>Kafka at {html.escape(s.bootstrap)}</b>, as of {s.taken} ({s.seconds:.1f} s to ask)</p>"
            f"<h4>Brokers</h4>{table(s.brokers, 'no brokers answered')}"
            f"<h4>Topics</h4>{table(s.topics, 'no topics')}"
            f"<h4>Consumer groups</h4>{table(s.groups, 'no consumer groups')}</div>")


def to_text(s: Snapshot) -> str:
    """The snapshot as plain text (terminals, and the fallback of the saved output)."""
    return (f"Kafka at {s.bootstrap}, as of {s.taken}: {len(s.brokers)} broker(s), {len(s.topics)} topic(s), "
            f"{len(s.groups)} consumer group(s)\n\nTopics\n{s.topics.to_string(index=False) if len(s.topics) else '-'}"
            f"\n\nConsumer groups\n{s.groups.to_string(index=False) if len(s.groups) else '-'}")


class Inspector:
    """The panel: a Refresh button, the time of the last snapshot, and the tables."""

    def __init__(self, conn: Any, **snapshot_args: Any) -> None:
        import ipywidgets as W

        self.conn, self.args = conn, snapshot_args
        self.button = W.Button(description="Refresh", icon="refresh", tooltip="ask the cluster again")
        self.status = W.HTML()
        self.tables = W.HTML()
        self.widget = W.VBox([W.HBox([self.button, self.status]), self.tables])
        self.button.on_click(lambda _b: self.refresh())
        self.last: Snapshot | None = None
        self.refresh()

    def refresh(self) -> Snapshot:
        """Ask the cluster again and redraw; returns the new snapshot."""
        self.status.value = "<i>asking the cluster...</i>"
        try:
            self.last = snapshot(self.conn, **self.args)
            self.tables.value = to_html(self.last)
            self.status.value = f"<span>last refreshed {self.last.taken}</span>"
        except Exception as exc:  # keep the panel alive: say what happened and what to do
            self.status.value = (f"<span style='color:#b00'>{html.escape(type(exc).__name__)}: "
                                 f"{html.escape(str(exc))[:200]} (is the broker up? make doctor)</span>")
        return self.last  # type: ignore[return-value]

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle = dict(self.widget._repr_mimebundle_(include=include, exclude=exclude) or {})
        if self.last is not None:  # the saved notebook (GitHub, untrusted JupyterLab) shows these
            bundle["text/html"] = to_html(self.last)
            bundle["text/plain"] = to_text(self.last)
        return bundle


def inspector(conn: Any, **snapshot_args: Any) -> Inspector:
    """An inspector panel for the cluster behind ``conn`` (a conn str, a broker handle or a Connection)."""
    return Inspector(conn, **snapshot_args)
