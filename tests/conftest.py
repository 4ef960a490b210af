"""Shared fixtures for the foundation tests (the session broker comes from helpers.pytest_plugin)."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import broker


@pytest.fixture
def iso_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private KFP_HOME (own run state) that shares the already-resolved jar cache."""
    real_jars = broker.home() / "jars"
    monkeypatch.setenv("KFP_HOME", str(tmp_path))
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    (tmp_path / "jars").symlink_to(real_jars)
    return tmp_path
