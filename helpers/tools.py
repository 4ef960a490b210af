"""Kafka's own command-line tools (kafka-topics, kafka-consumer-groups, ...) run from the cached jars.

A Kafka distribution ships ``bin/kafka-topics.sh`` and friends; each is a thin shell script
that starts a JVM on one main class. The workbook has the jars but not the scripts, so
:func:`run` starts the same main classes directly: ``java -cp <jars>/* <MainClass> args``.
Every call has a timeout, and a failure becomes one WorkbookError line with the tool's own message.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import broker as _broker
from .connection import ConnLike, as_connection
from .errors import WorkbookError

#: script name (as in a Kafka 3.9 distribution's bin/) -> the main class it runs
MAIN_CLASSES: dict[str, str] = {
    "kafka-topics": "org.apache.kafka.tools.TopicCommand",
    "kafka-consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "kafka-get-offsets": "org.apache.kafka.tools.GetOffsetShell",
    "kafka-console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "kafka-console-producer": "kafka.tools.ConsoleProducer",
    "kafka-configs": "kafka.admin.ConfigCommand",
    "kafka-dump-log": "kafka.tools.DumpLogSegments",
}

# The tools log through log4j 1 (reload4j); without a config they print three "no appenders" warnings.
_TOOLS_LOG4J = """\
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
"""


@dataclass
class ToolResult:
    """What a tool printed, and how it ended."""

    command: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        """stdout as a list of non-empty lines."""
        return [line for line in self.stdout.splitlines() if line.strip()]

    def __str__(self) -> str:
        return self.stdout.rstrip()

    def _repr_pretty_(self, p, cycle) -> None:  # noqa: ANN001 - IPython's signature
        p.text(self.stdout.rstrip() or f"(no output, exit code {self.returncode})")


def _log4j_file(version: str) -> Path:
    path = _broker.home() / "jars" / version / "tools-log4j.properties"
    if not path.exists() or path.read_text() != _TOOLS_LOG4J:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_TOOLS_LOG4J)
    return path


def command(tool: str, *args: str, version: str = _broker.DEFAULT_VERSION) -> list[str]:
    """The java command line that runs ``tool`` (a script name like ``kafka-topics``, or a main class)."""
    main = MAIN_CLASSES.get(tool, tool)
    if "." not in main:
        raise WorkbookError(f"unknown Kafka tool {tool!r}", "use one of: " + ", ".join(MAIN_CLASSES))
    java, _ = _broker.find_java()
    return [java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
            f"-Dlog4j.configuration=file:{_log4j_file(version)}",
            "-cp", _broker.classpath(version), main, *args]


def run(tool: str, *args: str, timeout: float = 60.0, check: bool = True, input: str | None = None,
        version: str = _broker.DEFAULT_VERSION) -> ToolResult:
    """Run one of Kafka's CLI tools with ``args``; raise WorkbookError if it fails or exceeds ``timeout`` s.

    ``run("kafka-topics", "--bootstrap-server", "127.0.0.1:9092", "--list")`` is the Python
    spelling of ``bin/kafka-topics.sh --bootstrap-server 127.0.0.1:9092 --list``.
    """
    _broker.resolve_jars(version, quiet=True)
    cmd = command(tool, *map(str, args), version=version)
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input,
                             stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise WorkbookError(f"{tool} {' '.join(map(str, args))} did not finish within {timeout:.0f} s",
                            "is the broker reachable? python -m helpers doctor") from None
    result = ToolResult(cmd, out.returncode, out.stdout, out.stderr)
    if check and out.returncode != 0:
        raise WorkbookError(f"{tool} exited with code {out.returncode}: {_first_error(out.stdout + out.stderr)}",
                            f"check the arguments; `{tool} --help` lists them")
    return result


def _first_error(text: str) -> str:
    """The line of a tool's output that says what went wrong (Kafka's tools print 'Error ...' or an exception)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("Error", "Exception")) or "Exception:" in line or "ERROR" in line:
            return line[:300]
    return (lines[0] if lines else "(no output)")[:300]


#: how each tool is told about a secured connection's properties file
_CONFIG_FLAG = {"kafka-console-producer": "--producer.config", "kafka-console-consumer": "--consumer.config"}


def connection_args(conn: ConnLike, tool: str = "kafka-topics") -> list[str]:
    """``--bootstrap-server <list>``, plus ``--command-config <file>`` (the flag ``tool`` uses) when the
    connection is secured: what any of Kafka's tools needs to reach the cluster."""
    c = as_connection(conn)
    cfg = c.command_config()
    return ["--bootstrap-server", c.bootstrap, *([_CONFIG_FLAG.get(tool, "--command-config"), str(cfg)] if cfg else [])]


def kafka_topics(conn: ConnLike, *args: str, timeout: float = 60.0, check: bool = True) -> ToolResult:
    """``kafka-topics.sh --bootstrap-server <bootstrap> [--command-config <file>] <args>``."""
    return run("kafka-topics", *connection_args(conn, "kafka-topics"), *args, timeout=timeout, check=check)


def kafka_consumer_groups(conn: ConnLike, *args: str, timeout: float = 60.0, check: bool = True) -> ToolResult:
    """``kafka-consumer-groups.sh --bootstrap-server <bootstrap> [--command-config <file>] <args>``.

    On a secured cluster the tool's own 5 s default ``--timeout`` is too short for a fresh JVM's TLS set-up
    on a busy machine (measured: 39 s at load 40 on 2 cores), so it gets 30 s unless ``args`` say otherwise."""
    extra = ["--timeout", "30000"] if as_connection(conn).secured and "--timeout" not in args else []
    return run("kafka-consumer-groups", *connection_args(conn, "kafka-consumer-groups"), *args, *extra,
               timeout=timeout, check=check)


def console_produce(conn: ConnLike, topic: str, records: list[tuple[str, str]], timeout: float = 60.0,
                    extra: tuple[str, ...] = ()) -> ToolResult:
    """Send ``(key, value)`` pairs with Kafka's own Java console producer (the Java client's partitioner)."""
    text = "".join(f"{k}\t{v}\n" for k, v in records)
    if any("\t" in k or "\n" in k + v for k, v in records):
        raise WorkbookError("keys and values for the console producer cannot contain tabs or newlines")
    return run("kafka-console-producer", *connection_args(conn, "kafka-console-producer"), "--topic", topic,
               "--property", "parse.key=true", "--property", "key.separator=\t", *extra,
               timeout=timeout, input=text)
