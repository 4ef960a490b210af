"""Normalise the stored outputs of the lessons so they read well anywhere (a fresh untrusted clone in
JupyterLab, GitHub, nbviewer), whoever executed them.

What it does to each code cell's outputs:

- progress bars (tqdm's notebook widget) become one line of text with their final state, taken
  from the widget state nbconvert saved (``Rosetta rows: 100% 66/66 [00:04, 16.21check/s]``);
  without saved state the frozen bar is dropped;
- text progress bars (``\\r`` frames, tqdm on a terminal stream) keep only their last frame;
  consecutive stream outputs of one kind are merged;
- every other widget keeps its view (live in a running kernel) and gets a readable ``text/plain``
  fallback naming its controls and what they show, instead of the raw ``VBox(children=(...`` repr;
- a chart stored with an SVG but no PNG gets a PNG rendered from the SVG (GitHub shows PNGs);
- ``stderr`` streams are dropped (client log noise); a stored ``error`` output is not hidden: the
  tool reports it and exits 1 (fix the cell, then execute again);
- per-cell execution timestamps are removed, and the saved widget state keeps only the models that
  a remaining widget view uses.

Run it after executing a notebook: ``.venv/bin/python tools/normalise.py notebooks/NN_x.ipynb``
(or ``make normalise`` for every lesson). ``--check`` exits 1 naming each notebook that would change.
The tool is idempotent: normalising a normalised notebook changes nothing.
"""
from __future__ import annotations

import argparse
import copy
import html
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
NOTEBOOKS = ROOT / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
FALLBACK_MARK = "Interactive widget"
_TQDM_TEXT = re.compile(r"\d+%\|")


def lessons() -> list[Path]:
    """Every notebook this tool normalises: the numbered lessons."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def _text(x: object) -> str:
    return "".join(x) if isinstance(x, list) else str(x or "")


def _plain_html(value: str) -> str:
    """HTML of a widget as one line of text (tags dropped, entities and figure spaces undone)."""
    text = html.unescape(re.sub(r"<[^>]+>", "", value or ""))
    return re.sub(r"\s+", " ", text.replace("\u2007", " ").replace("\xa0", " ")).strip()


def collapse_frames(text: str) -> str:
    """Keep only what a terminal would finally show: each line's text after its last ``\\r``."""
    lines = []
    for line in text.split("\n"):
        frames = [f for f in line.split("\r") if f.strip()]
        lines.append(frames[-1] if frames else ("" if "\r" in line else line))
    return "\n".join(lines)


class Widgets:
    """The saved widget state of one notebook, for reading models by id."""

    def __init__(self, nb: dict) -> None:
        self.state: dict[str, dict] = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})

    def model(self, ref: str) -> dict | None:
        return self.state.get(ref.replace("IPY_MODEL_", ""))

    def children(self, model: dict) -> list[dict]:
        return [m for m in (self.model(r) for r in model.get("state", {}).get("children", [])) if m]

    def progress_text(self, model: dict) -> str | None:
        """``desc 100% 66/66 [...]`` for a tqdm bar (an HBox holding a FloatProgress), else None."""
        kids = self.children(model)
        bars = [k for k in kids if k.get("model_name") in ("FloatProgressModel", "IntProgressModel")]
        if not bars:
            return None
        parts = [_plain_html(k["state"].get("value", "")) if k.get("model_name") == "HTMLModel" else "" for k in kids]
        return " ".join(p for p in parts if p) or None

    def describe(self, model: dict, out: list[str]) -> None:
        """Readable lines for a widget tree: each control with its value, each output's text."""
        name, st = model.get("model_name", ""), model.get("state", {})
        desc = st.get("description") or ""
        if name in ("VBoxModel", "HBoxModel", "BoxModel", "GridBoxModel", "AccordionModel", "TabModel"):
            for kid in self.children(model):
                self.describe(kid, out)
        elif name == "ButtonModel":
            out.append(f"[button: {desc}]")
        elif name in ("HTMLModel", "LabelModel", "HTMLMathModel"):
            if _plain_html(st.get("value", "")):
                out.append(_plain_html(st["value"]))
        elif name == "OutputModel":
            for o in st.get("outputs", []):
                data = o.get("data", {})
                text = _text(o.get("text")) if o.get("output_type") == "stream" else _text(data.get("text/plain"))
                if text.strip():  # a chart's "<chart: title>" line reads as a chart, not as a stray tag
                    out.append(re.sub(r"^<chart: (.*)>$", r"a chart: \1", collapse_frames(text).strip(), flags=re.M))
        elif name.endswith("Model") and "value" in st:
            value = st["value"]
            labels, index = st.get("_options_labels"), st.get("index")
            if labels and isinstance(index, int) and 0 <= index < len(labels):
                value = labels[index]
            out.append(f"{desc or name.removesuffix('Model')}: {value}")

    def reachable(self, refs: list[str]) -> set[str]:
        """Model ids used by the given views, following IPY_MODEL_ references."""
        seen: set[str] = set()
        todo = [r.replace("IPY_MODEL_", "") for r in refs]
        while todo:
            mid = todo.pop()
            if mid in seen or mid not in self.state:
                continue
            seen.add(mid)
            todo += re.findall(r"IPY_MODEL_(\w+)", json.dumps(self.state[mid]))
        return seen


def _fallback(widgets: Widgets, model: dict | None, old: str) -> str:
    lines: list[str] = []
    if model:
        widgets.describe(model, lines)
    body = "\n".join(f"  {line}" for line in lines) if lines else ""
    head = f"{FALLBACK_MARK} (run the notebook in JupyterLab to use it)"
    return f"{head}:\n{body}" if body else head + "."


def _add_stream(result: list[dict], out: dict) -> None:
    """Append a stream output, merged into the previous one when that is the same stream."""
    if result and result[-1].get("output_type") == "stream" and result[-1].get("name") == out.get("name"):
        result[-1]["text"] = _text(result[-1]["text"]) + _text(out.get("text"))
    else:
        out["text"] = _text(out.get("text"))
        result.append(out)


def normalise_outputs(outputs: list[dict], widgets: Widgets) -> tuple[list[dict], list[str]]:
    """The normalised outputs of one cell, and any stored errors (which are kept and reported)."""
    result: list[dict] = []
    errors: list[str] = []
    for out in copy.deepcopy(outputs):
        kind = out.get("output_type")
        if kind == "error":
            errors.append(f"{out.get('ename')}: {out.get('evalue')}")
            result.append(out)
            continue
        if kind == "stream":
            if out.get("name") == "stderr":
                continue
            _add_stream(result, out)
            continue
        data = out.get("data")
        if not isinstance(data, dict):
            result.append(out)
            continue
        if WIDGET_VIEW in data:
            model = widgets.model(data[WIDGET_VIEW].get("model_id", ""))
            plain = _text(data.get("text/plain"))
            progress = widgets.progress_text(model) if model else None
            if progress is not None or (model is None and _TQDM_TEXT.search(plain)):
                if progress:  # a finished progress bar: its last state as one line of text
                    _add_stream(result, {"output_type": "stream", "name": "stdout", "text": progress + "\n"})
                continue
            if model is not None or not plain.startswith(FALLBACK_MARK):
                data["text/plain"] = _fallback(widgets, model, plain)
        if "image/svg+xml" in data and "image/png" not in data and any("vegalite" in k for k in data):
            try:
                from helpers.charts import png_from_svg

                data["image/png"] = png_from_svg(_text(data["image/svg+xml"]))
            except Exception:  # keep the SVG; the check reports notebooks without PNGs
                pass
        for key, value in list(data.items()):
            if key.startswith("text/") or key == "image/svg+xml":
                data[key] = _text(value)
        result.append(out)
    for out in result:  # collapse \r frames once all streams are merged
        if out.get("output_type") == "stream":
            out["text"] = collapse_frames(out["text"])
    return [o for o in result if not (o.get("output_type") == "stream" and not o["text"].strip())], errors


def normalise(nb: dict) -> tuple[dict, list[str]]:
    """A normalised copy of a notebook and the stored errors found (``cell N: Ename: value``)."""
    nb = copy.deepcopy(nb)
    widgets = Widgets(nb)
    errors: list[str] = []
    views: list[str] = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        cell.get("metadata", {}).pop("execution", None)
        cell["outputs"], errs = normalise_outputs(cell.get("outputs", []), widgets)
        errors += [f"cell {i}: {e}" for e in errs]
        views += [o["data"][WIDGET_VIEW]["model_id"] for o in cell["outputs"] if WIDGET_VIEW in o.get("data", {})]
    meta = nb.setdefault("metadata", {})
    if widgets.state:
        keep = widgets.reachable(views)
        if keep:
            meta["widgets"][WIDGET_STATE]["state"] = {k: v for k, v in widgets.state.items() if k in keep}
        else:
            meta.pop("widgets", None)
    return nb, errors


def dump(nb: dict) -> str:
    """Serialised as Jupyter, nbconvert and tools/nav.py write notebooks (so none of them makes it stale)."""
    import nbformat

    return nbformat.writes(nbformat.from_dict(nb)) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: every lesson in notebooks/")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if any notebook would change")
    args = ap.parse_args(argv)
    status = 0
    for path in args.notebooks or lessons():
        before = path.read_text()
        nb, errors = normalise(json.loads(before))
        after = dump(nb)
        for e in errors:
            print(f"{path.name}: stored error output in {e}: fix the cell and execute the notebook again")
            status = 1
        if after != before:
            if args.check:
                print(f"{path.name}: not normalised: run `make normalise` (or tools/normalise.py {path})")
                status = 1
            else:
                path.write_text(after)
                print(f"{path.name}: normalised")
    return status


if __name__ == "__main__":
    sys.exit(main())
