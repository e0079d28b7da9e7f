"""The fast engine computes what the reference step computes: its closed forms against autograd, whole
training runs against gandiag.engine.reference (float64, a few hundred steps, unrolled D included), each seed
of a stacked pass against its own run, the dispatch that picks an engine and says which ran, and (on a
GPU) the replayed CUDA graph against eager iterations."""
import copy
import io
import json
import threading

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch.testing import assert_close

from gandiag.cli import main
from gandiag import losses, record as R
from gandiag.config import ConfigError, make_config
from gandiag.engine import adam, choose, fused, objectives, products, unroll
from gandiag.engine.fast import FastEngine, FastStep
from gandiag.engine.closed_form import (critic_grad, critic_grad_reverse, critic_pass, critic_views, layers,
                                        mlp_backward, mlp_forward)
from gandiag.engine.graphed import Graphed, iteration
from gandiag.engine.reference import train_step
from gandiag.train import run as train_run
from gandiag.train.guards import DivergenceWatch
from gandiag.train.loop import RunResult
from gandiag.train.seeds import summarize
from gandiag.train.session import Session
from tiny import QUIET, RUN, TOY_DEEP_G, flags, in_dtype

F64 = {"dtype": torch.float64}
SMALL = TOY_DEEP_G
#: 8 steps on the CLI, a row and a snapshot every 4
SHORT = {**RUN, "steps": 8, "log_every": 4, "snapshot_every": 4, "eval_samples": 64, "snapshot_samples": 16,
         "grid_res": 4}
CLI_TINY = flags(SHORT, *QUIET)


@pytest.fixture(autouse=True)
def one_thread():
    """These tensors are tiny: a second thread gains nothing, and on a busy machine it makes every
    small operation wait for it (tens of times slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- closed forms against autograd ----------------------------------------------------------------

def plain_mlp(layers, z, act):
    """The MLP of mlp_forward written with autograd-tracked operations, output (S, out, R)."""
    unit = {"relu": torch.relu, "tanh": torch.tanh, "leaky_relu": lambda x: torch.nn.functional.leaky_relu(x, 0.2)}
    h = z
    for i, (W, b) in enumerate(layers):
        h = h @ W.transpose(1, 2) + b.unsqueeze(1)
        if i < len(layers) - 1:
            h = unit[act](h)
    return h.transpose(1, 2)


@pytest.mark.parametrize("act", ["relu", "leaky_relu", "tanh"])
def test_mlp_forward_and_backward_equal_autograd(act):
    torch.manual_seed(0)
    shapes = [(7, 5), (6, 7), (2, 6)]
    params = [q for o, i in shapes for q in (torch.randn(3, o, i, **F64).requires_grad_(),
                                             torch.randn(3, o, **F64).requires_grad_())]
    z, weight = torch.randn(3, 9, 5, **F64), torch.randn(3, 2, 9, **F64)
    out = torch.empty(3, 2, 9, **F64)
    inputs = mlp_forward(layers([q.detach() for q in params]), z, act, 0.2, out, scale=0.25)
    expected = plain_mlp(list(zip(params[0::2], params[1::2])), z, act)
    grads = [torch.empty_like(q) for q in params]
    mlp_backward(layers([q.detach() for q in params]), inputs, weight, layers(grads), act, 0.2)
    assert_close(out, 0.25 * expected.detach())
    assert_close(grads, list(torch.autograd.grad((expected * weight).sum(), params)))


def random_critic(S=2, d=2, H=6, N=10):
    theta = torch.randn(S, d + 3, H, **F64)
    theta[:, -1, 1:] = 0   # padding beside b2
    return theta, augmented(torch.randn(S, d, N, **F64))


def augmented(xT):
    """XtT = [x^T ; 1], D's inputs as the closed forms read them."""
    return torch.cat([xT, torch.ones_like(xT[:, :1])], 1)


def plain_logits(theta, XtT, slope):
    """D's logits written with autograd-tracked operations from the padded parameter tensor."""
    pre = theta[:, :-2].transpose(1, 2) @ XtT
    h = torch.nn.functional.leaky_relu(pre, slope) if slope else torch.relu(pre)
    return (theta[:, -2:-1] @ h).squeeze(1) + theta[:, -1, :1]


@pytest.mark.parametrize("slope", [0.0, 0.2])
def test_critic_gradient_and_its_reverse_equal_autograd(slope):
    """critic_grad is d loss / d theta; critic_grad_reverse is the Hessian-vector product the unrolled D's
    second-order gradient needs, w.r.t. both the parameters and the inputs."""
    torch.manual_seed(1)
    theta, XtT = random_critic()
    loss = objectives.DLoss("nonsaturating", 5, 0.9, theta)
    cp = critic_pass(critic_views(theta), XtT, slope)
    delta, curv = loss.derivatives(cp.logits)
    grad = torch.zeros_like(theta)
    G0T = critic_grad(cp, critic_views(theta), XtT, delta, critic_views(grad))

    theta_, XtT_ = theta.clone().requires_grad_(), XtT.clone().requires_grad_()
    logits = plain_logits(theta_, XtT_, slope)
    (auto_grad,) = torch.autograd.grad(loss.value(logits).sum(), theta_, create_graph=True)
    assert_close(cp.logits, logits.detach())
    assert_close(cp.jacT, torch.autograd.grad(logits.sum(), XtT_, retain_graph=True)[0])
    assert_close(grad, auto_grad.detach())

    bar_g = torch.randn_like(theta)
    bar_g[:, -1, 1:] = 0
    bar_theta = torch.zeros_like(theta)
    bar_x = critic_grad_reverse(cp, critic_views(theta), XtT, delta, curv, G0T, bar_g, bar_theta, slice(4, None))
    hvp_theta, hvp_x = torch.autograd.grad((auto_grad * bar_g).sum(), [theta_, XtT_])
    assert_close(bar_theta, hvp_theta)
    assert_close(bar_x, hvp_x[..., 4:])


def test_unrolled_adam_step_and_its_reverse_equal_autograd():
    torch.manual_seed(2)
    h = adam.Hyper(lr=0.01, b1=0.5, b2=0.9, eps=1e-8)
    theta, m, g = (torch.randn(3, 4, **F64) for _ in range(3))
    v = torch.rand(3, 4, **F64)
    tiny = torch.full((), adam.SQRT_TINY, **F64)
    coefficients = adam.unrolled_coefficients(torch.tensor(6.0), 1, h, torch.float64)
    new, new_m, new_u, tape = adam.unrolled_step(theta, m, v + tiny, g, coefficients[0], h, tiny)

    leaves = [q.clone().requires_grad_() for q in (theta, m, v, g)]
    t_, m_, v_, g_ = leaves
    m2 = h.b1 * m_ + (1 - h.b1) * g_                      # gandiag.stabilizers.unrolled's formula
    v2 = h.b2 * v_ + (1 - h.b2) * g_ * g_
    step_size, root_bc2 = h.lr / (1 - h.b1 ** 7), (1 - h.b2 ** 7) ** 0.5
    theta2 = t_ - step_size * m2 / ((v2 + adam.SQRT_TINY).sqrt() / root_bc2 + h.eps)
    assert_close([new, new_m, new_u], [theta2.detach(), m2.detach(), v2.detach() + adam.SQRT_TINY])

    bars = [torch.randn(3, 4, **F64) for _ in range(3)]
    auto = torch.autograd.grad(sum((q * b).sum() for q, b in zip((theta2, m2, v2), bars)), leaves)
    bar_theta, bar_m, bar_v = (b.clone() for b in bars)
    bar_g = adam.unrolled_step_reverse(tape, bar_theta, bar_m, bar_v, h)
    assert_close([bar_theta, bar_m, bar_v, bar_g], list(auto))


@pytest.mark.parametrize("kind", objectives.SUPPORTED)
def test_losses_per_seed_equal_gandiag_losses_and_their_derivatives(kind):
    torch.manual_seed(3)
    logits = torch.randn(2, 8, **F64).requires_grad_()
    loss = objectives.DLoss(kind, 4, 0.9, logits)
    expected = torch.stack([losses.d_loss(kind, row[:4], row[4:], 0.9, 0.0) for row in logits])
    delta, curv = loss.derivatives(logits.detach())
    assert_close(loss.gradient(logits.detach()), delta, rtol=0, atol=0)   # D's own step takes this one
    (auto_delta,) = torch.autograd.grad(expected.sum(), logits, create_graph=True)
    assert_close(loss.value(logits.detach()), expected.detach())
    assert_close(delta, auto_delta.detach())
    if auto_delta.requires_grad:   # hinge: piecewise linear, no second derivative to compare
        assert_close(curv, torch.autograd.grad(auto_delta.sum(), logits)[0])

    g_loss, g_delta = objectives.GLoss(kind, 8, logits)(logits.detach())
    expected_g = torch.stack([losses.g_loss(kind, row) for row in logits])
    assert_close(g_loss, expected_g.detach())
    assert_close(g_delta, torch.autograd.grad(expected_g.sum(), logits)[0])


@pytest.mark.parametrize("slope, kind, second_order", [(0.0, "nonsaturating", True), (0.2, "minimax", True),
                                                      (0.0, "least-squares", True), (0.2, "hinge", False)])
def test_the_compiler_form_of_the_unroll_equals_the_closed_form(slope, kind, second_order):
    """gandiag.engine.fused (what compile runs) against gandiag.engine.unroll, which the training runs
    below check against autograd; both in float64, run eagerly."""
    torch.manual_seed(4)
    S, H, n = 2, 6, 5
    theta = torch.randn(S, 5, H, **F64)
    theta[:, -1, 1:] = 0   # b2's padding
    m, v = torch.randn(S, 5, H, **F64) * 1e-2, torch.rand(S, 5, H, **F64) * 1e-3
    XtT = augmented(torch.randn(S, 2, 2 * n, **F64) * 0.25)
    critic = unroll.Critic(slope, objectives.DLoss(kind, n, 0.9, theta).derivatives, objectives.GLoss(kind, n, theta))
    h = adam.Hyper(lr=0.01, b1=0.5, b2=0.9, eps=1e-8)
    coefficients = adam.unrolled_coefficients(torch.tensor(3.0), 4, h, torch.float64)
    args = (critic, h, n, second_order, theta, m, v, coefficients, XtT)
    loss, bar_fakes = fused.g_loss_through_unroll(*args)
    expected_loss, expected_bar = unroll.g_loss_through_unroll(*args)
    assert_close([loss, bar_fakes], [expected_loss, expected_bar])
    assert bar_fakes.abs().max() > 1e-3   # a gradient, not zeros on both sides


def test_compile_runs_the_unroll_as_one_graph_traced_once_and_trains_as_the_eager_engine(compile_counter):
    plain, compiled = session(unrolled=3), session(unrolled=3, compile=True)
    fast_steps(fast_engine(plain), [plain], 20)
    engine = fast_engine(compiled)
    fast_steps(engine, [compiled], 1)
    traced = compile_counter.frame_count
    fast_steps(engine, [compiled], 19)
    # no new trace for later G steps: the step count reaches the graph as a tensor, not as a constant
    assert compile_counter.frame_count == traced
    assert max(len(g.graph.nodes) for g in compile_counter.graphs) > 400   # K steps and their reverse
    assert_close(trained_state(compiled), trained_state(plain))



def test_on_a_cpu_the_compiled_unroll_takes_inductors_cpp_wrapper(compile_counter):
    """Its Python wrapper allocated the graph's few hundred buffers one Python call each, every G step."""
    fast_engine(session(unrolled=2, compile=True))
    assert compile_counter.options == {"cpp_wrapper": True}

def test_a_run_compiles_the_unroll_before_its_first_iteration_and_not_again_in_it(compile_counter):
    """So the run's clock (Progress.begin, status.json seconds) starts after the compilation."""
    s = session(unrolled=2, compile=True)
    engine = fast_engine(s)
    before = copy.deepcopy(trained_state(s))
    run = iteration(engine, [samplers(s)], [s.gen])
    compiled = compile_counter.frame_count
    assert compiled > 0
    assert_close(trained_state(s), before, rtol=0, atol=0)   # compiling trained nothing
    run()
    assert compile_counter.frame_count == compiled


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated")   # inductor's import of mkldnn
def test_compile_with_inductor_trains_as_the_eager_engine_in_float32():
    torch._dynamo.reset()
    plain, compiled = (Session.for_config(make_config(SMALL, unrolled=2, compile=c), "cpu") for c in (False, True))
    for s in (plain, compiled):
        engine = fast_engine(s)
        for _ in range(10):
            engine.compute([(s.sample_real, s.sample_z)])
        engine.export(0, s.players)
    assert_close(trained_state(compiled), trained_state(plain), rtol=1e-4, atol=1e-5)
    torch._dynamo.reset()


# --- whole training runs against the reference step ------------------------------------------------

def session(**overrides) -> Session:
    """A float64 session on SMALL (the draws come in float32 and are widened, for both paths alike)."""
    s = Session.for_config(make_config(SMALL, **overrides), overrides.get("device", "cpu"))
    s.players.G.double()
    s.players.D.double()
    return s


def samplers(s: Session):
    return lambda n: s.sample_real(n).double(), lambda n: s.sample_z(n).double()


def reference_steps(s: Session, first: int, last: int) -> dict:
    sample_real, sample_z = samplers(s)
    for step in range(first, last + 1):
        stats = train_step(s.players, s.stabilizers, s.cfg, sample_real, sample_z, s.gen, step)
    return stats


def fast_steps(engine: FastStep, sessions: list[Session], n: int) -> dict:
    """n iterations of the engine; then each seed exported into its session's players (as the loop does
    before it records)."""
    for _ in range(n):
        stats = engine.compute([samplers(s) for s in sessions])
    for i, s in enumerate(sessions):
        engine.export(i, s.players)
    return stats


def fast_engine(s: Session) -> FastStep:
    return FastStep(s.cfg, [s.players])


def trained_state(s: Session) -> dict:
    """Everything a step changes: both players and both optimisers' moments and step counts."""
    p = s.players
    return {"G": p.G.state_dict(), "D": p.D.state_dict(),
            "opt_g": p.opt_g.state_dict()["state"], "opt_d": p.opt_d.state_dict()["state"]}


CASES = {
    "vanilla": ({}, 300),
    "unrolled second order": ({"unrolled": 3}, 200),
    "unrolled first order": ({"unrolled": 3, "unrolled_first_order": True}, 100),
    "minimax, smoothing, 2+2 steps, tanh G, leaky D": (
        {"loss": "minimax", "label_smoothing": 0.9, "d_steps": 2, "g_steps": 2, "g_act": "tanh",
         "d_act": "leaky_relu", "unrolled": 2}, 100),
    "least squares": ({"loss": "least-squares", "g_act": "leaky_relu", "unrolled": 2}, 100),
    "hinge": ({"loss": "hinge", "unrolled": 2}, 100),
    "pack 2": ({"pack": 2}, 200),
    "pack 3, unrolled second order": ({"pack": 3, "unrolled": 2}, 100),
}


@pytest.mark.parametrize("case", CASES)
def test_fast_path_trains_exactly_what_the_reference_step_trains(case):
    overrides, steps = CASES[case]
    ref, fast = session(**overrides), session(**overrides)
    ref_stats = reference_steps(ref, 1, steps)
    fast_stats = fast_steps(fast_engine(fast), [fast], steps)
    assert choose(ref.cfg).name == "fast"
    assert_close(trained_state(fast), trained_state(ref))
    assert_close({k: v[0] for k, v in fast_stats.items()}, {k: v.detach() for k, v in ref_stats.items()})


def test_each_seed_of_a_stacked_pass_trains_its_own_single_run():
    stacked = [session(seed=s, unrolled=2) for s in (5, 6, 7)]
    fast_steps(FastStep(stacked[0].cfg, [s.players for s in stacked]), stacked, 60)
    single = session(seed=6, unrolled=2)
    reference_steps(single, 1, 60)
    assert_close(trained_state(stacked[1]), trained_state(single))


@pytest.mark.parametrize("overrides", [{}, {"unrolled": 2}, {"g_act": "tanh", "loss": "least-squares"}],
                         ids=["vanilla", "unrolled", "tanh G, least squares"])
@pytest.mark.parametrize("dtype, kernel", [(torch.float64, products.TORCH), (torch.float32, products.ONEDNN),
                                           (torch.float32, products.TORCH)],
                         ids=["float64", "float32 (oneDNN)", "float32 (torch's mm)"], indirect=["kernel"])
def test_a_seed_of_a_stacked_pass_is_bit_for_bit_the_same_seed_trained_alone(overrides, dtype, kernel):
    """Not merely close: the stacked products, sums and norms round as the single ones do (no
    matrix-vector BLAS call, no product written into memory strided across seeds, G's oneDNN products
    seed by seed, torch's batched product as its products one by one)."""
    def sessions(seeds):
        return in_dtype([session(seed=s, **overrides) for s in seeds], dtype)
    stacked, (alone,) = sessions((5, 6, 7)), sessions((6,))
    for group in (stacked, [alone]):
        engine = FastStep(group[0].cfg, [s.players for s in group])
        for _ in range(40):
            engine.compute([(lambda n, s=s: s.sample_real(n).to(dtype), lambda n, s=s: s.sample_z(n).to(dtype))
                            for s in group])
        for i, s in enumerate(group):
            engine.export(i, s.players)
    assert_close(trained_state(stacked[1]), trained_state(alone), rtol=0, atol=0)


@pytest.mark.parametrize("overrides", [{}, {"unrolled": 2}, {"pack": 2, "loss": "least-squares"}],
                         ids=["vanilla", "unrolled", "pack 2, least squares"])
def test_a_pass_on_seed_threads_trains_bit_for_bit_what_one_stacked_step_trains(overrides):
    def trained(workers: int) -> tuple[list[dict], set[str], list]:
        group = [Session.for_config(make_config(SMALL, seed=s, seed_workers=workers, **overrides), "cpu")
                 for s in (5, 6, 7, 8)]
        observed = []   # what the divergence watch would see: every seed's statistics at once
        engine = FastEngine(group[0].cfg, group, 0, lambda stats: observed.append(stats["g_loss"].shape))
        threads = set()
        for core in engine.cores:   # each group's step notes the thread it ran on
            def noting(samplers, compute=core.compute):
                threads.add(threading.current_thread().name)
                return compute(samplers)
            core.compute = noting
        for _ in range(40):
            engine.step()
        for i in range(len(group)):
            engine.export(i)
        engine.close()
        return [trained_state(s) for s in group], threads, observed
    (one, on_main, seen_one), (side, on_seed_threads, seen_side) = trained(1), trained(3)
    main_thread = threading.main_thread().name
    assert on_main == {main_thread} and len(on_seed_threads) == 3 and main_thread not in on_seed_threads
    assert seen_one == seen_side == [(4,)] * 40
    assert_close(side, one, rtol=0, atol=0)


@pytest.mark.parametrize("dtype, width, kernel", [(torch.float32, 32, products.ONEDNN),
                                                  (torch.float32, 32, products.TORCH),
                                                  (torch.float32, 4, products.ONEDNN),
                                                  (torch.float64, 32, products.ONEDNN)],
                         ids=["float32 (oneDNN, seed by seed)", "float32 on torch's mm (bmm)",
                              "float32, a narrow side (bmm)", "float64 (bmm)"], indirect=["kernel"])
def test_the_stacked_product_equals_torch_s_batched_product_and_each_seed_its_product_alone(dtype, width, kernel):
    torch.manual_seed(0)
    a, b = torch.randn(3, 40, width, dtype=dtype), torch.randn(3, width, 24, dtype=dtype)
    bias = torch.randn(3, 24, dtype=dtype)
    for x in (a, a.transpose(1, 2).contiguous().transpose(1, 2)):   # row-major and transposed operands
        stacked = products.bmm(x, b, bias)
        assert_close(stacked, torch.baddbmm(bias.unsqueeze(1), x, b))
        assert_close(stacked[1:2], products.bmm(x[1:2], b[1:2], bias[1:2]), rtol=0, atol=0)
        assert_close(products.bmm(x, b), torch.bmm(x, b))
    onednn = products._kernel(a, 40, width, 24) is products.ONEDNN
    assert onednn == (kernel is products.ONEDNN and dtype == torch.float32 and width >= 16)


@pytest.mark.parametrize("capability, onednn", [("AVX512", True), ("AVX2", False), ("NO AVX", False)])
def test_float32_products_take_onednn_only_where_torch_s_cpu_kernels_have_avx512(monkeypatch, capability, onednn):
    """oneDNN measured twice MKL's speed with AVX-512 and slower than MKL with AVX2 only (products.py)."""
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    assert products._onednn_is_faster() == (onednn and products.DNN_LINEAR is not None)


def test_a_fast_path_checkpoint_continues_on_the_reference_path():
    """The exported optimisers hold the fast path's moments and step counts in torch's own format."""
    s = session(unrolled=2)
    engine = fast_engine(s)
    fast_steps(engine, [s], 30)
    buf = io.BytesIO()
    torch.save(s.state(30), buf)   # as a run writes it, from the exported players
    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)
    on_reference = session(unrolled=2)
    on_reference.load_state(ckpt)
    reference_steps(on_reference, 31, 60)
    fast_steps(engine, [s], 30)
    assert_close(trained_state(s), trained_state(on_reference))


# --- which engine runs ------------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, reason", [
    ({"precision": "bf16"}, "precision"), ({"d_hidden": (16, 16), "compile": True}, "compile"),
    ({"data": "mnist"}, "data"),
])
def test_auto_falls_back_to_the_reference_path_and_says_why(overrides, reason):
    assert choose(make_config(SMALL)).record() == {"name": "fast", "requested": "auto", "path": "closed form"}
    choice = choose(make_config(SMALL, **overrides))
    assert (choice.name, choice.requested) == ("reference", "auto") and choice.reason.startswith(reason)
    with pytest.raises(ConfigError, match=f"engine = 'fast' cannot run this config \\({reason}"):
        choose(make_config(SMALL, engine="fast", **overrides))


@pytest.mark.parametrize("pack", [[], ["--pack", "2"]], ids=["one point", "packed"])
def test_gandiag_run_with_compile_on_a_second_order_unroll_trains_on_the_compiled_fast_engine(
        compile_counter, tmp_path, pack):
    runner, rows = CliRunner(), {}
    for name, extra in (("eager", []), ("compiled", ["--compile"])):
        result = runner.invoke(main, ["run", "ring8", "--out", str(tmp_path / name), *CLI_TINY, "--unrolled", "2",
                                      *pack, *extra])
        assert result.exit_code == 0, result.output
        rows[name] = R.RunReader(tmp_path / name).metrics()[-1]
    recorded = json.loads((tmp_path / "compiled" / R.CONFIG_FILE).read_text())
    assert recorded["engine"] == {"name": "fast", "requested": "auto", "path": "closed form"}
    assert recorded["config"]["compile"] is True
    assert compile_counter.frame_count >= 1
    keys = (R.D_LOSS, R.G_LOSS, R.G_GRAD_NORM)
    assert_close([rows["compiled"][k] for k in keys], [rows["eager"][k] for k in keys], rtol=1e-4, atol=1e-6)


def test_config_json_says_which_engine_ran_and_both_engines_train_alike(tmp_path):
    runner, records, rows = CliRunner(), {}, {}
    for name, extra in (("auto", []), ("reference", ["--engine", "reference"]), ("tanh", ["--d-act", "tanh"]),
                        ("bf16", ["--precision", "bf16"]), ("noise", ["--instance-noise", "0.1"])):
        out = tmp_path / name
        result = runner.invoke(main, ["run", "ring8", "--out", str(out), *CLI_TINY, *extra])
        assert result.exit_code == 0, result.output
        records[name] = json.loads((out / R.CONFIG_FILE).read_text())["engine"]
        rows[name] = R.RunReader(out).metrics()[-1]
    assert records["auto"] == {"name": "fast", "requested": "auto", "path": "closed form"}
    assert records["reference"] == {"name": "reference", "requested": "reference"}
    assert records["tanh"] == records["noise"] == {"name": "fast", "requested": "auto", "path": "generic"}
    assert records["bf16"]["name"] == "reference" and records["bf16"]["reason"].startswith("precision = 'bf16'")
    keys = (R.D_LOSS, R.G_LOSS, R.D_REAL, R.D_FAKE, R.D_GRAD_NORM, R.G_GRAD_NORM)
    assert_close([rows["auto"][k] for k in keys], [rows["reference"][k] for k in keys], rtol=1e-4, atol=1e-6)


def test_engine_fast_on_a_config_it_cannot_run_fails_in_one_line_before_writing(tmp_path):
    result = CliRunner().invoke(main, ["run", "ring8", "--out", str(tmp_path / "x"), *CLI_TINY,
                                       "--engine", "fast", "--precision", "bf16"])
    assert result.exit_code != 0
    assert result.output.strip().splitlines() == [
        "Error: engine = 'fast' cannot run this config (precision = 'bf16': the fast path implements only the "
        "default ('fp32')): use --engine auto or reference"]
    assert not (tmp_path / "x").exists()


# --- many seeds ----------------------------------------------------------------------------------------

def test_seeds_trains_each_seed_into_its_own_run_folder_with_a_summary(tmp_path):
    runner = CliRunner()
    # without --quiet, which silences the summary table too
    result = runner.invoke(main, ["run", "ring8", "--seeds", "3", "--seed", "4", "--out", str(tmp_path / "m"),
                                  *flags(SHORT, "--no-animate")])
    assert result.exit_code == 0, result.output
    table = [line for line in result.output.splitlines() if line.split()[:1] == ["seed"]]
    assert table[0].split() == ["seed", "status", "modes", "strict", "HQ", "%", "reverse", "KL"]
    m = tmp_path / "m"   # the pass's folder is what analyze and report take
    assert result.output.splitlines()[-1] == f"next: gandiag analyze {m}   |   gandiag report {m}"
    single = runner.invoke(main, ["run", "ring8", "--seed", "5", "--out", str(tmp_path / "one"), *CLI_TINY])
    assert single.exit_code == 0, single.output
    summary = json.loads((tmp_path / "m" / "summary.json").read_text())
    assert summary["seeds"] == [4, 5, 6] and [r["status"] for r in summary["runs"]] == [R.FINISHED] * 3
    keys = (R.D_LOSS, R.G_LOSS, R.D_GRAD_NORM, R.G_GRAD_NORM, R.HQ)
    stacked_rows = R.RunReader(tmp_path / "m" / "seed_5").metrics()
    single_rows = R.RunReader(tmp_path / "one").metrics()
    assert [r[R.STEP] for r in stacked_rows] == [r[R.STEP] for r in single_rows] == [0, 4, 8]
    assert (tmp_path / "m" / "seed_5" / R.METRICS_FILE).read_bytes() == (tmp_path / "one" / R.METRICS_FILE).read_bytes()
    assert_close([[r.get(k, 0.0) for k in keys] for r in stacked_rows],
                 [[r.get(k, 0.0) for k in keys] for r in single_rows], rtol=0, atol=0)
    assert R.RunReader(tmp_path / "m" / "seed_5").record["config"]["seed"] == 5


def test_summary_has_the_mean_and_standard_error_over_seeds():
    cfgs = [make_config(SMALL, seed=s) for s in range(3)]
    results = [RunResult(f"r{i}", R.FINISHED, 10, {R.MODES: m, R.MODES_STRICT: m - 1, R.HQ: 0.5, R.REVERSE_KL: None})
               for i, m in enumerate((6, 7, 8))]
    stats = summarize(cfgs, results, {"name": "fast"})["summary"]
    np.testing.assert_allclose([stats[R.MODES]["mean"], stats[R.MODES]["sem"]], [7.0, 1 / np.sqrt(3)])
    np.testing.assert_allclose([stats[R.MODES_STRICT]["mean"], stats[R.HQ]["sem"]], [6.0, 0.0])
    assert stats[R.REVERSE_KL] == {"mean": None, "sem": None, "n": 0}


# --- on CUDA (gandiag.engine.graphed) -------------------------------------------------------------------

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
CLI_CUDA = flags(SHORT, *QUIET, device="cuda")


@cuda
@pytest.mark.parametrize("overrides", [{}, {"unrolled": 3}], ids=["vanilla", "unrolled"])
def test_a_replayed_cuda_graph_trains_bit_for_bit_what_eager_iterations_train(overrides):
    eager, replayed = (session(device="cuda", **overrides) for _ in range(2))
    eager_stats = fast_steps(fast_engine(eager), [eager], 40)
    engine = fast_engine(replayed)
    graphed = iteration(engine, [samplers(replayed)], [replayed.gen])
    assert isinstance(graphed, Graphed)
    for _ in range(40):
        stats = graphed()
    engine.export(0, replayed.players)
    # the optimisers' step counts too: they live on the device and advance with each replay
    assert_close(trained_state(replayed), trained_state(eager), rtol=0, atol=0)
    assert_close(stats, eager_stats, rtol=0, atol=0)
    assert torch.equal(replayed.gen.get_state(), eager.gen.get_state())


@cuda
def test_the_graphed_fast_engine_on_cuda_trains_exactly_what_the_reference_step_trains():
    ref, fast = session(device="cuda", unrolled=3), session(device="cuda", unrolled=3)
    reference_steps(ref, 1, 100)
    engine = fast_engine(fast)
    train = iteration(engine, [samplers(fast)], [fast.gen])
    for _ in range(100):
        train()
    engine.export(0, fast.players)
    assert_close(trained_state(fast), trained_state(ref))


@cuda
@pytest.mark.parametrize("overrides", [{}, {"unrolled": 3}], ids=["vanilla", "unrolled"])
@pytest.mark.filterwarnings("ignore:Synchronization debug mode is a prototype feature")
def test_an_iteration_on_cuda_never_waits_for_the_host(overrides):
    s = session(device="cuda", **overrides)
    engine = fast_engine(s)
    engine.compute([samplers(s)])   # the first iteration allocates the unrolled steps' memory
    try:
        torch.cuda.set_sync_debug_mode("error")
        engine.compute([samplers(s)])
    finally:
        torch.cuda.set_sync_debug_mode("default")


@cuda
def test_on_cuda_the_divergence_watch_replays_with_the_step_and_stops_the_run_at_the_first_non_finite_one(tmp_path):
    cfg = make_config(SMALL, device="cuda", d_lr=1e30, g_lr=1e30, steps=20, log_every=5)
    result = train_run(cfg, tmp_path / "run", quiet=True)
    eager = Session.for_config(cfg, "cuda")
    engine = fast_engine(eager)
    bad = next(step for step in range(1, 21) if not all(
        torch.isfinite(v).all() for k, v in engine.compute([(eager.sample_real, eager.sample_z)]).items()
        if k in DivergenceWatch.KEYS))
    assert (result.status, result.step) == (R.DIVERGED, bad)


@cuda
def test_seeds_on_cuda_replay_one_graph_and_each_seed_trains_its_own_single_run(tmp_path):
    runner = CliRunner()
    for out, extra in (("m", ["--seeds", "3", "--seed", "4"]), ("one", ["--seed", "5"])):
        result = runner.invoke(main, ["run", "ring8", "--out", str(tmp_path / out), *extra, *CLI_CUDA,
                                      "--unrolled", "2"])
        assert result.exit_code == 0, result.output
    assert R.RunReader(tmp_path / "one").record["device"] == "cuda"
    keys = (R.D_LOSS, R.G_LOSS, R.D_GRAD_NORM, R.G_GRAD_NORM)
    assert_close([[r[k] for k in keys] for r in R.RunReader(tmp_path / "m" / "seed_5").metrics()[1:]],
                 [[r[k] for k in keys] for r in R.RunReader(tmp_path / "one").metrics()[1:]], rtol=1e-4, atol=1e-6)


@cuda
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated")   # inductor's import of mkldnn
def test_compile_on_cuda_builds_the_unroll_with_triton_and_trains_as_the_eager_engine(fresh_compile, tmp_path):
    runner, rows = CliRunner(), {}
    for name, extra in (("eager", []), ("compiled", ["--compile"])):
        result = runner.invoke(main, ["run", "ring8", "--out", str(tmp_path / name), *CLI_CUDA, "--unrolled", "2",
                                      *extra])
        assert result.exit_code == 0, result.output
        rows[name] = R.RunReader(tmp_path / name).metrics()[-1]
    keys = (R.D_LOSS, R.G_LOSS, R.G_GRAD_NORM)
    assert_close([rows["compiled"][k] for k in keys], [rows["eager"][k] for k in keys], rtol=1e-4, atol=1e-6)
