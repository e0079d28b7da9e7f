"""One folder, one writer, one run: concurrent writers, stale statuses, foreign checkpoints, used folders
and multi-seed passes (real processes where processes race)."""
import json
import shutil
import signal

import pytest

from gandiag import record as R
from gandiag.train import EXIT_INTERRUPTED, loop
from cli_runs import TINY, cli, run_tiny, start, wait_for_row, with_steps
from tiny import RUN, flags

REFUSED = "is being written by another process"


def rows(run) -> list[dict]:
    return R.RunReader(run).metrics()


def test_two_runs_into_one_folder_one_trains_and_the_other_is_refused_in_one_line(tmp_path):
    out = tmp_path / "x"
    procs = [start("run", "ring8", "--out", out, *with_steps(300), "--seed", seed) for seed in (0, 7)]
    results = [(p.wait(timeout=300), p.communicate()[1]) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1], results
    refusal = next(err for code, err in results if code == 1).strip().splitlines()
    assert len(refusal) == 1 and (REFUSED in refusal[0] or "already holds a run" in refusal[0])
    winner = R.RunReader(out).record["config"]["seed"]
    alone = run_tiny(tmp_path / "alone", "--steps", 300, "--seed", winner)
    assert (out / R.METRICS_FILE).read_bytes() == (alone / R.METRICS_FILE).read_bytes()
    assert R.RunReader(out).status["status"] == R.FINISHED


def test_two_resumes_of_one_folder_one_continues_and_nothing_is_lost(tmp_path):
    run = run_tiny(tmp_path / "run")
    procs = [start("resume", run, "--steps", 400, "--quiet", "--no-animate") for _ in range(2)]
    results = [(p.wait(timeout=300), p.communicate()[1]) for p in procs]
    assert sorted(code for code, _ in results) == [0, 1], results
    # refused while the other writes, or, where the other finished first, because the run is at its end
    refusal = next(err for code, err in results if code == 1)
    assert REFUSED in refusal or "is already at step 400" in refusal
    steps = [r[R.STEP] for r in rows(run)]
    assert steps == sorted(set(steps)) and steps[-1] == 400
    assert R.RunReader(run).status == {**R.RunReader(run).status, "status": R.FINISHED, "step": 400}


@pytest.mark.parametrize("owner", [{"pid": 4242, "host": "another-host"}, {"pid": 10 ** 20, "host": "here"},
                                   {"pid": "garbage"}])
def test_a_stale_running_status_never_blocks_a_resume(tmp_path, owner):
    """Killed on another host, a reused pid, an absurd one: the truth is the lock, which nobody holds."""
    run = run_tiny(tmp_path / "run")
    R.atomic_write_json(run / R.STATUS_FILE, {"status": R.RUNNING, "step": 30, **owner})
    assert R.RunReader(run).status["status"] == R.STOPPED
    result = cli("resume", run, "--steps", 80, "--quiet", "--no-animate")
    assert result.exit_code == 0, result.output
    assert R.RunReader(run).status["status"] == R.FINISHED


def test_a_checkpoint_of_another_run_is_refused_and_changes_nothing(tmp_path):
    vanilla, unrolled = run_tiny(tmp_path / "vanilla"), run_tiny(tmp_path / "unrolled", "--unrolled", 2)
    foreign = sorted((unrolled / R.CHECKPOINT_DIR).iterdir())[-1]
    shutil.copy(foreign, vanilla / R.CHECKPOINT_DIR / R.checkpoint_name(70))
    before = {p: p.read_bytes() for p in vanilla.rglob("*") if p.is_file()}
    result = cli("resume", vanilla, "--steps", 80)
    assert result.exit_code == 1
    checkpoint = vanilla / R.CHECKPOINT_DIR / R.checkpoint_name(70)
    theirs, ours = R.RunReader(unrolled).record[R.RUN_ID], R.RunReader(vanilla).record[R.RUN_ID]
    assert result.output.strip().splitlines() == [
        f"Error: checkpoint {checkpoint} belongs to another run (id {theirs}, this folder's is {ours}): remove it, "
        "or resume the run it came from"]
    assert {p: p.read_bytes() for p in vanilla.rglob("*") if p.is_file()} == before


def test_every_checkpoint_carries_its_runs_id(tmp_path):
    import torch
    run = run_tiny(tmp_path / "run")
    run_id = R.RunReader(run).record[R.RUN_ID]
    for path in (run / R.CHECKPOINT_DIR).iterdir():
        assert torch.load(path, weights_only=True)[R.RUN_ID] == run_id


def test_a_run_into_a_folder_that_holds_files_is_refused_and_they_stay(tmp_path):
    stale = run_tiny(tmp_path / "old")
    (stale / R.CONFIG_FILE).unlink()   # stale metrics and checkpoints without a record
    before = {p: p.read_bytes() for p in stale.rglob("*") if p.is_file()}
    result = cli("run", "ring8", "--out", stale, *TINY)
    assert result.exit_code == 1 and "is not empty" in result.output
    assert {p: p.read_bytes() for p in stale.rglob("*") if p.is_file()} == before


def interrupt_at(step: int) -> type:
    class StepInterrupt(loop.DeferInterrupt):
        """A Ctrl-C that lands during `step` (the loop reads `hit` once per step)."""

        def __enter__(self):
            super().__enter__()
            self.reads = 0
            return self

        @property
        def hit(self):
            self.reads += 1
            return self.reads >= step

        @hit.setter
        def hit(self, value):
            pass
    return StepInterrupt


def test_ctrl_c_in_the_last_step_finishes_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(loop, "DeferInterrupt", interrupt_at(60))
    result = cli("run", "ring8", "--out", tmp_path / "run", *TINY)
    assert result.exit_code == 0, result.output
    assert R.RunReader(tmp_path / "run").status["status"] == R.FINISHED
    assert R.RunReader(tmp_path / "run").checkpoint_steps()[-1] == 60


# --- a multi-seed pass ---------------------------------------------------------------------------

SEEDS = ["--seeds", 3, "--seed", 4]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("pass") / "m"
    result = cli("run", "ring8", "--out", out, *with_steps(200), *SEEDS)
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("animate", ["--animate", "--no-animate"])
def test_animate_renders_each_finished_seed_of_a_pass_as_it_does_a_single_run(tmp_path, animate):
    out = tmp_path / "m"
    result = cli("run", "ring8", "--out", out, *flags(RUN, "--quiet", steps=20), "--seeds", 2, "--seed", 4, animate)
    assert result.exit_code == 0, result.output
    gifs = sorted(p.relative_to(out).as_posix() for p in out.glob("*/animation.gif"))
    assert gifs == (["seed_4/animation.gif", "seed_5/animation.gif"] if animate == "--animate" else [])
    assert all((out / gif).read_bytes()[:6] == b"GIF89a" for gif in gifs)


def test_each_seed_of_a_pass_is_bit_for_bit_its_own_run(uninterrupted, tmp_path):
    alone = run_tiny(tmp_path / "seed5", "--steps", 200, "--seed", 5)
    assert (uninterrupted / "seed_5" / R.METRICS_FILE).read_bytes() == (alone / R.METRICS_FILE).read_bytes()


def test_an_interrupted_pass_resumes_as_a_whole_exactly_and_writes_its_summary(uninterrupted, tmp_path):
    out = tmp_path / "m"
    proc = start("run", "ring8", "--out", out, *with_steps(200), *SEEDS)
    wait_for_row(proc, out / "seed_6", 95)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    assert proc.returncode == EXIT_INTERRUPTED
    assert {r["status"] for r in json.loads((out / "summary.json").read_text())["runs"]} == {R.INTERRUPTED}
    result = cli("resume", out, "--quiet")
    assert result.exit_code == 0, result.output
    for seed in (4, 5, 6):
        assert (out / f"seed_{seed}" / R.METRICS_FILE).read_bytes() == \
            (uninterrupted / f"seed_{seed}" / R.METRICS_FILE).read_bytes()
    summary, expected = (json.loads((d / "summary.json").read_text()) for d in (out, uninterrupted))
    assert summary["summary"] == expected["summary"] and {r["status"] for r in summary["runs"]} == {R.FINISHED}


def test_an_interrupted_pass_says_how_to_resume_it_and_a_rerun_into_it_points_there_and_changes_nothing(tmp_path,
                                                                                                       monkeypatch):
    out, args = tmp_path / "m", ["run", "ring8", *flags(RUN, "--no-animate", steps=40), "--seeds", 2]
    monkeypatch.setattr(loop, "DeferInterrupt", interrupt_at(13))
    result = cli(*args, "--quiet", "--out", out)
    assert result.exit_code == EXIT_INTERRUPTED
    assert result.output.splitlines()[-1:] == \
        [f"interrupted at step 13, checkpoints saved. Continue with: gandiag resume {out}"]
    monkeypatch.undo()
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    again = cli(*args, "--out", out)
    assert again.exit_code == 1 and again.output == \
        f"Error: {out} already holds a --seeds pass: choose another folder (`gandiag resume {out}` continues it)\n"
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    single = cli(*[a for a in args if a not in ("--seeds", 2)], "--out", out)   # one run into the pass: the same
    assert single.exit_code == 1 and single.output == again.output
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_a_killed_seed_resumed_alone_equals_the_uninterrupted_pass(uninterrupted, tmp_path):
    out = tmp_path / "m"
    proc = start("run", "ring8", "--out", out, *with_steps(200), *SEEDS)
    wait_for_row(proc, out / "seed_5", 95)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert not (out / "summary.json").exists()
    assert cli("resume", out / "seed_5", "--quiet", "--no-animate").exit_code == 0
    assert (out / "seed_5" / R.METRICS_FILE).read_bytes() == (uninterrupted / "seed_5" / R.METRICS_FILE).read_bytes()


def test_a_writer_refused_while_another_is_starting_is_told_so_not_that_no_status_was_written(tmp_path):
    """A resume holds the lock while it checks the checkpoint, before its running status replaces the
    finished one of the session before: that status names no process."""
    run = run_tiny(tmp_path / "run")
    starting = R.FolderLock(run).acquire()
    try:
        result = cli("resume", run, "--steps", 80, "--quiet")
    finally:
        starting.release()
    assert result.exit_code == 1 and result.output == (
        f"Error: {run} is being written by another process (it is starting: its status.json does not name it yet): "
        "wait until it ends, or stop it (Ctrl-C saves a checkpoint), then try again\n")
