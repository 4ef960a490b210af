"""Run lesson 10's Faust app (:mod:`helpers.streams_app`) as a worker process, feed it, and read what it made.

Faust (the faust-streaming fork, maintained) is a stream processing library for Python on top of
aiokafka, modelled on Kafka Streams: agents consume streams, tables keep state in a changelog topic.
The worker runs in its own process with its own event loop (:func:`start`, :func:`stop`), so a notebook
cell never blocks on it; its log goes to a file in the run directory.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import broker
from .clients import ck_conf
from .connection import ConnLike, as_connection
from .errors import WorkbookError

if TYPE_CHECKING:
    import pandas as pd

TOPIC_ROLES = ("views", "clean", "per_minute", "users", "clicks", "enriched")


@dataclass
class StreamApp:
    """A running (or stopped) Faust worker of :mod:`helpers.streams_app`."""

    app_id: str
    conn: Any
    topics: dict[str, str]
    log_file: str
    proc: subprocess.Popen | None = field(default=None, repr=False)
    ready_seconds: float | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def changelogs(self) -> list[str]:
        """The changelog topics the app's tables keep on the broker."""
        from . import admin

        return sorted(t for t in admin.list_topics(self.conn) if t.startswith(self.app_id) and
                      t.endswith("-changelog"))

    def log_tail(self, lines: int = 15) -> list[str]:
        try:
            return Path(self.log_file).read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return []


def make_topics(conn: ConnLike, prefix: str = "streams") -> dict[str, str]:
    """Create the app's input and output topics (one partition each; ``users`` compacted); returns role -> name."""
    from . import admin

    names = {role: admin.unique_topic(f"{prefix}-{role.replace('_', '-')}") for role in TOPIC_ROLES}
    for role, name in names.items():
        # users is a table of profiles: compaction keeps the latest profile per user
        admin.create_topic(conn, name, partitions=1,
                           config={"cleanup.policy": "compact"} if role == "users" else None)
    return names


def start(conn: ConnLike, topics: dict[str, str], app_id: str | None = None, timeout: float = 90.0) -> StreamApp:
    """Start a Faust worker and wait (bounded) until it reports ready: its tables recovered, its agents running."""
    app_id = app_id or f"lesson10-{uuid.uuid4().hex[:6]}"
    rdir = broker.home() / "run" / f"faust-{app_id}"
    rdir.mkdir(parents=True, exist_ok=True)
    log_file = rdir / "worker.log"
    c = as_connection(conn)
    cfg = c.command_config()  # secured: the properties file the worker reads its connection from (from_cli)
    env = {**os.environ, "KFP_FAUST_ID": app_id, "KFP_FAUST_BROKER": c.bootstrap, "KFP_FAUST_CONFIG": str(cfg or ""),
           "KFP_FAUST_TOPICS": json.dumps(topics), "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "faust", "-A", "helpers.streams_app", "--datadir", str(rdir / "data"),
           "worker", "--loglevel", "info", "--without-web"]
    app = StreamApp(app_id, conn, topics, str(log_file))
    t0 = time.monotonic()
    with open(log_file, "ab") as log:
        app.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                    cwd=str(Path(__file__).resolve().parent.parent), start_new_session=True)
    deadline = time.monotonic() + timeout
    seen = log_file.stat().st_size if log_file.exists() else 0
    while time.monotonic() < deadline:
        if app.proc.poll() is not None:
            raise WorkbookError(f"the Faust worker exited (code {app.proc.returncode}): "
                                f"{' | '.join(app.log_tail(3))}"[:400], f"full log: {log_file}")
        text = log_file.read_text(errors="replace")[seen:] if log_file.exists() else ""
        if "Ready" in text and "[^Worker]" in text:
            app.ready_seconds = round(time.monotonic() - t0, 2)
            return app
        time.sleep(0.3)
    stop(app)
    raise WorkbookError(f"the Faust worker was not ready within {timeout:.0f} s", f"see {log_file}")


def stop(app: StreamApp, timeout: float = 20.0) -> bool:
    """Stop the worker (SIGTERM: Faust commits its offsets and flushes its changelogs) and wait; True if it ran."""
    if not app.running or app.proc is None:
        return False
    app.proc.send_signal(signal.SIGTERM)
    try:
        app.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        app.proc.kill()
        app.proc.wait(10)
    return True


# --------------------------------------------------------------------------- feeding and reading


def produce(conn: ConnLike, topic: str, records: list[tuple[str | None, dict, int | None]]) -> int:
    """Send ``(key, value, timestamp_ms)`` records as JSON; returns how many were delivered."""
    from confluent_kafka import Producer

    p = Producer(ck_conf(conn, {"linger.ms": 5}))
    done: list[int] = []
    for key, value, ts in records:
        kwargs: dict[str, Any] = {"timestamp": ts} if ts else {}
        p.produce(topic, json.dumps(value).encode(), key=key.encode() if key else None,
                  on_delivery=lambda err, _m: done.append(0 if err else 1), **kwargs)
    left = p.flush(15)
    if left:
        raise WorkbookError(f"{left} records not delivered to {topic}", "is the broker up? make doctor")
    return sum(done)


def page_views(n: int, minutes: int = 5, seed: int = 10, bots: float = 0.1, start_ms: int = 1_496_966_400_000
               ) -> list[tuple[str, dict, int]]:
    """``n`` page views spread over ``minutes`` minutes of event time (the talk's day), about ``bots`` of
    them from bots; pages end in '/' sometimes, which the stateless map trims."""
    import random

    rnd = random.Random(seed)
    pages = ["/talks/", "/schedule", "/", "/tickets/", "/sponsors"]
    out = []
    for i in range(n):
        user = f"bot-{rnd.randrange(3)}" if rnd.random() < bots else f"user-{rnd.randrange(20)}"
        ts = start_ms + int(i * minutes * 60_000 / n)
        out.append((user, {"user": user, "page": rnd.choices(pages, [5, 3, 2, 2, 1])[0]}, ts))
    return out


def read_values(conn: ConnLike, topic: str, timeout: float = 10.0) -> list[tuple[str | None, Any]]:
    """Every record of ``topic`` (partition 0) as ``(key, decoded JSON value)``, up to its end offset."""
    from .file_pipeline import read_records

    out: list[tuple[str | None, Any]] = []
    for key, value in read_records(conn, topic, timeout):
        try:
            decoded = json.loads(value) if value is not None else None
        except ValueError:
            decoded = value
        out.append((key.decode(errors="replace") if key is not None else None, decoded))
    return out


def wait_for(conn: ConnLike, topic: str, count: int, timeout: float = 30.0) -> list[tuple[str | None, Any]]:
    """Wait (bounded) until ``topic`` holds at least ``count`` records; returns them."""
    deadline = time.monotonic() + timeout
    got = read_values(conn, topic)
    while len(got) < count and time.monotonic() < deadline:
        time.sleep(0.5)
        got = read_values(conn, topic)
    return got


def window_counts(conn: ConnLike, per_minute_topic: str) -> "pd.DataFrame":
    """The latest count per (page, minute) the app published: a DataFrame page, minute, views."""
    import pandas as pd

    latest: dict[tuple[str, int], int] = {}
    for _key, v in read_values(conn, per_minute_topic):
        if isinstance(v, dict):
            latest[(v["page"], v["window_start"])] = v["count"]
    rows = [{"page": p, "minute": pd.Timestamp(s, unit="s", tz="UTC").strftime("%H:%M"), "views": c}
            for (p, s), c in sorted(latest.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
    return pd.DataFrame(rows, columns=["page", "minute", "views"])


def window_chart(df: "pd.DataFrame", title: str = "Page views per minute (event time), counted by the Faust app") -> Any:
    """Stacked bars: views per minute, coloured by page."""
    import altair as alt

    return alt.Chart(df).mark_bar().encode(
        x=alt.X("minute:O", title="minute (UTC, 2017-06-09)"), y=alt.Y("views:Q", title="page views", stack="zero"),
        color=alt.Color("page:N"), tooltip=["minute", "page", "views"]).properties(width=420, height=220, title=title)
