"""The lessons in a real browser: JupyterLab in headless Chromium, on a fresh (untrusted) copy of the notebooks.

For each lesson: opened before anything runs, every stored chart shows as a picture (no ``<chart:`` text,
no raw ``VBox(children=`` repr); then Run All through the menu finishes with no error output and every cell
numbered. In lesson 01 one widget (the "sources" slider) is then moved and its chart must change. Screenshots go to build/browser/.

Run with ``make test-browser`` (it installs Debian's chromium and playwright first). Skipped, with the
reason, where either is missing. ``KFP_BROWSER_LESSONS=00,01`` limits the lessons (default: all).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "build" / "browser"
CHROMIUM = os.environ.get("KFP_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TOKEN = "workbook-browser-test"
VEGA_MIMES = ("application/vnd.vegalite.v5+json", "application/vnd.vegalite.v6+json")
RAW_WIDGET = re.compile(r"\b[HV]Box\(children=|IntSlider\(value=|Button\(description=")
#: a lesson's Run All must end within this (the slowest lesson takes about 2 minutes under nbval)
RUN_ALL_S = 420


def _lessons() -> list[Path]:
    only = [x.strip() for x in os.environ.get("KFP_BROWSER_LESSONS", "").split(",") if x.strip()]
    every = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    return [p for p in every if not only or p.name[:2] in only]


LESSONS = _lessons()
playwright_sync = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: run make test-browser")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}: make test-browser installs Debian's chromium (needs root + apt-get)",
                allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settings(folder: Path) -> None:
    """User settings for the test's JupyterLab: every cell in the DOM, no news pop-up."""
    for plugin, values in {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                           "checkForUpdates": False},
    }.items():
        path = folder / plugin
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory, kafka) -> str:
    """JupyterLab serving a fresh copy of notebooks/ with its own (empty) trust store: nothing is trusted."""
    base = tmp_path_factory.mktemp("lab")
    work = base / "notebooks"
    shutil.copytree(ROOT / "notebooks", work, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    _settings(base / "settings")
    env = dict(os.environ, JUPYTER_DATA_DIR=str(base / "data"), JUPYTER_CONFIG_DIR=str(base / "config"),
               JUPYTERLAB_SETTINGS_DIR=str(base / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(base / "ws"),
               JUPYTER_RUNTIME_DIR=str(base / "runtime"))
    port = _free_port()
    log = (base / "lab.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--notebook-dir={work}", f"--IdentityProvider.token={TOKEN}", "--LabApp.news_url=",
         "--ServerApp.open_browser=False", "--allow-root"], env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"JupyterLab did not start: see {base / 'lab.log'}")
            time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def browser():
    with playwright_sync.sync_playwright() as pw:
        # playwright gives each launch a fresh temporary profile (the --user-data-dir of the flags above)
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, lab: str):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    ctx.close()
    _shut_down_kernels(lab)


#: a stored chart drawn as a picture: JupyterLab's Vega renderer (it is itself the output node) once it has
#: drawn, or an <img> (the PNG copy)
PICTURES = ".jp-OutputArea-output.jp-RenderedVegaLite:has(canvas, svg), .jp-OutputArea-output img"


def _open(page, lab: str, name: str) -> None:
    # a workspace of its own per lesson (reset): no tabs restored from the previous test
    page.goto(f"{lab}/lab/workspaces/{Path(name).stem}/tree/{name}?reset&token={TOKEN}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
    page.wait_for_function(  # the kernel is up: the status bar leaves "Starting"/"Connecting"
        "() => /Idle/.test(document.querySelector('#jp-main-statusbar')?.innerText || '')",
        timeout=90_000)



def _shut_down_kernels(lab: str) -> None:
    """Every kernel this JupyterLab runs, shut down (a lesson's kernel must not keep the next one waiting)."""
    headers = {"Authorization": f"token {TOKEN}"}
    with urllib.request.urlopen(urllib.request.Request(f"{lab}/api/kernels", headers=headers), timeout=10) as r:
        kernels = json.load(r)
    for k in kernels:
        urllib.request.urlopen(urllib.request.Request(f"{lab}/api/kernels/{k['id']}", method="DELETE",
                                                      headers=headers), timeout=30).close()


def _shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    page.screenshot(path=str(path), full_page=False)
    return path


def _shot_first_picture(page, path: Path, tries: int = 5) -> None:
    """A screenshot of the first drawn chart. JupyterLab may re-render an output area while the notebook settles
    (the workspace restore after ``?reset``), which detaches the element a locator found a moment before; the
    locator is resolved afresh on each try, so a replaced element is simply found again."""
    for attempt in range(tries):
        try:
            first = page.locator(PICTURES).first
            first.scroll_into_view_if_needed(timeout=10_000)
            first.screenshot(path=str(path), timeout=10_000)
            return
        except playwright_sync.Error as e:
            if "not attached" not in str(e) or attempt == tries - 1:
                raise
            page.wait_for_timeout(500)


def _stored_charts(path: Path) -> int:
    cells = json.loads(path.read_text())["cells"]
    return sum(1 for c in cells for o in c.get("outputs", []) if any(m in o.get("data", {}) for m in VEGA_MIMES))


def _output_text(page) -> str:
    return page.eval_on_selector_all(".jp-OutputArea-output", "els => els.map(e => e.innerText).join('\\n')")


@pytest.mark.timeout(RUN_ALL_S + 180)
@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name[:2])
def test_lesson_shows_its_charts_then_runs_all_without_errors(page, lab: str, path: Path) -> None:
    _open(page, lab, path.name)
    stored = _stored_charts(path)
    try:  # Vega loads its code on first use: give the stored charts time to draw
        page.wait_for_function(f"() => document.querySelectorAll({PICTURES!r}).length >= {stored}", timeout=60_000)
    except playwright_sync.TimeoutError:
        pass  # the assertion below says how many were drawn
    text = _output_text(page)
    assert "<chart:" not in text, f"{path.name}: a stored chart shows as text in a fresh clone"
    assert not RAW_WIDGET.search(text), f"{path.name}: a raw widget repr is shown: {RAW_WIDGET.search(text)[0]}"
    drawn = page.locator(PICTURES).count()
    assert drawn >= stored, f"{path.name}: {drawn} pictures for {stored} stored charts"
    _shot(page, f"{path.stem}-opened.png")
    if drawn:
        _shot_first_picture(page, SHOTS / f"{path.stem}-first-chart.png")

    page.click(".lm-MenuBar-item:has-text('Run')")
    page.click(".lm-Menu-item[data-command='runmenu:run-all']")
    page.wait_for_function("() => [...document.querySelectorAll('.jp-InputPrompt')].some(p => p.innerText.includes('*'))",
                           timeout=30_000)
    page.wait_for_function(
        "() => ![...document.querySelectorAll('.jp-InputPrompt')].some(p => /\\[[*]\\]/.test(p.innerText))",
        timeout=RUN_ALL_S * 1000, polling=1000)
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']")
    _shot(page, f"{path.stem}-ran.png")
    if errors.count():
        first = errors.first
        first.scroll_into_view_if_needed()
        _shot(page, f"{path.stem}-error.png")
        pytest.fail(f"{path.name}: {errors.count()} error output(s) after Run All; first: "
                    f"{first.inner_text()[:400]}")
    text = _output_text(page)
    assert "<chart:" not in text
    prompts = page.eval_on_selector_all(".jp-CodeCell .jp-InputPrompt", "ps => ps.map(p => p.innerText.trim())")
    assert prompts and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts), f"{path.name}: not every cell ran"
    if path.name.startswith("01_"):
        _move_a_widget(page)


def _idle(page) -> None:
    page.wait_for_function(
        "() => /Idle/.test(document.querySelector('#jp-main-statusbar')?.innerText || '')", timeout=60_000)


WIDGET_CHART = ".jp-RenderedVegaLite, .jp-RenderedImage, .jp-RenderedSVG"


def _widget_chart_pixels(box) -> bytes | None:
    """A screenshot of the explorer's chart, or None while its Output widget is between charts. The widget
    clears and redraws on each change, so the element a locator found a moment before can be detached or
    hidden when the screenshot is taken (CI saw "Node is either not visible or not an HTMLElement"); the
    caller polls again with a fresh locator."""
    chart = box.locator(WIDGET_CHART).filter(visible=True).first
    try:
        return chart.screenshot(timeout=5_000) if chart.count() else None
    except playwright_sync.Error as e:
        if "not visible" in str(e) or "not attached" in str(e) or "Timeout" in str(e):
            return None
        raise


def _move_a_widget(page) -> None:
    """Lesson 01's connections explorer: two steps right on "sources" redraws its chart with 2 more sources."""
    row = page.locator(".widget-slider:has(.widget-label:text-is('sources'))").first
    box = row.locator("xpath=ancestor::div[contains(@class,'widget-vbox')][1]")
    box.scroll_into_view_if_needed()
    readout = row.locator(".widget-readout")
    box.locator(WIDGET_CHART).first.wait_for()
    page.wait_for_timeout(1000)  # Vega draws after the element appears
    before_value, before = int(readout.inner_text()), _widget_chart_pixels(box)
    assert before is not None, "lesson 01's explorer shows no chart before the slider moves"
    _shot(page, "01-widget-before.png")
    row.locator(".noUi-handle").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    _idle(page)  # the kernel has run the slider's callback
    after, deadline = before, time.monotonic() + 20
    while after == before and time.monotonic() < deadline:  # the Output widget redraws its chart
        page.wait_for_timeout(500)
        after = _widget_chart_pixels(box) or before
    _shot(page, "01-widget-after.png")
    assert int(readout.inner_text()) == before_value + 2
    assert after != before, "the chart did not change within 20 s of moving the slider"
    drawn_as = box.locator(".jp-RenderedVegaLite svg text")
    if drawn_as.count():  # Vega drew an SVG: its title must name the new count
        n = before_value + 2
        assert box.get_by_text(f"{n} x ").count(), "the chart's title does not show the new number of sources"
