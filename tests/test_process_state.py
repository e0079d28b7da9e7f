"""gandiag leaves the user's process as it found it: the global random generators of Python, numpy and
torch, torch's config flags and thread count, matplotlib's backend. The one setting a run changes is
the thread count its config asks for (`threads`), and only while it trains."""
import dataclasses
import gc
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
import torch._dynamo.config
import torch._functorch.config
import torch._inductor.config

import gandiag
from gandiag import record as R
from gandiag.analysis import analyze_run
from gandiag.config import load_config
from gandiag.data.mnist import load_digits
from gandiag.train.seeds import run_seeds
from gandiag.train.classifier import train_classifier
from gandiag.train import run as train
from gandiag.train.device import TOY_THREADS, run_threads
from gandiag.train.loop import record_step
from gandiag.train.saturation_probe import probe_saturation
from tiny import toy_config

TESTS = Path(__file__).resolve().parent
#: a tiny run that draws in every way training can: data, z, label flips, instance noise, G's dropout,
#: the replay buffer and player swaps
DRAWING = {"label_flip": 0.1, "instance_noise": 0.1, "g_dropout": 0.2, "replay_size": 64, "swap_every": 3,
           "swap_for": 1}


def process_state() -> dict:
    """What a library could change for the whole process, in comparable form."""
    return {
        "python random": random.getstate(),
        "numpy random": pickle.dumps(np.random.get_state()),
        "torch random": torch.get_rng_state().numpy().tobytes(),
        "torch cuda random": [s.numpy().tobytes() for s in torch.cuda.get_rng_state_all()]
        if torch.cuda.is_available() else None,
        "torch threads": torch.get_num_threads(),
        # a compiled run leaves torch's own compile workers; gandiag's threads are named for it
        "gandiag's threads alive": sorted(t.name for t in threading.enumerate() if t.name.startswith("gandiag")),
        "functorch config": torch._functorch.config.get_config_copy(),
        "dynamo config": torch._dynamo.config.get_config_copy(),
        "inductor config": torch._inductor.config.get_config_copy(),
        "grad mode": torch.is_grad_enabled(),
        "default dtype": torch.get_default_dtype(),
        "matplotlib backend": dict.__getitem__(matplotlib.rcParams, "backend"),  # as set: reading resolves it
        "matplotlib rc": {k: v for k, v in dict.items(matplotlib.rcParams) if k != "backend"},
        "SIGINT handler": signal.getsignal(signal.SIGINT),
        "environment": {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"},
    }


def changes(before: dict, after: dict) -> list[str]:
    """The parts of the process state that differ, and for configs which keys."""
    out = []
    for part, was in before.items():
        now = after[part]
        if isinstance(was, dict) and was != now:
            out.append(f"{part}: " + ", ".join(sorted(k for k in {*was, *now} if was.get(k) != now.get(k))))
        elif not isinstance(was, dict) and was != now:
            out.append(part)
    return out


@pytest.fixture
def unchanged():
    """Fails the test when the process state differs after it from before it; a draw from each
    global generator first, so the state is not one a library would reach by seeding. Earlier tests'
    garbage is collected first: an engine one left in a reference cycle takes its seed threads with it
    whenever the collector runs, in this test or not; after the test nothing is collected, so a run must
    end its own threads."""
    random.random(), np.random.random(), torch.rand(1)
    gc.collect()
    before = process_state()
    yield
    leaked = changes(before, process_state())
    assert not leaked, "changed: " + "; ".join(leaked)


@pytest.fixture
def three_threads():
    """The caller's process runs torch with 3 threads (neither torch's default here nor auto's 1)."""
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    yield
    torch.set_num_threads(before)


def metrics(path: Path) -> str:
    return (Path(path) / R.METRICS_FILE).read_text()


# --- training --------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_a_run_leaves_the_process_as_it_found_it(three_threads, unchanged, tmp_path, engine):
    result = gandiag.run(toy_config(engine=engine, **({} if engine == "fast" else DRAWING)), tmp_path / "run")
    assert result.status == R.FINISHED


# dynamo reads .grad of the players' non-leaf tensors while it traces them
@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf")
def test_a_compiled_run_leaves_torchs_config_as_it_found_it(unchanged, compile_counter, tmp_path):
    gandiag.run(toy_config(compile=True, engine="reference", steps=2, snapshot_every=1, checkpoint_every=1),
                tmp_path / "run")
    assert compile_counter.frame_count > 0   # the players did go through the compiler


@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf")
def test_the_fast_engine_compiled_leaves_torchs_config_as_it_found_it(unchanged, compile_counter, tmp_path):
    gandiag.run(toy_config(compile=True, unrolled=2, steps=2), tmp_path / "run")
    assert compile_counter.frame_count > 0


def test_many_seeds_and_a_resume_leave_the_process_as_they_found_it(unchanged, tmp_path):
    # seeds side by side on threads of their own, in closed form and on the generic path
    run_seeds(toy_config(steps=4, seed_workers=2), 2, tmp_path / "seeds", quiet=True)
    run_seeds(toy_config(steps=4, d_act="tanh", seed_workers=2), 2, tmp_path / "generic", quiet=True)
    gandiag.run(toy_config(steps=4, checkpoint_every=2), tmp_path / "run")
    gandiag.resume(tmp_path / "run", steps=6)


@pytest.mark.parametrize("overrides", [{}, {"d_act": "tanh"}], ids=["closed form", "generic"])
def test_a_run_that_raises_ends_its_seed_threads_while_its_traceback_is_kept(monkeypatch, tmp_path, overrides):
    """A notebook keeps the last error's traceback, and with it the loop's frame and the engine: the seed
    threads end as the run does, not when the engine is collected."""
    def fail_after_step_0(x, step, *args, **kwargs):
        if step > 0:   # once the engine and its threads are there
            raise RuntimeError("recording failed")
        return record_step(x, step, *args, **kwargs)

    monkeypatch.setattr("gandiag.train.loop.record_step", fail_after_step_0)
    with pytest.raises(RuntimeError, match="recording failed") as kept:
        run_seeds(toy_config(steps=4, seed_workers=2, **overrides), 2, tmp_path / "seeds", quiet=True)
    assert kept.traceback   # still held while the threads are looked at
    assert [t.name for t in threading.enumerate() if t.name.startswith("gandiag")] == []


def test_a_run_draws_nothing_from_the_global_generators(tmp_path):
    """The run is the same whatever state the caller left the global generators in."""
    for seed in (1, 2):
        random.seed(seed), np.random.seed(seed), torch.manual_seed(seed)
        gandiag.run(toy_config(engine="reference", **DRAWING), tmp_path / f"after_seed_{seed}")
    assert metrics(tmp_path / "after_seed_1") == metrics(tmp_path / "after_seed_2")


# --- threads ---------------------------------------------------------------------------------

@pytest.mark.parametrize("threads, expected", [(2, 2), (0, TOY_THREADS)])
def test_threads_holds_while_the_run_trains_and_is_put_back_after(three_threads, tmp_path, threads, expected):
    seen = []
    result = train(toy_config(threads=threads), tmp_path / "run", quiet=True,
                   on_row=lambda row: seen.append(torch.get_num_threads()) or [])
    assert result.status == R.FINISHED and set(seen) == {expected}
    assert torch.get_num_threads() == 3


def test_auto_threads_leave_image_runs_on_torchs_own_count():
    assert run_threads(load_config("mnist")) == 0    # 0: the count is left as the process has it
    assert run_threads(load_config("mnist", threads=2)) == 2


# --- probes, analysis and pictures ---------------------------------------------------------------

@pytest.fixture
def finished_run(tmp_path):
    return gandiag.run(toy_config(steps=6, snapshot_every=2, checkpoint_every=6), tmp_path / "run").path


def test_the_saturation_probe_leaves_the_process_as_it_found_it(finished_run, unchanged):
    rows, _ = probe_saturation(finished_run, d_steps=3)
    assert len(rows) > 1


def test_analysis_and_animation_leave_the_process_as_they_found_it(finished_run, unchanged):
    analyze_run(finished_run)
    assert gandiag.animate(finished_run).exists()


def test_training_the_classifier_leaves_the_process_as_it_found_it(unchanged):
    digits = load_digits()
    few = dataclasses.replace(digits, train_images=digits.train_images[:64], train_labels=digits.train_labels[:64],
                              test_images=digits.test_images[:16], test_labels=digits.test_labels[:16])
    train_classifier(few, epochs=1)


# --- matplotlib: a process of its own, as importing gandiag is what once chose the backend -----------

DRAW = """
import json, pkgutil, sys
import matplotlib
from matplotlib import rcsetup
sys.path.insert(0, {tests!r})
import gandiag
for module in pkgutil.walk_packages(gandiag.__path__, "gandiag."):
    if not module.name.endswith("__main__"):
        __import__(module.name)
from viz_synth import rotating_run
from gandiag.viz.figures import write_figure
from gandiag.viz.report import write_report
run = rotating_run(__import__("pathlib").Path({out!r}), 3, n_fakes=32, res=8)
gandiag.animate(run)
write_figure(run)
write_report(run)
seen = {{"pyplot": "matplotlib.pyplot" in sys.modules,
         "auto": dict.__getitem__(matplotlib.rcParams, "backend") is rcsetup._auto_backend_sentinel}}
seen["backend"] = matplotlib.get_backend()   # last: with none chosen, asking chooses one (and imports pyplot)
print(json.dumps(seen))
"""


@pytest.mark.parametrize("chosen", [None, "svg"])
def test_importing_and_drawing_never_choose_matplotlibs_backend(tmp_path, chosen):
    """Unset, the backend stays for matplotlib to pick when a user first plots (a notebook: inline);
    set (here MPLBACKEND, as a user may), it stays the user's. gandiag draws without pyplot."""
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    if chosen:
        env["MPLBACKEND"] = chosen
    done = subprocess.run([sys.executable, "-c", DRAW.format(tests=str(TESTS), out=str(tmp_path / "run"))],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["pyplot"] is False
    if chosen:
        assert seen["backend"] == chosen
    else:
        assert seen["auto"] is True
