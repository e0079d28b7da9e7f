"""Animations and comparisons: frame counts, sizes, step alignment across runs, one colour scale,
MP4 through imageio-ffmpeg."""
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from PIL import Image, ImageSequence

from gandiag import record as R
from gandiag.viz import animate, style
from gandiag.viz.animate import HOLD_LAST_S, Timeline, animate_run
from gandiag.viz.frames import FrameRenderer
from gandiag.viz.compare import compare_runs
from gandiag.viz.source import RunView, VizError, at_or_before, timeline
from viz_synth import RING, metric_rows, rotating_run, toy_snapshot, write_run

SIZE = (480, 270)


def gif_frames(path):
    with Image.open(path) as im:
        return [(f.convert("RGB").copy(), f.info.get("duration")) for f in ImageSequence.Iterator(im)]


def test_gif_has_one_frame_per_snapshot_at_the_requested_size(tmp_path):
    run = rotating_run(tmp_path / "run", 4, res=16, n_fakes=64)
    out = animate_run(run, fps=5, size=SIZE)
    frames = gif_frames(out)
    assert out == run / "animation.gif"
    assert [f.size for f, _ in frames] == [SIZE] * 4
    assert [d for _, d in frames] == [200, 200, 200, round(1000 * HOLD_LAST_S)]


def test_an_out_without_a_suffix_is_a_stem_and_a_file_of_that_name_is_kept(tmp_path):
    """--out NOTES replaced the user's file NOTES with the GIF."""
    run = rotating_run(tmp_path / "run", 2, res=8, n_fakes=16)
    notes = tmp_path / "NOTES"
    notes.write_text("my notes")
    assert animate_run(run, size=SIZE, out=notes) == tmp_path / "NOTES.gif"
    assert notes.read_text() == "my notes"
    assert len(gif_frames(tmp_path / "NOTES.gif")) == 2


def test_long_runs_are_thinned_to_max_frames_keeping_first_and_last(tmp_path):
    views = [RunView(rotating_run(tmp_path / "run", 9, res=8, n_fakes=16))]
    assert timeline(views, 5) == [0, 200, 400, 600, 800]
    assert timeline(views, 3) == [0, 400, 800]
    assert timeline(views, 50) == list(range(0, 900, 100))


def test_at_or_before_takes_the_last_snapshot_not_after_the_step():
    steps = [0, 150, 300]
    assert [at_or_before(steps, s) for s in (0, 100, 149, 150, 299, 300, 1000)] == [0, 0, 0, 150, 150, 300, 300]
    assert at_or_before([50, 100], 10) == 50  # nothing before: the first one


def two_runs(tmp_path):
    """Run A snapshots every 100 steps, run B every 150; each snapshot's fakes sit on mode (step // 50) % 8,
    so the mode a panel shows tells which snapshot it draws."""
    def run(name, every, last, unrolled):
        snaps = {}
        for step in range(0, last + 1, every):
            at = RING.centres[(step // 50) % 8]
            snaps[step] = toy_snapshot(np.tile(at, (32, 1)), np.zeros((32, 2)), lambda x, y: 0.5 + 0 * x, res=8)
        return write_run(tmp_path / name, snaps, metric_rows(last, 50), unrolled=unrolled)
    return run("a", 100, 400, 0), run("b", 150, 450, 10)


def test_compare_aligns_runs_by_step(tmp_path):
    a, b = two_runs(tmp_path)
    tl = Timeline([RunView(a), RunView(b)], 200)
    assert tl.steps == [0, 100, 150, 200, 300, 400, 450]
    assert tl.shown == [[0, 100, 100, 200, 300, 400, 400], [0, 0, 150, 150, 300, 300, 450]]


@style.styled
def test_compare_frames_show_each_runs_snapshot_at_or_before_the_step(tmp_path):
    a, b = two_runs(tmp_path)
    tl = Timeline([RunView(a), RunView(b)], 200)
    renderers = tl.renderers("fakes", SIZE, 100)
    k = tl.steps.index(200)   # A shows its snapshot 200 (mode 4), B its snapshot 150 (mode 3)
    frame = tl.frame(renderers, k)
    assert frame.shape == (SIZE[1], 2 * SIZE[0], 3)
    blue = np.array([int(style.FAKE_COLOUR[i:i + 2], 16) for i in (1, 3, 5)])
    for panel, (r, mode) in enumerate(zip(renderers, (4, 3))):
        x, y = r.fig.axes[0].transData.transform(RING.centres[mode])
        row, col = int(SIZE[1] - y), int(x) + panel * SIZE[0]
        assert_allclose(frame[row - 1: row + 2, col - 1: col + 2].reshape(-1, 3).mean(0), blue, atol=3)


def test_compare_needs_two_runs_of_one_kind(tmp_path):
    a, _ = two_runs(tmp_path)
    with pytest.raises(VizError, match="at least two"):
        compare_runs([a], tmp_path / "cmp")
    image = write_run(tmp_path / "img", {0: {R.SNAP_IMAGES: np.zeros((4, 1, 8, 8))}}, mixture=None)
    with pytest.raises(VizError, match="one kind"):
        compare_runs([a, image], tmp_path / "cmp")


def test_a_crashed_run_animates_from_what_is_there(tmp_path):
    run = rotating_run(tmp_path / "run", 3, res=8, n_fakes=16)
    with open(run / R.METRICS_FILE, "a") as f:
        f.write('{"step": 300, "d_loss": 1.3')  # killed mid-line
    shutil.rmtree(run / R.CHECKPOINT_DIR)
    assert len(gif_frames(animate_run(run, size=SIZE))) == 3


def test_a_diverged_run_animates_without_warnings(tmp_path):
    """NaN fakes, gradients, D scores and losses (warnings are errors in this suite) still draw."""
    fine = toy_snapshot(np.zeros((16, 2)), np.ones((16, 2)), lambda x, y: 0.5 + 0 * x, res=8)
    nan = toy_snapshot(np.full((16, 2), np.nan), np.full((16, 2), np.nan), lambda x, y: np.nan * x, res=8)
    rows = metric_rows(100, 50)
    rows[-1][R.D_LOSS] = float("nan")
    run = write_run(tmp_path / "run", {0: fine, 100: nan}, rows, loss="wgan")
    assert len(gif_frames(animate_run(run, size=SIZE))) == 2


def test_a_run_without_snapshots_is_a_clear_error(tmp_path):
    run = write_run(tmp_path / "run", {})
    with pytest.raises(VizError, match="holds no snapshots to draw: record some"):
        animate_run(run)


def test_a_gif_faster_than_browsers_play_is_refused_before_rendering(tmp_path, monkeypatch):
    run = rotating_run(tmp_path / "run", 2, res=8, n_fakes=16)
    monkeypatch.setattr(animate, "Timeline", None)   # nothing is rendered
    with pytest.raises(VizError, match=r"^fps = 60 is too fast for a GIF: browsers would play it at 10 frames per "
                                       r"second; give --fps 50 or less, or use --format mp4$"):
        animate_run(run, fps=60)
    assert not (run / "animation.gif").exists()


def test_mp4_needs_no_system_ffmpeg_and_holds_its_last_frame(tmp_path, monkeypatch):
    """imageio-ffmpeg's own binary encodes it with nothing on PATH; decoding it back gives every frame,
    the last one repeated for HOLD_LAST_S."""
    import imageio_ffmpeg
    run = rotating_run(tmp_path / "run", 3, res=8, n_fakes=16)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    out = animate_run(run, size=SIZE, fps=4, out=tmp_path / "clip.mp4")
    assert out == tmp_path / "clip.mp4" and out.read_bytes()[4:8] == b"ftyp"
    decoded = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(out), "-f", "rawvideo",
                              "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    frames = np.frombuffer(decoded, dtype=np.uint8).reshape(-1, SIZE[1], SIZE[0], 3)
    assert len(frames) == 3 + round(HOLD_LAST_S * 4) - 1
    assert_allclose(frames[-1].astype(float).mean(), frames[2].astype(float).mean(), atol=1)  # the last one, held


def test_mp4_without_any_ffmpeg_is_a_clear_error(tmp_path, monkeypatch):
    import imageio_ffmpeg

    def no_ffmpeg():
        raise RuntimeError("No ffmpeg exe could be found")
    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", no_ffmpeg)
    run = rotating_run(tmp_path / "run", 2, res=8, n_fakes=16)
    with pytest.raises(VizError, match="MP4 needs ffmpeg: pip install imageio-ffmpeg"):
        animate_run(run, fmt="mp4", size=SIZE)
    assert not (run / "animation.mp4").exists()


def test_mp4_pipes_every_frame_to_ffmpeg(tmp_path, monkeypatch):
    """A stand-in ffmpeg records the frame size it was told and the bytes it received."""
    fake = tmp_path / "ffmpeg"
    fake.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import sys
        data = sys.stdin.buffer.read()
        size = sys.argv[sys.argv.index("-s") + 1]
        open(sys.argv[-1], "w").write(f"{{size}} {{len(data)}}")  # the temporary file, renamed after
        """))
    fake.chmod(0o755)
    monkeypatch.setattr(animate, "ffmpeg", lambda: str(fake))
    run = rotating_run(tmp_path / "run", 3, res=8, n_fakes=16)
    out = animate_run(run, fmt="mp4", size=SIZE, fps=2)
    assert out == run / "animation.mp4"
    frames = 3 + round(HOLD_LAST_S * 2) - 1  # the last one held
    assert_array_equal(out.read_text().split(), [f"{SIZE[0]}x{SIZE[1]}", str(frames * SIZE[0] * SIZE[1] * 3)])


def test_out_names_the_file_and_its_suffix_the_format(tmp_path):
    run = rotating_run(tmp_path / "run", 2, res=8, n_fakes=16)
    out = animate_run(run, size=SIZE, out=tmp_path / "talk.gif")
    assert out == tmp_path / "talk.gif" and len(gif_frames(out)) == 2
    assert not (run / "animation.gif").exists()  # the run's own animation (the one run wrote) is left alone
    with pytest.raises(VizError, match="ends in .gif but the format is mp4"):
        animate_run(run, fmt="mp4", out=tmp_path / "talk.gif")
    with pytest.raises(VizError, match="the folder .*nowhere does not exist$"):
        animate_run(run, out=tmp_path / "nowhere" / "a.gif")
    (tmp_path / "a file").write_text("")
    with pytest.raises(VizError, match="a file is a file, not a folder$"):
        animate_run(run, out=tmp_path / "a file" / "a.gif")


@style.styled
def test_compared_panels_share_one_colour_scale(tmp_path):
    """Run A's D barely leaves 0.5 while run B's is sure (0.05 / 0.95): side by side, both use B's wider
    range, so the same D value has the same colour in both panels."""
    def run(name, low, high):
        snap = toy_snapshot(np.zeros((8, 2)), np.zeros((8, 2)), lambda x, y: np.where(x > 0, high, low))
        return RunView(write_run(tmp_path / name, {0: snap}, metric_rows(100, 50)))
    a, b = run("a", 0.48, 0.52), run("b", 0.05, 0.95)
    tl = Timeline([a, b], 10)
    renderers = tl.renderers("heatmap", SIZE, 100)
    assert_allclose([(r.main.heat.norm.vmin, r.main.heat.norm.vmax) for r in renderers], [(0.05, 0.95)] * 2, rtol=1e-6)
    frame = tl.frame(renderers, 0)
    x, y = renderers[0].fig.axes[0].transData.transform((1.5, 0.5))  # where A's D is 0.52
    row, col = int(SIZE[1] - y), int(x)
    cmap = style.heatmap_cmap()
    expected = np.array(cmap(renderers[0].main.heat.norm(0.52))[:3]) * 255
    assert_allclose(frame[row - 1: row + 2, col - 1: col + 2].reshape(-1, 3).mean(0), expected, atol=2)
    alone = FrameRenderer(a, [a.snapshot(0)], "heatmap", SIZE)  # on its own, A spans its own range
    assert alone.main.heat.norm.vmax < 0.6
