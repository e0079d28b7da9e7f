"""The animate, compare, figure and report commands end to end (each run once: drawing is the slow
part), the report's self-containment, and the figure's step mapping."""
import base64
import csv
import io
import json
import re

import numpy as np
import pytest
from click.testing import CliRunner
from numpy.testing import assert_allclose
from PIL import Image

import gandiag
from gandiag.cli import main
from gandiag import record as R
from gandiag.viz.animate import animate_run
from gandiag.viz.figures import parse_steps, strip_figure, write_figure
from gandiag.record.folder import snapshot_bytes
from gandiag.viz.report import metrics_csv, write_report
from gandiag.viz.source import RunView, VizError, labels_for
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


def test_the_compare_table_states_each_target_s_modes_where_the_runs_differ_in_them(tmp_path):
    """3 modes of ring8's 8 and 3 of grid25's 25 read alike without it."""
    from gandiag.data.toy import grid
    from gandiag.viz.table import TARGET_MODES, metrics_table
    rows = [{R.STEP: s, R.MODES: 3, R.D_LOSS: 1.0} for s in (0, 100)]
    snaps = {0: {R.SNAP_FAKES: np.zeros((8, 2), dtype=np.float32)}}
    ring = write_run(tmp_path / "ring", snaps, rows)
    square = write_run(tmp_path / "grid", snaps, rows, mixture=grid(25, 2.0, 0.05), scenario="grid25")
    header, table = metrics_table([RunView(ring), RunView(square)], ["ring", "grid"])
    assert header == ["step", "run", R.MODES, TARGET_MODES, R.D_LOSS]
    assert table == [[step, name, 3, modes, 1.0] for step in (0, 100) for name, modes in (("ring", 8), ("grid", 25))]
    assert metrics_table([RunView(ring), RunView(ring)], ["a", "b"])[0] == ["step", "run", R.MODES, R.D_LOSS]


@pytest.mark.parametrize("name, title", [(None, "your points · "), ("spiral", "your points (spiral) · ")])
def test_a_run_on_your_points_is_titled_by_them_not_by_its_scenario(tmp_path, name, title):
    """`gandiag run ring8 --data-file spiral.npy` was titled 'ring8 · ...', a target it never trained on."""
    from gandiag.targets import points_target
    points = np.random.default_rng(0).normal(size=(300, 2))
    with R.Recorder(tmp_path / "run", target=points_target(points, name=name),
                    config={"scenario": "ring8", "loss": "nonsaturating"}) as rec:
        rec.snapshot(0, fakes=points[:32])
    assert RunView(tmp_path / "run").title() == title + "nonsaturating loss"


def test_a_runs_title_names_every_stabilizer_it_trained_with(tmp_path):
    """A figure of a run with label smoothing and historical averaging, or with the user's own G loss, was titled
    'ring8 · nonsaturating loss', as a plain GAN: the title knew only unrolling, packing and minibatch
    discrimination."""
    run = write_run(tmp_path / "run", {0: {R.SNAP_FAKES: np.zeros((8, 2), dtype=np.float32)}}, label_smoothing=0.9,
                    hist_avg=0.5, d_norm="batch", unrolled=5, unrolled_first_order=True)
    assert RunView(run).title() == \
        "ring8 · nonsaturating loss · unrolled K=5 first order · D batch norm · hist avg 0.5 · label smoothing 0.9"
    own = write_run(tmp_path / "own", {0: {R.SNAP_FAKES: np.zeros((8, 2), dtype=np.float32)}},
                    g_loss="/home/me/losses/my_loss.py:g_loss")
    assert RunView(own).title() == "ring8 · nonsaturating loss · own G loss my_loss.py:g_loss"


def test_figure_command_writes_png_pdf_and_svg(run):
    paths = [run / f"figure.{e}" for e in ("png", "pdf", "svg")]
    assert invoke("figure", run, "--steps", "0,200", "--dpi", "40") == wrote(*paths)
    with Image.open(paths[0]) as png:
        assert png.size[0] == 7 * 40  # a page wide by default, at --dpi 40
    assert paths[1].read_bytes()[:5] == b"%PDF-"
    assert "<svg" in paths[2].read_text()


def test_figure_out_and_size_write_one_file_at_that_print_size(run, tmp_path):
    out = tmp_path / "fig1.pdf"
    assert invoke("figure", run, "--size", "column", "--out", out) == wrote(out)
    assert not (tmp_path / "fig1.png").exists()
    pdf = out.read_bytes()
    width_pt = float(re.search(rb"/MediaBox \[ *0 0 ([0-9.]+) ", pdf)[1])
    assert_allclose(width_pt, 3.5 * 72)
    png = tmp_path / "slide.png"
    assert invoke("figure", run, "--size", "6x3", "--dpi", "50", "--out", png) == wrote(png)
    with Image.open(png) as im:
        assert im.size == (300, 150)


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


def page_data(html: str) -> dict:
    (blob,) = re.findall(r"<script type=application/json id=gd-data>(.*?)</script>", html, re.S)
    return json.loads(blob.replace("<\\/", "</"))


def test_report_is_one_file_that_names_no_external_resource(run):
    gif_written = (run / "animation.gif").stat().st_mtime_ns
    assert invoke("report", run) == wrote(run / "report.html")
    html = (run / "report.html").read_text()
    assert set(re.findall(r"src=[\"']?([a-z]+):", html)) == {"data"}  # the print fallback's PNG
    assert "<script src" not in html and "<link" not in html
    # the SVG namespace is a name, not an address the browser fetches
    without_data = re.sub(r"data:[^\"']*", "", html).replace('"http://www.w3.org/2000/svg"', "")
    assert not re.search(r"https?:|url\(|@import", without_data)
    assert (run / "animation.gif").stat().st_mtime_ns == gif_written  # the report renders no animation
    with Image.open(io.BytesIO(base64.b64decode(re.search(r"data:image/png;base64,([^'\"]+)", html)[1]))) as png:
        assert png.format == "PNG"


def test_report_headline_names_a_runs_loss_once_beside_its_method(tmp_path):
    """Since the method's slug holds the loss, a WGAN-GP run with minibatch discrimination read
    'method: wgan-gp-minibatch-disc · wgan-gp loss'."""
    run = write_run(tmp_path / "run", {0: {R.SNAP_FAKES: np.zeros((8, 2), dtype=np.float32)}}, loss="wgan-gp",
                    minibatch_disc=True)
    html = write_report(run).read_text()
    assert "method: <b>minibatch disc</b> · wgan-gp loss · ring8</div>" in html


def test_report_headline_states_results_verdict_method_and_command(tmp_path):
    run = rotating_run(tmp_path / "run", 3, res=8, n_fakes=32)
    R.atomic_write_json(run / R.DIAGNOSIS_FILE, {R.VERDICTS: [
        {R.V_RULE: "mode_hopping", R.V_TITLE: "Mode hopping: the generator rotates", R.V_SEVERITY: "warning",
         R.V_MESSAGE: "it <hops>", R.V_EVIDENCE: {R.EV_STEPS: [100, 200], "max_index": 0.61},
         R.V_REMEDIES: ["unroll D <10 steps>"]}]})
    html = write_report(run).read_text()
    head = html[html.index("<header>"): html.index("</header>")]
    assert "modes 1 / 8 (strict 1) · high quality 90.0 % · reverse KL 0.100</b> at step 200" in head
    assert "verdict: Mode hopping: the generator rotates" in head
    assert "method: <b>vanilla</b>" in head
    assert "<code>gandiag run ring8 --snapshot-every 100</code>" in head
    assert "Mode hopping: the generator rotates, from step 100 to 200." in html
    assert "it &lt;hops&gt;" in html and "unroll D &lt;10 steps&gt;" in html
    assert "max index: 0.61" in html  # evidence in words, folded away
    assert page_data(html)["runs"][0]["verdicts"][0]["steps"] == [100, 200]  # shaded on the curves


def test_report_headline_of_a_run_too_short_for_some_rules_says_so_not_no_failure_found(tmp_path):
    """The headline said 'verdict: no failure found' for a run that the rules needing more rows never
    judged; it states the analyzer's own sentence, from diagnosis.json's fields."""
    run = rotating_run(tmp_path / "run", 3, res=8, n_fakes=32)
    R.atomic_write_json(run / R.DIAGNOSIS_FILE, {
        R.VERDICTS: [], R.RULES_CHECKED: ["divergence", "mode_hopping", "spiky_d_loss"],
        R.RULES_UNJUDGED: {"spiky_d_loss": 22, "mode_hopping": 8}, R.DIAGNOSED_ROWS: 3, R.RESUME_STEPS: 2100})
    head = write_report(run).read_text()
    head = head[head.index("<header>"): head.index("</header>")]
    assert ("verdict: no failure found by 1 of 3 rules; 2 rules need more metrics rows than this run&#x27;s 3 "
            f"(mode_hopping 8, spiky_d_loss 22): train longer (gandiag resume {run} --steps 2100)") in head


def test_a_diagnosis_holding_nan_evidence_is_reported_not_a_traceback(tmp_path):
    """A diagnosis.json written by Python's json (NaN for a diverged loss) stopped report with
    'ValueError: Out of range float values are not JSON compliant'."""
    run = rotating_run(tmp_path / "run", 2, res=8, n_fakes=32)
    (run / R.DIAGNOSIS_FILE).write_text(json.dumps({R.VERDICTS: [
        {R.V_RULE: "divergence", R.V_TITLE: "Training diverged", R.V_SEVERITY: "error", R.V_MESSAGE: "it diverged",
         R.V_EVIDENCE: {R.EV_STEPS: [100, 100], "last_d_loss": float("nan")}, R.V_REMEDIES: []}]}))
    assert invoke("report", run) == wrote(run / "report.html")
    html = (run / "report.html").read_text()
    assert "last d loss: nan" in html
    assert page_data(html)["runs"][0]["verdicts"][0]["evidence"] == {"last_d_loss": None}


def test_report_runs_the_analyzer_when_the_diagnosis_is_missing(tmp_path):
    run = rotating_run(tmp_path / "run", 3, res=8, n_fakes=32)
    html = write_report(run).read_text()
    assert (run / R.DIAGNOSIS_FILE).is_file() and (run / R.ANALYSIS_FILE).is_file()
    assert "verdict: not analysed" not in html


def test_report_lists_the_settings_that_differ_and_folds_the_rest(tmp_path):
    run = rotating_run(tmp_path / "run", 2, res=8, n_fakes=32)
    config = json.loads((run / R.CONFIG_FILE).read_text())
    config["config"].update(unrolled=10, d_lr=0.0005)
    (run / R.CONFIG_FILE).write_text(json.dumps(config))
    html = write_report(run).read_text()
    settings = html[html.index("<h2>Settings</h2>"):]
    differ = settings[: settings.index("<details>")]
    assert re.findall(r"<tr><td>([a-z_]+)</td>", differ) == ["unrolled", "snapshot_every", "d_lr"]
    assert "<td>unrolled</td><td>10</td><td>0</td><td>command line</td>" in differ
    assert "gandiag run ring8 --unrolled 10 --snapshot-every 100 --d-lr 0.0005" in html
    assert "<summary>Full configuration (5 settings)</summary>" in settings


def test_report_embeds_every_metrics_row_as_csv(run):
    data = page_data(write_report(run, tmp := run / "full.html").read_text())
    tmp.unlink()
    table = list(csv.DictReader(io.StringIO(data["runs"][0]["csv"])))
    rows = RunView(run).rows
    assert len(table) == len(rows) == 16  # every 20 steps to 300: none thinned out
    assert [int(r["step"]) for r in table] == [r[R.STEP] for r in rows]
    assert_allclose([float(r["d_loss"]) for r in table], [r[R.D_LOSS] for r in rows], rtol=1e-6)


def test_image_run_report_shows_classifier_metrics_in_image_words(tmp_path):
    images = np.tanh(np.random.default_rng(0).standard_normal((3, 16, 1, 8, 8)))
    rows = [{R.STEP: s, R.D_LOSS: 1.0, R.G_LOSS: 0.7, R.MODES: 9, R.MODES_STRICT: 8, R.REVERSE_KL: 0.2,
             R.CLASSIFIER_SCORE: 7.5 + s / 100, R.FRECHET_DISTANCE: 30.0 - s / 10,
             R.MODE_COUNTS: [5] * 9 + [0]} for s in range(0, 201, 50)]
    run = write_run(tmp_path / "img", {s * 100: {R.SNAP_IMAGES: images[s]} for s in range(3)}, rows,
                    mixture=None, scenario="mnist")
    html = write_report(run).read_text()
    data = page_data(html)
    assert "classes 9 / 10 (strict 8) · classifier score 9.50 · Frechet distance 10.0" in html
    assert [g[0] for g in data["groups"]] == ["losses", "classes generated", "classifier score",
                                              "Frechet distance", "reverse KL (nats)"]
    assert [k for k, _ in data["metrics"]][2:4] == [R.CLASSIFIER_SCORE, R.FRECHET_DISTANCE]
    assert "HQ" not in json.dumps(data["groups"]) + json.dumps(data["metrics"])
    assert len(data["runs"][0]["images"]) == 3 and data["runs"][0]["images"][0].startswith("data:image/png")


def test_report_of_several_runs_shares_one_slider_and_one_colour_scale(tmp_path):
    a = rotating_run(tmp_path / "a", 3, res=8, n_fakes=32)
    b = rotating_run(tmp_path / "b", 2, every=150, res=8, n_fakes=32, seed=1)
    with np.load(b / R.SNAPSHOT_DIR / R.snapshot_name(150)) as z:  # b's D far more decided than a's
        snap = {k: z[k] for k in z.files if k != R.SNAP_STEP}
    snap[R.SNAP_D_GRID] = np.where(snap[R.SNAP_D_GRID] > 0.5, 0.99, 0.01).astype(np.float32)
    R.atomic_write_bytes(b / R.SNAPSHOT_DIR / R.snapshot_name(150), snapshot_bytes(150, snap))
    out = tmp_path / "ab.html"
    assert invoke("report", a, b, "--out", out, "--labels", "vanilla,unrolled K=10") == wrote(out)
    data = page_data(out.read_text())
    assert data["steps"] == [0, 100, 150, 200]
    assert [r["label"] for r in data["runs"]] == ["vanilla", "unrolled K=10"]
    assert data["runs"][0]["d_range"] == data["runs"][1]["d_range"]
    assert_allclose(data["runs"][0]["d_range"], [0.01, 0.99], atol=0.005)
    result = CliRunner().invoke(main, ["report", str(a), str(b), "--labels", "one"])
    assert result.exit_code == 1 and "1 labels for 2 runs" in result.output


@pytest.mark.parametrize("args, message", [
    (["animate", "{run}", "--layers", "arows"], "unknown layer 'arows'"),
    (["animate", "{run}", "--size", "big"], "size 'big' is not WIDTHxHEIGHT"),
    (["animate", "{tmp}"], "is not a gandiag run folder"),
    (["report", "{tmp}/nowhere"], "is not a gandiag run folder"),
    (["figure", "{run}", "--steps", "x"], "steps 'x' is not a comma-separated list"),
    (["compare", "{run}", "--out", "{tmp}"], "compare needs at least two run folders"),
    (["compare", "{run}", "{run}", "--out", "{tmp}", "--labels", "a,b,c"], "3 labels for 2 runs"),
    (["compare", "{run}", "{run}", "--out", "{tmp}/c", "--labels", "x,x"], "two runs would be labelled 'x'"),
    (["compare", "{run}", "{run}", "--out", "{tmp}/c"], "two runs would be labelled 'run': nothing tells them apart"),
    (["report", "{run}", "{run}", "--out", "{tmp}/r.html", "--labels", "x,x"], "two runs would be labelled 'x'"),
    (["figure", "{run}", "--size", "huge"], "size 'huge' is not column, page or WIDTHxHEIGHT"),
    (["figure", "{run}", "--out", "{tmp}/f.jpg"], "a figure is written as .png, .pdf or .svg"),
    (["animate", "{run}", "--out", "{tmp}/a.gif", "--format", "mp4"], "ends in .gif but the format is mp4"),
])
def test_cli_user_errors_are_one_line(run, tmp_path, args, message):
    result = CliRunner().invoke(main, [a.format(run=run, tmp=tmp_path) for a in args])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and message in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("command, labels, blank", [("report", "x,", 1), ("compare", " ,y", 0)])
def test_an_empty_label_is_refused_and_nothing_written(run, tmp_path, command, labels, blank):
    """--labels "x," (a trailing comma) named the second run '' in its panel, the legend and the table."""
    runs = [run, rotating_run(tmp_path / "b", 2, res=8, n_fakes=32)]
    out = tmp_path / ("r.html" if command == "report" else "cmp")
    result = CliRunner().invoke(main, [command, *map(str, runs), "--out", str(out), "--labels", labels])
    assert (result.exit_code, result.output) == (
        1, f"Error: the label of {runs[blank]} is empty: give each run its own label\n")
    assert not out.exists()


def test_report_out_that_is_not_html_is_refused_and_the_file_kept(run):
    """--out RUN/metrics.jsonl replaced the run's metrics with the HTML page."""
    metrics = run / R.METRICS_FILE
    before = metrics.read_bytes()
    result = CliRunner().invoke(main, ["report", str(run), "--out", str(metrics)])
    assert result.exit_code == 1
    assert result.output == f"Error: --out {metrics}: the report is an HTML file: give a path ending in .html\n"
    assert metrics.read_bytes() == before


def test_a_compare_refused_for_its_size_writes_no_file(run, tmp_path):
    """The size is checked before the figures are written: they were, beside an older compare.gif."""
    out = tmp_path / "cmp"
    result = CliRunner().invoke(main, ["compare", str(run), str(run), "--labels", "a,b", "--out", str(out),
                                       "--size", "320x240"])
    assert result.exit_code == 1 and "leaves no room for the side panels" in result.output
    assert not out.exists()


def test_image_runs_get_figures_too(tmp_path):
    images = np.tanh(np.random.default_rng(0).standard_normal((4, 16, 1, 8, 8)))
    run = write_run(tmp_path / "img", {s * 100: {R.SNAP_IMAGES: images[s]} for s in range(4)},
                    [{R.STEP: s, R.D_LOSS: 1.0, R.G_LOSS: 0.7} for s in range(0, 301, 50)],
                    mixture=None, scenario="mnist")
    assert [p.suffix for p in write_figure(run, dpi=40)] == [".png", ".pdf", ".svg"]


def test_snapshots_of_fakes_alone_are_drawn_without_a_heatmap_or_arrows(tmp_path):
    root = rotating_run(tmp_path / "fakes", 3, n_fakes=32, fakes_alone=True)
    assert invoke("animate", root, *SMALL) == wrote(root / "animation.gif")
    assert invoke("figure", root, "--out", tmp_path / "strip.png") == wrote(tmp_path / "strip.png")
    (out,) = invoke("report", root)
    assert out == wrote(root / "report.html")[0]
    (shown,) = page_data((root / "report.html").read_text(encoding="utf-8"))["runs"]
    assert {"fakes", "window"} <= set(shown) and not {"d", "grid", "arrows"} & set(shown)


def test_a_finished_run_without_snapshots_is_told_how_to_record_some(tmp_path):
    with gandiag.Recorder(tmp_path / "own", target=gandiag.target("ring8")) as rec:
        rec.log(0, d_loss=1.0, g_loss=1.0)
    result = CliRunner().invoke(main, ["report", str(tmp_path / "own")])
    assert (result.exit_code, result.output.strip()) == (1, f"Error: {tmp_path / 'own'} holds no snapshots to draw: "
                                                         "record some (rec.snapshot(step, ...) in your loop)")


def own_loop_run(root, last: int, config=None):
    """A user's loop that logs its losses every 5 steps and snapshots (so is scored) every 10 steps."""
    with gandiag.Recorder(root, target=gandiag.target("ring8"), config=config) as rec:
        for step in range(0, last + 1, 5):
            rec.log(step, d_loss=1.0, g_loss=0.7)
            if step % 10 == 0:
                rec.snapshot(step, fakes=np.random.default_rng(step).normal(size=(32, 2)).astype(np.float32))
    return root


def headline(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html[html.index("<header>"): html.index("</header>")])


def test_the_report_headline_states_the_last_scored_row_when_the_last_rows_hold_losses_alone(tmp_path):
    run = own_loop_run(tmp_path / "own", 15)
    rows = R.RunReader(run).metrics()
    scored = [r for r in rows if r.get(R.MODES) is not None][-1]
    assert (rows[-1][R.STEP], scored[R.STEP]) == (15, 10)
    head = headline(write_report(run).read_text())
    assert (f"modes {scored[R.MODES]} / 8 (strict {scored[R.MODES_STRICT]}) · high quality "
            f"{100 * scored[R.HQ]:.1f} % · reverse KL {scored[R.REVERSE_KL]:.3f} at step 10") in head
    assert "n/a" not in head


def test_a_report_of_a_users_own_loop_names_the_loop_not_a_gandiag_command(tmp_path):
    html = write_report(own_loop_run(tmp_path / "own", 20, config={"lr": 2e-4, "note": "my loss"})).read_text()
    head = headline(html)
    assert "made by your own training loop, recorded with gandiag.Recorder" in head
    assert "method: own loop · nonsaturating loss (as declared to the Recorder) · target ring8" in head
    assert "gandiag run" not in html and "?" not in head
    settings = html[html.index("<h2>Settings</h2>"): html.index("</section>", html.index("<h2>Settings</h2>"))]
    assert "The settings your loop recorded" in settings and "command line" not in settings
    assert re.findall(r"<tr><td>(\w+)</td><td>([^<]*)</td></tr>", settings) == [("lr", "0.0002"), ("note", "my loss")]


def test_a_users_own_loop_beside_a_scenario_run_is_labelled_by_its_folder_not_none(tmp_path):
    """compare and report named the own loop's run 'None' (its config has no scenario)."""
    views = [RunView(own_loop_run(tmp_path / "mine", 10)), RunView(rotating_run(tmp_path / "theirs", 2, res=8))]
    assert labels_for(views, None) == ["mine", "ring8"]


@pytest.mark.parametrize("command", [["animate"], ["figure"], ["probe", "saturation"]])
def test_a_folder_of_seed_runs_is_a_one_line_error_naming_a_seed_folder(tmp_path, command):
    """probe said 'not a gandiag run folder: give the folder that `gandiag run` printed' of the very folder
    `gandiag run --seeds 2` printed (export takes the pass: tests/test_export.py)."""
    for seed in (0, 1):
        rotating_run(tmp_path / "pass" / f"seed_{seed}", 2, res=8, n_fakes=32)
    result = CliRunner().invoke(main, [a.format(tmp=tmp_path) for a in command] + [str(tmp_path / "pass")])
    assert (result.exit_code, result.output.strip()) == (
        1, f"Error: {tmp_path / 'pass'} holds 2 run folders (seed_0, seed_1), not one run: give one of them, "
           f"e.g. {tmp_path / 'pass' / 'seed_0'} (gandiag report {tmp_path / 'pass'} shows them side by side)")


def test_report_and_compare_of_a_pass_show_its_seeds_side_by_side(tmp_path):
    """`gandiag report PASS`, the folder `gandiag run --seeds 2` printed, was refused: 'give one of them'."""
    for seed in (0, 1):
        rotating_run(tmp_path / "pass" / f"seed_{seed}", 2, res=8, n_fakes=32, seed=seed)
    page = tmp_path / "pass" / "report.html"
    assert invoke("report", tmp_path / "pass") == wrote(page)
    assert [r["label"] for r in page_data(page.read_text())["runs"]] == ["seed_0", "seed_1"]
    assert invoke("compare", tmp_path / "pass", "--out", tmp_path / "cmp", "--max-frames", "2") == wrote(
        *[tmp_path / "cmp" / f"compare.{e}" for e in ("gif", "png", "pdf", "svg", "csv", "md")])
    rows = list(csv.DictReader(io.StringIO((tmp_path / "cmp" / "compare.csv").read_text())))
    assert sorted({r["run"] for r in rows}) == ["seed_0", "seed_1"]



def test_the_metrics_csv_tells_a_diverged_value_from_one_not_logged():
    rows = [{R.STEP: 0, R.D_LOSS: 1.5, R.MODES: 2}, {R.STEP: 5, R.D_LOSS: None}]   # null: non-finite
    assert metrics_csv(rows) == "step,d_loss,modes\n0,1.5,2\n5,nan,\n"


def test_the_metrics_csv_keeps_a_loop_s_own_words_and_dicts_in_their_cells():
    """A dict (lr={"g": ..., "d": ...}) was written as Python's words, unquoted: its comma split the row."""
    rows = [{R.STEP: 0, "phase": 'warm, "up"', "lr": {"g": 0.001, "d": 0.002}, R.D_LOSS: 1.5}]
    assert list(csv.DictReader(io.StringIO(metrics_csv(rows)))) == [
        {"step": "0", "phase": 'warm, "up"', "lr": '{"g": 0.001, "d": 0.002}', "d_loss": "1.5"}]


def test_a_figure_out_with_a_dot_in_its_name_writes_that_name(run, tmp_path):
    assert invoke("figure", run, "--out", tmp_path / "fig-v1.2.png", "--dpi", 40) == wrote(tmp_path / "fig-v1.2.png")
    assert [p.name for p in tmp_path.iterdir()] == ["fig-v1.2.png"]


def test_a_figure_height_too_short_for_its_panels_is_a_one_line_error(run, tmp_path):
    result = CliRunner().invoke(main, ["figure", str(run), "--size", "7x1.5", "--out", str(tmp_path / "f.png")])
    assert (result.exit_code, result.output.strip()) == (
        1, "Error: size 7x1.5 is too short for this figure: give a height of at least 2.2 in (or --size column "
           "or page: as tall as it needs)")
    assert not (tmp_path / "f.png").exists()
    out = tmp_path / "f.png"
    assert invoke("figure", run, "--size", "7x2.2", "--out", out, "--dpi", 40) == wrote(out)   # no warning either
