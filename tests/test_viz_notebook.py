"""gandiag.show: the viewer (or the animation) inline in a notebook, and no IPython needed elsewhere."""
import html
import subprocess
import sys
import types

import pytest

import gandiag
from gandiag import record as R
from gandiag.viz.source import VizError
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
