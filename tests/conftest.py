"""Shared fixtures for the foundation tests (the session broker comes from helpers.pytest_plugin)."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import broker
from helpers.connection import PYKAFKA_TLS_LIMITS, from_env

# make test-secure ($KAFKA_CONFIG at a TLS broker): what cannot run over TLS skips, with the reason
_TLS_SKIPS = [  # (where: "id" of a test or "cell" source of a lesson, a substring, the reason)
    ("id", "rdkafka", PYKAFKA_TLS_LIMITS["rdkafka"]),
    ("id", "balanced", PYKAFKA_TLS_LIMITS["balanced"]),
    ("id", "rebalance_story_follows_the_script[pykafka]", PYKAFKA_TLS_LIMITS["balanced"]),
    ("id", "test_every_row_runs_for_every_client", "Rosetta's pykafka balanced rows: " + PYKAFKA_TLS_LIMITS["balanced"]),
    ("id", "test_tls_client_on_the_plaintext_port", "uses the session broker as its plaintext port"),
    ("notebook", "get_balanced_consumer(", PYKAFKA_TLS_LIMITS["balanced"]),  # later cells build on those cells
    ("cell", "use_rdkafka=True", PYKAFKA_TLS_LIMITS["rdkafka"]),
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under make test-secure, skip (with the reason) the tests and lesson cells that need plaintext."""
    try:
        conn = from_env()
    except Exception:  # a bad KAFKA_CONFIG: the session start says so in one line
        return
    if conn is None or not conn.tls:
        return
    for item in items:
        cell = getattr(item, "cell", None)
        source = "".join(cell.get("source", "")) if isinstance(cell, dict) else ""
        notebook = Path(str(item.fspath)).read_text() if isinstance(cell, dict) else ""
        for where, needle, why in _TLS_SKIPS:
            if needle in {"cell": source, "notebook": notebook}.get(where, item.nodeid):
                if where == "notebook":
                    why = f"this lesson uses pykafka's managed balanced consumer, and {why}"
                item.add_marker(pytest.mark.skip(reason=f"over TLS: {why}"))
                break


@pytest.fixture
def iso_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private KFP_HOME (own run state) that shares the already-resolved jar cache."""
    real_jars = broker.home() / "jars"
    monkeypatch.setenv("KFP_HOME", str(tmp_path))
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("KAFKA_CONFIG", raising=False)  # its own broker: plaintext, whatever the session uses
    (tmp_path / "jars").symlink_to(real_jars)
    return tmp_path
