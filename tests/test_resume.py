"""Exact resume: a run killed at any point and resumed ends as if it had never stopped (CPU)."""
import json
import signal

import pytest

from gandiag import record as R
from cli_runs import TINY, assert_same_run, checkpoint, cli, run_tiny, start, wait_for_row, with_steps


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """The uninterrupted 60-step run every resumed one must equal."""
    return run_tiny(tmp_path_factory.mktemp("whole") / "run")


def test_a_run_killed_mid_run_and_resumed_equals_the_uninterrupted_run(tmp_path, whole):
    run = tmp_path / "killed"
    proc = start("run", "ring8", "--out", run, *TINY)
    wait_for_row(proc, run, 15)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL  # killed mid-run, not finished
    reader = R.RunReader(run)
    assert reader.status["status"] == R.STOPPED and reader.checkpoint_steps()[-1] < 60
    # A kill can also land mid-line and mid-checkpoint: leave both traces the way the writers would.
    with open(run / R.METRICS_FILE, "ab") as f:
        f.write(b'{"step": 55, "d_loss": 1.37')
    stale = run / R.CHECKPOINT_DIR / ".step_00000020.pt.4242.0badf00d.tmp"
    stale.write_bytes(b"half a checkpoint")

    result = cli("resume", run, "--quiet", "--no-animate")
    assert result.exit_code == 0, result.output
    assert_same_run(run, whole, 60)
    assert not stale.exists() and reader.status["status"] == R.FINISHED


def test_a_run_killed_before_its_first_checkpoint_resumes_from_step_0(tmp_path, whole):
    run = run_tiny(tmp_path / "early")
    # the folder as a kill at step 7 leaves it: config, the step-0 snapshot, rows 0 and 5, no checkpoint
    for path in [*(run / R.CHECKPOINT_DIR).iterdir(), *(run / R.SNAPSHOT_DIR).glob("step_*[1-9]*.npz")]:
        path.unlink()
    lines = (run / R.METRICS_FILE).read_bytes().splitlines(keepends=True)
    (run / R.METRICS_FILE).write_bytes(b"".join(lines[:2]))
    assert cli("resume", run, "--quiet", "--no-animate").exit_code == 0
    assert_same_run(run, whole, 60)


def test_resume_steps_are_a_total_not_extra(tmp_path):
    """A finished 60-step run resumed to 80 equals an 80-step run (60 is a snapshot step of both)."""
    run = run_tiny(tmp_path / "short")
    result = cli("resume", run, "--steps", 80, "--quiet", "--no-animate")
    assert result.exit_code == 0, result.output
    status = R.RunReader(run).status
    assert (status["status"], status["step"]) == (R.FINISHED, 80)
    longer = tmp_path / "long"
    assert cli("run", "ring8", "--out", longer, *with_steps(80)).exit_code == 0
    assert_same_run(run, longer, 80)
    assert json.loads((run / R.CONFIG_FILE).read_text())["resumed_from"] == [60]
    again = cli("resume", run, "--steps", 80)
    assert again.exit_code == 1 and "already at step 80: pass --steps larger than that" in again.output


#: every stabilizer with state of its own, and the random draws of the rest
STABILIZERS = ["--replay-size", "64", "--hist-avg", "0.1", "--swap-every", "8", "--swap-for", "5", "--noisy-labels",
               "--label-flip", "0.1", "--g-dropout", "0.2", "--instance-noise", "0.1", "--instance-noise-decay", "50"]


def test_stabilizer_state_survives_a_checkpoint(tmp_path):
    """Stateful stabilizers (replay buffer, averages, players swapped out across the checkpoint at 20)
    resume bit for bit: 20 steps, then resumed to 30, equal 30 steps in one go."""
    stopped, whole = tmp_path / "stopped", tmp_path / "whole"
    assert cli("run", "ring8", "--out", stopped, *with_steps(20), *STABILIZERS).exit_code == 0
    assert cli("resume", stopped, "--steps", 30, "--quiet", "--no-animate").exit_code == 0
    assert cli("run", "ring8", "--out", whole, *with_steps(30), *STABILIZERS).exit_code == 0
    assert_same_run(stopped, whole, 30)


def test_same_seed_gives_an_identical_metrics_file_and_another_seed_does_not(tmp_path, whole):
    again, other = run_tiny(tmp_path / "again"), run_tiny(tmp_path / "other", "--seed", "1")
    assert (again / R.METRICS_FILE).read_bytes() == (whole / R.METRICS_FILE).read_bytes()
    assert (other / R.METRICS_FILE).read_bytes() != (whole / R.METRICS_FILE).read_bytes()


@pytest.mark.parametrize("keep, kept", [(2, [50, 60]), (0, [10, 20, 30, 40, 50, 60])])
def test_keep_checkpoints_bounds_the_checkpoints_on_disk(tmp_path, keep, kept):
    run = run_tiny(tmp_path / "run", "--keep-checkpoints", keep)
    assert R.RunReader(run).checkpoint_steps() == kept
    assert sorted(p.name for p in (run / R.CHECKPOINT_DIR).iterdir()) == [R.checkpoint_name(s) for s in kept]
    assert checkpoint(run, 60)["step"] == 60


def test_a_run_reads_as_running_while_its_process_lives_and_resume_refuses_it(tmp_path):
    run = tmp_path / "live"
    proc = start("run", "ring8", "--out", run, *with_steps(100_000))
    try:
        wait_for_row(proc, run, 5)
        assert R.RunReader(run).status["status"] == R.RUNNING
        result = cli("resume", run, "--quiet")
        assert result.exit_code == 1 and f"is being written by another process (pid {proc.pid} on" in result.output
        assert "Traceback" not in result.output
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    stopped = R.RunReader(run).status
    assert stopped["status"] == R.STOPPED and "gandiag resume" in stopped["detail"]


@pytest.mark.parametrize("rows_left, lost", [(10, None), (5, "the rows after step 5 up to step 10 are lost")])
def test_resume_says_rows_are_lost_only_where_a_step_up_to_the_checkpoint_owed_one(tmp_path, rows_left, lost):
    """A checkpoint between log steps (Ctrl-C's, or --checkpoint-every off the log grid) owes no row of its
    own: rows 0, 5 and 10 are all that a kill after the step-14 checkpoint leaves, and nothing is lost."""
    run = run_tiny(tmp_path / "run", "--checkpoint-every", 7, "--keep-checkpoints", 0)
    whole = (run / R.METRICS_FILE).read_bytes()
    for path in [*(run / R.CHECKPOINT_DIR).iterdir(), *(run / R.SNAPSHOT_DIR).iterdir()]:
        if int(path.stem.removeprefix("step_")) > 14:
            path.unlink()
    lines = whole.splitlines(keepends=True)
    (run / R.METRICS_FILE).write_bytes(b"".join(line for line in lines if json.loads(line)[R.STEP] <= rows_left))
    result = cli("resume", run, "--no-animate")
    assert result.exit_code == 0, result.output
    assert [line for line in result.output.splitlines() if "are lost" in line] == \
        ([] if lost is None else [f"resume: metrics.jsonl holds rows only up to step 5, the checkpoint is at step 14: "
                                  f"{lost} (the run itself continues exactly)"])
    if lost is None:
        assert (run / R.METRICS_FILE).read_bytes() == whole
