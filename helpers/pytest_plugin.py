"""pytest plugin (loaded by pyproject's addopts): one real broker for the whole session.

Like kafka-python's own fixtures, it waits on a real readiness signal (an answered
ApiVersions + Metadata request) rather than a sleep, and cleans up: a broker this session
started is stopped at the end, even when tests fail; one that was already running (a
JupyterLab session's, or docker compose's) is left alone.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from . import broker as _broker

if TYPE_CHECKING:
    from .connection import Connection

_session_broker: _broker.Broker | None = None


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Find or start the broker; under pytest-xdist the controller does it before any worker starts."""
    global _session_broker
    if session.config.getoption("collectonly", False):
        return
    _session_broker = _broker.ensure_broker(quiet=True)
    if _is_xdist_worker(session.config):
        _session_broker.started = False  # only the process that started it may stop it
    session.config.stash[_KEY] = _session_broker


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the broker if this session started it, pass or fail."""
    if _session_broker is not None and _session_broker.started:
        _session_broker.stop()


def pytest_report_header(config: pytest.Config) -> str:
    return "kafka: " + (_session_broker.describe() if _session_broker else "not started")


_KEY = pytest.StashKey[_broker.Broker]()


@pytest.fixture(scope="session")
def kafka(request: pytest.FixtureRequest) -> _broker.Broker:
    """The session's broker handle (``kafka.bootstrap`` is the address)."""
    return request.config.stash[_KEY]


@pytest.fixture(scope="session")
def conn(kafka: _broker.Broker) -> "Connection":
    """The session broker's connection (bootstrap + security settings; ``str(conn)`` is the address).

    Under ``make test-secure`` ($KAFKA_CONFIG) it is a TLS connection: pass it to helpers, and build
    raw clients from ``conn.config(client, role)``."""
    return kafka.connection


@pytest.fixture(scope="session")
def bootstrap(conn: "Connection") -> "Connection":
    """The earlier name of :func:`conn` (tests written before the connection change use it)."""
    return conn


@pytest.fixture
def topic(conn: "Connection", request: pytest.FixtureRequest):
    """A fresh one-partition topic, deleted after the test."""
    from . import admin

    name = admin.create_topic(conn, admin.unique_topic(f"t-{request.node.name[:40]}"))
    yield name
    admin.delete_topic(conn, name)
