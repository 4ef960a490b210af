"""Stored outputs read well anywhere: the renderer's bundle, the normaliser's rewrites, and every lesson
saved normalised (tools/normalise.py, `make normalise`)."""
from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from helpers import charts

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import normalise as N  # noqa: E402

LESSONS = N.lessons()
VIEW = N.WIDGET_VIEW


def _bundle(chart) -> dict:
    charts.use_workbook_renderer()
    b = chart._repr_mimebundle_()
    return b[0] if isinstance(b, tuple) else b


def test_a_chart_carries_a_live_spec_jupyterlab_draws_and_static_pictures() -> None:
    b = _bundle(charts.partition_counts_chart(pd.DataFrame({"partition": [0, 1], "count": [3, 4]}), "p counts"))
    # JupyterLab 4.6's own Vega extension renders vegalite v3-v5 (not v6): see pyproject.toml
    assert "application/vnd.vegalite.v5+json" in b
    assert b["image/svg+xml"].startswith("<svg") and 'aria-label="p counts"' in b["image/svg+xml"]
    assert base64.b64decode(b["image/png"]).startswith(b"\x89PNG")
    assert b["text/plain"] == "<chart: p counts>"
    assert b["application/vnd.vegalite.v5+json"]["description"] == "p counts"  # the alt text


def _nb(outputs: list[dict], state: dict | None = None) -> dict:
    nb = {"cells": [{"cell_type": "code", "metadata": {"execution": {"x": 1}}, "source": "", "outputs": outputs}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    if state:
        nb["metadata"]["widgets"] = {N.WIDGET_STATE: {"state": state, "version_major": 2, "version_minor": 0}}
    return nb


def _view(mid: str, plain: str) -> dict:
    return {"output_type": "display_data", "metadata": {},
            "data": {VIEW: {"model_id": mid, "version_major": 2, "version_minor": 0}, "text/plain": plain}}


def test_a_finished_progress_bar_becomes_its_last_line_and_its_state_goes() -> None:
    state = {"bar": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_a", "IPY_MODEL_b", "IPY_MODEL_c"]}},
             "a": {"model_name": "HTMLModel", "state": {"value": "Rosetta\u2007rows:\u2007100%"}},
             "b": {"model_name": "FloatProgressModel", "state": {"value": 66.0, "max": 66.0}},
             "c": {"model_name": "HTMLModel", "state": {"value": "\u200766/66\u2007[00:04&lt;00:00]"}}}
    nb, errors = N.normalise(_nb([{"output_type": "stream", "name": "stdout", "text": "start\n"},
                                  _view("bar", "Rosetta rows:   0%|          | 0/66"),
                                  {"output_type": "stream", "name": "stdout", "text": "done\n"}], state))
    assert not errors and "widgets" not in nb["metadata"] and nb["cells"][0]["metadata"] == {}
    assert nb["cells"][0]["outputs"] == [{"output_type": "stream", "name": "stdout",
                                          "text": "start\nRosetta rows: 100% 66/66 [00:04<00:00]\ndone\n"}]


def test_a_frozen_bar_without_state_is_dropped_and_text_frames_keep_the_last() -> None:
    nb, _ = N.normalise(_nb([_view("gone", "x:   0%|          | 0/5"),
                             {"output_type": "stream", "name": "stdout", "text": "\rx:   0%|   | 0/5"},
                             {"output_type": "stream", "name": "stdout", "text": "\rx: 100%|###| 5/5\n"},
                             {"output_type": "stream", "name": "stderr", "text": "%3|FAIL|noise\n"}]))
    assert nb["cells"][0]["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "x: 100%|###| 5/5\n"}]


def test_an_interactive_widget_gets_a_readable_fallback_and_keeps_its_state() -> None:
    state = {"box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_s", "IPY_MODEL_go", "IPY_MODEL_o"]}},
             "s": {"model_name": "IntSliderModel", "state": {"value": 3, "description": "consumers"}},
             "go": {"model_name": "ButtonModel", "state": {"description": "start a group"}},
             "o": {"model_name": "OutputModel", "state": {"outputs": [
                 {"output_type": "display_data", "data": {"text/plain": "<chart: 3 consumers>"}}]}},
             "unused": {"model_name": "HTMLModel", "state": {}}}
    nb, _ = N.normalise(_nb([_view("box", "VBox(children=(IntSlider(value=3, ...")], state))
    plain = nb["cells"][0]["outputs"][0]["data"]["text/plain"]
    assert "VBox(" not in plain and plain.startswith(N.FALLBACK_MARK)
    assert "consumers: 3" in plain and "[button: start a group]" in plain and "a chart: 3 consumers" in plain
    assert set(nb["metadata"]["widgets"][N.WIDGET_STATE]["state"]) == {"box", "s", "go", "o"}
    assert N.normalise(nb)[0] == nb  # idempotent


def test_a_stored_error_is_reported_not_hidden() -> None:
    nb, errors = N.normalise(_nb([{"output_type": "error", "ename": "KeyError", "evalue": "'x'", "traceback": []}]))
    assert errors == ["cell 0: KeyError: 'x'"] and nb["cells"][0]["outputs"][0]["output_type"] == "error"


def test_an_old_chart_with_only_an_svg_gets_a_png() -> None:
    b = _bundle(charts.partition_counts_chart(pd.DataFrame({"partition": [0], "count": [3]})))
    old = {"output_type": "display_data", "metadata": {},
           "data": {"application/vnd.vegalite.v6+json": {}, "image/svg+xml": b["image/svg+xml"], "text/plain": "c"}}
    nb, _ = N.normalise(_nb([old]))
    assert base64.b64decode(nb["cells"][0]["outputs"][0]["data"]["image/png"]).startswith(b"\x89PNG")


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_every_lesson_is_stored_normalised(path: Path) -> None:
    text = path.read_text()
    nb, errors = N.normalise(json.loads(text))
    assert not errors, f"{path.name}: stored error outputs {errors}"
    assert N.dump(nb) == text, f"{path.name} was saved without normalising: run `make normalise`"
