"""What gandiag refuses, in one line and with a non-zero exit, instead of a traceback, a hang or exit 0:
losses that exit or hang, non-finite numbers, sizes beyond memory, damaged records, a file system that
refuses writes, empty and impossible output paths (docs/reliability.md)."""
import dataclasses
import errno
import json
import os
import re
import resource
import shutil
import textwrap

import numpy as np
import pytest
import torch

import gandiag
from gandiag import memory, record as R
from gandiag.config import FIELDS, Config, ConfigError, load_config, make_config
from gandiag.viz.animate import write_gif
from gandiag.viz.source import VizError
from cli_runs import TINY, cli, run_tiny


def one_line_error(result, code: int = 1) -> str:
    """The refusal's one line (click's 'Error: ...'); fails on a traceback, a hang's exit or exit 0."""
    assert result.exit_code == code and isinstance(result.exception, SystemExit), (result.exception, result.output)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 or code == 2, result.output   # usage errors add a usage line and a help hint
    assert "Traceback" not in result.output
    return lines[-1]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    return run_tiny(tmp_path_factory.mktemp("finished") / "run")


@pytest.fixture
def copy(finished, tmp_path):
    return shutil.copytree(finished, tmp_path / "run")


# --- item 5: exit 0 on failure -------------------------------------------------------------------

LOSSES = {
    "exits": ("import sys\ndef g(fake):\n    sys.exit(0)\n", "called sys.exit(0) instead of returning a value"),
    "exits_on_import": ("import sys\nsys.exit(0)\ndef g(fake):\n    return fake.mean()\n",
                        "it calls sys.exit(0) when imported"),
    "interrupts": ("def g(fake):\n    raise KeyboardInterrupt\n", "raised KeyboardInterrupt"),
    "ends_its_process": ("import os\ndef g(fake):\n    os._exit(0)\n", "ended the check's process (exit code 0)"),
}


@pytest.mark.parametrize("name", LOSSES)
def test_check_loss_on_a_loss_that_ends_instead_of_returning_fails_in_one_line(tmp_path, name):
    source, message = LOSSES[name]
    (tmp_path / f"{name}.py").write_text(source)
    line = one_line_error(cli("check-loss", f"{tmp_path}/{name}.py:g", "--role", "generator", "--examples", 3))
    assert message in line


def test_check_loss_stops_a_loss_that_never_returns_at_its_deadline(tmp_path):
    (tmp_path / "hangs.py").write_text("import time\ndef g(fake):\n    while True:\n        time.sleep(1)\n")
    line = one_line_error(cli("check-loss", f"{tmp_path}/hangs.py:g", "--role", "generator", "--timeout", 2))
    assert "did not return within 2 s (the check was stopped)" in line


def test_a_run_whose_own_loss_exits_is_refused_before_it_starts(tmp_path):
    (tmp_path / "exits.py").write_text(LOSSES["exits"][0])
    line = one_line_error(cli("run", "ring8", "--out", tmp_path / "run", *TINY, "--g-loss", f"{tmp_path}/exits.py:g"))
    assert "fails on a batch of logits: SystemExit" in line and not (tmp_path / "run").exists()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-1", "1e308"])
def test_the_probe_refuses_a_learning_rate_that_is_no_positive_number(copy, value):
    one_line_error(cli("probe", "saturation", copy, "--d-lr", value, "--d-steps", 3), code=2)
    assert not list(copy.glob(f"{R.SATURATION_PROBE}*"))


def test_the_probe_library_refuses_a_non_finite_learning_rate(copy):
    from gandiag.train.saturation_probe import probe_saturation
    with pytest.raises(ConfigError, match="d_lr = nan is not allowed"):
        probe_saturation(copy, d_steps=3, d_lr=float("nan"))


def test_metrics_on_huge_samples_print_json_without_infinity_or_nan(tmp_path):
    np.save(tmp_path / "big.npy", np.full((50, 2), 1e308))
    result = cli("metrics", tmp_path / "big.npy", "--scenario", "ring8")
    assert result.exit_code == 0, result.output

    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")
    report = json.loads(result.output, parse_constant=refuse)
    assert report[R.LOG_LIKELIHOOD] is None


# --- item 6: one line instead of a traceback ---------------------------------------------------------

@pytest.mark.parametrize("damage", [{"target": "abc"}, {"modes": [1, 2]}, {"losses": 5}])
@pytest.mark.parametrize("command", ["animate", "figure", "report", "analyze"])
def test_a_config_json_of_the_wrong_structure_is_one_line(copy, command, damage):
    record = json.loads((copy / R.CONFIG_FILE).read_text())
    (copy / R.CONFIG_FILE).write_text(json.dumps({**record, **damage}))
    assert "is damaged: its" in one_line_error(cli(command, copy))


@pytest.mark.parametrize("command", ["animate", "figure", "report"])
def test_a_snapshot_without_fakes_is_one_line_naming_the_file(copy, command):
    path = copy / R.SNAPSHOT_DIR / R.snapshot_name(0)
    arrays = dict(np.load(path))
    del arrays[R.SNAP_FAKES]
    np.savez(path, **arrays)
    assert f"snapshot {path} has no 'fakes' array" in one_line_error(cli(command, copy))


@pytest.fixture(params=[(errno.EROFS, "Read-only file system"), (errno.ENOSPC, "No space left on device"),
                        (errno.EACCES, "Permission denied")], ids=["read-only", "full", "no-permission"])
def refused_writes(request, monkeypatch, tmp_path, finished):
    """(a copy of the finished run, the system's reason): every write under its folder then fails as the
    operating system fails it (os.open, os.mkdir and open are where gandiag, numpy, torch, PIL and
    matplotlib all end up)."""
    code, reason = request.param
    run = shutil.copytree(finished, tmp_path / "refused" / "run")
    root = str(tmp_path / "refused")
    real_os_open, real_open, real_mkdir = os.open, open, os.mkdir

    def refuse(path):
        if str(path).startswith(root):
            raise OSError(code, reason, str(path))

    def os_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            refuse(path)
        return real_os_open(path, flags, *args, **kwargs)

    def builtin_open(path, mode="r", *args, **kwargs):
        if isinstance(path, (str, os.PathLike)) and set(mode) & set("wax+"):
            refuse(path)
        return real_open(path, mode, *args, **kwargs)

    def mkdir(path, *args, **kwargs):
        refuse(path)
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr("builtins.open", builtin_open)
    return run, reason


@pytest.mark.parametrize("command", [["resume", "{run}", "--steps", "80"], ["analyze", "{run}"], ["figure", "{run}"],
                                     ["animate", "{run}"], ["report", "{run}"],
                                     ["probe", "saturation", "{run}", "--d-steps", "3"],
                                     ["run", "ring8", "--out", "{run}/../new", *TINY]])
def test_a_file_system_that_refuses_writes_is_one_line_and_keeps_what_was_written(refused_writes, command):
    run, reason = refused_writes
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    line = one_line_error(cli(*[a.format(run=run) for a in command]))
    assert reason in line and ".tmp" not in line
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_an_export_into_a_folder_holding_events_is_one_line_and_keeps_them(finished, tmp_path):
    """TensorBoard reads a folder's events files as one run: a second export there interleaved the curves."""
    tb = tmp_path / "tb"
    assert cli("export", finished, "--tensorboard", tb, "--max-frames", 1).exit_code == 0
    before = {p.name: p.read_bytes() for p in tb.iterdir()}
    assert "holds TensorBoard events already" in one_line_error(cli("export", finished, "--tensorboard", tb))
    assert {p.name: p.read_bytes() for p in tb.iterdir()} == before


def test_an_out_path_through_a_file_is_one_line(tmp_path):
    line = one_line_error(cli("run", "ring8", "--out", "/dev/null/x", *TINY))
    assert line == ("Error: /dev/null/x: Not a directory: a part of the path is a file, not a folder: "
                    "choose another path")


@pytest.mark.parametrize("name", [n for n, f in FIELDS.items() if f.type == "int"])
def test_every_count_beyond_what_numpy_and_torch_hold_is_a_config_error(name):
    with pytest.raises(ConfigError, match=f"{name} = {10 ** 30} is not allowed: expected an integer .*and <= "):
        make_config({name: 10 ** 30})
    assert FIELDS[name].metadata["hi"] < 2 ** 63   # below int64's overflow


@pytest.mark.parametrize("name", [n for n, f in FIELDS.items() if f.type == "float"])
def test_every_float_beyond_what_float32_holds_is_a_config_error(name):
    # 1e308 reached torch's optimiser as a learning rate: "cannot be converted to type float without overflow"
    with pytest.raises(ConfigError, match=f"{name} = 1e\\+308 is not allowed: expected a number .*and <=? "):
        make_config({name: 1e308})
    assert FIELDS[name].metadata["hi"] <= np.finfo(np.float32).max


@pytest.mark.parametrize("values", [{"std": 3.4e38}, {"radius": 1e19}, {"data": "grid", "modes": 25, "spacing": 1e18},
                                    {"data": "mixture", "centres": [[0, 0], [1e19, 0]], "stds": [1, 1]}])
def test_a_toy_target_beyond_where_float32_squares_stay_finite_is_a_config_error(values):
    # std 3.4e38 passed the float bound and overflowed in the snapshot's heatmap grid
    with pytest.raises(ConfigError, match="^the target's modes reach .* from the origin, beyond the 1e\\+18 where"):
        make_config(values)


@pytest.mark.parametrize("player", ["d", "g"])
def test_adam_betas_of_one_are_a_config_error(player):
    # torch's Adam raised "Invalid beta parameter at index 0: 1.0" as a traceback
    for beta in ("beta1", "beta2"):
        refusal = f"^{player}_{beta} = 1.0 is not allowed: expected a number >= 0 and < 1$"
        with pytest.raises(ConfigError, match=refusal):
            make_config({f"{player}_{beta}": 1.0})


def test_a_learning_rate_whose_first_adam_step_overflows_float32_is_a_config_error():
    # 3.4e38 / (1 - 0.5) overflowed inside torch's Adam; with SGD the same rate is a number it can take
    with pytest.raises(ConfigError, match="^d_lr = 3.4e\\+38 with d_beta1 = 0.5 is not allowed: Adam's first step is "
                                          "lr / \\(1 - beta1\\) = 6.8e\\+38, beyond what float32 holds"):
        make_config({"d_lr": 3.4e38})
    assert make_config({"d_lr": 3.4e38, "d_opt": "sgd"}).d_lr == 3.4e38


@pytest.mark.parametrize("name", ["batch", "snapshot_samples", "eval_samples"])
def test_batch_norm_on_batches_of_one_is_a_config_error(name):
    # torch's "Expected more than 1 value per channel when training" came as a traceback at step 1
    with pytest.raises(ConfigError, match=f"^{name} = 1 is not allowed with batch norm: a batch's statistics need"):
        make_config({"d_norm": "batch", name: 1})
    assert getattr(make_config({name: 1}), name) == 1


def test_a_learning_rate_beyond_float32_is_one_line_on_the_autograd_engine_too(tmp_path):
    line = one_line_error(cli("run", "ring8", "--out", tmp_path / "r", "--d-norm", "batch", "--d-lr", "1e308", *TINY))
    assert line.startswith("Error: d_lr = 1e+308 is not allowed") and not (tmp_path / "r").exists()


@pytest.mark.parametrize("flags, part", [(["--modes", "1000000"], "the mode metrics' distance table"),
                                         (["--grid-res", "100000"], "D's heatmap grid"),
                                         (["--seeds", "100000"], "a step's batches (100,000 seeds)")])
def test_a_run_that_cannot_fit_in_memory_is_refused_with_the_estimate_before_any_folder(tmp_path, monkeypatch,
                                                                                         flags, part):
    monkeypatch.setattr(memory, "available", lambda: 8 * 10 ** 9)
    monkeypatch.setattr(memory, "FILES_PER_SEED", 0)   # the memory, not the open files, is what is checked here
    out = tmp_path / "run"
    line = one_line_error(cli("run", "ring8", "--out", out, "--steps", 5, "--eval-samples", 2500, *flags,
                              "--quiet", "--no-animate"))
    assert f"GB of memory ({part}" in line and "more than the 8.0 GB available" in line
    assert not out.exists()


def test_a_cuda_run_that_cannot_fit_in_the_device_s_memory_is_refused_before_any_folder(tmp_path, monkeypatch):
    """No GPU needed: CUDA is reported present and the device's free memory is set (the refusal comes
    before anything touches the device)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(memory, "device_free", lambda device: 2 * 10 ** 9)
    monkeypatch.setattr(memory, "available", lambda: 10 ** 13)   # the host has room
    monkeypatch.setattr(memory, "FILES_PER_SEED", 0)
    out = tmp_path / "pass"
    line = one_line_error(cli("run", "ring8", "--out", out, "--device", "cuda", "--steps", 5, "--seeds", 100000,
                              "--quiet", "--no-animate"))
    assert "GB of memory on cuda (a step's batches (100,000 seeds)" in line and "than the 2.0 GB available" in line
    assert not out.exists()


@pytest.mark.parametrize("device_free, host, refused", [
    (10 ** 13, 8 * 10 ** 9, ""),   # what a CUDA run keeps on the device does not count against the host
    (8 * 10 ** 9, 10 ** 13, "of memory on cuda (a step's batches (100,000 seeds)"),
    (10 ** 13, 5 * 10 ** 8, "of memory (the mode metrics' distance table")])   # that one stays on the host
def test_a_cuda_run_s_parts_count_against_the_memory_they_are_kept_in(monkeypatch, device_free, host, refused):
    monkeypatch.setattr(memory, "device_free", lambda device: device_free)
    monkeypatch.setattr(memory, "FILES_PER_SEED", 0)
    cfg = load_config("ring8", eval_samples=2500, modes=10000)
    if not refused:
        memory.check_fits(cfg, 100000, limit=host, device=torch.device("cuda"))
        with pytest.raises(ConfigError, match=r"of memory \(a step's batches"):   # on the CPU it would not fit
            memory.check_fits(cfg, 100000, limit=host)
        return
    with pytest.raises(ConfigError, match=re.escape(refused)):
        memory.check_fits(cfg, 100000, limit=host, device=torch.device("cuda"))


@pytest.mark.parametrize("error", [
    torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.1 GiB"),
    RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you "
                 "tried to allocate 800000000 bytes. Error code 12 (Cannot allocate memory)")], ids=["cuda", "host"])
def test_a_run_that_runs_out_of_memory_says_so_in_one_line_and_resumes_from_its_last_checkpoint(tmp_path, monkeypatch,
                                                                                              error):
    snapshot = R.Recorder.snapshot

    def fails_at_step_40(self, step, *args, **kwargs):
        if step == 40:
            raise error
        return snapshot(self, step, *args, **kwargs)

    monkeypatch.setattr(R.Recorder, "snapshot", fails_at_step_40)
    out = tmp_path / "run"
    line = one_line_error(cli("run", "ring8", "--out", out, *TINY))
    allocation = str(error).split(". GPU")[0] if "CUDA" in str(error) else \
        "DefaultCPUAllocator: can't allocate memory: you tried to allocate 800000000 bytes"
    assert line.startswith(f"Error: out of memory ({allocation}): free memory or ask for less")
    status = R.RunReader(out).status
    assert status["status"] == R.FAILED and status["step"] == 40 and "allocate" in status["detail"]
    assert R.RunReader(out).checkpoint_steps()[-1] == 30
    monkeypatch.undo()
    assert cli("resume", out).exit_code == 0 and R.RunReader(out).status["status"] == R.FINISHED


def test_a_pass_of_more_seeds_than_open_files_allow_is_refused_before_any_folder(tmp_path):
    """The soft limit is set here (lowering it is always allowed), so the test runs on any machine."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = 512 if soft == resource.RLIM_INFINITY else min(soft, 512)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        out = tmp_path / "pass"
        line = one_line_error(cli("run", "ring8", "--out", out, *TINY, "--seeds", limit))
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert f"may open {limit:,} (ulimit -n)" in line and not out.exists()


def test_mixture_weights_whose_sum_overflows_are_a_config_error():
    with pytest.raises(ConfigError, match="weights is not allowed: .* within the float range"):
        make_config({"data": "mixture", "centres": [[0, 0], [1, 1]], "stds": [0.1, 0.1], "weights": [1e308, 1e308]})


@pytest.mark.parametrize("args, message", [(["figure", "{run}", "--dpi", "1000000"], "is not in the range"),
                                           (["figure", "{run}", "--dpi", "2400", "--size", "40x40"],
                                            "pixels, more than the 65,535 per side"),
                                           (["animate", "{run}", "--size", "100000x100000"], "pixels, more than")])
def test_a_picture_too_large_to_draw_is_one_line(finished, args, message):
    result = cli(*[a.format(run=finished) for a in args])
    assert message in one_line_error(result, code=2 if "range" in message else 1)


def test_every_way_of_making_a_config_validates_it(tmp_path):
    with pytest.raises(ConfigError, match="batch = 0 is not allowed"):
        Config(batch=0)
    cfg = load_config("ring8")
    with pytest.raises(ConfigError, match="steps = -5 is not allowed"):
        gandiag.run(dataclasses.replace(cfg, steps=-5), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_load_config_takes_numpy_numbers_as_the_python_numbers_they_are():
    given = dict(batch=np.int64(32), d_lr=np.float32(0.5), radius=np.float64(3.0), compile=np.bool_(False),
                 g_hidden=np.array([16, 8]))
    plain = dict(batch=32, d_lr=float(np.float32(0.5)), radius=3.0, compile=False, g_hidden="16,8")
    assert load_config("ring8", **given) == load_config("ring8", **plain)
    assert type(load_config("ring8", **given).batch) is int


@pytest.mark.parametrize("frames", [0, -1, 2.5])
def test_an_animation_of_no_frames_is_refused_in_one_line(finished, frames):
    with pytest.raises(VizError, match=f"max_frames = {frames} is not allowed"):
        gandiag.animate(finished, max_frames=frames)


# --- item 7: misleading states ----------------------------------------------------------------------

def test_two_animations_to_one_file_write_through_temp_files_of_their_own(tmp_path, monkeypatch):
    from PIL import Image
    temps = []
    real_save = Image.Image.save
    monkeypatch.setattr(Image.Image, "save", lambda self, fp, *a, **k: (temps.append(fp), real_save(self, fp, *a, **k)))
    frames = [Image.new("P", (4, 4)) for _ in range(2)]
    for _ in range(2):   # as two processes writing animation.gif at once would
        write_gif(iter(frames), tmp_path / "animation.gif", fps=5)
    assert len(set(temps)) == 2 and all(t.parent == tmp_path for t in temps)
    assert [p.name for p in tmp_path.iterdir()] == ["animation.gif"]


@pytest.mark.parametrize("command", [["run", "ring8", "--out", "", *TINY], ["animate", "{run}", "--out", ""],
                                     ["report", "{run}", "--out", " "]])
def test_an_empty_out_is_refused_instead_of_writing_elsewhere(finished, tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(cli(*[a.format(run=finished) for a in command]), code=2)
    assert "is empty: give a path to write to" in line
    assert list(tmp_path.iterdir()) == []


def test_the_python_api_refuses_an_empty_run_folder_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(R.RunError, match="the run folder's name is empty"):
        gandiag.run(load_config("ring8", steps=2), "")
    assert list(tmp_path.iterdir()) == []


def test_a_readme_style_loss_file_still_checks_in_its_own_process(tmp_path):
    (tmp_path / "fine.py").write_text(textwrap.dedent("""
        import torch.nn.functional as F
        def g(fake):
            return F.softplus(-fake).mean()
    """))
    result = cli("check-loss", f"{tmp_path}/fine.py:g", "--role", "generator", "--examples", 3)
    assert result.exit_code == 0 and result.output.strip().endswith("properties hold"), result.output


@pytest.mark.parametrize("flags, lower", [(["--pack", "1000000", "--g-hidden", "1", "--d-hidden", "1"], "lower pack"),
                                          (["--snapshot-samples", "500000000", "--eval-samples", "1"],
                                           "lower snapshot_samples"),
                                          (["--z-dim", "1000000000"], "lower z_dim"),
                                          (["--unrolled", "1000000000"], "lower unrolled")])
def test_a_memory_refusal_names_the_option_that_made_its_part_large(tmp_path, monkeypatch, flags, lower):
    monkeypatch.setattr(memory, "available", lambda: 8 * 10 ** 9)
    line = one_line_error(cli("run", "ring8", "--out", tmp_path / "run", "--steps", 5, *flags, "--quiet",
                              "--no-animate"))
    assert line.endswith(lower), line


@pytest.mark.parametrize("command", [["analyze", "{run}"], ["resume", "{run}", "--steps", "80"],
                                     ["probe", "saturation", "{run}", "--d-steps", "3"]])
def test_a_refused_write_of_a_command_without_out_says_what_to_do_instead(refused_writes, command):
    """These commands write into the run folder and have no --out: "write to another folder (--out)" alone
    names an option they refuse."""
    run, reason = refused_writes
    line = one_line_error(cli(*[a.format(run=run) for a in command]))
    assert ("a command without it: run it on a copy of the run folder" in line) == (reason != "No space left on device")
