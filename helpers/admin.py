"""Topic (and consumer group) administration through confluent-kafka's AdminClient, with short timeouts
and clear errors."""
from __future__ import annotations

import re
import time
import uuid

from .errors import BrokerUnreachableError, WorkbookError

_TIMEOUT = 15.0


def unique_topic(prefix: str = "lesson") -> str:
    """A topic name no earlier run used: ``<prefix>-<8 hex chars>`` (lessons and tests never collide)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "-", prefix)[:180]
    return f"{safe}-{uuid.uuid4().hex[:8]}"


def admin_client(bootstrap: str):
    """A confluent-kafka AdminClient for ``bootstrap``."""
    from confluent_kafka.admin import AdminClient

    from .clients import ck_conf

    return AdminClient(ck_conf(bootstrap, {"socket.timeout.ms": 10000}))


def wait_for(futures: dict, what: str) -> None:
    """Resolve the AdminClient ``futures`` (``{name: future}``) within the short timeout; a failure
    becomes one WorkbookError line naming ``what`` was being done."""
    from confluent_kafka import KafkaException

    for name, fut in futures.items():
        try:
            fut.result(timeout=_TIMEOUT)
        except KafkaException as exc:
            err = exc.args[0]
            raise WorkbookError(f"{what} {name!r} failed: {err.str()}", _hint(err.name())) from None
        except TimeoutError:
            raise BrokerUnreachableError(f"{what} {name!r}: no answer within {_TIMEOUT:.0f} s",
                                         "is the broker running? python -m helpers doctor") from None


_wait = wait_for  # the earlier private name


def _hint(code: str) -> str:
    return {
        "TOPIC_ALREADY_EXISTS": "pick another name, or delete_topic() it first",
        "UNKNOWN_TOPIC_OR_PART": "check the spelling: list_topics() shows what exists",
        "INVALID_REPLICATION_FACTOR": "the embedded broker is a single node: use replication_factor=1",
        "INVALID_PARTITIONS": "a topic needs at least 1 partition, and its partition count can only grow",
        "INVALID_CONFIG": "check the topic setting's name and value in the Kafka docs (topic configs)",
    }.get(code, "see the broker log: python -m helpers broker logs")


def create_topic(bootstrap: str, name: str, partitions: int = 1, replication_factor: int = 1,
                 config: dict[str, str] | None = None, wait: bool = True) -> str:
    """Create a topic and (by default) wait until its leaders are known; returns the name."""
    from confluent_kafka.admin import NewTopic

    admin = admin_client(bootstrap)
    new = NewTopic(name, num_partitions=partitions, replication_factor=replication_factor, config=config or {})
    _wait(admin.create_topics([new], operation_timeout=_TIMEOUT), "creating topic")
    if wait:
        deadline = time.monotonic() + _TIMEOUT
        while time.monotonic() < deadline:
            md = admin.list_topics(name, timeout=5).topics.get(name)
            if md is not None and md.error is None and len(md.partitions) == partitions and \
                    all(p.leader >= 0 for p in md.partitions.values()):
                break
            time.sleep(0.1)
    return name


def delete_topic(bootstrap: str, *names: str) -> None:
    """Delete topics; a topic that does not exist is not an error (clean-up must not fail)."""
    from confluent_kafka import KafkaException

    if not names:
        return
    admin = admin_client(bootstrap)
    for name, fut in admin.delete_topics(list(names), operation_timeout=_TIMEOUT).items():
        try:
            fut.result(timeout=_TIMEOUT)
        except KafkaException as exc:
            if exc.args[0].name() != "UNKNOWN_TOPIC_OR_PART":
                raise WorkbookError(f"deleting topic {name!r} failed: {exc.args[0].str()}") from None


def list_topics(bootstrap: str, include_internal: bool = False) -> list[str]:
    """Names of the topics on the cluster, sorted."""
    md = admin_client(bootstrap).list_topics(timeout=_TIMEOUT)
    return sorted(t for t in md.topics if include_internal or not t.startswith("__"))


def partition_count(bootstrap: str, topic: str) -> int:
    """How many partitions ``topic`` has (0 when it does not exist)."""
    try:
        return len(partitions(bootstrap, topic))
    except WorkbookError:
        return 0


def partitions(bootstrap: str, topic: str) -> list[int]:
    """The partition ids of ``topic``, sorted; a one-line WorkbookError when the topic does not exist."""
    md = admin_client(bootstrap).list_topics(topic, timeout=_TIMEOUT).topics.get(topic)
    if md is None or md.error is not None:
        raise WorkbookError(f"topic {topic!r} does not exist", "check the name: helpers.admin.list_topics(bootstrap)")
    return sorted(md.partitions)


def delete_groups(bootstrap: str, *groups: str) -> list[str]:
    """Delete consumer groups (their committed offsets); returns the ones that existed and are gone.

    A group that does not exist (it never committed) is not an error, so clean-up cells can pass
    every group they used. A group with running members cannot be deleted: stop its consumers first.
    """
    from confluent_kafka import KafkaException

    if not groups:
        return []
    deleted = []
    client = admin_client(bootstrap)  # keep a reference: the futures resolve only while the client lives
    for name, fut in client.delete_consumer_groups(list(groups), request_timeout=_TIMEOUT).items():
        try:
            fut.result(timeout=_TIMEOUT)
            deleted.append(name)
        except KafkaException as exc:
            code = exc.args[0].name()
            if code == "GROUP_ID_NOT_FOUND":
                continue
            fix = "stop (close) its consumers first" if code == "NON_EMPTY_GROUP" else _hint(code)
            raise WorkbookError(f"deleting group {name!r} failed: {exc.args[0].str()}", fix) from None
    return deleted
