"""Frames: size, orientation, and that each layer draws where it should and nowhere else."""
import json

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from gandiag import record as R
from gandiag.viz import style
from gandiag.viz.frames import TOY_LAYERS, FrameRenderer, parse_layers, parse_size
from gandiag.viz.panels import ARROW_LENGTH, push_vectors, tile
from gandiag.viz.source import RunView, VizError
from viz_synth import RING, metric_rows, toy_snapshot, write_run

SIZE = (480, 270)
FAKE_AT = RING.centres[5]              # every fake sits on mode 5 ...
PUSH = np.array([1.0, 0.0])            # ... and is pushed to +x
MANIFOLD_AT = np.array([1.0, -1.0])    # centre of a small pushed-forward z-grid


def scene(tmp_path, d_fn=lambda x, y: 0.5 + 0 * x, **config):
    """A one-snapshot ring8 run with everything at known places."""
    grid = np.stack(np.meshgrid(np.linspace(-0.3, 0.3, 5), np.linspace(-0.3, 0.3, 5)), -1)
    snap = toy_snapshot(np.tile(FAKE_AT, (64, 1)), np.tile(PUSH, (64, 1)), d_fn, manifold=MANIFOLD_AT + grid)
    return RunView(write_run(tmp_path / "run", {0: snap}, metric_rows(500, 50), **config))


@style.styled
def render(view, layers=None, size=SIZE):
    r = FrameRenderer(view, [view.snapshot(0)], layers, size)
    return r, r.render(0, view.snapshot(0))


def pixel_box(r, x0, x1, y0, y1) -> tuple[slice, slice]:
    """Rows and columns of the frame covering the data box [x0, x1] x [y0, y1] of the main panel."""
    (c0, b0), (c1, b1) = r.fig.axes[0].transData.transform([(x0, y0), (x1, y1)])
    h = r.size[1]
    return slice(int(h - b1), int(np.ceil(h - b0)) + 1), slice(int(c0), int(np.ceil(c1)) + 1)


def changed(a, b) -> np.ndarray:
    return np.any(a != b, axis=-1)


def test_frame_has_the_requested_size(tmp_path):
    view = scene(tmp_path)
    for size in [(480, 270), (531, 301)]:
        _, frame = render(view, size=size)
        assert frame.shape == (size[1], size[0], 3) and frame.dtype == np.uint8


@pytest.mark.parametrize("side, d_fn, high_at, low_at", [
    ("right", lambda x, y: (x > 0).astype(float), (1.5, 0.3), (-1.5, 0.3)),
    ("top", lambda x, y: (y > 0).astype(float), (0.3, 1.5), (0.3, -1.5)),
])
def test_heatmap_shows_d_high_where_d_is_high(tmp_path, side, d_fn, high_at, low_at):
    r, frame = render(scene(tmp_path, d_fn), "heatmap")
    cmap = style.heatmap_cmap()
    for (x, y), value in [(high_at, 1.0), (low_at, 0.0)]:
        rows, cols = pixel_box(r, x, x, y, y)
        assert_allclose(frame[rows, cols].reshape(-1, 3).mean(0) / 255, cmap(value)[:3], atol=2 / 255)


def test_critic_heatmap_spans_the_scores_of_the_frames(tmp_path):
    r, frame = render(scene(tmp_path, lambda x, y: 40.0 * (x > 0) - 7.0, loss="wgan"), "heatmap")
    assert_allclose([r.main.heat.norm.vmin, r.main.heat.norm.vmax], [-7.0, 33.0])


SPAN = ARROW_LENGTH * 2 * RING.window()[1]  # drawn length of a typical push arrow, in data units
# where each main-panel layer draws, in data coordinates (it may draw nowhere else)
REGIONS = {
    "fakes": [(FAKE_AT[0] - 0.15, FAKE_AT[0] + 0.15, FAKE_AT[1] - 0.15, FAKE_AT[1] + 0.15)],
    "arrows": [(FAKE_AT[0] - 0.1, FAKE_AT[0] + 1.2 * SPAN, FAKE_AT[1] - 0.15, FAKE_AT[1] + 0.15)],
    "manifold": [(0.65, 1.35, -1.35, -0.65)],
    "density": [(cx - 0.15, cx + 0.15, cy - 0.15, cy + 0.15) for cx, cy in RING.centres],
}


@pytest.mark.parametrize("layer", sorted(REGIONS))
def test_turning_a_layer_off_changes_pixels_only_where_it_draws(tmp_path, layer):
    view = scene(tmp_path)
    r, full = render(view, "-title,-bars,-curves")
    _, without = render(view, f"-title,-bars,-curves,-{layer}")
    inside = np.zeros(full.shape[:2], dtype=bool)
    for box in REGIONS[layer]:
        inside[pixel_box(r, *box)] = True
    diff = changed(full, without)
    assert diff[inside].any()
    assert_array_equal(diff[~inside], False)


def test_turning_the_heatmap_off_changes_only_the_plane_and_its_colour_bar(tmp_path):
    view = scene(tmp_path, lambda x, y: (x > 0).astype(float))
    r, full = render(view, "-title,-bars,-curves")
    _, without = render(view, "-title,-bars,-curves,-heatmap")
    inside = np.zeros(full.shape[:2], dtype=bool)
    h = r.size[1]
    for ax in r.fig.axes[:2]:  # the plane and the colour bar
        (c0, b0), (c1, b1) = ax.get_tightbbox().get_points()
        inside[int(h - b1): int(np.ceil(h - b0)) + 1, int(c0): int(np.ceil(c1)) + 1] = True
    diff = changed(full, without)
    assert diff[pixel_box(r, -0.8, 0.8, 0.3, 1.2)].all()  # a stretch of plane with nothing else on it
    assert_array_equal(diff[~inside], False)


def test_arrows_point_the_way_g_is_pushed(tmp_path):
    view = scene(tmp_path)
    r, with_arrows = render(view, "arrows,density")
    _, without = render(view, "density")
    diff = changed(with_arrows, without)
    x, y = FAKE_AT
    assert diff[pixel_box(r, x + 0.3 * SPAN, x + 0.8 * SPAN, y - 0.05, y + 0.05)].any()   # ahead: +x
    assert_array_equal(diff[pixel_box(r, x - 0.8 * SPAN, x - 0.3 * SPAN, y - 0.05, y + 0.05)], False)  # behind
    assert_array_equal(diff[pixel_box(r, x - 0.05, x + 0.05, y + 0.3 * SPAN, y + 0.8 * SPAN)], False)  # above


@pytest.mark.parametrize("layer, colour", [("bars", style.SKY), ("curves", style.RUN_COLOURS[1])])
def test_side_layers_draw_their_colour_only_when_on(tmp_path, layer, colour):
    view = scene(tmp_path)
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])

    def count(frame):
        return int((np.abs(frame.astype(int) - rgb).max(-1) <= 3).sum())
    _, on = render(view, f"heatmap,fakes,{layer}")
    _, off = render(view, "heatmap,fakes")
    assert count(on) > 20
    assert_array_equal(count(off), 0)


def test_title_shows_the_step_and_verdicts_from_where_their_evidence_begins(tmp_path):
    view = scene(tmp_path)
    r, at_0 = render(view, "heatmap,title")
    at_7 = r.render(7, view.snapshot(0))  # same snapshot, later step: only the title may change
    R.atomic_write_json(view.root / R.DIAGNOSIS_FILE, {R.VERDICTS: [
        {R.V_RULE: "mode_hopping", R.V_TITLE: "Mode hopping: the generator rotates",
         R.V_EVIDENCE: {R.EV_STEPS: [5, 9]}}]})
    assert view.verdicts() == [("Mode hopping", 5)]
    r2, verdict_at_0 = render(view, "heatmap,title")
    assert_array_equal(verdict_at_0, at_0)  # evidence starts at step 5
    verdict_at_7 = r2.render(7, view.snapshot(0))
    top = np.zeros(at_0.shape[:2], dtype=bool)
    top[:40] = True
    for a, b in [(at_0, at_7), (at_7, verdict_at_7)]:
        diff = changed(a, b)
        assert diff[top].any()
        assert_array_equal(diff[~top], False)


def test_unreadable_diagnosis_shows_no_verdicts(tmp_path):
    view = scene(tmp_path)
    (view.root / R.DIAGNOSIS_FILE).write_text('{"verdicts": [{"title": "half')
    assert view.verdicts() == []
    (view.root / R.DIAGNOSIS_FILE).write_text(json.dumps({R.VERDICTS: ["not a dict", {"x": 1}]}))
    assert view.verdicts() == []


def test_bars_show_each_modes_share_of_the_fakes(tmp_path):
    fakes = np.concatenate([np.tile(RING.centres[2], (48, 1)), np.tile(RING.centres[5], (16, 1))])
    snap = toy_snapshot(fakes, np.zeros_like(fakes), lambda x, y: 0.5 + 0 * x)
    view = RunView(write_run(tmp_path / "run", {0: snap}))
    r, _ = render(view, "bars")
    assert_allclose([b.get_height() for b in r.bars.bars], [0, 0, 0.75, 0, 0, 0.25, 0, 0])


def test_image_run_frames_show_samples_and_class_shares(tmp_path):
    images = np.linspace(-1, 1, 6 * 28 * 28).reshape(6, 1, 28, 28)
    rows = [{R.STEP: 0, R.D_LOSS: 1.0, R.MODE_COUNTS: [0, 0, 0, 30, 10, 0, 0, 0, 0, 0]}]
    view = RunView(write_run(tmp_path / "run", {0: {R.SNAP_IMAGES: images}}, rows, mixture=None, scenario="mnist"))
    r, frame = render(view)
    assert frame.shape == (SIZE[1], SIZE[0], 3)
    assert_allclose([b.get_height() for b in r.bars.bars], [0, 0, 0, 0.75, 0.25, 0, 0, 0, 0, 0])
    assert_allclose(r.main.image.get_array(), tile(images))
    _, without = render(view, "-samples")
    x0, y0, w, h = (np.asarray(r.fig.axes[0].get_position().bounds) * [*SIZE, *SIZE]).round().astype(int)
    plane = (slice(SIZE[1] - y0 - h, SIZE[1] - y0), slice(x0, x0 + w))
    assert changed(frame, without)[plane].any()
    assert_array_equal(without[plane], 255)


def test_tile_puts_samples_in_rows_with_a_gap():
    images = np.stack([np.full((1, 2, 3), v) for v in (-1.0, 0.0, 1.0)])
    expected = np.ones((5, 7))
    expected[0:2, 0:3], expected[0:2, 4:7], expected[3:5, 0:3] = 0.0, 0.5, 1.0
    assert_allclose(tile(images, max_side=2), expected)


def test_push_vectors_keep_direction_and_cap_length():
    arrows = np.array([[3.0, 4.0]] * 9 + [[0.0, -100.0], [np.nan, 1.0]])
    v = push_vectors(arrows, 1.0)
    assert_allclose(v[0], [0.6, 0.8])
    assert_allclose(v[9], [0.0, -1.5])
    assert_allclose(v[10], [0.0, 0.2])
    assert_allclose(push_vectors(np.zeros((4, 2)), 1.0), np.zeros((4, 2)))


def test_parse_layers_keeps_or_drops():
    assert parse_layers(None, TOY_LAYERS) == frozenset(TOY_LAYERS)
    assert parse_layers("heatmap, fakes", TOY_LAYERS) == {"heatmap", "fakes"}
    assert parse_layers("-arrows,-bars", TOY_LAYERS) == frozenset(TOY_LAYERS) - {"arrows", "bars"}
    with pytest.raises(VizError, match="unknown layer 'arow'"):
        parse_layers("arow", TOY_LAYERS)


def test_parse_size_reads_width_by_height():
    assert parse_size("640X360") == (640, 360)
    for bad in ("640", "axb", "50x50"):
        with pytest.raises(VizError):
            parse_size(bad)


def test_dpi_grows_text_and_margins_within_the_same_frame_size(tmp_path):
    view = scene(tmp_path)
    for dpi, margins in [(100, 46 + 30), (150, 1.5 * (46 + 30))]:  # title + bottom margins, in pixels
        r = style.styled(FrameRenderer)(view, [view.snapshot(0)], "heatmap,title", SIZE, dpi)
        assert_allclose(r.fig.axes[0].get_position().height * SIZE[1], SIZE[1] - margins)


def test_too_narrow_a_frame_is_a_clear_error(tmp_path):
    with pytest.raises(VizError, match="no room for the side panels"):
        render(scene(tmp_path), size=(300, 300))


def test_fakes_off_the_window_are_marked_on_its_edge_with_their_count(tmp_path):
    """Every fake far to the right (x = 10, y = 0.5): a mark where the ray from the centre leaves the
    window (x = edge, y = 0.5 * edge / 10), the count in a note, and no blue pixel anywhere else."""
    fakes = np.tile([10.0, 0.5], (64, 1))
    snap = toy_snapshot(fakes, np.zeros_like(fakes), lambda x, y: 0.5 + 0 * x)
    view = RunView(write_run(tmp_path / "run", {0: snap}))
    r, frame = render(view, "fakes")
    edge = RING.window()[1]
    assert r.main.note.get_text() == "off-window: 64 of 64 fakes, farthest 10 away"
    blue = np.abs(frame.astype(int) - [int(style.FAKE_COLOUR[i:i + 2], 16) for i in (1, 3, 5)]).max(-1) <= 40
    near = np.zeros_like(blue)
    near[pixel_box(r, edge - 0.25, edge, 0.5 * edge / 10 - 0.12, 0.5 * edge / 10 + 0.12)] = True
    assert blue[near].sum() > 10
    assert_array_equal(blue[~near], False)


def test_no_note_when_every_fake_is_inside(tmp_path):
    r, _ = render(scene(tmp_path), "fakes")
    assert r.main.note.get_text() == ""


def test_dropping_a_layer_keeps_the_default_layers_and_adds_none():
    figure_default = ("heatmap", "density", "fakes", "manifold")
    assert parse_layers("-heatmap", TOY_LAYERS, figure_default) == {"density", "fakes", "manifold"}
    assert parse_layers(None, TOY_LAYERS, figure_default) == frozenset(figure_default)
    assert parse_layers("all", TOY_LAYERS, figure_default) == frozenset(TOY_LAYERS)


@pytest.mark.parametrize("spec", ["-heatmap,-density,-fakes,-arrows,-manifold,-bars,-curves,-title", "fakes,-fakes"])
def test_layers_that_leave_nothing_to_draw_are_refused(spec):
    with pytest.raises(VizError, match="leaves nothing to draw: keep at least one of heatmap"):
        parse_layers(spec, TOY_LAYERS)
