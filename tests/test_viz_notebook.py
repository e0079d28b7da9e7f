"""gandiag in a notebook: show() puts the viewer (or the animation) inline, no IPython needed elsewhere, and
the calls a notebook makes refuse what they cannot use in one line."""
import html
import json
import re
import subprocess
import sys
import types

import pytest

import gandiag
from gandiag import record as R
from gandiag.viz.source import VizError
from tiny import toy_config
from viz_synth import rotating_run


def test_show_outside_ipython_returns_the_viewer_in_an_iframe(tmp_path):
    run = rotating_run(tmp_path / "run", 2, res=8, n_fakes=16)
    before = {p.name for p in run.iterdir()}
    inline = gandiag.show(run)
    assert inline._repr_html_() == inline.html
    assert inline.html.startswith('<iframe srcdoc="') and 'sandbox="allow-scripts allow-downloads"' in inline.html
    page = html.unescape(inline.html.split('srcdoc="')[1].split('" style=')[0])
    assert page.startswith("<!doctype html>") and "id=gd-data" in page
    # shown, not written: only the analyzer's files, as docs/pictures.md says
    assert {p.name for p in run.iterdir()} - before == {R.DIAGNOSIS_FILE, R.ANALYSIS_FILE}


def test_show_of_a_pass_shows_its_seeds_side_by_side(tmp_path):
    """show(PASS), the folder of a `gandiag run --seeds 2` pass, was refused with 'give one of them'."""
    for seed in (0, 1):
        rotating_run(tmp_path / "pass" / f"seed_{seed}", 2, res=8, n_fakes=16, seed=seed)
    page = html.unescape(gandiag.show(tmp_path / "pass").html.split('srcdoc="')[1].split('" style=')[0])
    (blob,) = re.findall(r"<script type=application/json id=gd-data>(.*?)</script>", page, re.S)
    assert [r["label"] for r in json.loads(blob.replace("<\\/", "</"))["runs"]] == ["seed_0", "seed_1"]


def test_show_in_ipython_displays_it_at_once(tmp_path, monkeypatch):
    shown = []
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: object()  # a running shell
    display = types.ModuleType("IPython.display")
    display.HTML = lambda text: ("HTML", text)
    display.display = shown.append
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    run = rotating_run(tmp_path / "run", 2, res=8, n_fakes=16)
    assert gandiag.show(run, what="animation", size=(480, 270)) is None
    (kind, text), = shown
    assert kind == "HTML" and text.startswith('<img alt="training animation" src="data:image/gif;base64,')
    assert not (run / "animation.gif").exists()


def test_importing_gandiag_needs_no_ipython():
    code = "import sys, gandiag, gandiag.viz.notebook; assert 'IPython' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("what, options, message", [
    ("viewer", {"size": (640, 360)}, "show(what='viewer') has no option size: it takes labels, height"),
    ("animation", {"labels": ["a"]}, "show(what='animation') has no option labels: it takes fmt, fps, dpi, size, "
                                     "layers, max_frames"),
    ("animation", {"out": "talk.gif"}, "show(what='animation') has no option out: it takes fmt, fps, dpi, size, "
                                       "layers, max_frames"),
])
def test_show_refuses_an_option_it_would_ignore(tmp_path, what, options, message):
    """show(run, size=(640, 360)) drew the viewer as ever, and out= was a TypeError of two values for out."""
    run = rotating_run(tmp_path / "run", 2, res=8, n_fakes=16)
    with pytest.raises(VizError) as refused:
        gandiag.show(run, what=what, **options)
    assert str(refused.value) == message


def test_show_takes_one_run_s_label_as_a_string(tmp_path):
    """labels="my run" was read as 6 labels, one per character: '6 labels for 1 runs'."""
    run = rotating_run(tmp_path / "run", 2, res=8, n_fakes=16)
    page = html.unescape(gandiag.show(run, labels="my run").html)
    assert "<title>gandiag: my run</title>" in page


@pytest.mark.parametrize("runs", [123, [], None, [1]])
def test_show_refuses_what_is_not_a_run_folder_in_one_line(tmp_path, runs):
    """show(123) failed in iter() ('int' object is not iterable) and show([]) as an IndexError in the viewer."""
    with pytest.raises(VizError) as refused:
        gandiag.show(runs)
    assert str(refused.value) == f"show({runs!r}): give a run folder (a str or Path) or a list of them"


@pytest.mark.parametrize("height", ["big", 0, -5, 400.7])
def test_show_refuses_a_height_that_is_not_whole_pixels(tmp_path, height):
    """height='big' was int()'s bare ValueError, 400.7 was cut to 400 and -5 hid the viewer."""
    run = rotating_run(tmp_path / "run", 2, res=8, n_fakes=16)
    with pytest.raises(VizError) as refused:
        gandiag.show(run, height=height)
    assert str(refused.value) == f"show(height={height!r}): give the viewer's height in pixels, a whole number >= 1"


@pytest.mark.parametrize("options, message", [
    ({"fps": "fast"}, "fps = 'fast' is not allowed: give a number of frames per second, e.g. 10"),
    ({"dpi": 0}, "dpi = 0 is not allowed: give a whole number from 20 to 2400"),
    ({"size": "big"}, "size = 'big' is not allowed: give (WIDTH, HEIGHT) in pixels, e.g. (800, 450)"),
    ({"size": (640,)}, "size = (640,) is not allowed: give (WIDTH, HEIGHT) in pixels, e.g. (800, 450)"),
    ({"size": (50, 50)}, "size '50x50' is too small: give at least 120x120 pixels"),
    ({"layers": 5}, "layers = 5 is not allowed: name them, e.g. 'heatmap,fakes' or ['heatmap', 'fakes']"),
    # the temporary file show() renders into is no --out of the user's
    ({"fmt": "GIF"}, "format 'GIF' is not supported: choose one of gif, mp4"),
])
def test_the_animation_refuses_an_option_of_the_wrong_kind_in_one_line(tmp_path, options, message):
    """What the CLI's option types refuse failed deep inside: dpi=0 a ZeroDivisionError, size='big' a TypeError
    of matplotlib's figure(), fps='fast' a comparison, fmt='GIF' named '--out /tmp/.../animation.GIF'."""
    run = rotating_run(tmp_path / "run", 2, res=8, n_fakes=16)
    for call in (lambda: gandiag.show(run, what="animation", **options), lambda: gandiag.animate(run, **options)):
        with pytest.raises(VizError) as refused:
            call()
        assert str(refused.value) == message
    assert not (run / "animation.gif").exists()


def test_the_animation_takes_layers_as_a_list(tmp_path):
    """layers=['heatmap', 'fakes'] failed with "'list' object has no attribute 'strip'"."""
    run = rotating_run(tmp_path / "run", 2, res=8, n_fakes=16)
    as_list = gandiag.show(run, what="animation", size=(480, 270), layers=["heatmap", "fakes"]).html
    assert as_list == gandiag.show(run, what="animation", size=(480, 270), layers="heatmap,fakes").html
    assert as_list != gandiag.show(run, what="animation", size=(480, 270)).html


@pytest.mark.parametrize("given", ["ring8", {"steps": 3}])
def test_run_refuses_what_is_not_a_config_in_one_line(tmp_path, given):
    """gandiag.run("ring8", ...) failed in the trainer: 'str' object has no attribute 'device'."""
    with pytest.raises(TypeError) as refused:
        gandiag.run(given, tmp_path / "run")
    assert str(refused.value) == (f"gandiag.run takes a Config, not {type(given).__name__} {given!r}: make one "
                                  "with gandiag.load_config(SCENARIO, **settings), or gandiag.make_config(settings) "
                                  "from a dict")
    assert not (tmp_path / "run").exists()
    assert gandiag.run(toy_config(steps=2), tmp_path / "run").status == R.FINISHED


@pytest.mark.parametrize("call, cli", [
    ("analyze", " (on the command line, gandiag analyze {} tabulates their findings)"),
    ("load_run", ""),
    ("resume", " (on the command line, gandiag resume {} continues all of them)"),
])
def test_a_folder_of_runs_is_refused_naming_its_runs(tmp_path, call, cli):
    """gandiag.analyze of a --seeds pass said 'not a gandiag run folder (no config.json): give the folder that
    `gandiag run` printed', the very folder `gandiag run --seeds` had printed."""
    for seed in (0, 1):
        rotating_run(tmp_path / "pass" / f"seed_{seed}", 2, res=8, n_fakes=16)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(R.RunError) as refused:
        getattr(gandiag, call)(tmp_path / "pass")
    first = str(tmp_path / "pass" / "seed_0")
    assert str(refused.value) == (f"{tmp_path / 'pass'} holds 2 run folders (seed_0, seed_1), not one run: gandiag."
                                  f"{call} takes one of them, e.g. gandiag.{call}({first!r})"
                                  + cli.format(tmp_path / "pass"))
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
