"""Topic (and consumer group) administration through confluent-kafka's AdminClient, with short timeouts
and clear errors."""
from __future__ import annotations

import re
import time
import uuid
from typing import Any, Callable, TypeVar

from .connection import ConnLike, ck_conf
from .errors import BrokerUnreachableError, WorkbookError

_TIMEOUT = 15.0
T = TypeVar("T")


def unique_topic(prefix: str = "lesson") -> str:
    """A topic name no earlier run used: ``<prefix>-<8 hex chars>`` (lessons and tests never collide)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "-", prefix)[:180]
    return f"{safe}-{uuid.uuid4().hex[:8]}"


def admin_client(conn: ConnLike):
    """A confluent-kafka AdminClient for ``bootstrap``."""
    from confluent_kafka.admin import AdminClient

    return AdminClient(ck_conf(conn, {"socket.timeout.ms": 10000}))


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

_RETRYABLE = ("_TRANSPORT", "_TIMED_OUT", "_ALL_BROKERS_DOWN", "_WAIT_COORD", "_RESOLVE")


def sliced(call: Callable[[float], T], conn: ConnLike, timeout: float = _TIMEOUT, what: str = "asking the broker",
           client: Any = None) -> T:
    """Run a librdkafka call that takes a timeout (``list_topics``, ``get_watermark_offsets``) in slices
    of at most 1 s until it answers or ``timeout`` passes.

    Those calls ignore Ctrl-C until they return (measured with confluent-kafka 2.16: ``list_topics(timeout=10)``
    against a dead address ends 8.8 s after SIGINT; ``poll()`` and ``flush()`` end at once), so a slice of
    1 s keeps a cell interruptible. When no broker answers, one BrokerUnreachableError line says so, with
    librdkafka's own reason (its connection-failure log lines are counted, not printed; ``client``'s
    queue is served once so that they have arrived).
    """
    from confluent_kafka import KafkaException

    from .connection import bootstrap_of, connection_failures

    failures0 = connection_failures()[0]
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        try:
            return call(max(0.05, min(1.0, left)))
        except KafkaException as exc:
            if exc.args[0].name() not in _RETRYABLE:
                raise
            if left <= 1.0:
                if client is not None and hasattr(client, "poll"):
                    client.poll(0.1)  # librdkafka hands its log lines over on poll()
                count, last = connection_failures()
                why = f"; librdkafka: {last}" if count > failures0 and last else f"; {exc.args[0].str()}"
                raise BrokerUnreachableError(f"{what}: no broker answered at {bootstrap_of(conn)} within "
                                             f"{timeout:g} s{why}",
                                             "is the broker running, and the address right? "
                                             "python -m helpers doctor") from None


def metadata(client: Any, conn: ConnLike, topic: str | None = None, timeout: float = _TIMEOUT) -> Any:
    """``client.list_topics(topic)`` in interruptible slices (:func:`sliced`)."""
    return sliced(lambda t: client.list_topics(topic, timeout=t), conn, timeout,
                  f"reading the metadata of {topic!r}" if topic else "listing topics", client)


def topic_exists(conn: ConnLike, topic: str) -> bool:
    """True when ``topic`` exists on the cluster."""
    md = metadata(admin_client(conn), conn, topic).topics.get(topic)
    return md is not None and md.error is None


def _hint(code: str) -> str:
    return {
        "TOPIC_ALREADY_EXISTS": "pick another name, or delete_topic() it first",
        "UNKNOWN_TOPIC_OR_PART": "check the spelling: list_topics() shows what exists",
        "INVALID_REPLICATION_FACTOR": "the embedded broker is a single node: use replication_factor=1",
        "INVALID_PARTITIONS": "a topic needs at least 1 partition, and its partition count can only grow",
        "INVALID_CONFIG": "check the topic setting's name and value in the Kafka docs (topic configs)",
    }.get(code, "see the broker log: python -m helpers broker logs")


def create_topic(conn: ConnLike, name: str, partitions: int = 1, replication_factor: int = 1,
                 config: dict[str, str] | None = None, wait: bool = True) -> str:
    """Create a topic and (by default) wait until its leaders are known; returns the name."""
    from confluent_kafka.admin import NewTopic

    admin = admin_client(conn)
    new = NewTopic(name, num_partitions=partitions, replication_factor=replication_factor, config=config or {})
    _wait(admin.create_topics([new], operation_timeout=_TIMEOUT), "creating topic")
    if wait:
        deadline = time.monotonic() + _TIMEOUT
        while time.monotonic() < deadline:
            md = metadata(admin, conn, name, timeout=5).topics.get(name)
            if md is not None and md.error is None and len(md.partitions) == partitions and \
                    all(p.leader >= 0 for p in md.partitions.values()):
                break
            time.sleep(0.1)
    return name


def delete_topic(conn: ConnLike, *names: str) -> None:
    """Delete topics, returning once the broker no longer lists them; a topic that does not exist is not an
    error (clean-up must not fail)."""
    from confluent_kafka import KafkaException

    if not names:
        return
    admin = admin_client(conn)
    for name, fut in admin.delete_topics(list(names), operation_timeout=_TIMEOUT).items():
        try:
            fut.result(timeout=_TIMEOUT)
        except KafkaException as exc:
            if exc.args[0].name() != "UNKNOWN_TOPIC_OR_PART":
                raise WorkbookError(f"deleting topic {name!r} failed: {exc.args[0].str()}") from None
    # The controller has accepted the deletion; the broker's metadata follows a moment later. Wait for it, so
    # that whatever runs next (a widget after the clean-up cell, say) does not still see a topic being deleted.
    deadline = time.monotonic() + _TIMEOUT
    while set(names) & set(metadata(admin, conn).topics) and time.monotonic() < deadline:
        time.sleep(0.1)


def list_topics(conn: ConnLike, include_internal: bool = False) -> list[str]:
    """Names of the topics on the cluster, sorted."""
    md = metadata(admin_client(conn), conn)
    return sorted(t for t in md.topics if include_internal or not t.startswith("__"))


def partition_count(conn: ConnLike, topic: str) -> int:
    """How many partitions ``topic`` has; a one-line WorkbookError when it does not exist (a typo in a
    topic name is an error, not a count of 0: :func:`topic_exists` asks the yes/no question)."""
    return len(partitions(conn, topic))


def partitions(conn: ConnLike, topic: str) -> list[int]:
    """The partition ids of ``topic``, sorted; a one-line WorkbookError when the topic does not exist."""
    md = metadata(admin_client(conn), conn, topic).topics.get(topic)
    if md is None or md.error is not None:
        raise WorkbookError(f"topic {topic!r} does not exist", "check the name: helpers.admin.list_topics(conn)")
    return sorted(md.partitions)


def delete_groups(conn: ConnLike, *groups: str) -> list[str]:
    """Delete consumer groups (their committed offsets); returns the ones that existed and are gone.

    A group that does not exist (it never committed) is not an error, so clean-up cells can pass
    every group they used. A group with running members cannot be deleted: stop its consumers first.
    """
    from confluent_kafka import KafkaException

    if not groups:
        return []
    deleted = []
    client = admin_client(conn)  # keep a reference: the futures resolve only while the client lives
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
