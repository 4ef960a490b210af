"""``python -m helpers topic create|list|delete``: topics by hand, for code (like the talk's) that expects them.

The workbook's broker does not create topics on first use (a typo is an error, not a new topic);
code written for a broker that did, such as the 2016 benchmark notebook and the talk's demo, needs
its topics created first, or a broker started with ``broker start --auto-create-topics``.
"""
from __future__ import annotations

import argparse

from . import admin
from .bench import add_connection_arguments, cli_connection
from .errors import ConfigError


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``python -m helpers topic`` on the CLI's subparsers."""
    t = sub.add_parser("topic", help="create, list or delete topics on the broker",
                       description="Topics by hand (the workbook's broker does not auto-create them).")
    t.add_argument("action", choices=["create", "list", "delete"])
    t.add_argument("names", nargs="*", metavar="NAME", help="topic name(s) for create and delete")
    t.add_argument("--partitions", type=int, default=1, help="with create: partitions per topic (default 1)")
    add_connection_arguments(t, starts=False)  # --bootstrap, --config (default $KAFKA_CONFIG), as bench
    t.add_argument("--all", action="store_true", help="with list: internal topics too")
    return t


def cli(args: argparse.Namespace) -> int:
    """Handler for ``python -m helpers topic``; WorkbookErrors go to the CLI's one-line printer."""
    if args.action != "list" and not args.names:
        raise ConfigError(f"topic {args.action} needs at least one NAME", f"e.g. python -m helpers topic {args.action} test")
    if args.action == "list" and args.names:
        raise ConfigError("topic list takes no names", "python -m helpers topic list [--all]")
    if args.partitions < 1 or args.partitions > 1000:
        raise ConfigError(f"--partitions must be between 1 and 1000, got {args.partitions}")
    conn = cli_connection(args.bootstrap, args.config, start=False)  # $KAFKA_CONFIG honoured; starts nothing
    if args.action == "list":
        for name in admin.list_topics(conn, include_internal=args.all):
            print(name)
        return 0
    for name in args.names:
        if args.action == "create":
            admin.create_topic(conn, name, partitions=args.partitions)
            print(f"created {name} ({args.partitions} partition{'s' if args.partitions > 1 else ''}) at {conn.bootstrap}")
        else:
            missing = name not in admin.list_topics(conn, include_internal=True)
            admin.delete_topic(conn, name)
            print(f"{'no topic' if missing else 'deleted'} {name} at {conn.bootstrap}")
    return 0
