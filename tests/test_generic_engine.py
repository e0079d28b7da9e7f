"""The generic fast path (gandiag.engine.generic) computes what the reference step computes: whole runs
against gandiag.engine.reference in float64 (the presets' layers on tiny nets: maxout, tanh, batch norm
in G, packing, minibatch discrimination, the unrolled D of second and first order), a seed of a pass
bit for bit the seed alone and the same on threads as on one, resume of a pass, and oneDNN's float32
products against torch's."""
import ctypes
import io
import os
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from torch.testing import assert_close

from gandiag import record as R
from gandiag.cli import main
from gandiag.config import make_config
from gandiag.engine import choose, in_closed_form, products
from gandiag.engine.generic import GenericStep
from gandiag.engine.reference import train_step
from gandiag.engine.seed_threads import SeedThreads, seed_workers
from gandiag.machine import usable_cpus
from gandiag.nets.layers import VirtualBatchNorm
from gandiag.train.session import Session
from tiny import TOY_DEEP, in_dtype

#: the presets' architectures in small: grid25 / ring8-pacgan (normal init, batch-norm G, maxout D),
#: ring8-veegan (tanh players), ring8 --pack 2 (the hero's one-layer ReLU D, packed)
PACGAN = {"g_norm": "batch", "d_act": "maxout", "maxout_pieces": 3, "init": "normal", "d_input_scale": 1.0,
          "d_beta1": 0.8, "g_beta1": 0.8}
VEEGAN = {"g_act": "tanh", "d_act": "tanh", "init": "default", "d_input_scale": 1.0}
CASES = {
    "pacgan setting": ({**PACGAN, "d_hidden": (10, 10, 10)}, 200),
    "pacgan setting, pack 3": ({**PACGAN, "pack": 3}, 150),
    "pacgan setting, simultaneous updates": ({**PACGAN, "pack": 2, "updates": "simultaneous"}, 150),
    "veegan setting, unrolled second order": ({**VEEGAN, "unrolled": 3}, 100),
    "veegan setting, unrolled first order": ({**VEEGAN, "unrolled": 2, "unrolled_first_order": True}, 100),
    "maxout, unrolled second order": ({**PACGAN, "unrolled": 2, "loss": "least-squares"}, 60),
    "one-layer ReLU D, pack 2, simultaneous updates": ({"d_hidden": (16,), "pack": 2, "updates": "simultaneous"},
                                                       200),
    "minibatch discrimination": ({"minibatch_disc": True, "mbd_kernels": 4, "mbd_dim": 3, "batch": 40}, 100),
    "minibatch discrimination, unrolled": ({"minibatch_disc": True, "mbd_kernels": 4, "mbd_dim": 3, "unrolled": 2,
                                            "label_smoothing": 0.9, "d_steps": 2, "g_steps": 2}, 40),
    # the stabilizers of gandiag.stabilizers that act on D's inputs, targets and losses
    "noisy labels and flips": ({"noisy_labels": True, "label_flip": 0.2}, 100),
    "instance noise, decaying, unrolled": ({"instance_noise": 0.3, "instance_noise_decay": 40, "unrolled": 2}, 60),
    "experience replay, pack 2": ({"replay_size": 48, "replay_share": 0.25, "pack": 2}, 100),
    "historical averaging, two steps each": ({"hist_avg": 0.5, "d_steps": 2, "g_steps": 2}, 80),
    "historical averaging, unrolled": ({**VEEGAN, "hist_avg": 0.5, "unrolled": 2}, 40),
    # every loss, with what it needs of D: WGAN's clipping (of the unrolled D too) and the input-gradient penalties
    "wgan, clipped, unrolled": ({"loss": "wgan", "clip": 0.05, "unrolled": 2}, 60),
    "wgan-gp, two D steps": ({"loss": "wgan-gp", "gp_weight": 5.0, "d_steps": 2}, 60),
    "wgan-gp, unrolled second order": ({"loss": "wgan-gp", "unrolled": 2}, 20),
    "r1, minibatch discrimination": ({"r1": 2.0, "minibatch_disc": True, "mbd_kernels": 4, "mbd_dim": 3}, 40),
    # the optimisers and the stabilizers that replace or perturb the players
    "sgd with momentum, both players": ({"d_opt": "sgd", "g_opt": "sgd", "d_lr": 0.02, "g_lr": 0.01, "d_beta1": 0.9,
                                         "g_beta1": 0.0}, 100),
    "sgd D, unrolled second order": ({**VEEGAN, "d_opt": "sgd", "d_lr": 0.05, "d_beta1": 0.5, "unrolled": 3}, 60),
    "dropout in G, unrolled": ({"g_dropout": 0.3, "unrolled": 2}, 60),
    "swaps of old players": ({"swap_every": 7, "swap_for": 3, "d_steps": 2, "steps": 60}, 60),
    "swaps from the first step, unrolled": ({"swap_every": 1, "swap_for": 1, "unrolled": 2}, 20),
    # D's normalisations (batch norm on reals and fakes apart, its statistics copied by the unrolled D) and
    # spectral norm (a power iteration per pass: the unrolled D's on copies of its vectors)
    "batch norm in D, unrolled second order": ({"d_norm": "batch", "unrolled": 2}, 40),
    "batch norm in D, wgan-gp": ({"d_norm": "batch", "loss": "wgan-gp", "d_steps": 2}, 40),
    "instance norm in D": ({"d_norm": "instance", "d_act": "tanh"}, 80),
    "virtual batch norm in D, pack 2, unrolled": ({"d_norm": "virtual-batch", "pack": 2, "unrolled": 2}, 40),
    "spectral norm, maxout": ({**PACGAN, "spectral_norm": True}, 80),
    "spectral norm, unrolled second order, r1": ({"spectral_norm": True, "unrolled": 2, "r1": 1.0}, 40),
    "spectral norm with batch norm, simultaneous updates": ({"spectral_norm": True, "d_norm": "batch",
                                                             "updates": "simultaneous"}, 60),
    # not with batch norm in G: the bias before a batch norm has no gradient but rounding, and historical
    # averaging's pull towards its mean feeds that rounding back through Adam: the engines' roundings of
    # it, 2e-13 apart at step 1, are 2e-4 apart at step 3; the batch norm removes the bias from G's output
    "simultaneous updates with all of them": ({**PACGAN, "g_norm": "none", "pack": 2, "updates": "simultaneous",
                                               "replay_size": 48, "instance_noise": 0.2, "hist_avg": 0.5,
                                               "label_flip": 0.1}, 100),
}


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def session(**overrides) -> Session:
    s = Session.for_config(make_config(TOY_DEEP, **overrides), "cpu")
    s.players.G.double()
    s.players.D.double()
    return s


def slot(s: Session):
    """s as the engine reads a slot, its draws widened to float64 (for both paths alike)."""
    return types.SimpleNamespace(sample_real=lambda n: s.sample_real(n).double(),
                                 sample_z=lambda n: s.sample_z(n).double(), gen=s.gen)


def reference_steps(s: Session, first: int, last: int) -> dict:
    x = slot(s)
    for step in range(first, last + 1):
        stats = train_step(s.players, s.stabilizers, s.cfg, x.sample_real, x.sample_z, s.gen, step,
                           objective=s.objective)
    return stats


def generic_steps(engine: GenericStep, sessions: list[Session], n: int) -> dict:
    slots = [slot(s) for s in sessions]
    for _ in range(n):
        stats = engine.compute(slots)
    for i in range(len(sessions)):
        engine.export(i)
    return stats


def generic(sessions: list[Session], start: int = 0) -> GenericStep:
    return GenericStep(sessions[0].cfg, [s.players for s in sessions], [s.objective for s in sessions],
                       [s.stabilizers for s in sessions], start)


def trained_state(s: Session) -> dict:
    """Everything a step changes: both players (batch-norm statistics included) and both optimisers."""
    p = s.players
    return {"G": p.G.state_dict(), "D": p.D.state_dict(),
            "opt_g": p.opt_g.state_dict()["state"], "opt_d": p.opt_d.state_dict()["state"]}


@pytest.mark.parametrize("case", CASES)
def test_the_generic_path_trains_exactly_what_the_reference_step_trains(case):
    overrides, steps = CASES[case]
    ref, fast = session(**overrides), session(**overrides)
    assert choose(ref.cfg).name == "fast" and not in_closed_form(ref.cfg)
    ref_stats = reference_steps(ref, 1, steps)
    stats = generic_steps(generic([fast]), [fast], steps)
    assert_close(trained_state(fast), trained_state(ref))
    assert_close({k: v[0] for k, v in stats.items()}, {k: v.detach() for k, v in ref_stats.items()})


#: what a batch norm or virtual batch norm in D is trained with on the generic path, each against the reference
#: step in float64 (20 steps); historical averaging's is the test after
WITH_NORM = {
    "plain": {}, "two steps each": {"d_steps": 2, "g_steps": 2}, "unrolled second order": {"unrolled": 2},
    "unrolled first order": {"unrolled": 2, "unrolled_first_order": True}, "pack 2": {"pack": 2},
    "simultaneous updates": {"updates": "simultaneous"},
    "minibatch discrimination": {"minibatch_disc": True, "mbd_kernels": 4, "mbd_dim": 3},
    "noisy labels and flips": {"noisy_labels": True, "label_flip": 0.2}, "smoothing": {"label_smoothing": 0.9},
    "instance noise": {"instance_noise": 0.3, "instance_noise_decay": 40},
    "experience replay": {"replay_size": 48, "replay_share": 0.25}, "swaps": {"swap_every": 7, "swap_for": 3},
    "wgan, clipped": {"loss": "wgan", "clip": 0.05}, "wgan-gp": {"loss": "wgan-gp"}, "hinge": {"loss": "hinge"},
    "r1": {"r1": 1.0}, "spectral norm": {"spectral_norm": True}, "dropout in G": {"g_dropout": 0.3},
    "sgd": {"d_opt": "sgd", "g_opt": "sgd", "d_lr": 0.02, "g_lr": 0.01}, "maxout": {"d_act": "maxout"},
    "tanh players": {"g_act": "tanh", "d_act": "tanh"},
}
NORMS = {"batch norm in D": {"d_norm": "batch"}, "virtual batch norm in D": {"d_norm": "virtual-batch"},
         "batch norm in G and D": {"g_norm": "batch", "d_norm": "batch"}}


@pytest.mark.parametrize("with_norm", WITH_NORM)
@pytest.mark.parametrize("norm", NORMS)
def test_with_batch_norm_the_generic_path_trains_what_the_reference_step_trains_with_every_stabilizer(norm,
                                                                                                     with_norm):
    overrides = {**NORMS[norm], **WITH_NORM[with_norm], "steps": 20}
    ref, fast = session(**overrides), session(**overrides)
    assert choose(ref.cfg).name == "fast" and not in_closed_form(ref.cfg)
    ref_stats = reference_steps(ref, 1, 20)
    stats = generic_steps(generic([fast]), [fast], 20)
    assert_close(trained_state(fast), trained_state(ref))
    assert_close({k: v[0] for k, v in stats.items()}, {k: v.detach() for k, v in ref_stats.items()})


def flat_in_the_loss(s: Session) -> dict[str, set]:
    """The state entries of each player that the losses do not depend on (docs/engine.md, batch norm): the bias
    of an affine layer before a (virtual) batch norm, which the normalisation subtracts again, with the running
    mean that holds it; with batch norm in D, G's output bias (D normalises the fakes' batch on its own, so it
    cannot see a shift of all of them); and their optimisers' moments."""
    flat = {"G": set(), "D": set(), "opt_g": set(), "opt_d": set()}
    for name, net, opt in (("G", s.players.G.net, "opt_g"), ("D", s.players.D.features, "opt_d")):
        prefix = "net." if name == "G" else "features."
        position = {q: k for k, q in enumerate(net.parameters())}
        for k, (layer, after) in enumerate(zip(net, list(net)[1:])):
            if isinstance(after, (torch.nn.BatchNorm1d, VirtualBatchNorm)):
                flat[name] |= {f"{prefix}{k}.bias", *([f"{prefix}{k + 1}.running_mean"]
                                                      if isinstance(after, torch.nn.BatchNorm1d) else [])}
                flat[opt].add(position[layer.bias])
        if name == "G" and s.cfg.d_norm == "batch":
            flat[name].add(f"{prefix}{len(net) - 1}.bias")
            flat[opt].add(len(position) - 1)
    return flat


def split_flat(state: dict, flat: dict) -> tuple[dict, dict]:
    """(the entries of trained_state the losses depend on, the parameters they do not)."""
    kept = {part: {k: v for k, v in entries.items() if k not in flat[part]} for part, entries in state.items()}
    return kept, {f"{part}.{k}": state[part][k] for part in ("G", "D") for k in flat[part] if "bias" in k}


@pytest.mark.parametrize("norm", NORMS)
def test_with_batch_norm_and_historical_averaging_the_engines_part_only_where_the_losses_are_flat(norm):
    # the losses do not depend on the parameters flat_in_the_loss names: their gradient is rounding (1e-17 in
    # float64), each engine's own, and historical averaging's pull, through Adam's division by the gradient's
    # size, makes steps of up to its learning rate out of it from the first step on (docs/engine.md)
    steps, overrides = 20, {**NORMS[norm], "hist_avg": 0.5}
    ref, fast = session(**overrides), session(**overrides)
    ref_stats = reference_steps(ref, 1, steps)
    stats = generic_steps(generic([fast]), [fast], steps)
    flat = flat_in_the_loss(ref)
    (kept, fast_flat), (ref_kept, ref_flat) = (split_flat(trained_state(s), flat) for s in (fast, ref))
    assert_close(kept, ref_kept)
    assert_close({k: v[0] for k, v in stats.items()}, {k: v.detach() for k, v in ref_stats.items()})
    # an Adam step moves a parameter by at most about its learning rate
    assert_close(fast_flat, ref_flat, rtol=0, atol=steps * ref.cfg.d_lr)


def product_flops(step) -> int:
    """The FLOPs of the matrix products one call of `step` makes, torch's and oneDNN's (counted from their
    operands' shapes: the profiler counts no FLOPs of oneDNN's)."""
    with torch.profiler.profile(record_shapes=True) as prof:
        step()
    flops = 0
    for e in prof.events():
        shapes = e.input_shapes
        if e.name == "aten::mm" or e.name == "aten::addmm":
            (m, k), (_, n) = shapes[1:3] if e.name == "aten::addmm" else shapes[:2]
        elif e.name == "mkldnn::_linear_pointwise":   # (x, [other,] weight, ...): x @ weight^T
            (m, k), n = shapes[0], shapes[2 if len(shapes) == 5 else 1][0]
        else:
            continue
        flops += 2 * m * k * n
    return flops


@pytest.mark.parametrize("overrides", [{**PACGAN, "d_hidden": (16, 16)}, VEEGAN,
                                       {**PACGAN, "d_hidden": (16, 16), "updates": "simultaneous"}],
                         ids=["pacgan", "veegan", "simultaneous updates"])
@pytest.mark.parametrize("kernel", [products.ONEDNN, products.TORCH], ids=["oneDNN", "torch's mm"], indirect=True)
def test_the_generic_path_multiplies_no_more_than_the_reference_step(overrides, kernel):
    # G's step differentiates for G's parameters only: torch's nodes then skip D's weight gradients, and so
    # must the generic path's own (they were 7% of grid25's arithmetic). In float32, on 16-wide players,
    # where the presets' products take either kernel and the generic path's own nodes
    sessions = [Session.for_config(make_config(TOY_DEEP, g_hidden=(16, 16), **overrides), "cpu") for _ in "ab"]
    ref, fast = sessions
    engine = generic([fast])
    reference = product_flops(lambda: train_step(ref.players, ref.stabilizers, ref.cfg, ref.sample_real,
                                                 ref.sample_z, ref.gen, 1, objective=ref.objective))
    assert 0 < product_flops(lambda: engine.compute([fast])) <= reference


OWN_LOSSES = """
import torch.nn.functional as F

def g(fake):
    return F.softplus(-fake).mean() + 0.1 * fake.square().mean()

def d(real, fake):
    return F.softplus(-real).mean() + F.softplus(fake).mean() + 0.05 * (real.mean() - fake.mean()) ** 2
"""


@pytest.mark.parametrize("overrides", [{}, {"unrolled": 2}], ids=["plain", "unrolled"])
def test_the_generic_path_trains_a_users_own_losses_exactly_as_the_reference(tmp_path, overrides):
    path = tmp_path / "mine.py"
    path.write_text(OWN_LOSSES)
    own = {"g_loss": f"{path}:g", "d_loss": f"{path}:d", **overrides}
    ref, fast = session(**own), session(**own)
    assert choose(ref.cfg).name == "fast" and not in_closed_form(ref.cfg)
    reference_steps(ref, 1, 60)
    generic_steps(generic([fast]), [fast], 60)
    assert_close(trained_state(fast), trained_state(ref))


#: the stateful and random stabilizers together: a replay buffer, historical averages and swapped-out players
#: per seed, and draws of noise, labels and G's dropout masks from each seed's generator
STABILIZERS = {"replay_size": 48, "instance_noise": 0.2, "instance_noise_decay": 30, "hist_avg": 0.5,
               "noisy_labels": True, "label_flip": 0.1, "g_dropout": 0.2, "swap_every": 9, "swap_for": 4, "steps": 60}
SGD = {"d_opt": "sgd", "g_opt": "sgd", "d_lr": 0.02, "g_lr": 0.01, "d_beta1": 0.9, "g_beta1": 0.5}


@pytest.mark.parametrize("overrides", [{**PACGAN, "pack": 2}, {**VEEGAN, "unrolled": 2}, STABILIZERS, SGD],
                         ids=["pacgan", "veegan", "stabilizers", "sgd"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_a_seed_of_a_pass_is_bit_for_bit_the_same_seed_trained_alone(overrides, dtype):
    def sessions(seeds):
        return in_dtype([session(seed=s, **overrides) for s in seeds], dtype)
    stacked, alone = sessions((5, 6, 7)), sessions((6,))
    for group in (stacked, alone):
        engine = generic(group)
        for _ in range(30):
            engine.compute([types.SimpleNamespace(sample_real=lambda n, s=s: s.sample_real(n).to(dtype),
                                                  sample_z=lambda n, s=s: s.sample_z(n).to(dtype), gen=s.gen)
                            for s in group])
        for i in range(len(group)):
            engine.export(i)
    assert_close(trained_state(stacked[1]), trained_state(alone[0]), rtol=0, atol=0)


@pytest.mark.parametrize("overrides", [{**PACGAN, "pack": 2}, {**VEEGAN, "unrolled": 2}, STABILIZERS, SGD,
                                       {**STABILIZERS, "updates": "simultaneous"},
                                       {"spectral_norm": True, "unrolled": 2, "r1": 1.0}],
                         ids=["pacgan", "veegan", "stabilizers", "sgd", "simultaneous", "spectral norm, r1"])
def test_a_pass_on_threads_trains_bit_for_bit_what_it_trains_on_one(overrides):
    def trained(workers: int) -> tuple[list[dict], set[str]]:
        group = in_dtype([session(seed=s, seed_workers=workers, **overrides) for s in (5, 6, 7)], torch.float32)
        engine, threads = generic(group), set()
        for name in ("_d_grad", "_g_grad", "_both_grads"):   # each seed's pass notes the thread it ran on
            def noting(*args, grad=getattr(engine, name)):
                threads.add(threading.current_thread().name)
                return grad(*args)
            setattr(engine, name, noting)
        for _ in range(30):
            engine.compute([types.SimpleNamespace(sample_real=lambda n, s=s: s.sample_real(n).float(),
                                                  sample_z=lambda n, s=s: s.sample_z(n).float(), gen=s.gen)
                            for s in group])
        for i in range(len(group)):
            engine.export(i)
        engine.close()
        return [trained_state(s) for s in group], threads
    (one, on_main), (three, on_pool) = trained(1), trained(3)
    main_thread = threading.main_thread().name
    assert on_main == {main_thread} and len(on_pool) == 3 and main_thread not in on_pool
    assert_close(three, one, rtol=0, atol=0)


def test_a_seed_s_failed_pass_is_raised_once_no_other_seed_s_pass_is_running():
    group = [session(seed=s, seed_workers=2) for s in (5, 6, 7)]
    engine, started, finished = generic(group), [], []

    def d_grad(i, *args):
        started.append(i)
        if i == 0:
            raise RuntimeError("out of memory")
        time.sleep(0.2)
        finished.append(i)
        return GenericStep._d_grad(engine, i, *args)
    engine._d_grad = d_grad
    with pytest.raises(RuntimeError, match="out of memory"):
        engine.compute([slot(s) for s in group])
    engine.close()
    assert 1 in started and sorted(finished) == sorted(i for i in started if i != 0)


def test_a_seed_thread_runs_its_operations_on_the_run_s_intra_op_threads():
    """OpenMP keeps its thread count per thread: a new thread starts at its default, not the run's."""
    # torch's own OpenMP runtime, as loaded: GNU's in the Linux wheels, LLVM's or Intel's in other builds
    runtimes = ("libgomp", "libomp", "libiomp5")
    found = sorted({line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines()
                    if any(name in line for name in runtimes)})
    assert found, f"no OpenMP runtime ({', '.join(runtimes)}) among this process's libraries"
    omp = ctypes.CDLL(found[0])
    count = usable_cpus() + 1   # neither OpenMP's default (the CPUs) nor auto's
    torch.set_num_threads(count)   # put back by the one_thread fixture
    with ThreadPoolExecutor(1) as pool:
        plain = pool.submit(omp.omp_get_max_threads).result()
    assert plain != count   # what a seed thread would run with, left to itself
    with closing(SeedThreads(2)) as threads:
        assert threads.map(lambda _: omp.omp_get_max_threads(), [0, 1]) == [count, count]


def test_the_seed_threads_are_as_many_as_the_cpus_hold_at_the_run_s_threads_each(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(4)), raising=False)
    cfg = make_config(TOY_DEEP)
    torch.set_num_threads(2)   # put back by the one_thread fixture
    assert [seed_workers(cfg, seeds, True) for seeds in (1, 2, 3)] == [1, 2, 2]
    torch.set_num_threads(1)
    assert [seed_workers(cfg, seeds, True) for seeds in (3, 6)] == [3, 4]
    assert seed_workers(cfg, 6, False) == 1   # off the CPU, one after another
    assert [seed_workers(make_config(TOY_DEEP, seed_workers=w), 6, True) for w in (1, 3, 9)] == [1, 3, 6]


@pytest.mark.parametrize("overrides", [{**PACGAN, "unrolled": 2}, {**STABILIZERS, "unrolled": 2},
                                       {**SGD, "unrolled": 2}],
                         ids=["pacgan", "stabilizers (a swap running at the checkpoint)", "sgd"])
def test_a_checkpoint_of_the_generic_path_continues_exactly_on_it_and_on_the_reference(overrides):
    s = session(**overrides)
    engine = generic([s])
    generic_steps(engine, [s], 20)
    buf = io.BytesIO()
    torch.save(s.state(20), buf)   # as a run writes it, from the exported players
    on_reference, resumed = session(**overrides), session(**overrides)
    for other in (on_reference, resumed):   # each its own copy, as each would read the file
        buf.seek(0)
        other.load_state(torch.load(buf, weights_only=True))
    generic_steps(engine, [s], 20)
    reference_steps(on_reference, 21, 40)
    generic_steps(generic([resumed], start=20), [resumed], 20)
    assert_close(trained_state(resumed), trained_state(s), rtol=0, atol=0)
    assert_close(trained_state(on_reference), trained_state(s))


def test_resume_of_a_pass_on_the_generic_path_repeats_the_uninterrupted_pass(tmp_path):
    tiny = ["--steps", "8", "--z-dim", "4", "--g-hidden", "12,12", "--d-hidden", "10,10", "--batch", "16",
            "--log-every", "4", "--snapshot-every", "4", "--checkpoint-every", "4", "--eval-samples", "64",
            "--snapshot-samples", "16", "--grid-res", "4", "--device", "cpu", "--no-animate", "--quiet",
            "--d-act", "tanh", "--unrolled", "2", "--seeds", "2"]
    runner = CliRunner()
    whole = runner.invoke(main, ["run", "ring8", "--out", str(tmp_path / "whole"), *tiny])
    assert whole.exit_code == 0, whole.output
    part = runner.invoke(main, ["run", "ring8", "--out", str(tmp_path / "part"), *tiny[:1], "4", *tiny[2:]])
    assert part.exit_code == 0, part.output
    resumed = runner.invoke(main, ["resume", str(tmp_path / "part"), "--steps", "8"])
    assert resumed.exit_code == 0, resumed.output
    for seed in (0, 1):
        a, b = (R.RunReader(tmp_path / x / f"seed_{seed}") for x in ("whole", "part"))
        assert a.record["engine"]["path"] == "generic"
        assert (a.root / R.METRICS_FILE).read_bytes() == (b.root / R.METRICS_FILE).read_bytes()


@pytest.mark.parametrize("dtype, outputs, kernel", [(torch.float32, 32, products.ONEDNN),
                                                   (torch.float32, 32, products.TORCH),
                                                   (torch.float32, 2, products.ONEDNN),
                                                   (torch.float64, 32, products.ONEDNN)],
                         ids=["float32 (oneDNN)", "float32 on torch's mm", "float32, 2 outputs (transposed mm)",
                              "float64 (mm)"], indirect=["kernel"])
def test_the_products_equal_torch_s_linear_through_a_double_backward(dtype, outputs, kernel):
    inputs = 24
    torch.manual_seed(0)
    x = torch.randn(40, inputs, dtype=dtype, requires_grad=True)
    W, b = (torch.randn(*shape, dtype=dtype, requires_grad=True) for shape in ((outputs, inputs), (outputs,)))
    results = []
    for linear in (products.linear, torch.nn.functional.linear):
        y = torch.tanh(linear(x, W, b))
        (gx,) = torch.autograd.grad(y.square().sum(), x, create_graph=True)
        results.append([y, gx, *torch.autograd.grad(gx.square().sum(), [W, b])])
    onednn = products._kernel(x, *x.shape, W.shape[0]) is products.ONEDNN
    assert onednn == (kernel is products.ONEDNN and dtype == torch.float32 and outputs >= 16)
    assert_close(results[0], results[1], **({} if dtype == torch.float64 else {"rtol": 1e-4, "atol": 1e-4}))


def test_a_narrow_input_layer_s_weight_gradient_on_the_transposed_product_equals_torch_s():
    """D's 4-wide packed input layer on inputs without a gradient (D's own step): its weight gradient is
    the transposed product, differentiated again as the unrolled D's parameters are."""
    torch.manual_seed(0)
    x = torch.randn(300, 4)
    W, b = (torch.randn(*shape, requires_grad=True) for shape in ((32, 4), (32,)))
    results = []
    for linear in (products.linear, torch.nn.functional.linear):
        y = torch.tanh(linear(x, W, b))
        gW, gb = torch.autograd.grad(y.square().sum(), [W, b], create_graph=True)
        results.append([y, gW, gb, *torch.autograd.grad(gW.square().sum() + gb.square().sum(), [W, b])])
    assert type(products.linear(x, W, b).grad_fn).__name__ == "_LinearBackward"
    assert_close(results[0], results[1], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype, kernel", [(torch.float32, products.ONEDNN), (torch.float32, products.TORCH),
                                           (torch.float64, products.ONEDNN)],
                         ids=["float32 (oneDNN's tanh)", "float32 on torch's mm", "float64"], indirect=["kernel"])
def test_the_fused_tanh_layer_equals_torch_s_linear_then_tanh_to_the_third_derivative(dtype, kernel):
    """products.linear_tanh's hand-written backward of its backward (the unrolled D's second-order pass)
    and what autograd takes through it (r1 or wgan-gp on a second-order unrolled D: a third order)."""
    torch.manual_seed(0)
    x = torch.randn(64, 20, dtype=dtype, requires_grad=True)
    W, b = ((torch.randn(*shape, dtype=dtype) * 0.3).requires_grad_() for shape in ((30, 20), (30,)))
    v = torch.randn(64, 30, dtype=dtype)
    results = []
    for layer in (products.linear_tanh, lambda x, W, b: torch.tanh(torch.nn.functional.linear(x, W, b))):
        y = layer(x, W, b)
        first = torch.autograd.grad((y * v).sum() + y.square().sum(), [x, W, b], create_graph=True)
        cubes = sum(g.pow(3).sum() for g in first)
        # the second derivative once as a last pass (one fused oneDNN call on a float32 CPU) and once
        # differentiable again
        last = torch.autograd.grad(cubes, [x, W, b], retain_graph=True)
        second = torch.autograd.grad(cubes, [x, W, b], create_graph=True)
        results.append([y, *first, *last, *second,
                        *torch.autograd.grad(sum(g.square().sum() for g in second), [x, W, b])])
    assert type(products.linear_tanh(x, W, b).grad_fn).__name__ == "_LinearTanhBackward"
    if dtype == torch.float64:
        assert_close(results[0], results[1])
    else:   # float32: its third derivatives here reach 1e4 out of cancelling terms; up to the second
        assert_close(results[0][:10], results[1][:10], rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_maxout_d_s_gradient_is_the_module_s_bit_for_bit_where_pieces_tie(dtype):
    """The generic path's maxout (functional.maxout) against the module's amax, with two pieces of one
    unit tied on every input and three of another tied on some (amax shares the gradient among tied
    pieces: a max routing it to one piece trains another D), to the second derivative."""
    from gandiag.engine.functional import Net
    from gandiag.nets.mlp import Discriminator
    torch.manual_seed(0)
    D = Discriminator(2, [6, 6], "maxout", "none", 3, 1.0).to(dtype)
    first = D.features[1].linear
    with torch.no_grad():
        first.weight[1] = first.weight[0]            # unit 0: pieces 0 and 1 tie on every input
        first.bias[1] = first.bias[0]
        first.weight[3:6] = 0.0                      # unit 1: its three pieces tie (all equal the bias)
        first.bias[3:6] = 0.5
    x = torch.randn(40, 2, dtype=dtype, requires_grad=True)
    params = list(D.parameters())
    results = []
    for logits in (D(x), Net(D)(params, x)):
        first_order = torch.autograd.grad(logits.square().sum(), [x, *params], create_graph=True)
        results.append([logits, *first_order, *torch.autograd.grad(first_order[0].square().sum(), params)])
    assert_close(results[1], results[0], rtol=0, atol=0)
