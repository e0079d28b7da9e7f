"""Figures at print size: every text drawn at >= 7 pt, inside the figure, and clear of every other text,
for a journal column and a full page with 3 or 6 strip panels, and for compared runs' curves."""
import itertools
import os

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.quiver import Quiver
from matplotlib.text import Text
from numpy.testing import assert_allclose

from gandiag import record as R
from gandiag.viz import style
from gandiag.viz.figures import SIZES, compare_figure, parse_figure_size, strip_figure, write_figure
from gandiag.viz.source import RunView, VizError
from viz_synth import rotating_run

VERDICTS = {R.VERDICTS: [
    {R.V_TITLE: "Mode hopping: the generator rotates through the modes", R.V_EVIDENCE: {R.EV_STEPS: [0, 500]}},
    {R.V_TITLE: "G loss keeps falling while samples do not improve", R.V_EVIDENCE: {R.EV_STEPS: [100, 500]}}]}


@pytest.fixture(scope="module")
def view(tmp_path_factory):
    run = rotating_run(tmp_path_factory.mktemp("fig") / "run", 6, res=16, n_fakes=64)
    R.atomic_write_json(run / R.DIAGNOSIS_FILE, VERDICTS)
    return RunView(run)


def drawn_texts(fig, monkeypatch) -> list[tuple[Text, object]]:
    """(text, its box in pixels) for every non-empty text the figure really draws (tick labels outside the
    view are not drawn, so they are not counted)."""
    drawn, draw = [], Text.draw

    def spy(self, renderer):
        draw(self, renderer)
        if self.get_visible() and self.get_text().strip():
            drawn.append((self, self.get_window_extent(renderer)))
    monkeypatch.setattr(Text, "draw", spy)
    FigureCanvasAgg(fig).draw()
    return drawn


def assert_print_ready(fig, monkeypatch):
    texts = drawn_texts(fig, monkeypatch)
    assert texts
    smallest = min(t.get_fontsize() for t, _ in texts)
    assert smallest >= 7.0, f"smallest font {smallest} pt"
    page = fig.bbox
    for t, box in texts:  # nothing cut at the figure's edge
        assert page.x0 - 0.5 <= box.x0 and box.x1 <= page.x1 + 0.5 and page.y0 - 0.5 <= box.y0 \
            and box.y1 <= page.y1 + 0.5, f"{t.get_text()!r} is cut off"
    for (a, box_a), (b, box_b) in itertools.combinations(texts, 2):
        shrunk = [bx.expanded(1, 1).padded(-1) for bx in (box_a, box_b)]
        assert not shrunk[0].overlaps(shrunk[1]), f"{a.get_text()!r} overlaps {b.get_text()!r}"


@pytest.mark.parametrize("size", ["column", "page"])
@pytest.mark.parametrize("steps", [[0, 200, 500], None])
@style.styled
def test_strip_figure_is_print_ready(view, monkeypatch, size, steps):
    fig = strip_figure(view, steps, size=parse_figure_size(size))
    assert_allclose(fig.get_size_inches()[0], SIZES[size])
    assert_print_ready(fig, monkeypatch)


@style.styled
def test_compare_figure_names_runs_in_a_legend_not_a_cut_title(tmp_path, monkeypatch):
    views = [RunView(rotating_run(tmp_path / name, 3, res=8, n_fakes=16)) for name in ("a", "b")]
    labels = ["ring8, vanilla, seed=0, d_lr=0.0001", "mixture of 12 with a long name, unrolled K=10"]
    fig = compare_figure(views, labels, parse_figure_size("column"))
    assert fig.get_suptitle() == ""
    assert [t.get_text() for t in fig.legends[0].get_texts()] == labels
    assert_print_ready(fig, monkeypatch)


def test_figure_sizes_parse():
    assert parse_figure_size("column") == (3.5, None)
    assert parse_figure_size("Page") == (7.0, None)
    assert parse_figure_size("7x4.5") == (7.0, 4.5)
    for bad in ("wide", "7", "0.5x3"):
        with pytest.raises(VizError):
            parse_figure_size(bad)


@style.styled
def test_a_figure_without_a_layer_draws_no_layer_the_figure_leaves_out(view):
    fig = strip_figure(view, [0, 200], layers="-heatmap")
    panels = [ax for ax in fig.axes if ax.get_title().startswith("step")]
    assert len(panels) == 2
    assert not any(ax.images for ax in panels)   # no heatmap
    # and no arrows: the figure's default leaves them out, and dropping a layer adds none
    assert not any(isinstance(c, Quiver) for ax in panels for c in ax.collections)



@pytest.mark.parametrize("layers", ["bars", "curves,title", "fakes,bars"])
def test_a_figure_refuses_layers_its_panels_do_not_draw(view, layers):
    """--layers bars drew empty panels: the figure's panels have no bars, curves nor title to keep."""
    with pytest.raises(VizError, match="^unknown layer '(bars|curves)': choose from heatmap, density, fakes, arrows, "
                                       r"manifold \(prefix with - to drop one\)$"):
        strip_figure(view, [0, 200], layers=layers)


def test_verdicts_older_than_the_metrics_are_not_drawn_and_a_figure_asks_the_analyzer_anew(tmp_path):
    """A run resumed after `gandiag analyze` was titled with the verdicts of its shorter self ('Training
    blew up' of steps 100-300 on a run of 800 steps whose analysis no longer finds it)."""
    run = rotating_run(tmp_path / "run", 3, res=8, n_fakes=16)
    stale = {R.VERDICTS: [{R.V_TITLE: "Stale verdict: of an older analysis", R.V_EVIDENCE: {R.EV_STEPS: [0, 100]}}]}
    R.atomic_write_json(run / R.DIAGNOSIS_FILE, stale)
    metrics_time = (run / R.METRICS_FILE).stat().st_mtime
    os.utime(run / R.DIAGNOSIS_FILE, (metrics_time - 60, metrics_time - 60))
    fig = strip_figure(RunView(run), [0, 200])
    assert "Stale verdict" not in fig.get_suptitle()
    write_figure(run, [0, 200], dpi=20, out=tmp_path / "fig.png")
    assert (run / R.DIAGNOSIS_FILE).stat().st_mtime >= metrics_time
    assert "Stale verdict" not in (run / R.DIAGNOSIS_FILE).read_text()
