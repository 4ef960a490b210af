"""Charts for lesson 06 (the benchmark): altair specs built from :mod:`helpers.bench` frames.

Every chart has a title, units and the run's environment stamp (:func:`helpers.bench.stamp`) as its
subtitle; whiskers are the min and max of the repetitions. Throughput axes are logarithmic where the
clients differ by factors of ten, linear where the text compares close values.
Call :func:`helpers.charts.use_workbook_renderer` first in a notebook.
"""
from __future__ import annotations

import altair as alt
import pandas as pd

from .bench import CLIENTS, SWEEPS, load_2016

ROLE_ORDER = ["produce", "consume"]
PROFILE_ORDER = ["defaults", "tuned"]
_CLIENT_SORT = list(CLIENTS)


def _title(text: str, stamp: str | None) -> alt.Title:
    return alt.Title(text, subtitle=stamp or "")


def profiles_chart(summary: pd.DataFrame, stamp: str | None = None) -> alt.Chart:
    """Median msgs/s per client, defaults beside tuned, per role (log scale; whiskers: min-max of the repetitions)."""
    data = summary.dropna(subset=["median"])[["client", "profile", "role", "median", "min", "max"]]
    base = alt.Chart().encode(
        x=alt.X("client:N", sort=_CLIENT_SORT, title=None, axis=alt.Axis(labelAngle=-30)),
        xOffset=alt.XOffset("profile:N", sort=PROFILE_ORDER),
    )
    bars = base.mark_bar().encode(
        y=alt.Y("median:Q", scale=alt.Scale(type="log"), title="messages per second (log scale)"),
        color=alt.Color("profile:N", sort=PROFILE_ORDER, title="profile", legend=alt.Legend(orient="bottom")),
        tooltip=["client", "profile", "role", alt.Tooltip("median:Q", format=",.0f"),
                 alt.Tooltip("min:Q", format=",.0f"), alt.Tooltip("max:Q", format=",.0f")],
    )
    whiskers = base.mark_rule(color="black").encode(y="min:Q", y2="max:Q")
    return alt.layer(bars, whiskers, data=data).properties(width=320, height=240).facet(
        column=alt.Column("role:N", sort=ROLE_ORDER, title=None)
    ).properties(title=_title("Throughput per client, 100-byte messages: defaults beside tuned "
                              "(median of the repetitions; whiskers: min-max)", stamp))


def ratio_chart(summary: pd.DataFrame, stamp: str | None = None) -> alt.Chart:
    """Each client's per-repetition ratio to Java in the same profile: median dot, min-max rule (log scale)."""
    data = summary.dropna(subset=["of_java"])
    data = data[data["client"] != "java"][["client", "profile", "role", "of_java", "of_java_min", "of_java_max"]]
    base = alt.Chart().encode(
        y=alt.Y("client:N", sort=_CLIENT_SORT, title=None),
        yOffset=alt.YOffset("profile:N", sort=PROFILE_ORDER),
        color=alt.Color("profile:N", sort=PROFILE_ORDER, title="profile", legend=alt.Legend(orient="bottom")),
    )
    dots = base.mark_point(filled=True, size=60).encode(
        x=alt.X("of_java:Q", scale=alt.Scale(type="log"), title="x Java's msgs/s, same profile and repetition "
                                                                "(log scale)"),
        tooltip=["client", "profile", "role", alt.Tooltip("of_java:Q", format=".2f"),
                 alt.Tooltip("of_java_min:Q", format=".2f"), alt.Tooltip("of_java_max:Q", format=".2f")])
    rules = base.mark_rule().encode(x="of_java_min:Q", x2="of_java_max:Q")
    one = alt.Chart().mark_rule(color="black", strokeDash=[4, 3]).encode(x=alt.datum(1.0))
    return alt.layer(rules, dots, one, data=data).properties(width=300, height=260).facet(
        column=alt.Column("role:N", sort=ROLE_ORDER, title=None)
    ).properties(title=_title("Each client against Java in the same profile (dashed: Java; dot: median of the "
                              "per-run ratios; line: their min-max)", stamp))


def cpu_chart(summary: pd.DataFrame, stamp: str | None = None) -> alt.Chart:
    """CPU seconds per million messages, the client's and the broker's, per client and profile (log scale)."""
    rows = []
    for r in summary.dropna(subset=["median"]).itertuples():
        for who, col in (("client", "client_cpu_per_M"), ("broker", "broker_cpu_per_M")):
            v = getattr(r, col)
            if v == v and v is not None and v > 0:
                rows.append({"client": r.client, "profile": r.profile, "role": r.role, "whose CPU": who,
                             "cpu_s_per_M": v, "variant": f"{r.profile}"})
    data = pd.DataFrame(rows)
    return alt.Chart(data).mark_bar().encode(
        x=alt.X("client:N", sort=_CLIENT_SORT, title=None, axis=alt.Axis(labelAngle=-30)),
        xOffset=alt.XOffset("profile:N", sort=PROFILE_ORDER),
        y=alt.Y("cpu_s_per_M:Q", scale=alt.Scale(type="log"), title="CPU seconds per million messages (log)"),
        color=alt.Color("profile:N", sort=PROFILE_ORDER, title="profile", legend=alt.Legend(orient="bottom")),
        tooltip=["client", "profile", "role", "whose CPU", alt.Tooltip("cpu_s_per_M:Q", format=".2f")],
    ).properties(width=300, height=200).facet(
        column=alt.Column("role:N", sort=ROLE_ORDER, title=None),
        row=alt.Row("whose CPU:N", sort=["client", "broker"], title=None),
    ).properties(title=_title("What each message costs in CPU (median of the repetitions): steadier than msgs/s on a "
                              "shared machine", stamp))


def then_and_now(summary: pd.DataFrame, stamp: str | None = None) -> alt.Chart:
    """The 2016 study's msgs/s beside today's defaults-profile medians (whiskers: min-max), per role."""
    old = load_2016()[["client", "role", "msgs_per_s"]].assign(run="2016 study (Kafka 0.9, laptop VM)",
                                                               low=None, high=None)
    now = summary[(summary["profile"] == "defaults") & summary["client"].isin(old["client"])].dropna(
        subset=["median"])
    now = now[["client", "role", "median", "min", "max"]].rename(
        columns={"median": "msgs_per_s", "min": "low", "max": "high"}).assign(run="today, defaults profile")
    data = pd.concat([old, now], ignore_index=True)
    runs = [old["run"].iloc[0], "today, defaults profile"]
    base = alt.Chart().encode(
        x=alt.X("client:N", sort=_CLIENT_SORT, title=None, axis=alt.Axis(labelAngle=-30)),
        xOffset=alt.XOffset("run:N", sort=runs),
    )
    bars = base.mark_bar().encode(
        y=alt.Y("msgs_per_s:Q", scale=alt.Scale(type="log"), title="messages per second (log scale)", stack=None),
        color=alt.Color("run:N", sort=runs, title=None, legend=alt.Legend(orient="bottom", labelLimit=300)),
        tooltip=["client", "role", "run", alt.Tooltip("msgs_per_s:Q", format=",.0f")],
    )
    whiskers = base.mark_rule(color="black").encode(y="low:Q", y2="high:Q")
    return alt.layer(bars, whiskers, data=data).properties(width=260, height=240).facet(
        column=alt.Column("role:N", sort=ROLE_ORDER, title=None)
    ).properties(title=_title("2016 beside today, 100-byte messages, each client at its defaults "
                              "(different hardware: compare order and ratios)", stamp))


def sweep_chart(df: pd.DataFrame, kind: str, stamp: str | None = None, title: str | None = None) -> alt.Chart:
    """One sweep: median per client and point with min-max whiskers over the repetitions, both roles if measured.

    ``size`` plots MiB/s (bytes matter there); ``partitions`` and the producer settings plot msgs/s on a
    linear scale, so the small differences the text discusses are visible. Failed points are left out."""
    ok = df[(df["sweep"] == kind) & (df["status"] == "ok")].copy()
    key, values = SWEEPS[kind]
    order = [str(v) for v in values]
    metric, label = ("mb_per_s", "MiB per second") if kind == "size" else ("msgs_per_s", "messages per second")
    g = ok.groupby(["client", "role", "value"])[metric].agg(["median", "min", "max", "count"]).reset_index()
    base = alt.Chart().encode(
        x=alt.X("value:N", sort=order, title={"size": "message size (bytes)", "partitions": "partitions"}.get(
            kind, key), axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("client:N", sort=_CLIENT_SORT),
        color=alt.Color("client:N", sort=_CLIENT_SORT, title="client", legend=alt.Legend(orient="bottom")),
    )
    bars = base.mark_bar().encode(
        y=alt.Y("median:Q", title=f"{label} (median of {int(g['count'].max()) if len(g) else 0} runs)"),
        tooltip=["client", "role", "value", alt.Tooltip("median:Q", format=",.1f"), alt.Tooltip("min:Q", format=",.1f"),
                 alt.Tooltip("max:Q", format=",.1f"), "count"])
    whiskers = base.mark_rule(color="black").encode(y="min:Q", y2="max:Q")
    chart = alt.layer(bars, whiskers, data=g).properties(width=260, height=220)
    if g["role"].nunique() > 1:
        chart = chart.facet(column=alt.Column("role:N", sort=ROLE_ORDER, title=None))
    default = {"size": "Message size: confluent-kafka and Java, tuned, batch.size matched at 1,000,000 bytes",
               "partitions": "Partitions on one broker: confluent-kafka and Java, tuned, 100-byte messages"}
    return chart.properties(title=_title(title or default.get(kind, f"Sweep: {key}"), stamp))


def sweep_failures(df: pd.DataFrame, kind: str | None = None) -> pd.DataFrame:
    """The sweep points that did not produce a figure, with the client's real error."""
    bad = df[df["status"] != "ok"]
    if kind:
        bad = bad[bad["sweep"] == kind]
    return bad[["sweep", "client", "role", "value", "status", "error"]].drop_duplicates(
        subset=["sweep", "client", "value", "error"]).reset_index(drop=True)


__all__ = ["profiles_chart", "ratio_chart", "cpu_chart", "then_and_now", "sweep_chart", "sweep_failures"]
