"""`gandiag analyze`, `gandiag metrics` and `gandiag probe saturation` end to end, and what they build on."""
import ast
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from analyzer_synth import RING, collapsed, exploded, fixed_z_fakes, healthy_rows, saturated, write_run
from click.testing import CliRunner
from numpy.testing import assert_allclose
from cli_runs import run_tiny

from gandiag.cli import main
from gandiag import record as R
from gandiag.analysis import score_samples
from gandiag.config import make_config
from gandiag.metrics import coverage, saturation
from gandiag.nets import build_nets
from gandiag.record.snapshot import measure_saturation
from gandiag.train.saturation_probe import frozen_g_probe, probe_steps

SNAPS = 12
ROOT = Path(__file__).resolve().parent.parent


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def snapshots(kind):
    return {t * 500: fixed_z_fakes(kind, t) for t in range(SNAPS)}


def assert_same_report(got: dict, expected: dict):
    assert got.keys() == expected.keys()
    assert got[R.MODE_COUNTS] == expected[R.MODE_COUNTS]
    keys = [k for k in expected if k != R.MODE_COUNTS]
    assert_allclose([got[k] for k in keys], [expected[k] for k in keys], rtol=1e-9)


def assert_one_line_error(result, *words):
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1, result.output
    for word in words:
        assert word in result.output


@pytest.fixture(scope="module")
def rows():
    """Rows as an older trainer or a user's own loop writes them: HQ counts, no near counts, so the
    analyzer follows the mass in the snapshots."""
    return [{k: v for k, v in r.items() if k != R.NEAR_COUNTS} for r in healthy_rows(n=60)]


# --- gandiag analyze ---------------------------------------------------------------------------

def test_analyze_a_healthy_run_writes_both_files_and_finds_nothing(tmp_path, rows):
    run = write_run(tmp_path / "run", rows, snapshots("healthy"))
    result = invoke("analyze", run)
    assert result.exit_code == 0, result.output
    analysis = json.loads((run / R.ANALYSIS_FILE).read_text())
    diagnosis = json.loads((run / R.DIAGNOSIS_FILE).read_text())
    assert diagnosis[R.VERDICTS] == [] and "diagnosis: no failure found" in result.output
    cov = analysis[R.A_COVERAGE]
    assert cov[R.SERIES][R.STEP] == [r[R.STEP] for r in rows]
    assert [s[R.STEP] for s in cov[R.SNAPSHOTS]] == list(snapshots("healthy"))
    expected = coverage.coverage_report(fixed_z_fakes("healthy", SNAPS - 1).astype(np.float32), RING)
    assert_same_report(cov[R.FINAL], {R.STEP: (SNAPS - 1) * 500, **expected})
    osc = analysis[R.A_OSCILLATION]
    assert osc[R.OSC_SOURCE] == "snapshots"
    assert_allclose([osc[R.OSC_INDEX], osc[R.OSC_VISITED], osc[R.OSC_COVERED]], [0.2, 8, 8], atol=0.2)
    assert analysis[R.A_SATURATION][R.SAT_MAX_SHARE] == 0.0


def test_analyze_a_rotating_collapse_finds_mode_hopping_with_its_evidence(tmp_path, rows):
    run = write_run(tmp_path / "run", rows, snapshots("rotating"))
    result = invoke("analyze", run)
    assert result.exit_code == 0, result.output
    analysis = json.loads((run / R.ANALYSIS_FILE).read_text())
    osc = analysis[R.A_OSCILLATION]
    assert_allclose([osc[R.OSC_MODE_INDEX], osc[R.OSC_VISITED], osc[R.OSC_COVERED], osc[R.OSC_SWITCH_RATE]],
                    [1.0, 8, 1, 1.0], atol=0.02)
    assert_allclose(osc[R.OSC_DRIFT][R.DRIFT_MEAN], np.pi / 4, rtol=1e-3)
    (verdict,) = json.loads((run / R.DIAGNOSIS_FILE).read_text())[R.VERDICTS]
    assert verdict[R.V_RULE] == "mode_hopping"
    assert verdict[R.V_EVIDENCE][R.EV_STEPS] == [1000, 5500]   # the later 3 of the 5 windows of 8 snapshots
    assert "[warning] Mode hopping" in result.output and "--unrolled 10" in result.output


def test_analyze_reports_each_failure_of_a_broken_run(tmp_path, rows):
    broken = saturated(collapsed([dict(r) for r in rows], 20), 30)
    run = write_run(tmp_path / "run", broken, snapshots("collapsed"), loss="minimax")
    result = invoke("analyze", run)
    rules = [v[R.V_RULE] for v in json.loads((run / R.DIAGNOSIS_FILE).read_text())[R.VERDICTS]]
    assert rules == ["mode_collapse", "vanishing_g_gradient"]
    assert result.output.count("[warning]") == 2


def test_analyze_of_a_folder_of_runs_analyses_each_and_counts_the_runs_of_each_finding(tmp_path, rows):
    """A --seeds pass (or any folder of runs): each run gets the diagnosis it gets alone, and the table
    says in how many runs each finding was drawn (a stabilizer study's question: gone in every seed?)."""
    study = tmp_path / "study"
    write_run(study / "seed_0", rows, snapshots("rotating"))
    write_run(study / "seed_1", rows, snapshots("healthy"))
    write_run(study / "seed_2", rows, snapshots("rotating"))
    result = invoke("analyze", study)
    assert result.exit_code == 0, result.output
    alone = {}
    for seed in range(3):
        run = study / f"seed_{seed}"
        together = json.loads((run / R.DIAGNOSIS_FILE).read_text())
        assert invoke("analyze", run).exit_code == 0
        alone[seed] = json.loads((run / R.DIAGNOSIS_FILE).read_text())
        assert together == alone[seed]
    assert [[v[R.V_RULE] for v in alone[s][R.VERDICTS]] for s in range(3)] == [["mode_hopping"], [], ["mode_hopping"]]
    lines = result.output.splitlines()
    assert lines[2].split() == ["seed_0", "finished", "8", "mode_hopping"]
    assert lines[3].split()[-3:] == ["no", "failure", "found"]
    title = alone[0][R.VERDICTS][0][R.V_TITLE]
    assert f"  2 of 3  {title}  (seed_0, seed_2)" in lines


def test_analyze_of_a_folder_of_runs_names_a_damaged_one_and_still_analyses_the_others(tmp_path, rows):
    study = tmp_path / "study"
    write_run(study / "a", rows, snapshots("rotating"))
    write_run(study / "b", rows, snapshots("rotating"))
    (study / "a" / R.CONFIG_FILE).write_text("{")
    result = invoke("analyze", study)
    assert result.exit_code == 1
    (line,) = [line for line in result.output.splitlines() if line.split()[:4] == ["a", "cannot", "be", "analysed:"]]
    assert "config.json is damaged" in line
    assert "1 of 1  Mode hopping" in result.output and (study / "b" / R.DIAGNOSIS_FILE).is_file()
    assert result.output.splitlines()[-1] == "Error: 1 of 2 runs could not be analysed (a): see their lines above"


def losses_only(row):
    return {k: row[k] for k in (R.STEP, R.D_LOSS, R.G_LOSS) if k in row}


def test_analyze_an_image_run_finds_hopping_in_the_classifier_counts(tmp_path, rows):
    """Image runs have no toy modes: the rows' per-class counts (every sample has a class) stand in."""
    hopping = [{**losses_only(r), R.MODE_COUNTS: np.eye(10, dtype=int)[i % 10].tolist()} for i, r in enumerate(rows)]
    run = write_run(tmp_path / "run", hopping, {}, mixture=None)
    assert invoke("analyze", run).exit_code == 0
    analysis = json.loads((run / R.ANALYSIS_FILE).read_text())
    osc = analysis[R.A_OSCILLATION]
    assert osc[R.OSC_SOURCE] == "metrics" and osc[R.OSC_DRIFT] is None
    classes = analysis[R.A_COVERAGE][R.SERIES]   # no toy coverage: the classes the rows counted over
    assert classes[R.STEP] == [r[R.STEP] for r in hopping] and set(classes[R.N_CLASSES]) == {10}
    # windows of 15 rows (a quarter of 60) see 5 classes twice and 5 once, over 10 classes + "none"
    pooled = 2 / 3 * np.log(7.5) + 1 / 3 * np.log(15)
    assert_allclose([osc[R.OSC_MODE_INDEX], osc[R.OSC_VISITED], osc[R.OSC_COVERED]], [pooled / np.log(11), 10, 1],
                    rtol=1e-12)
    assert [v[R.V_RULE] for v in json.loads((run / R.DIAGNOSIS_FILE).read_text())[R.VERDICTS]] == ["mode_hopping"]


def test_an_own_loops_remedy_footer_points_an_image_loop_to_the_digits_not_to_a_points_file(tmp_path, rows):
    hopping = [{**losses_only(r), R.MODE_COUNTS: np.eye(10, dtype=int)[i % 10].tolist()} for i, r in enumerate(rows)]
    footers = {}
    for kind, run in (("image", write_run(tmp_path / "image", hopping, {}, mixture=None)),
                      ("toy", write_run(tmp_path / "toy", rows, snapshots("rotating")))):
        result = invoke("analyze", run)
        assert result.exit_code == 0 and "--unrolled 10" in result.output, result.output
        footers[kind] = result.output.splitlines()[-1]
    head = "  (the flags are gandiag's trainer's: apply the technique in your loop, or see what it does on "
    assert footers == {"image": head + "the digits with gandiag run mnist FLAG (or stacked-mnist))",
                       "toy": head + "your data with gandiag run SCENARIO FLAG, --data-file points.npy for your own "
                                     "points)"}


def test_analyze_a_run_with_losses_only(tmp_path, rows):
    run = write_run(tmp_path / "run", [losses_only(r) for r in rows], {}, mixture=None)
    assert invoke("analyze", run).exit_code == 0
    osc = json.loads((run / R.ANALYSIS_FILE).read_text())[R.A_OSCILLATION]
    assert osc[R.OSC_MODE_INDEX] is None and osc[R.OSC_INDEX] == osc[R.OSC_LOSS_INDEX]


def test_analyze_a_missing_or_damaged_run_folder_is_a_one_line_error(tmp_path, rows):
    assert_one_line_error(invoke("analyze", tmp_path / "nope"), "not a gandiag run folder")
    run = write_run(tmp_path / "run", rows, {})
    (run / R.CONFIG_FILE).write_text("{not json")
    assert_one_line_error(invoke("analyze", run), "damaged")


# --- gandiag metrics ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def samples():
    return fixed_z_fakes("rotating", 2)[:100]


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".csv"])
def test_metrics_scores_a_samples_file_as_the_library_does(tmp_path, samples, suffix):
    path = tmp_path / f"samples{suffix}"
    if suffix == ".npy":
        np.save(path, samples)
    elif suffix == ".npz":
        np.savez(path, samples=samples)
    else:
        path.write_text("x,y\n" + "\n".join(f"{float(x)!r},{float(y)!r}" for x, y in samples))
    result = invoke("metrics", path, "--scenario", "ring8")
    assert result.exit_code == 0, result.output
    assert_same_report(json.loads(result.output), coverage.coverage_report(samples, RING))


def test_metrics_against_another_scenario_uses_its_modes(tmp_path, samples):
    np.save(tmp_path / "s.npy", samples)
    report = json.loads(invoke("metrics", tmp_path / "s.npy", "--scenario", "grid25").output)
    # ring8's top mode (0, 2) is also a grid25 mode: x = 0 is the grid's 3rd column, y = 2 its 4th row
    assert report[R.MODE_COUNTS] == [0] * 13 + [100] + [0] * 11


@pytest.mark.parametrize("content, words", [
    (lambda p: np.save(p.with_suffix(".npy"), np.zeros((10, 3))), ["shape (10, 3)", "N x 2"]),
    (lambda p: p.with_suffix(".npy").write_bytes(b"garbage"), ["cannot be read"]),
    (lambda p: np.savez(p.with_suffix(".npz"), a=np.zeros((9, 2)), b=np.zeros((9, 2))), ["several arrays"]),
    (lambda p: p.with_suffix(".json").write_text("[]"), ["unknown file type"]),
    (lambda p: np.savez(p.with_suffix(".npz")), ["it holds no arrays"]),
    (lambda p: np.save(p.with_suffix(".npy"), np.zeros((9, 2), dtype=complex)), ["it holds complex numbers"]),
    (lambda p: p.mkdir(), ["is a folder"]),
])
def test_metrics_rejects_a_bad_samples_file_in_one_line(tmp_path, content, words):
    content(tmp_path / "s")
    (path,) = tmp_path.iterdir()
    assert_one_line_error(invoke("metrics", path, "--scenario", "ring8"), str(path), *words)


@pytest.mark.parametrize("text, words", [
    ("", ["holds no rows of numbers"]),
    ("x,y\n", ["holds no rows of numbers (a header line only)"]),
    ("1 2\n3 4\n", ["not comma-separated", "x,y"]),
    ("x;y\n1;2\n3;4\n", ["not comma-separated"]),
])
def test_metrics_on_a_csv_without_comma_separated_rows_says_so_not_a_shape(tmp_path, text, words):
    """numpy's words were shape (0, 1) for an empty file, and for numbers apart by spaces 'row 0' of a file
    whose first line it had dropped as a header."""
    path = tmp_path / "s.csv"
    path.write_text(text)
    result = invoke("metrics", path, "--scenario", "ring8")
    assert_one_line_error(result, str(path), *words)
    assert "shape" not in result.output and "row 0" not in result.output


def test_metrics_without_a_file_or_with_an_unknown_scenario_is_a_one_line_error(tmp_path, samples):
    assert_one_line_error(invoke("metrics", tmp_path / "none.npy", "--scenario", "ring8"), "not found")
    np.save(tmp_path / "s.npy", samples)
    assert_one_line_error(invoke("metrics", tmp_path / "s.npy", "--scenario", "ring9"), "unknown scenario")


@pytest.mark.parametrize("scenario", ["mnist", "stacked-mnist"])
def test_metrics_against_an_image_scenario_is_one_line_naming_the_2d_scenarios(tmp_path, samples, scenario):
    """It said only "data = 'mnist' is not a 2D mixture": neither what the command takes nor what to give."""
    np.save(tmp_path / "s.npy", samples)
    assert_one_line_error(invoke("metrics", tmp_path / "s.npy", "--scenario", scenario), "is an image scenario",
                          "give one of grid25, ring8")


def test_score_samples_reads_a_snapshot_file(tmp_path):
    run = write_run(tmp_path / "run", healthy_rows(n=1), {0: fixed_z_fakes("healthy", 0)})
    report = score_samples(run / R.SNAPSHOT_DIR / R.snapshot_name(0), "ring8")
    assert (report[R.MODES], report[R.N_SAMPLES]) == (8, 256)


# --- saturation --------------------------------------------------------------------------------

def test_saturation_summary_gathers_the_probe_rows(rows):
    probed = saturated([dict(r) for r in rows], 30)
    probed[-5][R.SAT_GNORM_MINIMAX] = 0.003
    s = saturation.summary(probed)
    assert s[R.SERIES][R.STEP] == list(range(0, 6000, 500))
    assert_allclose([s[R.SAT_MAX_SHARE], s[R.SAT_GNORM_RATIO][-1], s[R.SAT_GNORM_RATIO][0]], [0.95, 0.01, 1.0])
    assert s[R.SAT_LAST][R.STEP] == 5500
    assert saturation.summary([{R.STEP: 0, R.D_LOSS: 1.0}]) is None


def test_probe_steps_are_log_spaced_from_zero_to_the_end():
    assert probe_steps(100, points=5) == [0, 1, 3, 10, 32, 100]


def test_frozen_g_probe_trains_only_d_and_the_saturating_gradient_dies_as_d_wins():
    """Arjovsky & Bottou 2017: against an ever better D, G's gradient under log(1 - D) vanishes
    relative to -log D by the factor D(G(z)) / (1 - D(G(z))); at D step 0 the two are equal."""
    torch.manual_seed(0)
    cfg = make_config({"z_dim": 2, "g_hidden": [16], "d_hidden": [32]})
    G, D = build_nets(cfg)
    before = {k: v.clone() for k, v in G.state_dict().items()}
    gen = torch.Generator().manual_seed(0)
    rows = frozen_g_probe(
        G, D, lambda n: RING.sample(n, gen), lambda n: torch.randn(n, 2, generator=gen),
        lambda g, d, z: measure_saturation(g, d, z)[0], 100, 64,
        torch.optim.Adam(D.parameters(), lr=3e-2, betas=(0.5, 0.999)))
    for k, v in G.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    assert [r[R.PROBE_D_STEP] for r in rows] == probe_steps(100)
    first, last = rows[0], rows[-1]
    assert_allclose(first[R.SAT_GNORM_MINIMAX] / first[R.SAT_GNORM_NONSAT], 1.0, rtol=0.05)
    odds = last[R.SAT_DLOGIT_MINIMAX] / last[R.SAT_DLOGIT_NONSAT]
    assert_allclose(np.log10(last[R.SAT_GNORM_MINIMAX] / last[R.SAT_GNORM_NONSAT]), np.log10(odds), atol=0.3)
    assert_allclose([last[R.D_LOSS], odds], [0.0, 0.0], atol=0.05)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return run_tiny(tmp_path_factory.mktemp("probe") / "run")


@pytest.mark.parametrize("d_steps", [10, 30])
def test_probe_saturation_writes_the_series_and_figure_for_a_checkpoint(tiny_run, d_steps):
    result = invoke("probe", "saturation", tiny_run, "--checkpoint", 50, "--d-steps", d_steps)
    assert result.exit_code == 0, result.output
    stem = R.saturation_probe_stem(50, d_steps, 1e-4)     # ring8's d_lr
    written = json.loads((tiny_run / f"{stem}.json").read_text())
    assert written[R.STEP] == 50
    assert [r[R.PROBE_D_STEP] for r in written[R.SERIES]] == probe_steps(d_steps)
    assert (tiny_run / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
    assert f"at D step {d_steps}" in result.output


def test_probe_saturation_without_that_checkpoint_is_a_one_line_error(tiny_run, tmp_path, rows):
    assert_one_line_error(invoke("probe", "saturation", tiny_run, "--checkpoint", 7), "no checkpoint at step 7")
    bare = shutil.copytree(tiny_run, tmp_path / "bare")
    shutil.rmtree(bare / R.CHECKPOINT_DIR)
    assert_one_line_error(invoke("probe", "saturation", bare), "has no checkpoint", "--checkpoint-every")
    # a folder the Recorder wrote for a user's own loop will never have one: no flag of gandiag's to reach for
    assert_one_line_error(invoke("probe", "saturation", write_run(tmp_path / "r", rows, {})),
                          "recorded by your own training loop", "frozen_g_probe")


def test_probe_d_lr_sets_the_fresh_d_learning_rate(tiny_run):
    losses = {}
    for lr in (None, 0.05):
        result = invoke("probe", "saturation", tiny_run, "--d-steps", 20, *(["--d-lr", lr] if lr else []))
        assert result.exit_code == 0, result.output
        written = json.loads((tiny_run / f"{R.saturation_probe_stem(60, 20, lr or 1e-4)}.json").read_text())
        assert written[R.PROBE_D_LR] == (lr or 1e-4)     # ring8's d_lr
        losses[lr] = [r[R.D_LOSS] for r in written[R.SERIES]]
    assert losses[None][0] == losses[0.05][0]            # the same fresh D at step 0 ...
    assert losses[None][-1] != losses[0.05][-1]          # ... trained at another pace


def test_a_probe_at_other_settings_is_kept_beside_the_first_not_written_over_it(tiny_run):
    for args in (["--d-lr", 0.01], ["--d-lr", 0.02], ["--d-lr", 0.02, "--d-steps", 12]):
        assert invoke("probe", "saturation", tiny_run, "--checkpoint", 50, "--d-steps", 10, *args).exit_code == 0
    series = {(f[R.PROBE_D_LR], len(f[R.SERIES])): f[R.SERIES]
              for f in (json.loads(p.read_text()) for p in tiny_run.glob(f"{R.SATURATION_PROBE}_step_00000050_*.json"))}
    assert {(0.01, len(probe_steps(10))), (0.02, len(probe_steps(10))), (0.02, len(probe_steps(12)))} <= set(series)
    assert series[0.01, len(probe_steps(10))] != series[0.02, len(probe_steps(10))]


def test_a_probe_whose_fresh_d_diverges_stops_in_one_line_and_keeps_the_earlier_probe(tiny_run):
    assert invoke("probe", "saturation", tiny_run, "--d-steps", 10).exit_code == 0
    kept = {p: p.read_bytes() for p in tiny_run.glob(f"{R.SATURATION_PROBE}_*")}
    result = invoke("probe", "saturation", tiny_run, "--d-steps", 10, "--d-lr", 1e30)
    assert_one_line_error(result, "the probe's fresh D diverged by D step", "lower its learning rate (--d-lr)")
    assert {p: p.read_bytes() for p in tiny_run.glob(f"{R.SATURATION_PROBE}_*")} == kept


# --- what cannot be computed is said, never a traceback ----------------------------------------

def strict_json(text: str):
    """Parse as any JSON reader would: NaN and infinities are not JSON."""
    def refuse(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_analyze_a_run_with_five_snapshot_samples_reports_what_it_can(tmp_path):
    run = run_tiny(tmp_path / "run", "--snapshot-samples", "5")
    result = invoke("analyze", run)
    assert result.exit_code == 0, result.output
    final = strict_json((run / R.ANALYSIS_FILE).read_text())[R.A_COVERAGE][R.FINAL]
    assert final[R.N_SAMPLES] == 5 and final[R.KNN_PRECISION] is None and final[R.MODES] is not None
    assert "more than k = 5" in final[R.NOT_COMPUTED][R.KNN_RECALL]
    assert "not computed: k-NN metrics need more than k = 5 finite samples" in result.output


@pytest.mark.parametrize("values, undefined", [
    (np.full((30, 2), 1e308), "density is 0 in floating point"),
    (np.r_[fixed_z_fakes("healthy", 0)[:30], [[np.nan, 1.0], [np.inf, 0.0]]], "2 of 32 samples are not finite"),
])
def test_metrics_on_extreme_or_non_finite_samples_prints_valid_json(tmp_path, values, undefined):
    np.save(tmp_path / "s.npy", values)
    result = invoke("metrics", tmp_path / "s.npy", "--scenario", "ring8")
    assert result.exit_code == 0, result.output
    report = strict_json(result.output)
    assert report[R.LOG_LIKELIHOOD] is None and undefined in report[R.NOT_COMPUTED][R.LOG_LIKELIHOOD]
    assert report[R.N_SAMPLES] == len(values) and report[R.N_NONFINITE] == int((~np.isfinite(values).all(1)).sum())


def test_the_report_says_how_many_samples_each_number_rests_on(tmp_path, rows):
    run = write_run(tmp_path / "run", healthy_rows(n=20), snapshots("healthy"))
    result = invoke("analyze", run)
    assert "coverage over time (metrics rows, 2,500 samples each)" in result.output
    assert "last snapshot (step 5500, 256 fixed-z fakes; the papers score 2,500 samples" in result.output


def test_the_sample_count_hint_names_what_each_trainer_can_set(tmp_path, tiny_run):
    """A user's loop has no --snapshot-samples, and its rows score its own z, not the papers' 2,500."""
    own = invoke("analyze", write_run(tmp_path / "own", healthy_rows(n=20), snapshots("healthy")))
    assert ("256 fixed-z fakes; the papers score 2,500 samples: k-NN and grid scores depend on the count, a fixed z "
            "of 2,500 in rec.snapshot matches them)") in own.output
    assert "--snapshot-samples" not in own.output and "as the metrics rows do" not in own.output
    gandiags = invoke("analyze", tiny_run)
    assert ("the papers score 2,500 samples, as the metrics rows do: k-NN and grid scores depend on the count, "
            "--snapshot-samples 2500 matches them") in gandiags.output


ANALYSIS_MODULES = ["gandiag/analysis.py", "gandiag/diagnose.py", "gandiag/facts.py", "gandiag/remedies.py",
                    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "gandiag" / "metrics").glob("*.py"))]


@pytest.mark.parametrize("module", ANALYSIS_MODULES)
def test_analysis_never_imports_training_code(module):
    """Analysis reads run folders: no import of the trainer, an engine or the networks, at the top of
    the module or inside a function."""
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    package = module.removesuffix(".py").replace("/", ".").rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            names = [f"{base}.{node.module}" if node.level and node.module else node.module or base]
            names += [f"{names[0]}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        assert not any(n.startswith(("gandiag.train", "gandiag.engine", "gandiag.nets")) for n in names), names


# --- runs too short for some rules ---------------------------------------------------------------

def test_a_run_too_short_for_some_rules_is_not_called_healthy_and_is_told_how_long_to_train(tmp_path):
    """A run of 3 metrics rows got 'diagnosis: no failure found', though spiky D loss, mode hopping,
    collapse and four other rules need more rows and never looked. diagnosis.json names the rules it
    left unjudged with the rows each needs; analyze, and the end of gandiag run, say so, from those
    fields; resuming to the steps they name gives every rule its rows."""
    from gandiag.diagnose import RULES
    from tiny import RUN, flags
    run = tmp_path / "run"
    ran = invoke("run", "ring8", "--out", run, *flags(RUN, "--no-animate", steps=10, log_every=5))
    assert ran.exit_code == 0, ran.output
    result = invoke("analyze", run)
    diagnosis = json.loads((run / R.DIAGNOSIS_FILE).read_text())
    assert diagnosis[R.VERDICTS] == [] and diagnosis[R.DIAGNOSED_ROWS] == 3
    assert diagnosis[R.RULES_UNJUDGED] == {r.name: r.needs for r in RULES if r.needs > 3}
    assert diagnosis[R.RESUME_STEPS] == 10 + (max(r.needs for r in RULES) - 3) * 5
    (line,) = [line for line in result.output.splitlines() if line.startswith("diagnosis: ")]
    assert line.startswith(f"diagnosis: no failure found by {len(RULES) - len(diagnosis[R.RULES_UNJUDGED])} of "
                           f"{len(RULES)} rules; ")
    assert "than this run's 3 (" in line and f"gandiag resume {run} --steps {diagnosis[R.RESUME_STEPS]})" in line
    assert line in ran.output.splitlines()
    assert invoke("resume", run, "--steps", diagnosis[R.RESUME_STEPS], "--no-animate", "--quiet").exit_code == 0
    assert "diagnosis: no failure found\n" in invoke("analyze", run).output
    assert json.loads((run / R.DIAGNOSIS_FILE).read_text())[R.RULES_UNJUDGED] == {}


def test_a_short_run_lost_to_an_error_is_not_told_to_train_longer(tmp_path):
    """gandiag run ring8 --loss wgan --d-lr 10 --g-lr 10 --steps 200 blew up (G's gradient 0 from step 10) and was
    told 'train longer (gandiag resume div --steps 210)' beside its error: more steps of a lost run judge nothing."""
    rows = exploded(healthy_rows(n=12), start=1)
    run = write_run(tmp_path / "run", rows, {r[R.STEP]: fixed_z_fakes("healthy", i) for i, r in enumerate(rows)})
    out = invoke("analyze", run).output
    diagnosis = json.loads((run / R.DIAGNOSIS_FILE).read_text())
    assert [v[R.V_RULE] for v in diagnosis[R.VERDICTS]][:1] == ["exploded"]
    assert (diagnosis[R.RULES_UNJUDGED], diagnosis[R.RESUME_STEPS]) == ({}, None)
    assert f"diagnosis: {len(diagnosis[R.VERDICTS])} finding(s)\n" in out and "train longer" not in out


def test_the_table_of_several_runs_says_which_were_too_short_to_judge(tmp_path):
    from gandiag.diagnose import RULES
    study = tmp_path / "study"
    write_run(study / "long", healthy_rows(n=60), snapshots("healthy"))
    write_run(study / "short", healthy_rows(n=3), {s: fixed_z_fakes("healthy", i) for i, s in enumerate((0, 100, 200))})
    out = invoke("analyze", study).output
    short = sum(r.needs > 3 for r in RULES)
    assert f"  short  finished       8  no failure found by {len(RULES) - short} of {len(RULES)} rules " \
        f"({short} rules need more rows than its 3)\n" in out and "  long   finished       8  no failure found\n" in out
    assert "no failure found in any of the 2 runs analysed by the rules that could judge them" in out
    assert f"1 of 2 runs too short for some rules (short): gandiag analyze {study / 'short'} names them" in out


def test_metrics_reads_a_csv_with_a_line_of_spaces_as_one_with_a_blank_line(tmp_path, samples):
    """A line of spaces or tabs (a hand-edited file, or Excel's last row) gave numpy's 'the number of columns
    changed from 2 to 1 at row 2; use `usecols` ...', though the loader's checks skip it as blank."""
    rows = [f"{float(x)!r},{float(y)!r}" for x, y in samples]
    (tmp_path / "blank.csv").write_text("x,y\n" + "\n".join(rows[:50] + [""] + rows[50:]) + "\n")
    (tmp_path / "spaces.csv").write_text("x,y\n" + "\n".join(rows[:50] + [" \t "] + rows[50:]) + "\n \n")
    blank, spaces = (invoke("metrics", tmp_path / name, "--scenario", "ring8") for name in ("blank.csv", "spaces.csv"))
    assert (spaces.exit_code, spaces.output) == (0, blank.output)
    assert_same_report(json.loads(spaces.output), coverage.coverage_report(samples, RING))


@pytest.mark.parametrize("text, line, word", [("x,y\n1,2\nfoo,3\n", 3, "'foo'"), ("1,2\n\n3,4\n5,\n", 4, "''")])
def test_metrics_on_a_csv_with_a_word_names_the_file_line_it_is_on(tmp_path, text, line, word):
    """numpy said 'could not convert string 'foo' to float64 at row 1, column 1.': its rows count from 0 after
    the header, so row 1 was the file's line 3."""
    path = tmp_path / "s.csv"
    path.write_text(text)
    result = invoke("metrics", path, "--scenario", "ring8")
    assert_one_line_error(result, str(path), f"line {line} holds {word}, not a number: write one x,y per line")
    assert "row" not in result.output
