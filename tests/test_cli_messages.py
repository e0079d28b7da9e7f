"""What the CLI says at the end of a run, a resume and a refusal (found by a user-style test of the CLI):
--quiet means silent, a pass with nothing to train is refused as a finished run is, the end-of-run line
states the metrics the target has, and no message names a value the user never gave."""
import json
import re

import numpy as np

from gandiag import record as R
from gandiag.cli import finish
from gandiag.train import RunResult
from cli_runs import cli, run_tiny, with_steps
from tiny import RUN, flags

#: a 2-seed pass of 10 steps (rows every 5, a checkpoint at 10)
PASS = ["--seeds", 2, *with_steps(10)]


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1, result.output
    return result.output.strip()


def test_quiet_prints_nothing_for_a_seeds_pass_nor_its_resume(tmp_path):
    out = tmp_path / "pass"
    ran = cli("run", "ring8", "--out", out, *PASS)
    assert (ran.exit_code, ran.output) == (0, "")
    resumed = cli("resume", out, "--steps", 20, "--quiet")
    assert (resumed.exit_code, resumed.output) == (0, "")
    assert {r["step"] for r in json.loads((out / "summary.json").read_text())["runs"]} == {20}


def test_resuming_a_pass_whose_seeds_are_all_at_the_total_is_a_one_line_error_as_for_a_run(tmp_path):
    out = tmp_path / "pass"
    assert cli("run", "ring8", "--out", out, *PASS).exit_code == 0
    for steps in ([], ["--steps", 10], ["--steps", 5]):
        line = one_line_error(cli("resume", out, *steps))
        assert line == f"Error: {out}: every seed is already at step 10: pass --steps larger than 10 (a total, not " \
                       f"extra); {out / 'summary.json'} is up to date"
    assert [R.RunReader(out / f"seed_{s}").status["step"] for s in (0, 1)] == [10, 10]


def end_line(out, *extra) -> str:
    """The 'finished at step ...' line of a 10-step run into `out`, not quiet."""
    result = cli("run", "ring8", "--out", out, *flags(RUN, "--no-animate", steps=10), *extra)
    assert result.exit_code == 0, result.output
    return next(line for line in result.output.splitlines() if line.startswith("finished at step"))


def test_the_end_of_run_line_states_the_metrics_its_target_has(tmp_path, capsys):
    """Own points without modes: grid KL / JS and the k-NN scores, as analyze states them (no None, no nan);
    a mixture run's and an image run's lines as before."""
    points = tmp_path / "pts.npy"
    np.save(points, np.random.default_rng(0).normal(size=(300, 2)))
    line = end_line(tmp_path / "points", "--data-file", points)
    assert "None" not in line and "nan" not in line
    assert line.startswith("finished at step 10: against your points (no modes known), the step-10 snapshot's 32 "
                           "fixed-z fakes: grid KL ")
    analyzed = next(t for t in cli("analyze", tmp_path / "points").output.splitlines() if t.startswith("last snapshot"))
    assert line.split("fakes: ")[1] == analyzed.split("known): ")[1]   # grid KL .. / JS .., k-NN precision ..
    assert re.fullmatch(r"finished at step 10: modes \d/8 \(strict \d\), high quality \d+\.\d %, reverse KL \d\.\d{3}",
                        mixture := end_line(tmp_path / "ring")), mixture
    image = {R.MODES: 1, R.MODES_STRICT: 1, R.CLASSIFIER_SCORE: 1.0123, R.FRECHET_DISTANCE: 970.62,
             R.REVERSE_KL: 2.3026, R.MODE_COUNTS: [8] + [0] * 9}   # docs/mnist.md's line
    # an image run's last row at the end of a real folder (finish reads the folder's rows to judge them)
    finish(RunResult(tmp_path / "ring", R.FINISHED, 20, image), quiet=False, animate=False)
    assert capsys.readouterr().out.splitlines()[0] == \
        "finished at step 20: modes 1/10 (strict 1), classifier score 1.01, Frechet distance 970.6, reverse KL 2.303"


def test_a_run_killed_before_its_first_checkpoint_says_its_resume_starts_again_from_step_0(tmp_path):
    run = run_tiny(tmp_path / "early", "--steps", 10)
    # the folder as a kill at step 7 leaves it: no checkpoint, rows 0 and 5
    for path in [*(run / R.CHECKPOINT_DIR).iterdir(), *(run / R.SNAPSHOT_DIR).glob("step_*[1-9]*.npz")]:
        path.unlink()
    lines = (run / R.METRICS_FILE).read_bytes().splitlines(keepends=True)
    (run / R.METRICS_FILE).write_bytes(b"".join(lines[:2]))
    result = cli("resume", run, "--no-animate")
    assert result.exit_code == 0, result.output
    assert "resume: no checkpoint yet: starting again from step 0 (2 metrics rows trained again)" in result.output
    assert "step -1" not in result.output


def test_a_pass_resumed_without_a_checkpoint_says_so_once_per_seed_naming_its_folder(tmp_path):
    out = tmp_path / "pass"
    assert cli("run", "ring8", "--out", out, *PASS).exit_code == 0
    for s in (0, 1):   # each seed's folder without a checkpoint, rows 0 and 5
        run = out / f"seed_{s}"
        for path in [*(run / R.CHECKPOINT_DIR).iterdir(), *(run / R.SNAPSHOT_DIR).glob("step_*[1-9]*.npz")]:
            path.unlink()
        (run / R.METRICS_FILE).write_bytes(b"".join((run / R.METRICS_FILE).read_bytes().splitlines(keepends=True)[:2]))
    result = cli("resume", out, "--steps", 20, "--no-animate")
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if "no checkpoint yet" in line]
    assert notes == [f"resume seed_{s}: no checkpoint yet: starting again from step 0 (2 metrics rows trained again)"
                     for s in (0, 1)]


def test_a_pass_whose_last_seed_is_beyond_the_largest_seed_names_that_seed_and_what_to_do(tmp_path):
    out = tmp_path / "q"
    line = one_line_error(cli("run", "ring8", "--out", out, *PASS, "--seed", 2**32 - 1))
    assert line == ("Error: --seed 4294967295 with --seeds 2 is not allowed: the pass's last seed, --seed + --seeds "
                    "- 1 = 4294967296, exceeds 4294967295; give a smaller --seed (at most 4294967294)")
    assert not out.exists()


def test_compare_help_gives_the_format_default_of_a_folder_out_and_animate_its_own():
    said = {command: " ".join(cli(command, "--help").output.split()) for command in ("compare", "animate")}
    assert "OUT/compare.gif or OUT/compare.mp4. [default: gif]" in said["compare"]
    assert "suffix" not in said["compare"]
    assert "[default: --out's suffix, else gif]" in said["animate"]


def test_a_flag_that_would_do_nothing_is_refused_in_one_line_before_a_folder_is_made(tmp_path):
    result = cli("run", "ring8", "--out", tmp_path / "run", *flags(RUN), "--loss", "wgan", "--noisy-labels")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines() == ["Error: noisy_labels = True does nothing with loss = 'wgan': it acts "
                                                 "only with a loss that trains D towards targets (--loss minimax, "
                                                 "nonsaturating or least-squares; the critic losses wgan, wgan-gp and "
                                                 "hinge take none); otherwise drop it (--noisy-labels)"]
    assert not (tmp_path / "run").exists()
