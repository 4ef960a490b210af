"""Lesson charts (helpers.charts) and widgets (helpers.widgets): they build, carry titles, and render to SVG."""
from __future__ import annotations

import pandas as pd
import vl_convert as vlc

from helpers import charts, offsets, widgets


def _title(chart) -> str:
    t = chart.to_dict().get("title")
    return t if isinstance(t, str) else t["text"]


def test_every_chart_has_a_title_and_renders():
    rec = offsets.Record
    built = [
        charts.pipeline_chart(["a", "b"], ["x", "y", "z"]),
        charts.log_chart(10, {"fast": 8, "slow": 3}),
        charts.positions_chart({"fast": 8, "slow": 3}, 10),
        charts.window_counts_chart([], "page"),
        charts.window_counts_chart([{"window": 0.0, "page": "/", "count": 3}], "page"),
        charts.partition_counts_chart(pd.DataFrame({"partition": [0, 1], "count": [3, 4], "how": ["a", "a"]})),
        charts.key_partition_chart(pd.DataFrame({"key": ["a"], "partition": [0], "count": [3]})),
        charts.ownership_chart(pd.DataFrame({"member": ["c1"], "partition": [0], "start": [0.0], "end": [1.0]}),
                               [{"t": 0.1, "label": "c1 joins"}, {"t": 0.15, "label": "c2 joins"}]),
        charts.assignment_chart({"c1": [0, 1], "c2": []}),
        charts.lag_chart(pd.DataFrame({"t": [0.0, 0.5], "partition": [0, 0], "lag": [3, 1]})),
        charts.delivery_chart(pd.DataFrame({"strategy": ["a"], "messages": [100], "lost": [5], "duplicates": [0]})
                              .set_index("strategy")),
        charts.compaction_chart([rec(0, 0, "k", "1", 0), rec(0, 1, "k", "2", 0)], [rec(0, 1, "k", "2", 0)]),
        charts.log_levels_chart(pd.DataFrame({"DEBUG": [1, 0], "ERROR": [2, 5], "total": [3, 5]},
                                             index=pd.Index(["api", "billing"], name="service"))),
    ]
    df = pd.DataFrame({"event": [0, 0], "paradigm": ["batch", "stream"], "happened_s": [0.0, 0.0],
                       "result_s": [1.0, 0.01], "delay_s": [1.0, 0.01]})
    built += [charts.paradigms_chart(df), charts.delay_chart(df)]
    for chart in built:
        assert _title(chart)
        assert vlc.vegalite_to_svg(chart.to_dict()).startswith("<svg")
    assert "2 x 3 = 6 pipelines" in str(built[0].to_dict()) and "2 + 3 = 5 connections" in str(built[0].to_dict())


def test_marks_close_together_share_a_label():
    c = charts.ownership_chart(pd.DataFrame({"member": ["c1"], "partition": [0], "start": [0.0], "end": [1.0]}),
                               [{"t": 0.1, "label": "c1 joins"}, {"t": 0.15, "label": "c2 joins"}])
    assert "c1 joins, c2 joins" in str(c.to_dict())


def test_widgets_build_without_a_front_end(bootstrap, topic):
    import ipywidgets as W

    assert isinstance(widgets.connections_explorer(2, 3), W.VBox)
    k = widgets.key_explorer(partitions=4)
    html = k.children[1]
    assert "partition" in html.value
    k.children[0].children[0].value = ""  # the key box emptied
    assert "type a key" in html.value
    g = widgets.group_size_explorer(bootstrap, topic)
    assert isinstance(g, W.VBox) and "s" not in g.children[0].children[1].description.split()  # no promised time


def test_a_widget_recreates_the_topic_the_clean_up_deleted(bootstrap, capsys):
    from helpers import admin

    t = admin.create_topic(bootstrap, admin.unique_topic("t-explorer"), partitions=4)
    admin.delete_topic(bootstrap, t)
    try:
        k = widgets.key_explorer(bootstrap, t, partitions=4)
        k.children[2].click()  # "send with both clients", after the clean-up cell deleted the topic
        assert admin.partition_count(bootstrap, t) == 4
        assert sorted(r.key for r in offsets.read(bootstrap, t)) == ["user-42", "user-42"]  # both clients sent
        out = capsys.readouterr().out
        assert "created it again with 4 partitions" in out and "Traceback" not in out
    finally:
        admin.delete_topic(bootstrap, t)


def test_the_assignment_chart_counts_whole_partitions_and_shows_idle_members():
    spec = charts.assignment_chart({"c1": [0, 1], "c2": [2], "c3": []}).to_dict()
    text = str(spec)
    assert "idle: no partition to read" in text and "'tickMinStep': 1" in text
