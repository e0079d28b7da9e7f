"""The Recorder: a plain PyTorch GAN loop outside gandiag, recorded into a run folder that every command
reads as it reads gandiag's own runs, without changing the loop's training."""
import re

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch import nn
from torch.testing import assert_close

import gandiag
from gandiag import record as R
from gandiag.analysis import analyze_run, format_report
from gandiag.cli import main
from gandiag.diagnose import Verdict
from gandiag.metrics import coverage
from gandiag.record.recorder import Recorder
from gandiag.viz.panels import ranges
from gandiag.viz.report import _final_words
from own_loop import Z, players, train
from cli_runs import run_tiny


@pytest.fixture(scope="module")
def own_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("own") / "run"
    with Recorder(root, target=gandiag.target("ring8"), config={"lr": 2e-3, "note": "a plain loop"}) as rec:
        train(*players(), 40, rec)
    return root


def test_recording_does_not_change_the_users_training(tmp_path):
    plain = train(*players(), 30)
    with Recorder(tmp_path / "run", target=gandiag.target("ring8")) as rec:
        recorded = train(*players(), 30, rec, every=5)
    for a, b in zip(plain, recorded):
        assert_close(a.state_dict(), b.state_dict(), rtol=0, atol=0)   # BN statistics included
        assert a.training and b.training


def test_a_recorded_loop_is_a_run_folder_every_command_reads(own_run, tmp_path):
    gandiag_run = run_tiny(tmp_path / "gandiag")
    runner = CliRunner()
    for args in (["analyze", own_run], ["animate", own_run, "--out", tmp_path / "a.gif"],
                 ["figure", own_run, "--out", tmp_path / "f.png"], ["report", own_run, "--out", tmp_path / "r.html"],
                 ["compare", own_run, gandiag_run, "--out", tmp_path / "cmp", "--labels", "mine,gandiag"]):
        result = runner.invoke(main, [str(a) for a in args])
        assert result.exit_code == 0, (args, result.output)
    assert (own_run / R.DIAGNOSIS_FILE).is_file() and (tmp_path / "r.html").stat().st_size > 10_000
    status = R.RunReader(own_run).status
    assert (status["status"], status["step"]) == (R.FINISHED, 40)


def test_a_loop_on_points_without_modes_gets_every_picture(tmp_path):
    """No modes known: the pictures draw the user's points where a mixture's contours would be, leave out
    the share per mode, and curve the k-NN scores instead of the mode counts."""
    points = np.random.default_rng(1).normal(size=(300, 2)) * [1.0, 0.3]
    root = tmp_path / "points"
    with Recorder(root, target=gandiag.target(points)) as rec:
        train(*players(), 20, rec, data=torch.as_tensor(points[:64], dtype=torch.float32))
    runner = CliRunner()
    for args in (["animate", root, "--out", tmp_path / "a.gif"], ["figure", root, "--out", tmp_path / "f.png"],
                 ["report", root, "--out", tmp_path / "r.html"], ["export", root, "--tensorboard", tmp_path / "tb"],
                 ["compare", root, run_tiny(tmp_path / "gandiag"), "--out", tmp_path / "cmp"]):
        result = runner.invoke(main, [str(a) for a in args])
        assert result.exit_code == 0, (args, result.output)
    from gandiag.viz.report import _run_payload
    from gandiag.viz.source import RunView
    view = RunView(root)
    snaps = [view.snapshot(s) for s in view.steps]
    payload = _run_payload(view, "mine", snaps, ranges([view], [snaps])[0], 0)
    assert "share" not in payload and "centres" not in payload
    assert_close(view.target_points(), points)
    assert "k-NN precision" in _final_words(view, payload)


def test_the_recorded_coverage_is_the_metric_functions_on_the_same_fakes(own_run):
    reader = R.RunReader(own_run)
    mixture = reader.mixture()
    for row in reader.metrics():
        fakes = reader.snapshot(row[R.STEP])[R.SNAP_FAKES].astype(np.float64)
        counts = coverage.mode_counts(fakes, mixture.centres, mixture.stds)
        assert row[R.MODE_COUNTS] == counts.tolist()
        assert row[R.MODES] == coverage.modes_captured(counts)
        assert row[R.HQ] == coverage.high_quality_share(counts, len(fakes))
        assert row[R.REVERSE_KL] == coverage.reverse_kl(counts)


def test_a_row_holds_the_logged_values_and_the_snapshot_probe_of_its_step(own_run):
    row = R.RunReader(own_run).metrics()[1]
    assert row[R.STEP] == 10 and row["lr"] == pytest.approx(2e-3) and isinstance(row[R.D_LOSS], float)
    assert {R.SAT_SHARE, R.SAT_GNORM_NONSAT, R.MODES} <= set(row)
    record = R.RunReader(own_run).record
    assert record["config"] == {"lr": 2e-3, "note": "a plain loop"} and record["target"]["kind"] == "mixture"
    snap = R.RunReader(own_run).snapshot(10)
    assert snap[R.SNAP_D_GRID].shape == (64, 64) and snap[R.SNAP_ARROWS].shape == (64, 2)


@pytest.mark.parametrize("code, status", [(0, R.FINISHED), (None, R.FINISHED), (2, R.FAILED)])
def test_sys_exit_in_the_loop_ends_the_run_as_its_exit_code_says(tmp_path, code, status):
    with pytest.raises(SystemExit):
        with Recorder(tmp_path / "run") as rec:
            rec.log(0, d_loss=1.0)
            raise SystemExit(code)
    assert R.RunReader(tmp_path / "run").status["status"] == status


def test_a_loop_that_crashes_leaves_a_readable_failed_folder(tmp_path):
    root = tmp_path / "crash"
    with pytest.raises(RuntimeError, match="user bug"):
        with Recorder(root, target=gandiag.target("ring8")) as rec:
            G, D = players()
            for step in range(3):
                rec.log(step, d_loss=1.0 - step / 10)
                rec.snapshot(step, generator=G, discriminator=D, z=torch.randn(16, Z))
            raise RuntimeError("user bug")
    reader = R.RunReader(root)
    assert [r[R.STEP] for r in reader.metrics()] == [0, 1, 2]   # the row in hand too
    assert reader.status["status"] == R.FAILED and "user bug" in reader.status["detail"]
    gandiag.analyze(root)


def test_a_discriminator_that_returns_a_probability_is_declared_once(tmp_path):
    G, D = players()
    z = torch.randn(32, Z)
    prob_D = nn.Sequential(D, nn.Sigmoid())
    for name, d, output in (("logit", D, "logit"), ("prob", prob_D, "probability")):
        with Recorder(tmp_path / name, target=gandiag.target("ring8"), discriminator_output=output) as rec:
            rec.snapshot(0, generator=G, discriminator=d, z=z)
    a, b = (R.RunReader(tmp_path / n).snapshot(0) for n in ("logit", "prob"))
    assert_close(b[R.SNAP_D_GRID], a[R.SNAP_D_GRID], rtol=1e-5, atol=1e-6)
    assert_close(b[R.SNAP_ARROWS], a[R.SNAP_ARROWS], rtol=1e-3, atol=1e-5)


def test_arrays_from_any_framework_are_recorded_and_scored(tmp_path):
    fakes = gandiag.target("ring8").sample(200, torch.Generator().manual_seed(1)).numpy()
    with Recorder(tmp_path / "jax", target=gandiag.target("ring8")) as rec:
        rec.log(0, d_loss=np.float64(1.3))
        rec.snapshot(0, fakes=fakes)
    row = R.RunReader(tmp_path / "jax").metrics()[0]
    assert row[R.MODES] == 8 and row[R.D_LOSS] == 1.3


@pytest.mark.parametrize("misuse, message", [
    (lambda rec: (rec.log(5, d_loss=1.0), rec.log(3, d_loss=1.0)), "step 3 comes after step 5"),
    (lambda rec: rec.log(0, d_loss=torch.ones(3)), "d_loss is a tensor of shape \\(3,\\)"),
    (lambda rec: rec.log(-1, d_loss=1.0), "step -1 is not allowed"),
    (lambda rec: rec.snapshot(0, generator=nn.Linear(Z, 2)), "snapshot needs z"),
])
def test_misuse_is_a_one_line_error(tmp_path, misuse, message):
    with Recorder(tmp_path / "run", target=gandiag.target("ring8")) as rec:
        with pytest.raises(R.RunError, match=message):
            misuse(rec)
            rec.flush()


def test_a_folder_has_one_writer(tmp_path):
    with Recorder(tmp_path / "run") as rec:
        rec.log(0, d_loss=1.0)
        with pytest.raises(R.RunError, match="is being written by another process"):
            Recorder(tmp_path / "run")
        assert R.RunReader(tmp_path / "run").status["status"] == R.RUNNING
    assert R.RunReader(tmp_path / "run").status["status"] == R.FINISHED


def test_a_used_folder_is_refused(tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("mine")
    with pytest.raises(R.RunError, match="is not empty \\(notes.txt\\)"):
        Recorder(tmp_path / "used")
    Recorder(tmp_path / "fresh").close()
    with pytest.raises(R.RunError, match="already holds a run"):
        Recorder(tmp_path / "fresh")
    assert (tmp_path / "used" / "notes.txt").read_text() == "mine"


def test_a_used_folder_points_to_gandiag_resume_only_where_gandiags_trainer_wrote_it(tmp_path, own_run):
    gandiags = run_tiny(tmp_path / "gandiags")
    with pytest.raises(R.RunError, match=f"`gandiag resume {gandiags}` continues it"):
        Recorder(gandiags)
    with pytest.raises(R.RunError, match=r"already holds a run: choose another folder \(gandiag.Recorder.resume\("):
        Recorder(own_run)


def _killed_after_a_checkpoint(root, target):
    """An own loop logging steps 0, 10, 20 and 30 with a checkpoint at 20 and snapshots at 20 and 30,
    killed after 30."""
    G, D = players()
    with pytest.raises(RuntimeError, match="killed"):
        with Recorder(root, target=target) as rec:
            for step in (0, 10, 20, 30):
                rec.log(step, d_loss=1.0 + step)
                if step >= 20:
                    rec.snapshot(step, generator=G, discriminator=D, z=torch.randn(16, Z))
                if step == 20:
                    rec.checkpoint(20, {"step": 20})
            raise RuntimeError("killed")
    return R.RunReader(root).record[R.RUN_ID]


def test_an_own_loop_resumed_from_its_checkpoint_records_on_in_its_folder(tmp_path):
    root, target = tmp_path / "run", gandiag.target("ring8")
    run_id = _killed_after_a_checkpoint(root, target)
    before = R.metrics_lines(root / R.METRICS_FILE)
    G, D = players()
    with Recorder.resume(root, 20, target) as rec:   # the loop trains step 30 again, from its checkpoint
        rec.log(30, d_loss=-30.0)
        rec.log(40, d_loss=-40.0)
        rec.snapshot(40, generator=G, discriminator=D, z=torch.randn(16, Z))
    reader = R.RunReader(root)
    assert [(r[R.STEP], r["d_loss"]) for r in reader.metrics()] == [(0, 1.0), (10, 11.0), (20, 21.0), (30, -30.0),
                                                                     (40, -40.0)]
    assert R.metrics_lines(root / R.METRICS_FILE)[:3] == before[:3]   # the rows up to the checkpoint, byte for byte
    assert (reader.status["status"], reader.record[R.RUN_ID], reader.record["resumed_from"]) == (
        R.FINISHED, run_id, [20])
    assert (reader.snapshot_steps(), reader.checkpoint_steps()) == ([20, 40], [20])   # the killed run's 30 dropped
    gandiag.analyze(root)


@pytest.mark.parametrize("resume, message", [
    (lambda root: Recorder.resume(root, 20, gandiag.target("grid25")),
     "was recorded against the target 'ring8': resume it with the same one"),
    (lambda root: Recorder.resume(root, 20), "was recorded against the target 'ring8'"),
    (lambda root: Recorder.resume(root, 20, gandiag.target("ring8"), loss="least-squares"),
     "was recorded with loss = 'nonsaturating', not 'least-squares': resume it with the same"),
    (lambda root: Recorder.resume(root, 20, gandiag.target("ring8"), discriminator_output="probability"),
     "was recorded with discriminator_output = 'logit', not 'probability'"),
    (lambda root: Recorder.resume(root, -1, gandiag.target("ring8")), "step -1 is not allowed"),
])
def test_resuming_an_own_loop_with_another_setting_is_refused_and_changes_nothing(tmp_path, resume, message):
    root = tmp_path / "run"
    _killed_after_a_checkpoint(root, gandiag.target("ring8"))
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    with pytest.raises(R.RunError, match=re.escape(message)):
        resume(root)
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_a_resumed_recorder_draws_and_keeps_checkpoints_as_its_options_say(tmp_path):
    root, target = tmp_path / "run", gandiag.target("ring8")
    _killed_after_a_checkpoint(root, target)
    G, D = players()
    with Recorder.resume(root, 20, target, grid_res=12, keep_checkpoints=1) as rec:
        rec.snapshot(30, generator=G, discriminator=D, z=torch.randn(16, Z))
        rec.checkpoint(30, {"step": 30})
    reader = R.RunReader(root)
    assert (reader.snapshot(30)[R.SNAP_D_GRID].shape, reader.checkpoint_steps()) == ((12, 12), [30])


def test_resuming_a_folder_that_is_held_or_gandiags_own_is_refused(tmp_path):
    with Recorder(tmp_path / "held") as rec:
        rec.log(0, d_loss=1.0)
        with pytest.raises(R.RunError, match="is being written by another process"):
            Recorder.resume(tmp_path / "held", 0)
    gandiags = run_tiny(tmp_path / "gandiags")
    with pytest.raises(R.RunError, match=f"is a run of gandiag's trainer: continue it with `gandiag resume {gandiags}"):
        Recorder.resume(gandiags, 5, gandiag.target("ring8"))
    Recorder(tmp_path / "no-target").close()
    with pytest.raises(R.RunError, match="was recorded without a target: resume it with target=None"):
        Recorder.resume(tmp_path / "no-target", 0, gandiag.target("ring8"))


def test_resume_refuses_a_folder_an_own_loop_recorded_and_changes_nothing(own_run):
    before = {p: p.read_bytes() for p in own_run.rglob("*") if p.is_file()}
    result = CliRunner().invoke(main, ["resume", str(own_run), "--steps", "200", "--quiet"])
    assert result.exit_code == 1 and result.exception.__class__ is SystemExit
    assert result.output.strip().splitlines() == [
        f"Error: {own_run} was recorded by your own training loop (gandiag.Recorder): gandiag's trainer cannot "
        "continue it; your loop can, with gandiag.Recorder.resume(folder, step, ...)"]
    assert {p: p.read_bytes() for p in own_run.rglob("*") if p.is_file()} == before


def test_a_probe_on_a_folder_an_own_loop_recorded_is_one_line_that_does_not_point_to_gandiags_flags(own_run):
    """It said 'let the run reach --checkpoint-every', a flag of gandiag's trainer that the loop does not have."""
    before = {p: p.read_bytes() for p in own_run.rglob("*") if p.is_file()}
    result = CliRunner().invoke(main, ["probe", "saturation", str(own_run), "--d-steps", "2"])
    assert result.exit_code == 1 and result.exception.__class__ is SystemExit
    (line,) = result.output.strip().splitlines()
    assert "recorded by your own training loop" in line and "--checkpoint-every" not in line
    assert {p: p.read_bytes() for p in own_run.rglob("*") if p.is_file()} == before


def test_remedies_for_an_own_loop_say_that_the_flags_are_gandiags(own_run, tmp_path):
    hopping = Verdict("mode_hopping", "Mode hopping", "warning", "hops", {R.EV_STEPS: [0, 40]},
                      ("unrolled D (Metz et al.): --unrolled 10",))
    notes = {}
    for name, root in (("own", own_run), ("gandiag", run_tiny(tmp_path / "gandiag"))):
        analysis, _ = analyze_run(root)
        notes[name] = [line for line in format_report(analysis, [hopping]).splitlines() if "gandiag's trainer" in line]
    assert len(notes["own"]) == 1 and notes["gandiag"] == []
