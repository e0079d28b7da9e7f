"""`gandiag run` and `gandiag scenarios` end to end through click's CliRunner."""
import io
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from gandiag.cli import main
from gandiag import record as R
from gandiag.config import make_config, scenario_names
from gandiag.train import progress
from gandiag.train.progress import Progress
from tiny import flags

#: each scenario with its own networks, for 6 steps
SCENARIO_RUN = {"steps": 6, "log_every": 3, "snapshot_every": 3, "eval_samples": 100, "snapshot_samples": 16,
                "grid_res": 8, "batch": 32, "device": "cpu"}
TINY = flags(SCENARIO_RUN, "--no-animate")
TOY = [n for n in scenario_names() if "mnist" not in n]


@pytest.mark.parametrize("scenario", TOY)
def test_every_toy_scenario_runs_and_leaves_a_complete_run_folder(tmp_path, scenario):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", scenario, "--out", str(out), *TINY])
    assert result.exit_code == 0, result.output
    assert f"run folder: {out}" in result.output
    record = json.loads((out / R.CONFIG_FILE).read_text())
    assert record["config"]["scenario"] == scenario and record["config"]["steps"] == 6
    assert record["seed"] == 0 and record["versions"]["torch"] == torch.__version__
    assert record["versions"]["cpu_kernels"] == torch.backends.cpu.get_cpu_capability()
    assert len(record["modes"]["centres"]) == record["config"]["modes"]
    rows = [json.loads(line) for line in (out / R.METRICS_FILE).read_text().splitlines()]
    assert [r[R.STEP] for r in rows] == [0, 3, 6]
    assert {R.D_LOSS, R.G_LOSS, R.D_REAL, R.D_FAKE, R.D_GRAD_NORM, R.G_GRAD_NORM, R.MODES, R.HQ,
            R.REVERSE_KL} <= set(rows[-1])
    reader = R.RunReader(out)
    assert reader.snapshot_steps() == [0, 3, 6] and reader.checkpoint_steps() == [6]
    snap = reader.snapshot(6)
    assert snap[R.SNAP_FAKES].shape == (16, 2) and snap[R.SNAP_D_GRID].shape == (8, 8)
    assert (R.SNAP_MANIFOLD in snap) == (record["config"]["z_dim"] == 2)
    assert reader.status["status"] == R.FINISHED


def test_a_run_is_named_after_the_normalisation_it_trains_with(tmp_path, monkeypatch):
    """A run with virtual batch norm in D was named ring8-vanilla-... and recorded as method 'vanilla'."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", "ring8", "--d-norm", "virtual-batch", *TINY])
    assert result.exit_code == 0, result.output
    (folder,) = (tmp_path / "runs").iterdir()
    assert folder.name.startswith("ring8-d-virtual-batch-norm-")
    assert json.loads((folder / R.CONFIG_FILE).read_text())["method"] == "d-virtual-batch-norm"


#: a value other than the default for each setting a method is made of
METHOD_VALUES = {"loss": "wgan-gp", "g_loss": "examples/my_loss.py:g_loss", "d_loss": "examples/my_loss.py:d_loss",
                 "unrolled": 5, "unrolled_first_order": True, "g_norm": "batch", "d_norm": "instance",
                 "minibatch_disc": True, "spectral_norm": True, "noisy_labels": True, "conditional": True,
                 "aux_classifier": True, "hist_avg": 0.5, "label_flip": 0.1, "instance_noise": 0.1,
                 "replay_size": 64, "swap_every": 50, "g_dropout": 0.2, "r1": 1.0, "label_smoothing": 0.9, "pack": 2}


def test_each_method_setting_gives_its_own_name_and_label():
    from gandiag.config import DEFAULTS, to_dict
    from gandiag.methods import METHOD_KEYS, method_name, method_words
    assert set(METHOD_VALUES) == set(METHOD_KEYS)
    base = to_dict(make_config())
    configs = {key: {**base, key: value} for key, value in METHOD_VALUES.items() if key != "unrolled_first_order"}
    configs["unrolled_first_order"] = {**base, "unrolled": 5, "unrolled_first_order": True}
    assert all(DEFAULTS[key] != value for key, value in METHOD_VALUES.items())
    names, words = ({key: f(c) for key, c in configs.items()} for f in (method_name, method_words))
    assert len(set(names.values())) == len(set(words.values())) == len(configs)
    assert (method_name(base), method_words(base)) == ("vanilla", "vanilla")
    assert (names["unrolled_first_order"], words["d_norm"]) == ("unrolled5-first-order", "D instance norm")
    assert (names["g_loss"], words["d_loss"]) == ("g-loss-g_loss", "own D loss my_loss.py:d_loss")


def test_every_stabilizer_is_a_setting_that_names_a_method():
    """A new stabilizer's field left out of METHOD_KEYS would train a run named 'vanilla'."""
    from gandiag.config import GROUPS
    from gandiag.methods import METHOD_KEYS
    tuning = {"mbd_kernels", "mbd_dim", "instance_noise_decay", "replay_share", "swap_for"}   # how one acts
    (stabilizers,) = [names for group, names in GROUPS if group == "Stabilizers"]
    assert set(stabilizers) - tuning <= set(METHOD_KEYS) and not tuning & set(METHOD_KEYS)


def test_fixed_z_fakes_are_the_same_z_in_every_snapshot(tmp_path):
    """Snapshot 0 of two runs with different training lengths shows the same fakes: z is fixed, not drawn."""
    for name, steps in (("a", "3"), ("b", "6")):
        args = flags(SCENARIO_RUN, "--no-animate", steps=steps)
        assert CliRunner().invoke(main, ["run", "ring8", "--out", str(tmp_path / name), *args]).exit_code == 0
    a, b = (R.RunReader(tmp_path / n).snapshot(0)[R.SNAP_FAKES] for n in "ab")
    np.testing.assert_array_equal(a, b)


def test_scenarios_lists_every_scenario_with_its_key_settings():
    result = CliRunner().invoke(main, ["scenarios"])
    assert result.exit_code == 0
    for name in scenario_names():
        assert name in result.output
    assert "batch=512" in result.output and "Unrolled GAN paper" in result.output
    modes = dict(line.split()[0:2] for line in result.output.splitlines() if line.lstrip().startswith("data="))
    assert (modes["data=ring"], modes["data=grid"]) == ("modes=8", "modes=25")
    assert (modes["data=mnist"], modes["data=stacked-mnist"]) == ("modes=10", "modes=1000")   # digit classes


def test_run_help_shows_every_config_option_with_its_default():
    result = CliRunner().invoke(main, ["run", "--help"])
    assert "--unrolled INTEGER" in result.output and "[default: 0]" in result.output
    assert "--minibatch-disc / --no-minibatch-disc" in result.output


def test_run_help_lists_each_config_option_under_its_config_group():
    from gandiag.config import FIELDS, GROUPS
    heading, under = None, {}
    for line in CliRunner().invoke(main, ["run", "--help"]).output.splitlines():
        if line and not line[0].isspace() and line.endswith(":"):
            heading = line[:-1]
        elif line.startswith("  --"):
            under[line.split()[0].split("/")[0]] = heading
    expected = {f"--{name.replace('_', '-')}": title
                for title, names in GROUPS for name in names if FIELDS[name].metadata["cli"]}
    assert {flag: under.get(flag) for flag in expected} == expected
    assert {flag: under[flag] for flag in ("--out", "--quiet", "--animate", "--seeds")} == dict.fromkeys(
        ("--out", "--quiet", "--animate", "--seeds"), "Options")


@pytest.mark.parametrize("args, message", [
    (["run", "ring9"], "unknown scenario 'ring9'"),
    (["run", "ring8", "--steps", "0"], "steps = 0 is not allowed"),
    (["run", "ring8", "--g-hidden", "12,x"], "g_hidden = '12,x' is not allowed"),
    (["resume", "no/such/run"], "is not a gandiag run folder"),
])
def test_bad_input_is_one_line_nonzero_and_no_traceback(tmp_path, args, message):
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown when CUDA is absent")
def test_device_cuda_without_cuda_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(main, ["run", "ring8", "--out", str(tmp_path / "r"),
                                       *flags(SCENARIO_RUN, device="cuda")])
    assert result.exit_code != 0 and "device = 'cuda' is not available" in result.output
    assert not (tmp_path / "r").exists()


def test_bad_scenario_key_in_a_user_file_names_the_key(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text("radius = 2\nlearning_rate = 3\n")
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code != 0 and "unknown key 'learning_rate'" in result.output


def test_run_refuses_to_overwrite_an_existing_run(tmp_path):
    out = str(tmp_path / "r")
    assert CliRunner().invoke(main, ["run", "ring8", "--out", out, *TINY]).exit_code == 0
    before = (tmp_path / "r" / R.METRICS_FILE).read_bytes()
    result = CliRunner().invoke(main, ["run", "ring8", "--out", out, *TINY])
    assert result.exit_code != 0 and "already holds a run" in result.output
    assert (tmp_path / "r" / R.METRICS_FILE).read_bytes() == before


def test_the_progress_rate_counts_from_the_first_training_step_not_from_the_setup(monkeypatch):
    clock = iter([0.0, 100.0, 101.0])   # created, setup (a compilation) done, 50 steps later
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    out = io.StringIO()
    line = Progress(1000, stream=out)
    line.begin()
    line.update(50, {})
    assert "  50 it/s  " in out.getvalue()


@pytest.mark.parametrize("flags, compiles", [(["--unrolled", "1", "--compile"], True),
                                             (["--engine", "reference", "--compile"], True),
                                             (["--compile"], False),          # vanilla fast engine: nothing to compile
                                             (["--unrolled", "1"], False)])
@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf")   # dynamo tracing the probe
def test_a_run_that_compiles_says_so_before_its_first_step(compile_counter, tmp_path, flags, compiles):
    result = CliRunner().invoke(main, ["run", "ring8", *TINY, *flags, "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert (progress.COMPILING in result.output) == compiles
    if compiles:
        assert result.output.index(progress.COMPILING) < result.output.index("6/6")
        assert compile_counter.frame_count > 0


def test_a_quiet_run_prints_no_note():
    out = io.StringIO()
    Progress(10, stream=out, quiet=True).note(progress.COMPILING)
    assert out.getvalue() == ""


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_the_progress_is_a_tqdm_bar_with_the_losses_modes_and_warnings():
    out = Terminal()
    line = Progress(200, stream=out)
    line.begin()
    line.update(100, {R.D_LOSS: 1.371, R.G_LOSS: 0.7, R.MODES: 3, R.MODE_COUNTS: [1] * 8}, ["Mode hopping"])
    line.close()
    text = out.getvalue()
    assert "\r" in text and "100/200" in text and "D 1.371  G 0.700  modes 3/8  WARNING: Mode hopping" in text


def test_in_a_log_file_the_progress_is_a_plain_line_every_tenth_of_the_run():
    out = io.StringIO()
    line = Progress(100, stream=out)
    line.begin()
    for step in range(1, 101):
        line.update(step, {R.D_LOSS: 1.0, R.G_LOSS: 1.0})
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert [line.split()[1] for line in lines] == [f"{s}/100" for s in (1, 11, 21, 31, 41, 51, 61, 71, 81, 91, 100)]


def test_in_a_notebook_the_progress_is_a_live_bar_though_its_stream_is_no_terminal(monkeypatch):
    """tqdm.auto then draws it as a notebook widget."""
    assert not Progress(10, stream=io.StringIO()).live
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    assert Progress(10, stream=io.StringIO()).live and not Progress(10, stream=io.StringIO(), quiet=True).live


def test_gandiag_help_imports_neither_torch_nor_numpy_nor_scipy():
    """So it answers at once (the heavy libraries load with the command that needs them)."""
    import subprocess
    import sys
    code = ("import sys; from click.testing import CliRunner; from gandiag.cli import main; "
            "CliRunner().invoke(main, ['--help']); CliRunner().invoke(main, ['run', '--help']); "
            "print(sorted(m for m in ('torch', 'numpy', 'scipy', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
