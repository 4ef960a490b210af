"""Charts for the lessons (altair), readable in JupyterLab, on GitHub and in a fresh untrusted clone.

:func:`use_workbook_renderer` makes every altair chart carry four representations:

- ``application/vnd.vegalite.v5+json``: the spec, drawn live (with tooltips) by JupyterLab's own
  Vega extension, which handles Vega-Lite 3 to 5 and is marked safe, so it draws in an untrusted
  notebook too. That is why altair is pinned to 5.x: altair 6 emits Vega-Lite v6, for which
  JupyterLab 4.6 has no renderer.
- ``image/png`` and ``image/svg+xml``: static pictures rendered locally by vl-convert (GitHub and
  nbviewer show the PNG; a trusted JupyterLab without the Vega extension shows the SVG).
- ``text/plain``: one line naming the chart, for terminals.

Each chart gets a ``description`` (its title unless it has one), which Vega writes into the SVG's
``aria-label``: the alt text a screen reader reads. Nothing is fetched from a CDN at run time.
"""
from __future__ import annotations

import base64

import altair as alt

_RENDERER = "workbook"
#: the Vega-Lite version vl-convert compiles with: altair's own (5.20 for altair 5.5)
VL_VERSION = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])


def chart_title(spec: dict) -> str:
    """The chart's title (or description) as one line of text."""
    title = spec.get("title")
    if isinstance(title, dict):
        title = title.get("text")
    if isinstance(title, list):
        title = " ".join(map(str, title))
    return str(title or spec.get("description") or "chart")


def mime_bundle(spec: dict) -> dict[str, object]:
    """The output bundle for one Vega-Lite spec: live spec, PNG, SVG and a text line."""
    spec = dict(spec)
    spec.setdefault("description", chart_title(spec))
    major = alt.SCHEMA_VERSION.lstrip("v").split(".")[0]
    bundle: dict[str, object] = {f"application/vnd.vegalite.v{major}+json": spec,
                                 "text/plain": f"<chart: {chart_title(spec)}>"}
    try:
        import vl_convert as vlc

        bundle["image/svg+xml"] = _with_alt(vlc.vegalite_to_svg(spec, vl_version=VL_VERSION), spec["description"])
        bundle["image/png"] = base64.b64encode(compact_png(vlc.vegalite_to_png(spec, vl_version=VL_VERSION))).decode()
    except Exception:  # no static copy is better than no chart: the live spec still draws
        pass
    return bundle


def _with_alt(svg: str, alt_text: str) -> str:
    """The SVG with its alt text: ``role="img"``, ``aria-label`` and a ``<title>`` on the root element."""
    from html import escape

    label = escape(alt_text, quote=True)
    head, sep, rest = svg.partition(">")
    if not head.startswith("<svg") or "aria-label" in head:
        return svg
    return f'{head} role="img" aria-label="{label}"{sep}<title>{label}</title>{rest}'


def compact_png(raw: bytes, colors: int = 64) -> bytes:
    """The PNG with a 64-colour palette: a chart's flat colours survive, the file is ~15x smaller
    (anti-aliased edges otherwise make every stored chart weigh 100-150 kB)."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(raw)).convert("RGBA").quantize(colors=colors, method=Image.Quantize.FASTOCTREE).save(
        out, "PNG", optimize=True)
    return out.getvalue()


def png_from_svg(svg: str) -> str:
    """A base64 PNG of a stored chart's SVG (for outputs saved before the PNG was part of the bundle)."""
    import vl_convert as vlc

    return base64.b64encode(compact_png(vlc.svg_to_png(svg))).decode()


def _render(spec: dict, **kwargs: object) -> dict:
    return mime_bundle(spec)


def use_workbook_renderer() -> None:
    """Register and enable the renderer that adds PNG/SVG copies to every chart (idempotent)."""
    if _RENDERER not in alt.renderers.names():
        alt.renderers.register(_RENDERER, _render)
    alt.renderers.enable(_RENDERER)
    alt.data_transformers.disable_max_rows()


# --------------------------------------------------------------------------- lesson charts (01-03)
# Each function returns an altair chart with a title and axis units; data comes from the helpers
# that ran it on the broker (pandas DataFrames or plain lists).

_WIDTH = 520


def paradigms_chart(df) -> alt.Chart:
    """When each event's result became visible, per paradigm (from :func:`helpers.paradigms.run`)."""
    base = alt.Chart(df).encode(y=alt.Y("paradigm:N", title=None, sort=["request/response", "stream", "batch"]))
    happened = base.mark_tick(color="#bbbbbb", thickness=1, size=28).encode(
        x=alt.X("happened_s:Q", title="time since the first event (s)"))
    result = base.mark_circle(opacity=0.8).encode(
        x="result_s:Q", color=alt.Color("paradigm:N", legend=None),
        size=alt.Size("count():Q", title="results at once", scale=alt.Scale(range=[40, 600])),
        tooltip=["paradigm:N", alt.Tooltip("count():Q", title="results"),
                 alt.Tooltip("result_s:Q", format=".2f", title="visible at (s)")])
    return (happened + result).properties(
        width=_WIDTH, height=150,
        title={"text": "When results appear: grey ticks = events happening, dots = their results visible",
               "subtitle": "same events, same topic; only the processing style differs"})


def delay_chart(df) -> alt.Chart:
    """Distribution of result delays per paradigm (bar = median, ticks = each event)."""
    base = alt.Chart(df).encode(y=alt.Y("paradigm:N", title=None, sort=["request/response", "stream", "batch"]))
    return (base.mark_bar(opacity=0.3).encode(x=alt.X("median(delay_s):Q", title="delay from event to result (s)"))
            + base.mark_tick().encode(x="delay_s:Q", color=alt.Color("paradigm:N", legend=None))).properties(
        width=_WIDTH, height=120, title="Delay from event to result, per event (s)")


def pipeline_chart(sources: list[str], sinks: list[str]) -> alt.HConcatChart:
    """Point-to-point pipelines (every source wired to every sink) next to one central log."""
    import pandas as pd

    def column(names: list[str], x: float) -> list[dict]:
        n = len(names)
        return [{"name": s, "x": x, "y": (i + 0.5) / n} for i, s in enumerate(names)]

    src, dst = column(sources, 0.0), column(sinks, 1.0)
    hub = {"name": "Kafka (the log)", "x": 0.5, "y": 0.5}
    p2p = [{"edge": f"{a['name']}>{b['name']}", "x": e["x"], "y": e["y"]} for a in src for b in dst for e in (a, b)]
    star = [{"edge": f"{a['name']}>hub", "x": e["x"], "y": e["y"]} for a in src + dst for e in (a, hub)]

    def panel(edges: list[dict], nodes: list[dict], title: str) -> alt.LayerChart:
        scale_x = alt.Scale(domain=[-0.35, 1.35])
        scale_y = alt.Scale(domain=[0, 1.08])  # head room: the top node's label sits above its dot
        lines = alt.Chart(pd.DataFrame(edges)).mark_line(opacity=0.5, strokeWidth=1.2).encode(
            x=alt.X("x:Q", scale=scale_x, axis=None), y=alt.Y("y:Q", scale=scale_y, axis=None), detail="edge:N")
        pts = alt.Chart(pd.DataFrame(nodes))
        dots = pts.mark_circle(size=260, color="#4c78a8", opacity=1).encode(x="x:Q", y="y:Q")
        labels = pts.mark_text(dy=-15, fontSize=11).encode(x="x:Q", y="y:Q", text="name:N")
        return (lines + dots + labels).properties(width=260, height=260, title=title)

    n_edges_p2p = len(sources) * len(sinks)
    n_edges_log = len(sources) + len(sinks)
    left = panel(p2p, src + dst, f"point to point: {len(sources)} x {len(sinks)} = {n_edges_p2p} pipelines")
    right = panel(star, src + dst + [hub], f"central log: {len(sources)} + {len(sinks)} = {n_edges_log} connections")
    return alt.hconcat(left, right).properties(
        title={"text": "Data pipelines: everything wired to everything, or everything to one log",
               "subtitle": "left: producers (sources), right: consumers (sinks)"})


def log_chart(end_offset: int, positions: dict[str, int], low: int = 0, title: str | None = None) -> alt.LayerChart:
    """A partition's log as a row of cells (offset low..end-1) with each reader's position marked."""
    import pandas as pd

    cells = pd.DataFrame({"offset": list(range(low, end_offset))})
    cells["read by"] = cells["offset"].map(lambda o: ", ".join(n for n, p in positions.items() if o < p) or "nobody")
    x = alt.X("offset:O", title="offset in partition 0 (each cell is one message)")
    boxes = alt.Chart(cells).mark_rect(stroke="white", strokeWidth=2).encode(
        x=x, color=alt.Color("read by:N", title="already read by"), tooltip=["offset", "read by"])
    text = alt.Chart(cells).mark_text(fontSize=10, color="white").encode(x=x, text="offset:O")
    return (boxes + text).properties(
        width=max(260, 26 * (end_offset - low)), height=40,
        title=title or f"The log: {end_offset - low} messages, append-only; each reader has its own position "
                       f"({', '.join(f'{n} at {p}' for n, p in positions.items())}; next write: {end_offset})")


def positions_chart(positions: dict[str, int], end_offset: int) -> alt.LayerChart:
    """Each reader's position as a bar against the log end offset (messages)."""
    import pandas as pd

    df = pd.DataFrame([{"reader": n, "position": p, "behind": end_offset - p} for n, p in positions.items()])
    bars = alt.Chart(df).mark_bar().encode(
        y=alt.Y("reader:N", title=None), x=alt.X("position:Q", title="position = next offset to read (messages)",
                                                  scale=alt.Scale(domain=[0, end_offset])),
        tooltip=["reader", "position", "behind"])
    end = alt.Chart(pd.DataFrame({"end": [end_offset]})).mark_rule(color="red", strokeDash=[4, 3]).encode(x="end:Q")
    return (bars + end).properties(width=_WIDTH, height=70,
                                   title=f"Reader positions; red line = log end offset {end_offset}")


def window_counts_chart(rows: list[dict], field: str, title: str = "Live page views per 1 s window") -> alt.Chart:
    """Stacked counts per tumbling window (from :func:`helpers.events.live_aggregate`)."""
    import pandas as pd

    df = pd.DataFrame(rows, columns=["window", field, "count"])
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("window:O", title="window start (s of event time)"),
        y=alt.Y("sum(count):Q", title="events in the window"),
        color=alt.Color(f"{field}:N"), tooltip=["window:O", f"{field}:N", "count:Q"]).properties(
        width=_WIDTH, height=200, title=f"{title} ({int(df['count'].sum()) if len(df) else 0} events so far)")


def log_levels_chart(df, title: str = "Log lines per service, by level") -> alt.Chart:
    """Stacked bars of log lines per service and level (from :func:`helpers.events.level_counts`);
    ERROR in red, so the service that needs attention stands out."""
    levels = [c for c in df.columns if c != "total"]
    long = df[levels].reset_index().melt(id_vars="service", var_name="level", value_name="lines")
    palette = {"DEBUG": "#c7c7c7", "INFO": "#9ecae1", "WARN": "#fdae6b", "ERROR": "#d62728"}
    return alt.Chart(long).mark_bar().encode(
        y=alt.Y("service:N", title=None), x=alt.X("sum(lines):Q", title="log lines"),
        color=alt.Color("level:N", sort=levels, scale=alt.Scale(domain=levels, range=[palette.get(lv, "#888888")
                                                                                     for lv in levels])),
        order=alt.Order("level_order:Q"), tooltip=["service:N", "level:N", "lines:Q"]).transform_calculate(
        level_order=f"indexof({levels!r}, datum.level)").properties(width=_WIDTH, height=120, title=title)


def partition_counts_chart(df, title: str = "Messages per partition") -> alt.Chart:
    """Bars of messages per partition; ``df`` has columns partition, count and (optionally) how."""
    color = alt.Color("how:N", title=None) if "how" in df.columns else alt.value("#4c78a8")
    enc = dict(x=alt.X("partition:O", title="partition"), y=alt.Y("count:Q", title="messages"), color=color,
               tooltip=list(df.columns))
    chart = alt.Chart(df).mark_bar().encode(**enc)
    if "how" in df.columns:
        chart = chart.encode(xOffset="how:N")
    return chart.properties(width=_WIDTH, height=200, title=title)


def key_partition_chart(df, title: str = "Where each key's messages went") -> alt.Chart:
    """Heat map: key x partition -> messages (``df``: key, partition, count)."""
    return alt.Chart(df).mark_rect().encode(
        x=alt.X("partition:O", title="partition"), y=alt.Y("key:N", title="message key"),
        color=alt.Color("count:Q", title="messages"), tooltip=["key", "partition", "count"]).properties(
        width=260, height=200, title=title)


def ownership_chart(intervals, marks: list[dict] | None = None, title: str | None = None) -> alt.LayerChart:
    """Timeline: which member owned which partition when; vertical rules = joins and leaves."""
    import pandas as pd

    df = intervals.copy()
    df["partition"] = df["partition"].map(lambda p: f"p{p}")
    bars = alt.Chart(df).mark_bar(height=14, stroke="white").encode(
        x=alt.X("start:Q", title="time since the group started (s)"), x2="end:Q",
        y=alt.Y("partition:N", title="partition"), color=alt.Color("member:N", title="owned by"),
        tooltip=["member", "partition", alt.Tooltip("start:Q", format=".2f"), alt.Tooltip("end:Q", format=".2f")])
    layers = [bars]
    if marks:
        merged: list[dict] = []  # marks closer than 0.25 s share one rule and one label
        for mk in sorted(marks, key=lambda m: m["t"]):
            if merged and mk["t"] - merged[-1]["t"] < 0.25:
                merged[-1]["label"] += ", " + mk["label"]
            else:
                merged.append(dict(mk))
        m = pd.DataFrame(merged)
        layers.append(alt.Chart(m).mark_rule(strokeDash=[4, 3], color="black").encode(x="t:Q"))
        layers.append(alt.Chart(m).mark_text(angle=270, align="left", dx=4, dy=-4, fontSize=10).encode(
            x="t:Q", y=alt.value(0), text="label:N"))
    return alt.layer(*layers).properties(
        width=_WIDTH, height=max(120, 24 * df["partition"].nunique()),
        title=title or "Who owns which partition over time (gaps = a rebalance in progress)")


def assignment_chart(assignment: dict[str, list[int]], title: str = "Partition assignment now") -> alt.LayerChart:
    """One bar segment per partition, grouped by the member that owns it; idle members are listed too."""
    import pandas as pd

    df = pd.DataFrame([{"member": m, "partition": f"p{p}", "n": 1} for m, ps in assignment.items() for p in ps],
                      columns=["member", "partition", "n"])
    idle = pd.DataFrame([{"member": m, "n": 0, "label": "idle: no partition to read"}
                         for m, ps in assignment.items() if not ps], columns=["member", "n", "label"])
    most = max([len(ps) for ps in assignment.values()] + [1])
    y = alt.Y("member:N", title="consumer", sort=list(assignment))
    x = alt.X("sum(n):Q", title="partitions owned", scale=alt.Scale(domain=[0, most]),
              axis=alt.Axis(tickMinStep=1, format="d"))
    bars = alt.Chart(df).mark_bar(stroke="white").encode(
        y=y, x=x, color=alt.Color("partition:N"), tooltip=["member", "partition"])
    layers = [bars]
    if len(idle):
        layers.append(alt.Chart(idle).mark_text(align="left", dx=4, color="#666666", fontStyle="italic").encode(
            y=y, x=alt.X("n:Q"), text="label:N"))
    return alt.layer(*layers).properties(width=_WIDTH, height=30 * max(2, len(assignment)), title=title)


def lag_chart(lag_df, title: str = "Consumer lag: messages behind the log end, stacked by partition") -> alt.Chart:
    """Lag over time as stacked areas, one per partition, so the top edge is the group's total lag
    (from :meth:`GroupRunner.lag_frame`)."""
    df = lag_df.copy()
    df["partition"] = df["partition"].map(lambda p: f"p{p}")
    return alt.Chart(df).mark_area(opacity=0.85, interpolate="monotone").encode(
        x=alt.X("t:Q", title="time since the group started (s)"),
        y=alt.Y("lag:Q", title="lag (messages)", stack="zero"),
        color=alt.Color("partition:N"), tooltip=["t", "partition", "lag"]).properties(
        width=_WIDTH, height=200, title=title)


def delivery_chart(df) -> alt.LayerChart:
    """Lost and duplicated messages per commit strategy (from :func:`helpers.delivery.compare`)."""
    wide = df.reset_index()[["strategy", "lost", "duplicates"]]
    long = wide.melt(id_vars="strategy", var_name="outcome", value_name="count")
    wide = wide.assign(total=wide["lost"] + wide["duplicates"],
                       label=[f"{lo} lost, {du} duplicated" for lo, du in zip(wide["lost"], wide["duplicates"])])
    y = alt.Y("strategy:N", sort=list(df.index), title=None)
    bars = alt.Chart(long).mark_bar().encode(
        y=y, x=alt.X("count:Q", title="messages", scale=alt.Scale(domain=[0, max(10, int(wide["total"].max()) * 2)])),
        color=alt.Color("outcome:N", scale=alt.Scale(domain=["lost", "duplicates"], range=["#d62728", "#ff7f0e"]),
                        legend=alt.Legend(orient="bottom", title=None)),  # below: the labels need the right side
        yOffset="outcome:N", tooltip=["strategy", "outcome", "count"])
    labels = alt.Chart(wide).mark_text(align="left", dx=6, fontSize=11).encode(y=y, x="total:Q", text="label:N")
    return (bars + labels).properties(
        width=_WIDTH, height=260,
        title=f"What one crash cost each commit strategy ({int(df['messages'].iloc[0])} messages, one crash)")


def compaction_chart(before, after, title: str = "Log compaction: the same topic before and after the cleaner ran"
                     ) -> alt.Chart:
    """Records by offset and key, before and after compaction (lists of :class:`helpers.offsets.Record`)."""
    import pandas as pd

    rows = [{"when": w, "offset": r.offset, "key": r.key, "value": r.value}
            for w, recs in (("before", before), ("after", after)) for r in recs]
    df = pd.DataFrame(rows)
    return alt.Chart(df).mark_square(size=140).encode(
        x=alt.X("offset:Q", title="offset"), y=alt.Y("key:N", title="key"), color=alt.Color("key:N", legend=None),
        row=alt.Row("when:N", sort=["before", "after"], title=None), tooltip=["offset", "key", "value"]).properties(
        width=_WIDTH, height=90, title=title)
