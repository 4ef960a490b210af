"""Shared pieces of the fault tests: a tiny tmpfs (a real full or read-only disk), one-line checks."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from helpers import broker

CLI = [sys.executable, "-m", "helpers"]


def _one_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert "Traceback" not in text, text
    return lines[-1] if lines else ""


def _mount_tmpfs(where: Path, size_mb: int, read_only: bool = False) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tiny tmpfs (a real full or read-only disk); run the suite as root")
    where.mkdir(parents=True, exist_ok=True)
    opts = f"size={size_mb}m" + (",ro" if read_only else "")
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "kfp-test", str(where)], capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({out.stderr.strip()[:120]})")


def tmpfs_fixture(tmp_path: Path) -> Iterator:
    mounted: list[Path] = []

    def mount(name: str, size_mb: int, read_only: bool = False) -> Path:
        where = tmp_path / name
        _mount_tmpfs(where, size_mb, read_only)
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _share_jars(home: Path) -> None:
    """Point ``home``'s jar cache at the session's (already fetched) one."""
    (home / "jars").symlink_to(broker.home() / "jars")




def has_jgo() -> bool:
    try:
        import jgo  # noqa: F401  (only whether it imports)
    except ImportError:
        return False
    return True
