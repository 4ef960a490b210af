"""Write the learner copies: every lesson without its solutions and without stored outputs, in learner/.

A learner works through ``learner/NN_x.ipynb``: the exercises are there with their checks, the
"## Solutions" section (everything from that heading to the next "## " heading) and any cell tagged
``solution`` are replaced by one line pointing at the full lesson, and no cell carries an output, an
execution count or saved widget state, so nothing is given away and every run starts clean.
Navigation links keep working: index.ipynb is copied too.

``make learner`` (also part of ``make nav``) writes them; ``--check`` exits 1 when learner/ is stale,
and tests/test_learner.py checks that the copies are in step with the lessons.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
LEARNER = ROOT / "learner"
SOLUTIONS = "## Solutions"


def _src(cell: dict) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def _pointer(lesson: str) -> dict:
    return {"cell_type": "markdown", "id": "learner-solutions", "metadata": {},
            "source": f"{SOLUTIONS}\n\nThis is the learner copy: the solutions are in the full lesson, "
                      f"[`notebooks/{lesson}`](../notebooks/{lesson}). Try the exercises first."}


def clean(nb: dict, lesson: str) -> dict:
    """The learner copy of one notebook (``lesson`` is its file name, for the pointer to the solutions)."""
    nb = copy.deepcopy(nb)
    cells: list[dict] = []
    in_solutions = False
    for cell in nb.get("cells", []):
        text = _src(cell)
        if cell["cell_type"] == "markdown" and text.startswith("## "):
            in_solutions = text.startswith(SOLUTIONS)
            if in_solutions:
                cells.append(_pointer(lesson))
                continue
        if in_solutions or "solution" in cell.get("metadata", {}).get("tags", []):
            continue
        cell = dict(cell, source=text)
        if cell["cell_type"] == "code":
            cell.update(outputs=[], execution_count=None)
            cell["metadata"] = {k: v for k, v in cell.get("metadata", {}).items() if k not in ("execution", "scrolled")}
        cells.append(cell)
    nb["cells"] = cells
    nb["metadata"] = {k: v for k, v in nb.get("metadata", {}).items() if k != "widgets"}
    return nb


def dump(nb: dict) -> str:
    """Serialised as Jupyter, nbconvert and tools/nav.py write notebooks (so none of them makes it stale)."""
    import nbformat

    return nbformat.writes(nbformat.from_dict(nb)) + "\n"


def expected() -> dict[Path, str]:
    """Every learner file and the text it should hold."""
    return {LEARNER / p.name: dump(clean(json.loads(p.read_text()), p.name)) for p in sorted(NOTEBOOKS.glob("*.ipynb"))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if learner/ is not in step")
    args = ap.parse_args(argv)
    want = expected()
    stale = [p for p, text in want.items() if not p.exists() or p.read_text() != text]
    extra = [p for p in LEARNER.glob("*.ipynb") if p not in want] if LEARNER.exists() else []
    if args.check:
        for p in stale + extra:
            print(f"learner/{p.name} is not in step with notebooks/: run `make learner`")
        return 1 if stale or extra else 0
    LEARNER.mkdir(exist_ok=True)
    for p in stale:
        p.write_text(want[p])
        print(f"learner/{p.name} written")
    for p in extra:
        p.unlink()
        print(f"learner/{p.name} removed (no such lesson)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
