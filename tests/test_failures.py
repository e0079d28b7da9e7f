"""Clean failure: divergence stops at its step, Ctrl-C checkpoints, bad input is one line, records survive."""
import json
import math
import os
import shutil
import signal

import numpy as np
import pytest
import torch

from gandiag import record as R
from gandiag.record import folder
from gandiag.config import load_config
from gandiag.engine import build, choose, reference
from gandiag.engine.reference import train_step
from gandiag.train import EXIT_DIVERGED, EXIT_INTERRUPTED
from gandiag.train.session import Session
from cli_runs import TINY, assert_same_run, cli, run_tiny, start, wait_for_row, with_steps

WATCHED = (R.D_LOSS, R.G_LOSS, R.D_GRAD_NORM, R.G_GRAD_NORM)


#: tests that reach into the reference step (gandiag.engine.reference) run on it; the fast engine bypasses it
REFERENCE = ["--engine", "reference"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    return run_tiny(tmp_path_factory.mktemp("finished") / "run", *REFERENCE)


@pytest.fixture
def copy(finished, tmp_path):
    """A private copy of the finished run, free to damage."""
    return shutil.copytree(finished, tmp_path / "run")


def rows(run) -> list[dict]:
    return R.RunReader(run).metrics()


def first_non_finite_step(engine: str = "reference", **overrides) -> tuple[int, list[str]]:
    """The oracle: step the tiny config by hand on `engine` and check every statistic of every step on the
    host; (the first step with a non-finite one, those statistics). The engines can part at overflow: the
    fast one multiplies D's two layers' weights first, so weights near 1e30 overflow into inf - inf there
    a step before the reference's logits do."""
    cfg = load_config("ring8", steps=60, batch=32, z_dim=8, g_hidden="16,16", d_hidden="16", device="cpu",
                      engine=engine, **overrides)
    s = Session.for_config(cfg, "cpu")
    engine = build(choose(cfg), cfg, [s], 0, lambda stats: None)
    for step in range(1, cfg.steps + 1):
        stats = engine.step()
        bad = [k for k in WATCHED if not math.isfinite(float(stats[k][0]))]
        if bad:
            return step, bad
    raise AssertionError("the run never diverged")


# --- divergence ----------------------------------------------------------------------------------

ABSURD = {"d_lr": 1e30, "g_lr": 1e30}


@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_an_absurd_learning_rate_stops_the_run_at_the_first_non_finite_step(tmp_path, engine):
    run = tmp_path / "run"
    result = cli("run", "ring8", "--out", run, *TINY, "--engine", engine, "--d-lr", "1e30", "--g-lr", "1e30")
    bad, what = first_non_finite_step(engine, **ABSURD)
    assert bad % 5 != 0  # not a log step: the run found the step itself, not the next row
    assert result.exit_code == EXIT_DIVERGED
    assert f"diverged: non-finite {', '.join(what)} at step {bad}" in result.output
    status = R.RunReader(run).status
    assert (status["status"], status["step"]) == (R.DIVERGED, bad)
    assert [r[R.STEP] for r in rows(run)] == [0, bad]
    assert [k for k in WATCHED if rows(run)[-1][k] is None] == what
    assert R.RunReader(run).checkpoint_steps() == []


def test_a_diverged_run_ends_on_what_its_diagnosis_says_to_try(tmp_path, monkeypatch):
    """A run on points at about 1e30 diverged and was told 'Try smaller learning rates (--d-lr, --g-lr).', a fixed
    sentence no learning rate could make true: the data lie far out of G's reach. The end now states the
    diagnosis and its first remedy, which for ring8 at absurd rates is still to lower them."""
    monkeypatch.chdir(tmp_path)
    points = 1e30 * (1 + 0.1 * torch.randn(400, 2, generator=torch.Generator().manual_seed(0)))
    np.savetxt("big.csv", points.numpy(), delimiter=",")
    ends = {}
    absurd = ["--d-lr", "1e30", "--g-lr", "1e30"]
    for name, data in (("big", ["--data-file", "big.csv", "--steps", "400"]), ("ring", absurd)):
        result = cli("run", "ring8", "--out", name, *TINY, *data)
        assert result.exit_code == EXIT_DIVERGED, result.output
        ends[name] = result.output.splitlines()[-3:]
    assert ends["big"][1].endswith(" finding(s), the run is lost: Training diverged (non-finite values); Off the data: "
                                   "G's samples never reach the data")
    centre = ", ".join(f"{c:.3g}" for c in points.double().mean(0).tolist())
    assert ends["big"][2].startswith("try: standardise the data, which lie far from where G starts: subtract its "
                                     f"centre ({centre})")
    assert ends["ring"][1:] == ["diagnosis: 1 finding(s), the run is lost: Training diverged (non-finite values)",
                                "try: lower the learning rates (this run: --d-lr 1e+30 --g-lr 1e+30); the published "
                                "settings use Adam at 1e-4 to 2e-4: --d-lr 1e-4 --g-lr 1e-4"]


def test_each_seed_of_a_stacked_pass_stops_at_its_own_first_non_finite_step(tmp_path):
    result = cli("run", "ring8", "--seeds", "2", "--seed", "4", "--out", tmp_path / "m", *TINY, "--d-lr", "1e30",
                 "--g-lr", "1e30")
    assert result.exit_code == EXIT_DIVERGED
    for seed in (4, 5):
        status = R.RunReader(tmp_path / "m" / f"seed_{seed}").status
        assert (status["status"], status["step"]) == (R.DIVERGED, first_non_finite_step("fast", seed=seed, **ABSURD)[0])


def patch_step(monkeypatch, at: int, change) -> None:
    """The loop's train_step, with `change(stats, players)` applied at iteration `at` (counted from 1)."""
    calls = iter(range(1, 1 << 30))

    def step(players, *args, **kwargs):
        stats = train_step(players, *args, **kwargs)
        return change(stats, players) if next(calls) == at else stats
    monkeypatch.setattr(reference, "train_step", step)


def test_a_loss_going_nan_mid_run_stops_there_and_keeps_everything_before(tmp_path, monkeypatch, finished):
    patch_step(monkeypatch, 13, lambda stats, players: {**stats, R.G_LOSS: stats[R.G_LOSS] * math.nan})
    result = cli("run", "ring8", "--out", tmp_path / "run", *TINY, *REFERENCE, "--keep-checkpoints", 0)
    assert result.exit_code == EXIT_DIVERGED and "non-finite g_loss at step 13" in result.output
    kept = (tmp_path / "run" / R.METRICS_FILE).read_bytes().splitlines(keepends=True)
    assert kept[:3] == (finished / R.METRICS_FILE).read_bytes().splitlines(keepends=True)[:3]  # rows 0, 5, 10
    row = json.loads(kept[3])
    assert list(row) == [R.STEP, *WATCHED] and row[R.STEP] == 13 and row[R.G_LOSS] is None
    assert all(math.isfinite(row[k]) for k in WATCHED if k != R.G_LOSS)
    assert R.RunReader(tmp_path / "run").checkpoint_steps() == [10]


def test_a_resumed_run_that_diverges_names_its_step_counted_from_the_start_of_the_run(tmp_path, monkeypatch):
    run = run_tiny(tmp_path / "run", *REFERENCE, "--steps", 20)   # the later --steps wins
    patch_step(monkeypatch, 3, lambda stats, players: {**stats, R.G_LOSS: stats[R.G_LOSS] * math.nan})
    result = cli("resume", run, "--steps", 40)
    assert result.exit_code == EXIT_DIVERGED and "non-finite g_loss at step 23" in result.output
    assert R.RunReader(run).status["step"] == 23


def _inf_weight(stats, players):
    with torch.no_grad():
        next(players.G.parameters())[0, 0] = math.inf
    return stats


def test_a_non_finite_parameter_is_caught_before_its_step_is_recorded(tmp_path, monkeypatch):
    patch_step(monkeypatch, 15, _inf_weight)
    result = cli("run", "ring8", "--out", tmp_path / "run", *TINY, *REFERENCE)
    assert result.exit_code == EXIT_DIVERGED and "non-finite parameters at step 15" in result.output
    assert [r[R.STEP] for r in rows(tmp_path / "run")] == [0, 5, 10]
    assert R.RunReader(tmp_path / "run").checkpoint_steps() == [10]


def _out_of_memory(stats, players):
    raise RuntimeError("out of memory")


def test_an_unexpected_error_is_noted_in_the_status_and_raised(tmp_path, monkeypatch):
    patch_step(monkeypatch, 3, _out_of_memory)
    result = cli("run", "ring8", "--out", tmp_path / "run", *TINY, *REFERENCE)
    assert isinstance(result.exception, RuntimeError)  # a bug or a crash is not a user error: full traceback
    assert R.RunReader(tmp_path / "run").status == {"status": R.FAILED, "step": 0,
                                                    "detail": "RuntimeError: out of memory"}


# --- Ctrl-C --------------------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])  # SIGTERM: what job schedulers send
def test_ctrl_c_saves_a_checkpoint_says_how_to_resume_and_exits_130(tmp_path, sig):
    run = tmp_path / "run"
    proc = start("run", "ring8", "--out", run, *with_steps(100_000))
    wait_for_row(proc, run, 15)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_INTERRUPTED and "Traceback" not in err
    step = R.RunReader(run).status["step"]
    assert R.RunReader(run).status["status"] == R.INTERRUPTED
    assert f"interrupted at step {step}, checkpoint saved. Continue with: gandiag resume {run}" in err
    assert R.RunReader(run).checkpoint_steps()[-1] == step
    # the checkpoint is a whole step: resuming to step + 7 equals a run of step + 7 steps
    assert cli("resume", run, "--steps", step + 7, "--quiet", "--no-animate").exit_code == 0
    whole = tmp_path / "whole"
    assert cli("run", "ring8", "--out", whole, *with_steps(step + 7)).exit_code == 0
    assert_same_run(run, whole, step + 7)


# --- bad input: one line, non-zero exit, no traceback, nothing written lost ---------------------

def assert_one_line_error(result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


@pytest.mark.parametrize("text, message", [
    ("radius = 2\nlearning_rate = 3\n", "unknown key 'learning_rate'"),
    ('modes = "many"\n', "modes = 'many' is not allowed: expected an integer >= 1"),
    ("d_steps = 1.5\n", "d_steps = 1.5 is not allowed: expected an integer"),
    ("d_lr = -0.1\n", "d_lr = -0.1 is not allowed: expected a number > 0"),
    ('data = "grid"\nmodes = 8\n', "modes = 8 is not allowed for data = grid"),
    ("steps = = 3\n", "is not valid TOML"),
    ("[nets]\nsize = 3\n", "unknown key 'nets'"),
    ("modes = 1979-05-27\n", "modes = datetime.date(1979, 5, 27) is not allowed"),
], ids=["unknown-key", "wrong-type", "float-for-int", "impossible-value", "grid-not-square", "bad-toml",
        "table", "date"])
def test_a_bad_scenario_file_is_a_one_line_error(tmp_path, text, message):
    path = tmp_path / "mine.toml"
    path.write_text(text)
    assert_one_line_error(cli("run", path, "--out", tmp_path / "run", *TINY), message)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args, message", [
    (["run", "nowhere/mine.toml"], "scenario file 'nowhere/mine.toml' not found"),
    (["run", "ring9"], "unknown scenario 'ring9'"),
    (["run", "ring8", "--g-hidden", "16,x"], "g_hidden = '16,x' is not allowed"),
    (["run", "ring8", "--g-hidden", "16,-4"], "g_hidden = [16, -4] is not allowed"),
    (["run", "ring8", "--label-smoothing", "1.5"], "label_smoothing = 1.5 is not allowed"),
    (["run", "ring8", "--eval-samples", "0"], "eval_samples = 0 is not allowed"),
    (["run", "ring8", "--seed", str(2**64)], "seed = 18446744073709551616 is not allowed: expected an integer >= 0 "
                                             "and <= 4294967295"),
    (["resume", "no/such/run"], "no/such/run is not a gandiag run folder"),
    (["resume", "no/such/run", "--steps", "0"], "no/such/run is not a gandiag run folder"),
], ids=["missing-file", "unknown-scenario", "bad-widths", "negative-width", "out-of-range", "zero", "huge-seed",
        "missing-run", "missing-run-and-bad-steps"])
def test_a_bad_flag_or_path_is_a_one_line_error(tmp_path, args, message):
    assert_one_line_error(cli(*args), message)


def test_a_flag_of_the_wrong_type_is_a_usage_error_without_traceback():
    result = cli("run", "ring8", "--steps", "ten")
    assert result.exit_code == 2 and "'ten' is not a valid integer" in result.output
    assert "Traceback" not in result.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown when CUDA is absent")
def test_device_cuda_without_cuda_is_a_one_line_error(tmp_path):
    assert_one_line_error(cli("run", "ring8", "--out", tmp_path / "run", *TINY, "--device", "cuda"),
                          "device = 'cuda' is not available on this machine: use --device cpu or --device auto")
    assert not (tmp_path / "run").exists()


def _truncated(path):
    path.write_bytes(path.read_bytes()[:1000])


def _foreign(path):
    torch.save({"weights": torch.randn(3)}, path)


def _text(path):
    path.write_text("these are not the weights you are looking for\n")


def _pickled_object(path):
    torch.save({"step": 60, "payload": shutil.copytree}, path)  # weights_only refuses code objects


def _wrong_shapes(path):
    ckpt = torch.load(path, weights_only=True)
    ckpt["G"] = {k: torch.zeros(3) for k in ckpt["G"]}
    torch.save(ckpt, path)


def _on_cuda(path):
    torch.save({**torch.load(path, weights_only=True), "device": "cuda"}, path)


@pytest.mark.parametrize("damage, message", [
    (_truncated, "cannot be read (RuntimeError): it is truncated or not a gandiag checkpoint"),
    (_foreign, "is not a gandiag checkpoint: delete it to resume from an earlier one"),
    (_text, "cannot be read (IndexError): it is truncated or not a gandiag checkpoint"),
    (_pickled_object, "cannot be read (UnpicklingError)"),
    (_wrong_shapes, "does not fit its own config (RuntimeError): it is damaged or foreign"),
    pytest.param(_on_cuda, "was written on CUDA and this machine has none",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")),
], ids=["truncated", "foreign", "text", "pickled-object", "wrong-shapes", "cuda"])
def test_a_bad_checkpoint_is_a_one_line_error_and_changes_nothing(copy, damage, message):
    newest = copy / R.CHECKPOINT_DIR / R.checkpoint_name(60)
    damage(newest)
    before = {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    result = cli("resume", copy, "--steps", 80)
    assert_one_line_error(result, f"checkpoint {newest} ")
    assert message in result.output
    assert {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()} == before


def test_a_text_file_named_like_a_checkpoint_is_a_one_line_error(copy):
    (copy / R.CHECKPOINT_DIR / R.checkpoint_name(70)).write_text("step 70\n")
    assert_one_line_error(cli("resume", copy, "--steps", 80), "step_00000070.pt cannot be read")


def test_a_damaged_config_json_is_a_one_line_error_without_a_checkpoint(copy):
    for ckpt in (copy / R.CHECKPOINT_DIR).iterdir():
        ckpt.unlink()
    (copy / R.CONFIG_FILE).write_text('{"config": {"steps": ')
    assert_one_line_error(cli("resume", copy, "--steps", 80), "config.json is damaged (JSONDecodeError)")


def test_resume_rebuilds_a_damaged_config_json_from_the_checkpoint_which_holds_the_whole_config(copy, finished):
    record = json.loads((finished / R.CONFIG_FILE).read_text())
    (copy / R.CONFIG_FILE).write_text('{"config": {"steps": ')
    result = cli("resume", copy, "--steps", 80, "--no-animate")
    assert result.exit_code == 0
    assert "config.json was damaged: rebuilt from checkpoint step_00000060.pt" in result.output
    rebuilt = R.RunReader(copy).record
    assert rebuilt["config"] == {**record["config"], "steps": 80} and rebuilt[R.RUN_ID] == record[R.RUN_ID]


def test_a_run_whose_config_json_was_rebuilt_stays_a_run_of_gandiags_trainer_and_resumes_again(copy, finished):
    record = json.loads((finished / R.CONFIG_FILE).read_text())
    (copy / R.CONFIG_FILE).write_text('{"config": {"steps": ')
    assert cli("resume", copy, "--steps", 70, "--no-animate").exit_code == 0
    rebuilt = R.RunReader(copy).record
    assert {k: rebuilt.get(k) for k in (R.TRAINER, "engine", "seed", "method", "device")} == \
        {k: record[k] for k in (R.TRAINER, "engine", "seed", "method", "device")}
    again = cli("resume", copy, "--steps", 80, "--no-animate")
    assert again.exit_code == 0, again.output
    status = R.RunReader(copy).status
    assert (status["status"], status["step"]) == (R.FINISHED, 80)


def test_a_run_folder_that_lost_its_config_json_says_so_and_resume_rebuilds_it_from_the_checkpoint(copy, finished):
    record = json.loads((finished / R.CONFIG_FILE).read_text())
    (copy / R.CONFIG_FILE).unlink()
    assert_one_line_error(cli("analyze", copy), f"Error: {copy / R.CONFIG_FILE} is missing (`gandiag resume RUN` "
                                                "rebuilds it from the newest checkpoint): restore it or start a new")
    result = cli("resume", copy, "--steps", 80, "--no-animate")
    assert result.exit_code == 0, result.output
    assert "config.json was missing: rebuilt from checkpoint step_00000060.pt" in result.output
    rebuilt = R.RunReader(copy)
    assert rebuilt.config == {**record["config"], "steps": 80} and rebuilt.record[R.RUN_ID] == record[R.RUN_ID]
    assert rebuilt.trainer() == R.GANDIAG_TRAINER


def test_debug_shows_the_traceback_of_a_user_error():
    result = cli("--debug", "resume", "no/such/run")
    assert isinstance(result.exception, FileNotFoundError) and "no/such/run" in str(result.exception)


# --- records -------------------------------------------------------------------------------------

def test_every_file_of_a_run_folder_is_written_atomically_except_the_appended_metrics(tmp_path, monkeypatch):
    renamed, replace = set(), os.replace
    monkeypatch.setattr(folder.os, "replace", lambda src, dst: (renamed.add(str(dst)), replace(src, dst)))
    run = run_tiny(tmp_path / "run", "--keep-checkpoints", 0)
    files = {str(p) for p in run.rglob("*") if p.is_file()}
    # the lock file is never written: it only carries the writer's lock
    assert files - renamed == {str(run / R.METRICS_FILE), str(run / R.LOCK_FILE)}
    assert [p.name for p in run.rglob(".*")] == [R.LOCK_FILE]  # no temp file left behind


def test_readers_skip_a_truncated_last_line_and_garbled_lines(copy, finished):
    with open(copy / R.METRICS_FILE, "ab") as f:
        f.write(b'{"step": 65, "d_loss": 1.2')
    assert rows(copy) == rows(finished)
    lines = (copy / R.METRICS_FILE).read_bytes().splitlines(keepends=True)
    (copy / R.METRICS_FILE).write_bytes(b"".join([lines[0], b"\x00\xff garbage\n", *lines[1:]]))
    assert rows(copy) == rows(finished)


def test_a_run_with_a_truncated_metrics_line_still_analyzes_and_animates(copy, finished, tmp_path):
    intact = shutil.copytree(finished, tmp_path / "intact")
    with open(copy / R.METRICS_FILE, "ab") as f:
        f.write(b'{"step": 65, "d_lo')
    for run in (copy, intact):
        for command in ("analyze", "animate"):
            result = cli(command, run)
            assert result.exit_code == 0, result.output
    analysis = [json.loads((run / R.ANALYSIS_FILE).read_text()) for run in (copy, intact)]
    assert [{**a, R.A_RUN: None} for a in analysis] == [{**analysis[1], R.A_RUN: None}] * 2
    assert (copy / "animation.gif").read_bytes() == (intact / "animation.gif").read_bytes()
