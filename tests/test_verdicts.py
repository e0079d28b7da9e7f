"""Verdicts on real short ring8 runs: the hero comparison, an explosion without NaN, and the live
warnings against `gandiag analyze` on the same rows."""
import json
import re

import numpy as np
import pytest
import torch
from cli_runs import TINY, cli
from tiny import RUN, flags

from gandiag import record as R
from gandiag.analysis import analyze_run, live_warnings
from gandiag.config import load_config
from gandiag.train import run as train
from gandiag.viz.source import RunView

#: the Unrolled GAN paper's ring8 (batch 512, z 256), short: seed 1 spreads within 800 unrolled steps
HERO = ["--steps", "800", "--seed", "1", "--log-every", "20", "--snapshot-every", "400",
        "--checkpoint-every", "100000", "--no-animate", "--quiet"]


def diagnosed(run) -> list[dict]:
    result = cli("analyze", run)
    assert result.exit_code == 0, result.output
    return json.loads((run / R.DIAGNOSIS_FILE).read_text())[R.VERDICTS]


@pytest.fixture(scope="module")
def hero(tmp_path_factory):
    root = tmp_path_factory.mktemp("hero")
    runs = {}
    for k in (0, 10):
        result = cli("run", "ring8", "--out", root / f"k{k}", "--unrolled", k, *HERO)
        assert result.exit_code == 0, result.output
        runs[k] = root / f"k{k}"
    return runs


def test_vanilla_hops_and_unrolled_spreads_from_the_same_seed(hero):
    vanilla, unrolled = diagnosed(hero[0]), diagnosed(hero[10])
    assert [v[R.V_RULE] for v in vanilla] == ["mode_hopping"]
    assert [v[R.V_RULE] for v in unrolled] == ["spreading"]
    # what the unrolled run already does is not suggested to it
    assert not any("--unrolled 10" in r for v in unrolled for r in v[R.V_REMEDIES])
    assert any("--unrolled 10" in r for r in vanilla[0][R.V_REMEDIES])


def test_compare_panels_are_titled_with_the_different_verdicts(hero):
    for run in hero.values():
        analyze_run(run)
    assert [t for t, _ in RunView(hero[0]).verdicts()] == ["Mode hopping"]
    assert [t for t, _ in RunView(hero[10]).verdicts()] == ["Spreading out"]


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_a_run_that_explodes_without_nan_gets_a_verdict(tmp_path, engine):
    out = tmp_path / "boom"
    result = cli("run", "ring8", "--out", out, "--d-lr", "1e6", "--g-lr", "1e6", "--steps", "100", "--log-every", "10",
                 "--engine", engine, "--no-animate", "--quiet")
    assert result.exit_code == 0, result.output          # no NaN: the run itself finishes
    verdicts = diagnosed(out)
    assert [(v[R.V_RULE], v[R.V_SEVERITY]) for v in verdicts] == [("exploded", "error")]
    windows = json.loads((out / R.ANALYSIS_FILE).read_text())[R.A_OSCILLATION][R.OSC_WINDOWS]
    # every row holds 0 modes at high quality, and so does every window; G never moves (its gradient
    # is 0), so the few modes its first samples lie near are near at every time of a window
    assert windows and all(w[R.OSC_HQ_COVERED] == 0 and w[R.OSC_VISITED] == w[R.OSC_COVERED] < 8 for w in windows)


def test_live_warnings_show_the_hopping_that_analyze_finds(tmp_path):
    """A vanilla ring8 run of 2,000 steps logged every 10: the progress line's warnings after the last
    row are the verdicts `gandiag analyze` reaches on the folder, mode hopping among them."""
    cfg = load_config("ring8", steps=2000, log_every=10, checkpoint_every=100000)
    shown, check = [], live_warnings(cfg)

    def on_row(row):
        shown.append(check(row))
        return shown[-1]
    train(cfg, tmp_path / "run", quiet=True, on_row=on_row)
    _, verdicts = analyze_run(tmp_path / "run")
    assert "mode_hopping" in [v.rule for v in verdicts]
    assert shown[-1] == [v.title for v in verdicts]


@pytest.mark.parametrize("target", ["ring8", "points"])
def test_an_own_loop_whose_generator_turns_nan_is_diagnosed_as_diverged(tmp_path, target):
    """A user's loop has no guard that stops it at the first NaN, and may log no losses: the NaN fakes
    alone must read as divergence, not as a clean run (nor as a collapse onto no mode)."""
    import numpy as np
    import torch

    import gandiag
    from gandiag.record.recorder import Recorder
    ring = gandiag.target("ring8")
    goal = ring if target == "ring8" else gandiag.target(ring.sample(300).numpy())
    centres = torch.as_tensor(np.asarray(ring.mixture.centres), dtype=torch.float32)

    def generator(nan: bool):
        return lambda z: torch.full((len(z), 2), float("nan")) if nan else centres[torch.arange(len(z)) % 8] + 0.02 * z

    with Recorder(tmp_path / "run", target=goal) as rec:
        for step in range(0, 1000, 100):
            rec.snapshot(step, generator=generator(step >= 600), z=torch.randn(64, 2))
    verdicts = diagnosed(tmp_path / "run")
    # the other rules read the rows before the NaN: a G on every mode until then, no collapse nor hopping
    assert [v[R.V_RULE] for v in verdicts] == ["divergence"]
    verdict = verdicts[0]
    assert (verdict[R.V_RULE], verdict[R.V_EVIDENCE][R.EV_STEPS]) == ("divergence", [600, 900])
    assert verdict[R.V_MESSAGE] == "training diverged: non-finite fakes from step 600"


def test_a_run_on_pixel_scale_points_is_off_the_data_until_its_remedy_is_applied(tmp_path, monkeypatch):
    """gandiag run ring8 --data-file px.csv --target-modes 4 on four blobs around (500, 400) never
    reached them (its fakes stayed about the origin at scale ~1), and neither analyze nor the end of
    the run gave a verdict. It is off the data now, and the copy its remedy's command writes trains as
    data about the origin does."""
    monkeypatch.chdir(tmp_path)
    gen = np.random.default_rng(0)
    blobs = np.array([[480.0, 380.0], [520.0, 380.0], [480.0, 420.0], [520.0, 420.0]])
    points = blobs[gen.integers(4, size=2000)] + 5 * gen.standard_normal((2000, 2))
    np.savetxt("px.csv", points, delimiter=",")
    shown = flags(RUN, "--no-animate")   # not --quiet: the end of the run is under test too
    result = cli("run", "ring8", "--data-file", "px.csv", "--target-modes", 4, "--out", "px", *shown)
    assert result.exit_code == 0, result.output
    # the end of the run names the error, not how to train longer
    (end,) = [line for line in result.output.splitlines() if line.startswith("diagnosis: ")]
    assert end.startswith("diagnosis: 1 finding(s), the run is lost: "), end
    (verdict,) = [v for v in diagnosed(tmp_path / "px") if v[R.V_RULE] == "off_the_data"]
    torch.testing.assert_close(verdict[R.V_EVIDENCE]["data_centre"], points.mean(0).tolist())
    torch.testing.assert_close(verdict[R.V_EVIDENCE]["data_scale"], float(np.sqrt(points.var(0).mean())))
    (remedy,) = verdict[R.V_REMEDIES]
    exec(re.search(r'python -c "(.+)" then --data-file px_std.npy$', remedy).group(1), {})   # noqa: S102
    result = cli("run", "ring8", "--data-file", "px_std.npy", "--target-modes", 4, "--out", "std", *TINY)
    assert result.exit_code == 0, result.output
    assert "off_the_data" not in [v[R.V_RULE] for v in diagnosed(tmp_path / "std")]


def test_grid25_from_its_start_is_not_off_the_data(tmp_path):
    """grid25's batch-norm G starts as a speck at the grid's centre, far smaller than the grid but on it:
    not off the data."""
    result = cli("run", "grid25", "--out", tmp_path / "grid", *TINY)
    assert result.exit_code == 0, result.output
    assert "off_the_data" not in [v[R.V_RULE] for v in diagnosed(tmp_path / "grid")]
