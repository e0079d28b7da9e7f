"""The animate, compare, figure and report commands end to end (each run once: drawing is the slow
part), the report's self-containment, and the figure's step mapping."""
import base64
import io
import os
import re

import numpy as np
import pytest
from click.testing import CliRunner
from numpy.testing import assert_array_equal
from PIL import Image

from gandiag.cli import main
from gandiag import record as R
from gandiag.viz.animate import animate_run
from gandiag.viz.figures import parse_steps, strip_figure, write_figure
from gandiag.viz.report import write_report
from gandiag.viz.source import RunView, VizError
from gandiag.viz.table import metrics_table
from viz_synth import rotating_run, write_run

SMALL = ["--size", "480x270", "--fps", "4"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A small run with an up-to-date animation.gif of 480 x 270 pixels."""
    path = rotating_run(tmp_path_factory.mktemp("viz") / "run", 4, res=8, n_fakes=32)
    animate_run(path, size=(480, 270))
    return path


def invoke(*args) -> list[str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def wrote(*paths) -> list[str]:
    return [f"wrote {p} ({p.stat().st_size / 1e6:.2f} MB)" for p in paths]


def test_animate_command_writes_the_gif(run):
    assert invoke("animate", run, *SMALL, "--layers", "-arrows") == wrote(run / "animation.gif")
    with Image.open(run / "animation.gif") as gif:
        assert (gif.n_frames, gif.size) == (4, (480, 270))


def test_compare_command_writes_gif_figures_and_tables(tmp_path):
    a = rotating_run(tmp_path / "a", 3, res=8, n_fakes=32)
    b = rotating_run(tmp_path / "b", 2, every=150, res=8, n_fakes=32, seed=1, z2=True)
    out = tmp_path / "cmp"
    files = [out / f"compare.{e}" for e in ("png", "pdf", "svg", "gif", "csv", "md")]
    assert sorted(invoke("compare", a, b, "--out", out, *SMALL)) == sorted(wrote(*files))
    with Image.open(out / "compare.gif") as gif:
        assert (gif.n_frames, gif.size) == (4, (960, 270))  # steps 0, 100, 150, 200 side by side
    csv = (out / "compare.csv").read_text().splitlines()
    assert csv[0] == "step,run,modes,modes_strict,hq,reverse_kl,d_loss,g_loss,sat_share"
    assert csv[1].startswith("0,a,") and csv[2].startswith("0,b,")
    assert csv[-2].startswith("200,a,1,") and csv[-1] == "200,b" + "," * 7  # b ended at step 150
    assert (out / "compare.md").read_text().startswith("| step | run | modes |")


def test_figure_command_writes_png_pdf_and_svg(run):
    paths = [run / f"figure.{e}" for e in ("png", "pdf", "svg")]
    assert invoke("figure", run, "--steps", "0,200", "--dpi", "40") == wrote(*paths)
    with Image.open(paths[0]) as png:
        assert png.size == (7 * 40, round(4.2 * 40))  # 2 panels: the 7 x 4.2 in minimum, at --dpi 40
    assert paths[1].read_bytes()[:5] == b"%PDF-"
    assert "<svg" in paths[2].read_text()


def test_figure_panels_show_the_snapshot_at_or_before_each_step(run):
    fig = strip_figure(RunView(run), [0, 250, 5000])
    titles = [ax.get_title() for ax in fig.axes[:3]]
    assert titles == ["step 0", "step 250 (snapshot 200)", "step 5,000 (snapshot 300)"]


def test_parse_steps_reads_a_comma_list():
    assert parse_steps("0, 5000,10000") == [0, 5000, 10000]
    assert parse_steps(None) is None
    for bad in ("a,b", "-5", ","):
        with pytest.raises(VizError):
            parse_steps(bad)


def embedded(html: str, mime: str) -> bytes:
    (data,) = re.findall(rf'src="data:{mime};base64,([^"]+)"', html)
    return base64.b64decode(data)


def test_report_holds_everything_inline_and_names_no_external_resource(run):
    R.atomic_write_json(run / R.DIAGNOSIS_FILE, {R.VERDICTS: [
        {R.V_RULE: "oscillation", R.V_TITLE: "rotating through the modes", R.V_REMEDIES: ["unroll D <10 steps>"]}]})
    gif_written = (run / "animation.gif").stat().st_mtime_ns
    assert invoke("report", run) == wrote(run / "report.html")
    html = (run / "report.html").read_text()
    assert re.findall(r"src=\"?([a-z]+):", html) == ["data", "data"]
    without_data = re.sub(r'"data:[^"]*"', '""', html)
    assert not re.search(r"https?:|//|url\(|@import|<link|<script", without_data)
    with Image.open(io.BytesIO(embedded(html, "image/gif"))) as gif:
        assert (gif.n_frames, gif.size) == (4, (480, 270))  # the up-to-date animation, reused
    assert_array_equal((run / "animation.gif").stat().st_mtime_ns, gif_written)
    with Image.open(io.BytesIO(embedded(html, "image/png"))) as png:
        assert png.format == "PNG"
    assert "rotating through the modes" in html and "unroll D &lt;10 steps&gt;" in html
    view = RunView(run)
    assert html.count("<tr>") == (1 + len(metrics_table([view], ["run"])[1])) + (1 + len(view.config))


def test_report_renews_an_animation_older_than_the_newest_snapshot(tmp_path):
    run = rotating_run(tmp_path / "run", 2, res=8, n_fakes=32)
    animate_run(run, size=(480, 270))
    newest = (run / R.SNAPSHOT_DIR / R.snapshot_name(RunView(run).steps[-1])).stat().st_mtime
    os.utime(run / "animation.gif", (newest - 10, newest - 10))  # written before the last snapshot
    html = write_report(run).read_text()
    with Image.open(io.BytesIO(embedded(html, "image/gif"))) as gif:
        assert gif.size == (800, 450)  # rendered again, at the default size


@pytest.mark.parametrize("args, message", [
    (["animate", "{run}", "--layers", "arows"], "unknown layer 'arows'"),
    (["animate", "{run}", "--size", "big"], "size 'big' is not WIDTHxHEIGHT"),
    (["animate", "{tmp}"], "is not a gandiag run folder"),
    (["figure", "{run}", "--steps", "x"], "steps 'x' is not a comma-separated list"),
    (["compare", "{run}", "--out", "{tmp}"], "compare needs at least two run folders"),
])
def test_cli_user_errors_are_one_line(run, tmp_path, args, message):
    result = CliRunner().invoke(main, [a.format(run=run, tmp=tmp_path) for a in args])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_image_runs_get_figures_too(tmp_path):
    images = np.tanh(np.random.default_rng(0).standard_normal((4, 16, 1, 8, 8)))
    run = write_run(tmp_path / "img", {s * 100: {R.SNAP_IMAGES: images[s]} for s in range(4)},
                    [{R.STEP: s, R.D_LOSS: 1.0, R.G_LOSS: 0.7} for s in range(0, 301, 50)],
                    mixture=None, scenario="mnist")
    assert [p.suffix for p in write_figure(run, dpi=40)] == [".png", ".pdf", ".svg"]
