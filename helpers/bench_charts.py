"""Charts for lesson 06 (the benchmark): altair specs built from :mod:`helpers.bench` frames.

Every chart has a title and units; throughput axes are logarithmic, because the clients differ by
factors of ten and more. Call :func:`helpers.charts.use_workbook_renderer` first in a notebook.
"""
from __future__ import annotations

import altair as alt
import pandas as pd

from .bench import CLIENTS, SWEEPS, load_2016

ROLE_ORDER = ["produce", "consume"]
_LEGEND = {"batch": "batch.size (bytes)", "linger": "linger.ms", "compression": "codec", "acks": "acks"}
_CLIENT_SORT = list(CLIENTS)


def then_and_now(summary: pd.DataFrame, label: str = "today") -> alt.Chart:
    """Grouped bars per client: the 2016 study's msgs/s beside today's median (with min-max whiskers), per role.

    Today's consume bars count the consumer's start-up (``with_startup``), as the 2016 clock did.
    """
    old = load_2016()[["client", "role", "msgs_per_s"]].assign(run="2016 study (Kafka 0.9)", low=None, high=None)
    now = summary.dropna(subset=["median"]).copy()
    consume = (now["role"] == "consume") & now["with_startup"].notna()
    for col, alt_col in (("median", "with_startup"), ("min", "with_startup_min"), ("max", "with_startup_max")):
        now[col] = now[col].where(~consume, now[alt_col])
    now = now[["client", "role", "median", "min", "max"]].rename(
        columns={"median": "msgs_per_s", "min": "low", "max": "high"}).assign(run=label)
    data = pd.concat([old, now], ignore_index=True)
    runs = [old["run"].iloc[0], label]
    base = alt.Chart().encode(  # data on the layer: a faceted layer needs it there, not on its parts
        x=alt.X("client:N", sort=_CLIENT_SORT, title=None, axis=alt.Axis(labelAngle=-30)),
        xOffset=alt.XOffset("run:N", sort=runs),
    )
    bars = base.mark_bar().encode(
        y=alt.Y("msgs_per_s:Q", scale=alt.Scale(type="log"), title="messages per second (log scale)", stack=None),
        color=alt.Color("run:N", sort=runs, title=None, legend=alt.Legend(orient="bottom")),
        tooltip=["client", "role", "run", alt.Tooltip("msgs_per_s:Q", format=",.0f")],
    )
    whiskers = base.mark_rule(color="black").encode(y="low:Q", y2="high:Q")
    return alt.layer(bars, whiskers, data=data).properties(width=300, height=260).facet(
        column=alt.Column("role:N", sort=ROLE_ORDER, title=None)
    ).properties(title=alt.Title("Throughput per client, 100-byte messages: 2016 beside today (whiskers: min-max)",
                                 subtitle="consume: today's time includes building and connecting the consumer, "
                                          "as the 2016 clock did"))


def fraction_of_java(summaries: dict[str, pd.DataFrame]) -> alt.Chart:
    """Each Python client's median as a fraction of the Java client's, per role; one bar per labelled run."""
    frames = []
    for run, s in summaries.items():
        frames.append(s[(s["client"] != "java") & s["of_java"].notna()][["client", "role", "of_java"]].assign(run=run))
    data = pd.concat(frames, ignore_index=True)
    runs = list(summaries)
    bars = alt.Chart().mark_bar().encode(
        y=alt.Y("client:N", sort=_CLIENT_SORT, title=None),
        yOffset=alt.YOffset("run:N", sort=runs),
        x=alt.X("of_java:Q", scale=alt.Scale(type="log"), axis=alt.Axis(format="%"), stack=None,
                title="fraction of Java's msgs/s (log scale)"),
        color=alt.Color("run:N", sort=runs, title=None, legend=alt.Legend(orient="bottom", labelLimit=600)),
        tooltip=["client", "role", "run", alt.Tooltip("of_java:Q", format=".1%")],
    )
    java = alt.Chart().mark_rule(color="black", strokeDash=[4, 3]).encode(x=alt.datum(1.0))
    return alt.layer(bars, java, data=data).properties(width=330, height=230).facet(
        column=alt.Column("role:N", sort=ROLE_ORDER, title=None)
    ).properties(title="Each Python client as a fraction of Kafka's Java client on the same broker (dashed: Java = 100%)")


def sweep_chart(df: pd.DataFrame, kind: str, roles: list[str] | None = None, title: str | None = None) -> alt.Chart:
    """One sweep (:data:`helpers.bench.SWEEPS`): throughput per client against the swept value.

    ``size`` plots MiB/s against the message size (both roles); the others plot the producer's
    msgs/s per setting. Failed points are left out: :func:`sweep_failures` lists them.
    """
    ok = df[(df["sweep"] == kind) & (df["status"] == "ok")].copy()
    key, values = SWEEPS[kind]
    order = [str(v) for v in values]
    if kind == "size":
        ok["value_n"] = ok["value"].astype(int)
        roles = roles or ROLE_ORDER
        ok = ok[ok["role"].isin(roles)]
        chart = alt.Chart(ok).mark_line(point=True).encode(
            x=alt.X("value_n:Q", scale=alt.Scale(type="log"), title="message size (bytes, log scale)",
                    axis=alt.Axis(values=[int(v) for v in values], format=",d")),
            y=alt.Y("mb_per_s:Q", scale=alt.Scale(type="log"), title="MiB per second (log scale)"),
            color=alt.Color("client:N", sort=_CLIENT_SORT, title="client"),
            tooltip=["client", "role", "value", alt.Tooltip("mb_per_s:Q", format=",.1f"),
                     alt.Tooltip("msgs_per_s:Q", format=",.0f")],
        ).properties(width=300, height=240).facet(column=alt.Column("role:N", sort=ROLE_ORDER, title=None))
        return chart.properties(title=title or "Message size: bytes per second grow with size, messages per second fall")
    roles = roles or ["produce"]
    ok = ok[ok["role"].isin(roles)]
    titles = {"linger": "linger.ms (ms the producer waits to fill a batch)",
              "batch": "batch.size (bytes per partition batch)",
              "compression": "compression codec", "acks": "acks (0: none, 1: leader, all: all in-sync replicas)"}
    chart = alt.Chart(ok).mark_bar().encode(
        x=alt.X("client:N", sort=_CLIENT_SORT, title=None, axis=alt.Axis(labelAngle=-30)),
        xOffset=alt.XOffset("value:N", sort=order),
        y=alt.Y("msgs_per_s:Q", scale=alt.Scale(type="log"), title="messages per second (log scale)", stack=None),
        color=alt.Color("value:N", sort=order, title=_LEGEND.get(kind, key)),
        tooltip=["client", "role", "value", alt.Tooltip("msgs_per_s:Q", format=",.0f")],
    ).properties(width=520, height=260)
    if len(roles) > 1:
        return chart.facet(row=alt.Row("role:N", sort=ROLE_ORDER, title=None)).properties(
            title=title or f"Settings sweep: {titles.get(kind, key)}")
    return chart.properties(title=title or f"{roles[0].capitalize()} throughput by {titles.get(kind, key)}")


def sweep_failures(df: pd.DataFrame, kind: str | None = None) -> pd.DataFrame:
    """The sweep points that did not produce a figure, with the client's real error."""
    bad = df[df["status"] != "ok"]
    if kind:
        bad = bad[bad["sweep"] == kind]
    return bad[["sweep", "client", "role", "value", "status", "error"]].drop_duplicates(
        subset=["sweep", "client", "value", "error"]).reset_index(drop=True)


__all__ = ["then_and_now", "fraction_of_java", "sweep_chart", "sweep_failures"]
