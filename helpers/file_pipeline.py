"""Lesson 10's Connect pipeline: a growing log file -> FileStreamSource (+ SMTs) -> topic -> FileStreamSink -> file.

:class:`LogWriter` appends numbered lines to a file at a steady rate (an application writing its log);
:func:`source_config` and :func:`sink_config` are the two connectors' configurations; :func:`count_topic`
and :func:`count_file` count which line numbers arrived, how often, and which are missing, so the
crash-and-resume demo is counted, not claimed.
"""
from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .clients import ck_conf
from .connection import ConnLike

SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"
SINK = "org.apache.kafka.connect.file.FileStreamSinkConnector"


class LogWriter:
    """A thread appending ``line <n> ...`` to ``path``, ``rate`` lines per second, until ``total`` lines."""

    def __init__(self, path: str | Path, total: int, rate: float = 200.0, start: int = 0) -> None:
        self.path, self.total, self.rate = Path(path), total, rate
        self.written = start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"logwriter-{self.path.name}")
        self._thread.start()

    def _run(self) -> None:
        t0 = time.monotonic()
        with open(self.path, "a", buffering=1) as fh:
            while self.written < self.total and not self._stop.is_set():
                due = int((time.monotonic() - t0) * self.rate) + 1
                while self.written < min(due, self.total):
                    fh.write(f"line {self.written} GET /page/{self.written % 7} 200\n")
                    self.written += 1
                fh.flush()
                self._stop.wait(0.02)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float = 60.0) -> int:
        """Wait (bounded) until every line is written; returns how many were."""
        self._thread.join(timeout)
        return self.written

    def stop(self, timeout: float = 5.0) -> int:
        self._stop.set()
        self._thread.join(timeout)
        return self.written

    def __enter__(self) -> "LogWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def source_config(path: str | Path, topic: str, origin: str = "web-1") -> dict[str, Any]:
    """FileStreamSource reading ``path`` into ``topic``, with two Single Message Transforms on the way:
    HoistField wraps each line into ``{"line": ...}``, InsertField adds ``"origin": <origin>``."""
    return {
        "connector.class": SOURCE, "tasks.max": 1, "file": str(path), "topic": topic,
        "transforms": "wrap,tag",
        "transforms.wrap.type": "org.apache.kafka.connect.transforms.HoistField$Value",
        "transforms.wrap.field": "line",
        "transforms.tag.type": "org.apache.kafka.connect.transforms.InsertField$Value",
        "transforms.tag.static.field": "origin", "transforms.tag.static.value": origin,
    }


def sink_config(topic: str, path: str | Path) -> dict[str, Any]:
    """FileStreamSink writing every record of ``topic`` as one line of ``path``. The connector's own value
    converter (StringConverter) hands it the record's JSON text as it is; with the worker's JsonConverter it
    would write Java's ``{line=..., origin=...}``."""
    return {"connector.class": SINK, "tasks.max": 1, "topics": topic, "file": str(path),
            "value.converter": "org.apache.kafka.connect.storage.StringConverter"}


@dataclass
class Count:
    """Which of the lines 0..expected-1 arrived: how many records, distinct, duplicated, missing."""

    where: str
    records: int
    distinct: int
    duplicates: int
    missing: int
    expected: int

    def as_row(self) -> dict[str, Any]:
        return {"where": self.where, "expected lines": self.expected, "records": self.records,
                "distinct lines": self.distinct, "duplicates": self.duplicates, "missing": self.missing}


def _line_no(text: str) -> int | None:
    """The n of ``line <n> ...``, found in a plain line or in the JSON the sink writes."""
    if text.startswith("{"):
        try:
            text = json.loads(text).get("line", "")
        except ValueError:
            return None
    parts = text.split()
    return int(parts[1]) if len(parts) > 1 and parts[0] == "line" and parts[1].isdigit() else None


def _count(where: str, numbers: list[int], expected: int) -> Count:
    seen = Counter(numbers)
    return Count(where, len(numbers), len(seen), sum(c - 1 for c in seen.values()),
                 sum(1 for n in range(expected) if n not in seen), expected)


def read_records(conn: ConnLike, topic: str, timeout: float = 20.0, isolation: str = "read_committed"
                 ) -> list[tuple[bytes | None, bytes | None]]:
    """Every record of ``topic`` (partition 0) as raw ``(key, value)``, up to the end of the partition
    (``isolation``: ``read_committed`` skips aborted transactions). Lesson 10's one read-to-EOF loop
    (:func:`read_topic` and ``streams.read_values`` decode what it returns)."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer(ck_conf(conn, {"group.id": "unused", "enable.auto.commit": False,
                                "isolation.level": isolation, "enable.partition.eof": True}))
    out: list[tuple[bytes | None, bytes | None]] = []
    try:
        low, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        if high <= low:
            return out
        c.assign([TopicPartition(topic, 0, low)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == -191:  # partition EOF: everything committed so far is read
                    break
                continue
            out.append((msg.key(), msg.value()))
    finally:
        c.close()
    return out


def read_topic(conn: ConnLike, topic: str, timeout: float = 20.0, isolation: str = "read_committed") -> list[dict]:
    """Every record of ``topic`` (partition 0) as decoded JSON, as a ``read_committed`` consumer sees it."""
    out: list[dict] = []
    for _key, value in read_records(conn, topic, timeout, isolation):
        try:
            out.append(json.loads(value or b""))
        except ValueError:
            out.append({"line": (value or b"").decode(errors="replace")})
    return out


def count_topic(conn: ConnLike, topic: str, expected: int) -> Count:
    """Count the lines that reached ``topic`` (a read_committed consumer: aborted transactions do not count)."""
    numbers = [n for r in read_topic(conn, topic) if (n := _line_no(str(r.get("line", "")))) is not None]
    return _count(f"topic {topic}", numbers, expected)


def count_file(path: str | Path, expected: int) -> Count:
    """Count the lines in a file (the source file, or what the sink connector wrote)."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        lines = []
    numbers = [n for ln in lines if (n := _line_no(ln)) is not None]
    return _count(f"file {Path(path).name}", numbers, expected)


def wait_for_lines(conn: ConnLike, topic: str, expected: int, timeout: float = 60.0) -> Count:
    """Wait (bounded) until ``topic`` holds every one of the ``expected`` lines; returns the last count."""
    from .clients import end_offsets

    deadline = time.monotonic() + timeout
    count = count_topic(conn, topic, expected)
    while count.missing and time.monotonic() < deadline:
        time.sleep(1.0)
        if sum(end_offsets(conn, topic).values()) >= expected:
            count = count_topic(conn, topic, expected)
    return count


def wait_for_file(path: str | Path, expected: int, timeout: float = 30.0) -> Count:
    """Wait (bounded) until the file holds every one of the ``expected`` lines; returns the last count."""
    deadline = time.monotonic() + timeout
    count = count_file(path, expected)
    while count.missing and time.monotonic() < deadline:
        time.sleep(0.5)
        count = count_file(path, expected)
    return count
