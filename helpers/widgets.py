"""Interactive controls for lessons 01-03 (ipywidgets), each teaching one thing by letting you change it.

The lessons never depend on them: every widget is an extra next to a cell that runs the
same thing with fixed values, so a notebook also runs headless (nbval, nbconvert).
Each function returns the widget; Jupyter shows it when it is the cell's last expression.
"""
from __future__ import annotations

import ipywidgets as W
from IPython.display import clear_output, display

from . import charts, partitioning
from .connection import ConnLike


def _ensure_topic(conn: ConnLike, topic: str, partitions: int) -> int:
    """The topic's partition count; a topic the lesson's clean-up deleted is created again (and said so),
    so a widget used after "Run All" still works."""
    from .admin import create_topic, partition_count
    from .errors import WorkbookError

    try:
        count = partition_count(conn, topic)
    except WorkbookError:  # a missing topic may be an error rather than 0
        count = 0
    if count == 0:
        create_topic(conn, topic, partitions=partitions)
        print(f"{topic} was deleted by the clean-up cell: created it again with {partitions} partitions "
              "(the clean-up cell at the end deletes it)")
        count = partitions
    return count


def connections_explorer(sources: int = 3, sinks: int = 4) -> W.Widget:
    """Sliders for the number of source and sink systems; redraws point-to-point vs central log."""
    s = W.IntSlider(value=sources, min=1, max=8, description="sources")
    d = W.IntSlider(value=sinks, min=1, max=8, description="sinks")
    out = W.Output()

    def draw(*_: object) -> None:
        with out:
            clear_output(wait=True)
            display(charts.pipeline_chart([f"src{i + 1}" for i in range(s.value)],
                                          [f"sink{i + 1}" for i in range(d.value)]))

    s.observe(draw, "value")
    d.observe(draw, "value")
    draw()
    return W.VBox([W.HBox([s, d]), out])


def key_explorer(conn: ConnLike | None = None, topic: str | None = None, partitions: int = 4) -> W.Widget:
    """Type a key: see where Java/kafka-python (murmur2) and confluent-kafka (crc32) put it.

    With ``conn`` and ``topic`` a button also sends the key with both clients and reports
    the partitions the broker actually stored it in.
    """
    key = W.Text(value="user-42", description="key")
    n = W.IntSlider(value=partitions, min=1, max=12, description="partitions")
    result = W.HTML()
    send = W.Button(description="send with both clients", disabled=not (conn and topic),
                    layout=W.Layout(width="auto"))  # the whole label, not "send with both cl..."
    out = W.Output()

    def update(*_: object) -> None:
        k = key.value
        if not k:
            result.value = "<i>type a key</i>"
            return
        j = partitioning.java_partition(k, n.value)
        c = partitioning.librdkafka_partition(k, n.value)
        verdict = "they agree" if j == c else "they disagree"
        result.value = (f"Java &amp; kafka-python (murmur2): <b>partition {j}</b> &nbsp; "
                        f"confluent-kafka default (crc32): <b>partition {c}</b> &nbsp; ({verdict})")

    def on_send(_: object) -> None:
        with out:
            clear_output(wait=True)
            if not (conn and topic):
                return
            from .offsets import read

            try:
                count = _ensure_topic(conn, topic, partitions)
                for client in ("kafka-python", "confluent-kafka"):
                    partitioning.produce_keys(conn, topic, [key.value], client)
                seen = sorted({(r.value, r.partition) for r in read(conn, topic) if r.key == key.value})
            except Exception as exc:  # one line in the widget, never a traceback from a button
                print(f"sending failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
                return
            print(f"{topic} has {count} partitions; the broker stored {key.value!r} in:")
            for client, p in seen:
                print(f"  sent by {client}: partition {p}")

    key.observe(update, "value")
    n.observe(update, "value")
    send.on_click(on_send)
    update()
    return W.VBox([W.HBox([key, n]), result, send, out])


def group_size_explorer(conn: ConnLike, topic: str, partitions: int = 6) -> W.Widget:
    """Pick a number of consumers, press the button: a real group of that size joins ``topic``, and once
    it is stable the chart shows who got which partitions (more consumers than partitions leaves some
    idle). The group then leaves, and its committed offsets are deleted."""
    from .admin import delete_groups
    from .groups import GroupRunner

    n = W.IntSlider(value=3, min=1, max=8, description="consumers")
    run = W.Button(description="start a group this size", layout=W.Layout(width="auto"))
    out = W.Output()

    def on_run(_: object) -> None:
        run.disabled = True
        with out:
            clear_output(wait=True)
            try:
                _ensure_topic(conn, topic, partitions)
                with GroupRunner(conn, topic, max_seconds=30, lag_every=None) as runner:
                    for _ in range(n.value):
                        runner.add()
                    runner.wait_stable(timeout=15)
                    owned = runner.assignment_now()
                idle = [m for m, ps in owned.items() if not ps]
                display(charts.assignment_chart(owned, f"{n.value} consumers, {len(runner.partitions)} partitions"))
                if idle:
                    print(f"idle (no partition to read): {', '.join(idle)}")
                delete_groups(conn, runner.group)
            except Exception as exc:  # e.g. the topic was deleted by the clean-up cell: one line, no traceback
                print(f"{type(exc).__name__}: {exc}")
            finally:
                run.disabled = False

    run.on_click(on_run)
    return W.VBox([W.HBox([n, run]), out])
