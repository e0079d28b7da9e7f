"""The report viewer in a real browser: Debian's headless Chromium driven by Playwright (tests/viz_browser.py).
Skipped only when no Chromium (or no Playwright) is installed, with the reason in the skip message."""
import numpy as np
import pytest
import torch

import gandiag

from gandiag import record as R
from gandiag.record.recorder import Recorder
from gandiag.viz import style
from gandiag.viz.report import write_report
from own_loop import players, train
from viz_browser import browser_page, missing
from viz_synth import rotating_run, write_run

pytestmark = pytest.mark.skipif(missing() is not None, reason=f"browser test skipped: {missing()}")

FAKE_RGB = [int(style.FAKE_COLOUR[i:i + 2], 16) for i in (1, 3, 5)]
COUNT_PIXELS = """(canvas, rgb) => {
    const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4)
        if (Math.abs(d[i] - rgb[0]) + Math.abs(d[i + 1] - rgb[1]) + Math.abs(d[i + 2] - rgb[2]) < 12) n++;
    return n; }"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    run = rotating_run(tmp_path_factory.mktemp("browser") / "run", 5, res=16, n_fakes=64, z2=True)
    R.atomic_write_json(run / R.DIAGNOSIS_FILE, {R.VERDICTS: [
        {R.V_RULE: "mode_hopping", R.V_TITLE: "Mode hopping: the generator rotates through the modes",
         R.V_SEVERITY: "warning", R.V_MESSAGE: "the dominant mode changed 4 times",
         R.V_EVIDENCE: {R.EV_STEPS: [100, 300], "windows": 2}, R.V_REMEDIES: ["unrolled D: --unrolled 10"]}],
        R.RULES_CHECKED: ["mode_hopping"]})
    return write_report(run)


def open_report(page, path):
    """Load the page, recording console errors, page errors and every request it makes."""
    errors, requests = [], []
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_selector("#curves svg")
    return errors, requests


def test_report_loads_offline_and_the_slider_and_layers_work(report, tmp_path):
    with browser_page() as page:
        errors, requests = open_report(page, report)
        assert errors == []
        assert requests == [report.as_uri()]  # the page itself, nothing else: no network, no CDN

        label = page.locator("#step-label")
        cursor = page.locator("#curves .cursor").first
        assert label.get_attribute("data-step") == "400"  # opens at the last snapshot
        at_end = cursor.get_attribute("x1")
        page.focus("#slider")
        page.keyboard.press("Home")
        assert label.get_attribute("data-step") == "0"
        assert page.locator("canvas.plane").get_attribute("data-step") == "0"
        assert float(cursor.get_attribute("x1")) < float(at_end)
        page.keyboard.press("ArrowRight")
        assert label.get_attribute("data-step") == "100"
        assert "step 100 of 400" in label.inner_text()

        plane = page.locator("canvas.plane")

        def count(rgb):
            return plane.evaluate(COUNT_PIXELS, rgb)
        arrows = count([0, 0, 0])
        page.locator("[data-layer=arrows]").uncheck()
        assert arrows > 20 and count([0, 0, 0]) < arrows / 10  # (the frame line stays)
        with_fakes = count(FAKE_RGB)
        page.locator("[data-layer=fakes]").uncheck()
        assert with_fakes > 20 and count(FAKE_RGB) == 0
        page.locator("[data-layer=fakes]").check()
        assert count(FAKE_RGB) == with_fakes

        spans = page.locator("#curves .verdict-span title")
        assert "Mode hopping" in spans.first.text_content() and "from step 100 to 300" in spans.first.text_content()
        assert page.locator("#csv-link").get_attribute("href").startswith("blob:")
        shot = tmp_path / "viewer.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the viewer: {shot}")
        assert errors == [] and requests == [report.as_uri()]


def test_playing_moves_through_every_snapshot_and_stops_at_the_end(report):
    with browser_page() as page:
        errors, _ = open_report(page, report)
        page.focus("#slider")
        page.keyboard.press("Home")
        page.click("#play")
        page.wait_for_function("document.getElementById('step-label').dataset.step === '400'", timeout=5000)
        page.wait_for_function("document.getElementById('play').textContent.includes('play')", timeout=5000)
        assert errors == []


def test_a_report_on_points_without_modes_draws_the_points_and_no_share(tmp_path):
    points = np.random.default_rng(2).normal(size=(200, 2))
    with Recorder(tmp_path / "run", target=gandiag.target(points)) as rec:
        train(*players(), 10, rec, every=5, data=torch.as_tensor(points[:64], dtype=torch.float32))
    with browser_page() as page:
        errors, _ = open_report(page, write_report(tmp_path / "run"))
        plane = page.locator("canvas.plane")
        page.locator("[data-layer=fakes]").uncheck()
        page.locator("[data-layer=arrows]").uncheck()
        with_points = plane.evaluate("c => c.toDataURL()")
        page.locator("[data-layer=target]").uncheck()
        assert plane.evaluate("c => c.toDataURL()") != with_points
        assert errors == []


def test_a_report_on_snapshots_of_fakes_alone_draws_the_fakes_and_no_heatmap(tmp_path):
    report = write_report(rotating_run(tmp_path / "run", 3, n_fakes=64, fakes_alone=True))
    with browser_page() as page:
        errors, _ = open_report(page, report)
        plane = page.locator("canvas.plane")
        with_fakes = plane.evaluate(COUNT_PIXELS, FAKE_RGB)
        page.locator("[data-layer=fakes]").uncheck()
        assert with_fakes > 20 and plane.evaluate(COUNT_PIXELS, FAKE_RGB) == 0
        page.locator("[data-layer=heatmap]").check()   # asked for, with no D grid to draw: nothing breaks
        page.locator("[data-layer=arrows]").check()
        assert errors == []


def test_the_table_at_a_diverged_step_says_n_a_not_an_earlier_loss(tmp_path):
    rows = [{R.STEP: s, R.D_LOSS: 1.25, R.G_LOSS: 0.75, R.MODES: 8} for s in (0, 100)]
    rows[-1][R.D_LOSS] = float("nan")   # written as null; modes from step 0 stand for step 100 (logged less often)
    del rows[-1][R.MODES]
    fakes = {s: {R.SNAP_FAKES: np.zeros((8, 2), dtype=np.float32)} for s in (0, 100)}
    with browser_page() as page:
        errors, _ = open_report(page, write_report(write_run(tmp_path / "run", fakes, rows)))
        cells = dict(page.eval_on_selector_all("#at-step tr", "rows => rows.slice(1).map(r => "
                                               "[r.cells[0].textContent, r.cells[1].textContent])"))
        assert (cells["D loss"], cells["G loss"], cells["modes with ≥ 1 high-quality sample"]) == ("n/a", "0.75", "8")
        assert errors == []


def test_the_slider_reaches_the_last_step_logged_after_the_last_snapshot(tmp_path):
    """A run that diverged (or a loop that logs past its last snapshot) ended after that snapshot: the slider
    stopped there, 'step 100 of 150', and the table never showed the rows of how the run ended."""
    rows = [{R.STEP: s, R.D_LOSS: 1.25, R.G_LOSS: 0.75} for s in (0, 100, 150)]
    rows[-1][R.D_LOSS] = float("nan")
    fakes = {s: {R.SNAP_FAKES: np.zeros((8, 2), dtype=np.float32)} for s in (0, 100)}
    with browser_page() as page:
        errors, _ = open_report(page, write_report(write_run(tmp_path / "run", fakes, rows)))
        label = page.locator("#step-label")
        assert (label.get_attribute("data-step"), label.inner_text()) == ("150", "step 150 of 150 (snapshot 100)")
        assert page.locator("canvas.plane").get_attribute("data-step") == "100"
        cells = dict(page.eval_on_selector_all("#at-step tr", "rows => rows.slice(1).map(r => "
                                               "[r.cells[0].textContent, r.cells[1].textContent])"))
        assert cells["D loss"] == "n/a"
        page.focus("#slider")
        page.keyboard.press("ArrowLeft")
        assert (label.get_attribute("data-step"), label.inner_text()) == ("100", "step 100 of 150")
        assert errors == []


def test_a_curve_of_one_logged_value_is_drawn_as_a_dot_from_its_step_on(tmp_path):
    """A line through one point draws nothing: a run that diverged after its first rows showed empty plots."""
    rows = [{R.STEP: 0, R.MODES: 3}, {R.STEP: 6, R.D_LOSS: None, R.G_LOSS: 0.75}]
    fakes = {0: {R.SNAP_FAKES: np.zeros((8, 2), dtype=np.float32)}}
    with browser_page() as page:
        errors, _ = open_report(page, write_report(write_run(tmp_path / "run", fakes, rows)))
        losses = page.locator("#curves svg[data-group=losses]")
        lone = """svg => Array.from(svg.querySelectorAll('circle')).map(c => [c.getAttribute('fill'),
                   c.getAttribute('visibility'), c.getBoundingClientRect().width > 3])"""
        g_colour = style.RUN_COLOURS[1]   # G is the losses' second series
        assert losses.evaluate(lone) == [[g_colour, None, True], [g_colour, "visible", True]]  # faint and solid
        page.focus("#slider")
        page.keyboard.press("Home")   # step 0: G's loss is not logged yet
        assert losses.evaluate(lone)[1][1] == "hidden"
        assert errors == []


def test_a_loop_that_logs_words_with_commas_gets_a_viewer_with_its_numbers_in_place(tmp_path):
    """The viewer split the metrics at every comma, quoted or not: a row logged with phase="warm, up" had
    one cell too many, and the page stopped with a TypeError, drawing nothing."""
    with Recorder(tmp_path / "run", target=gandiag.target("ring8")) as rec:
        for step in (0, 10):
            rec.log(step, phase="warm, up", lr={"g": 1e-3, "d": 2e-3}, d_loss=1.25 + step / 100, g_loss=0.75)
            rec.snapshot(step, fakes=np.zeros((8, 2), dtype=np.float32))
    with browser_page() as page:
        errors, _ = open_report(page, write_report(tmp_path / "run"))
        cells = dict(page.eval_on_selector_all("#at-step tr", "rows => rows.slice(1).map(r => "
                                               "[r.cells[0].textContent, r.cells[1].textContent])"))
        assert (cells["D loss"], cells["G loss"]) == ("1.35", "0.75")
        assert errors == []


def test_the_space_bar_plays_from_the_slider_and_leaves_the_folded_evidence_its_own(report):
    """Space did nothing once the slider had focus (after dragging it, say), and on the evidence's summary
    it started playing rather than unfolding it."""
    with browser_page() as page:
        errors, _ = open_report(page, report)
        page.focus("#slider")
        page.keyboard.press("Home")
        page.keyboard.press(" ")
        assert "pause" in page.locator("#play").inner_text()
        page.wait_for_function("document.getElementById('play').textContent.includes('play')", timeout=5000)
        assert page.locator("#step-label").get_attribute("data-step") == "400"
        page.focus("details summary")
        page.keyboard.press(" ")
        assert page.locator("details").first.evaluate("d => d.open") and "play" in page.locator("#play").inner_text()
        assert errors == []
