"""Every lesson follows the workbook's rules: broker first, no stored errors, navigation up to date."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _src(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_there_are_lessons() -> None:
    assert LESSONS and LESSONS[0].name == "00_setup.ipynb"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_first_code_cell_calls_ensure_broker(path: Path) -> None:
    first = next(c for c in _cells(path) if c["cell_type"] == "code")
    assert "ensure_broker()" in _src(first) or "ensure_cluster()" in _src(first)  # 07+: the cluster's equivalent


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_no_stored_error_outputs(path: Path) -> None:
    errors = [o for c in _cells(path) for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name} was saved with an error output"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_no_stored_stderr(path: Path) -> None:
    # client log lines and warnings in a saved lesson are noise to a reader, and flaky under nbval
    noisy = [i for i, c in enumerate(_cells(path)) for o in c.get("outputs", [])
             if o.get("output_type") == "stream" and o.get("name") == "stderr"]
    assert not noisy, f"{path.name}: stderr output stored in cells {noisy}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_title_and_navigation_cells(path: Path) -> None:
    cells = _cells(path)
    assert cells[0]["cell_type"] == "markdown" and _src(cells[0]).startswith("# ")
    assert _src(cells[1]).startswith("<!--NAV-->") and _src(cells[-1]).startswith("<!--NAV-->")


def test_navigation_is_generated_and_current() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "nav.py"), "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout
