"""Every lesson ends the same way (issue 8, item 3): its clean-up is the last section, after the exercises and
their solutions, and says that this is the end, so "Run All" followed by the widgets or the exercises meets
a clean-up that the learner has been told about (the widgets and checks recreate what they need)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

LESSONS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _sections(path: Path) -> list[tuple[str, list[str]]]:
    """(heading, texts of the cells under it) for every "## " section."""
    out: list[tuple[str, list[str]]] = []
    for cell in json.loads(path.read_text())["cells"]:
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "markdown" and text.startswith("## "):
            out.append((text.splitlines()[0], []))
        if out:
            out[-1][1].append(text)
    return out


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_clean_up_is_the_last_section_and_says_it_is_the_end(path: Path) -> None:
    sections = _sections(path)
    heading, cells = sections[-1]
    assert heading.lower().startswith(("## clean up", "## clean-up")), f"{path.name}: last section is {heading!r}"
    assert any("end of the lesson" in c.lower() for c in cells), \
        f"{path.name}: the clean-up section should say in one line that this is the end of the lesson"
    headings = [h for h, _ in sections]
    for earlier in ("## Solutions", "## Exercises"):
        if earlier in headings:
            assert headings.index(earlier) < len(headings) - 1
