"""The learner copies (tools/clean.py, `make learner`): in step with the lessons, no solutions, no outputs."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import clean as C  # noqa: E402

LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_the_learner_copy_is_in_step_with_the_lesson(path: Path) -> None:
    copy = C.LEARNER / path.name
    assert copy.exists(), f"learner/{path.name} is missing: run `make learner`"
    assert copy.read_text() == C.dump(C.clean(json.loads(path.read_text()), path.name)), \
        f"learner/{path.name} is stale: run `make learner`"
    cells = json.loads(copy.read_text())["cells"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in cells if c["cell_type"] == "code")
    lesson_code = {C._src(c) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"}
    assert {C._src(c) for c in cells if c["cell_type"] == "code"} <= lesson_code


def test_solutions_are_cut_to_the_next_section_and_tagged_cells_go() -> None:
    md = lambda s: {"cell_type": "markdown", "metadata": {}, "source": s}  # noqa: E731
    code = lambda s, **m: {"cell_type": "code", "metadata": m, "source": s, "execution_count": 3,  # noqa: E731
                           "outputs": [{"output_type": "stream", "name": "stdout", "text": "x"}]}
    nb = {"cells": [md("## Exercises"), code("answer = None"), code("secret", tags=["solution"]),
                    md("## Solutions"), md("**01.1** multiply"), code("answer = 30"), md("## Clean up"), code("rm()")],
          "metadata": {"widgets": {}}}
    out = C.clean(nb, "01_x.ipynb")
    texts = [C._src(c) for c in out["cells"]]
    assert texts[:2] == ["## Exercises", "answer = None"] and texts[-2:] == ["## Clean up", "rm()"]
    assert "answer = 30" not in texts and "secret" not in texts and "notebooks/01_x.ipynb" in texts[2]
    assert "widgets" not in out["metadata"] and out["cells"][1]["outputs"] == []


def test_lessons_with_exercises_lose_their_solution_code_in_the_copy() -> None:
    for path in LESSONS:
        src = json.loads(path.read_text())["cells"]
        if any(C._src(c).startswith(C.SOLUTIONS) for c in src):
            copy = json.loads((C.LEARNER / path.name).read_text())["cells"]
            assert len([c for c in copy if c["cell_type"] == "code"]) < len([c for c in src if c["cell_type"] == "code"])
