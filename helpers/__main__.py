"""Command line: ``python -m helpers broker start|stop|status|logs`` and ``python -m helpers doctor``."""
from __future__ import annotations

import argparse
import json
import signal
import sys

from . import bench, broker, cluster, doctor, topic_cli
from .errors import WorkbookError


def _port(text: str) -> int:
    try:
        return broker.check_port_number(int(text))
    except (ValueError, WorkbookError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port: use a number from 1024 to 65535") from None


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so a start cut short by SIGTERM/SIGHUP cleans up its JVM like Ctrl-C does


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m helpers", description="Kafka from Python: workbook helpers")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("broker", help="start, stop or inspect the embedded Apache Kafka broker")
    b.add_argument("action", choices=["start", "ensure", "stop", "status", "logs", "jars"],
                   help="ensure = like a notebook: $KAFKA_BOOTSTRAP_SERVERS, else the running broker, else start one")
    b.add_argument("--port", type=_port, default=broker.DEFAULT_PORT, help="client port (default 9092)")
    b.add_argument("--version", default=broker.DEFAULT_VERSION, help=f"Kafka version (default {broker.DEFAULT_VERSION})")
    b.add_argument("--lines", type=int, default=40, help="with logs: how many lines")
    b.add_argument("--wipe", action="store_true", help="with stop: also delete the broker's data")
    b.add_argument("--auto-create-topics", action="store_true",
                   help="with start: reproduction mode for talk-era code, the broker creates a topic on first use "
                        "(off by default: a typo is an error, not a new topic)")
    b.add_argument("--security", choices=["plaintext", "ssl", "sasl_ssl"], default="plaintext",
                   help="with start: TLS (ssl) or SCRAM over TLS with ACLs (sasl_ssl); prints the client properties file")
    d = sub.add_parser("doctor", help="check Python, the clients, Java, the jars and the broker")
    d.add_argument("--bootstrap", help="broker address to check (default: $KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092)")
    d.add_argument("--port", type=_port, default=None, help="check the embedded broker on this port (default $KFP_PORT or 9092)")
    bench.add_parser(sub)
    topic_cli.add_parser(sub)
    cluster.add_parser(sub)
    return p


def _broker(args: argparse.Namespace) -> int:
    if args.action == "start":
        auto = getattr(args, "auto_create_topics", False)
        extra = {"auto.create.topics.enable": "true"} if auto else None
        b = broker.start(args.port, args.version, quiet=False, security=args.security, extra_config=extra)
        if not b.started:
            print(b.describe())
            if auto and not _auto_creates(b):
                raise WorkbookError(f"the broker already running on port {args.port} does not create topics on first use",
                                    f"stop it first (python -m helpers broker stop --port {args.port}), then start it "
                                    "again with --auto-create-topics")
        if auto:
            print("REPRODUCTION MODE: this broker creates a topic the first time a client names it "
                  "(auto.create.topics.enable=true), as brokers did for the talk's code. A typo now makes a new "
                  "topic. Stop it and start it without --auto-create-topics for the lessons.")
        print(b.bootstrap)
        if b.client_properties:
            print(b.client_properties)
        return 0
    if args.action == "ensure":
        b = broker.ensure_broker(quiet=True)
        print(b.describe())
        return 0
    if args.action == "stop":
        broker.stop(args.port, wipe=args.wipe)
        return 0
    if args.action == "status":
        st = broker.status(args.port)
        print(json.dumps(st, indent=1))
        return 0 if st["running"] else 3
    if args.action == "jars":
        print(broker.resolve_jars(args.version))
        return 0
    lines = broker.log_tail(args.port, args.lines)
    print("\n".join(lines) if lines else f"no broker log in {broker.run_dir(args.port)}")
    return 0


def _auto_creates(b: broker.Broker) -> bool:
    """Whether a running embedded broker was started with topic auto-creation (from its server.properties)."""
    from pathlib import Path

    try:
        props = (Path(b.run_dir) / "server.properties").read_text().splitlines()
    except (OSError, TypeError):
        return False
    return "auto.create.topics.enable=true" in props


def main(argv: list[str] | None = None) -> int:
    """Entry point; a WorkbookError becomes one line on stderr and exit status 1."""
    args = _parser().parse_args(argv)
    for sig in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, sig):
            signal.signal(getattr(signal, sig), _interrupt)
    try:
        if args.command == "broker":
            return _broker(args)
        if args.command == "bench":
            return bench.cli(args)
        if args.command == "topic":
            return topic_cli.cli(args)
        if args.command == "cluster":
            return cluster.cli(args)
        return doctor.main(args.bootstrap, args.port)
    except WorkbookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `... | head -1` closed the pipe early: not an error worth a traceback
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
