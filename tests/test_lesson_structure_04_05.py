"""Lessons 04 and 05 keep their workshop shape: objectives and time, two parts with recaps, exercises whose
set-up sits in its own cell, solutions that run, and Clean up as the last section."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = [ROOT / "notebooks" / "04_producers.ipynb", ROOT / "notebooks" / "05_consumers.ipynb"]


def _cells(path: Path) -> list[tuple[str, str]]:
    cells = json.loads(path.read_text())["cells"]
    return [(c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"]) for c in cells]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_objectives_time_parts_and_recaps(path: Path) -> None:
    cells = _cells(path)
    intro = cells[0][1]
    assert "What you will be able to do" in intro and "**Time**" in intro and "RUNTIME_" not in intro
    heads = [s.splitlines()[0] for t, s in cells if t == "markdown" and s.strip()]
    parts = [h for h in heads if h.startswith("# Part ")]
    assert [p[:8] for p in parts] == ["# Part 1", "# Part 2"]
    text = "\n".join(s for t, s in cells if t == "markdown")
    assert "RUNTIME_" not in text, "a measured time was left as a placeholder"
    for recap in ("**Part 1 recap**", "**Part 2 recap**", "## Recap of lesson"):
        block = next(s for t, s in cells if t == "markdown" and s.startswith(recap))
        assert len([line for line in block.splitlines() if line.startswith("- ")]) == 3, recap


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_exercises_then_solutions_then_clean_up_last(path: Path) -> None:
    cells = _cells(path)
    heads = [(i, s.splitlines()[0]) for i, (t, s) in enumerate(cells) if t == "markdown" and s.startswith("## ")]
    order = [h for _, h in heads]
    assert order.index("## Exercises") < order.index("## Solutions") < order.index("## Clean up")
    assert order[-1] == "## Clean up", "Clean up must be the last section"
    clean = next(i for i, h in heads if h == "## Clean up")
    assert "end of the lesson" in cells[clean][1]
    assert [t for t, _ in cells[clean + 1:]] == ["code", "markdown"]  # the clean-up cell, then navigation
    # every check cell a learner fills in sits below a cell of its own that creates what it checks
    ex = next(i for i, h in heads if h == "## Exercises")
    sol = next(i for i, h in heads if h == "## Solutions")
    learner = [i for i in range(ex, sol) if cells[i][0] == "code" and "exercises_clients.check_" in cells[i][1]]
    assert learner and all("create_topic" not in cells[i][1] for i in learner)
    solutions = [s for t, s in cells[sol:clean] if t == "code"]
    assert len(solutions) == len(learner) and all("check_" in s for s in solutions)
