"""Every stabilizer changes what the players see or do, exactly as documented, and resumes exactly."""
import copy
import dataclasses
import importlib.util
import re
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from gandiag import losses
from gandiag.config import ConfigError
from gandiag.nets.layers import AlwaysDropout
from gandiag.stabilizers.averaging import HistoricalAverage
from gandiag.stabilizers.labels import d_targets
from gandiag.stabilizers.noise import noise_std
from gandiag.stabilizers.packing import pack
from gandiag.stabilizers.penalties import r1_penalty
from gandiag.stabilizers.replay import ReplayBuffer
from gandiag.stabilizers.swaps import Swaps
from gandiag.engine import reference as S
from gandiag.train.session import Session

from cli_runs import cli
from tiny import QUIET, RUN, flags, run_steps, scores_depend_on_batch, toy_config, toy_session


def d_inputs(s) -> list:
    """Every batch D is called on from now on (a forward pre-hook)."""
    seen = []
    s.players.D.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    return seen


def fixed_reals(s, n: int) -> torch.Tensor:
    reals = s.target.sample(n, torch.Generator().manual_seed(99))
    s.sample_real = lambda k: reals[:k]
    return reals


def opt_steps(opt) -> int:
    return int(next(iter(opt.state.values()))["step"])


# --- labels ----------------------------------------------------------------------------------

def targets_seen(monkeypatch, **options):
    seen, d_loss = [], losses.d_loss

    def spy(kind, real, fake, real_target=1.0, fake_target=0.0):
        seen.append((real_target, fake_target))
        return d_loss(kind, real, fake, real_target, fake_target)

    monkeypatch.setattr(losses, "d_loss", spy)
    run_steps(toy_session(**options), 1, 1)
    return seen[0]


@pytest.mark.parametrize("options,targets", [({}, (1.0, 0.0)), ({"label_smoothing": 0.9}, (0.9, 0.0)),
                                             ({"label_flip": 1.0}, (0.0, 1.0))])
def test_d_is_trained_towards_the_configured_targets(monkeypatch, options, targets):
    real, fake = targets_seen(monkeypatch, **options)
    assert_close(torch.as_tensor(real).float().unique(), torch.tensor([targets[0]]))
    assert_close(torch.as_tensor(fake).float().unique(), torch.tensor([targets[1]]))


def test_noisy_labels_reach_d_as_soft_per_input_targets(monkeypatch):
    real, fake = targets_seen(monkeypatch, noisy_labels=True)
    assert real.shape == fake.shape == (32,)
    assert ((real >= 0.7) & (real <= 1.2)).all() and ((fake >= 0.0) & (fake <= 0.3)).all()


def test_noisy_labels_are_uniform_on_their_ranges():
    real, fake = d_targets(toy_config(noisy_labels=True), 40_000, torch.Generator().manual_seed(0), "cpu")
    assert_close(torch.stack([real.min(), real.max(), real.mean()]), torch.tensor([0.7, 1.2, 0.95]), atol=0.01, rtol=0)
    assert_close(torch.stack([fake.min(), fake.max(), fake.mean()]), torch.tensor([0.0, 0.3, 0.15]), atol=0.01, rtol=0)


def test_label_flips_swap_targets_with_probability_p():
    real, fake = d_targets(toy_config(label_flip=0.3), 40_000, torch.Generator().manual_seed(0), "cpu")
    assert_close(torch.stack([(real == 0).float().mean(), (fake == 1).float().mean()]),
                 torch.tensor([0.3, 0.3]), atol=0.01, rtol=0)


# --- inputs D sees: instance noise, packing, replay ------------------------------------------

def test_instance_noise_decays_linearly_to_zero():
    assert [noise_std(0.4, 100, step) for step in (1, 51, 101, 500)] == [0.4, 0.2, 0.0, 0.0]
    assert noise_std(0.4, 0, 10_000) == 0.4


def test_d_sees_reals_blurred_by_the_scheduled_noise():
    s = toy_session(instance_noise=0.5, instance_noise_decay=10, batch=2048)
    reals, seen = fixed_reals(s, 2048), d_inputs(s)
    run_steps(s, 6, 6)  # std 0.5 * (1 - 5 / 10)
    assert_close((seen[0] - reals).std(), torch.tensor(0.25), rtol=0.05, atol=0)
    seen.clear()
    run_steps(s, 11, 11)  # decayed away
    assert_close(seen[0], reals, rtol=0, atol=0)


def test_packed_d_sees_m_samples_per_input_and_packs_single_points_with_copies():
    s = toy_session(pack=3)
    seen = d_inputs(s)
    run_steps(s, 1, 1)
    assert [tuple(x.shape) for x in seen] == [(32, 6)] * 3
    x = torch.randn(5, 2)
    assert_close(s.players.D(x), s.players.D(x.repeat(1, 3)), rtol=0, atol=0)
    assert_close(pack(torch.arange(12.0).view(6, 2), 3), torch.arange(12.0).view(2, 6))


def test_replay_swaps_a_share_of_the_fresh_fakes_for_old_ones():
    buf, gen = ReplayBuffer(size=8, share=0.25), torch.Generator().manual_seed(0)
    assert_close(buf.mix(torch.ones(8, 2), gen), torch.ones(8, 2))  # nothing old yet
    assert_close(buf.mix(torch.zeros(8, 2), gen), torch.cat([torch.zeros(6, 2), torch.ones(2, 2)]))


def test_replay_buffer_holds_the_most_recent_fakes():
    buf, gen = ReplayBuffer(size=5, share=0.0), torch.Generator().manual_seed(0)
    buf.mix(torch.arange(3.0)[:, None], gen)
    buf.mix(torch.arange(3.0, 7.0)[:, None], gen)
    assert_close(buf.data.ravel().sort().values, torch.arange(2.0, 7.0))


def test_d_sees_last_steps_fakes_again_with_replay():
    s = toy_session(replay_size=64, replay_share=0.5)
    seen = d_inputs(s)
    run_steps(s, 1, 2)  # D calls per step: reals, fakes (D step), fakes (G step)
    old_fakes, now = seen[1], seen[4]
    assert_close(torch.cdist(now[16:], old_fakes).min(1).values, torch.zeros(16), rtol=0, atol=0)


# --- the players ----------------------------------------------------------------------------

@pytest.mark.parametrize("d_steps,g_steps", [(1, 1), (3, 2)])
def test_each_iteration_takes_k_d_steps_then_k_g_steps(d_steps, g_steps):
    s = toy_session(d_steps=d_steps, g_steps=g_steps)
    run_steps(s, 1, 1)
    assert (opt_steps(s.players.opt_d), opt_steps(s.players.opt_g)) == (d_steps, g_steps)


def test_d_can_use_sgd_with_momentum_while_g_uses_adam():
    p = toy_session(d_opt="sgd", d_beta1=0.7).players
    assert isinstance(p.opt_d, torch.optim.SGD) and isinstance(p.opt_g, torch.optim.Adam)
    assert p.opt_d.param_groups[0]["momentum"] == 0.7


@pytest.mark.parametrize("dist,var", [("normal", 1.0), ("uniform", 1 / 3)])
def test_latent_distribution(dist, var):
    z = toy_session(z_dist=dist).sample_z(20_000)
    assert_close(z.var(), torch.tensor(var), rtol=0.03, atol=0)
    if dist == "uniform":
        assert_close(z.abs().max(), torch.tensor(1.0), rtol=0, atol=1e-3)


def test_g_dropout_stays_on_at_test_time_with_fixed_masks_off_the_training_stream():
    s, z = toy_session(g_dropout=0.5), torch.randn(64, 4)
    G = s.players.G.eval()
    plain = copy.deepcopy(G)
    for m in plain.modules():
        if isinstance(m, AlwaysDropout):
            m.p = 0.0
    state = s.gen.get_state()
    assert_close(G(z), G(z), rtol=0, atol=0)
    assert torch.equal(s.gen.get_state(), state)
    with pytest.raises(AssertionError):
        assert_close(G(z), plain(z))


def test_g_dropout_masks_in_training_come_from_the_run_generator():
    s, z = toy_session(g_dropout=0.5), torch.randn(64, 4)
    state = s.gen.get_state()
    first = s.players.G(z)
    s.gen.set_state(state)
    assert_close(s.players.G(z), first, rtol=0, atol=0)
    with pytest.raises(AssertionError):
        assert_close(s.players.G(z), first)


@pytest.mark.parametrize("on,sigma", [(True, 1.0), (False, 0.8)])
def test_spectral_norm_gives_every_d_layer_unit_spectral_norm(on, sigma):
    D = toy_session(spectral_norm=on).players.D
    for _ in range(20):  # power iterations run in training forward passes
        D(torch.randn(8, 2))
    for m in [m for m in D.modules() if isinstance(m, nn.Linear)]:
        assert_close(torch.linalg.matrix_norm(m.weight.detach(), 2), torch.tensor(sigma), rtol=1e-3, atol=0)


@pytest.mark.parametrize("norm,depends_on_batch", [("none", False), ("batch", True), ("instance", False),
                                                   ("virtual-batch", False)])
def test_only_batch_norm_makes_a_score_depend_on_the_rest_of_the_batch(norm, depends_on_batch):
    assert scores_depend_on_batch(toy_session(d_norm=norm).players.D) == depends_on_batch


def test_batch_norm_sees_reals_and_fakes_as_separate_batches():
    s = toy_session(d_norm="batch")
    reals, seen = fixed_reals(s, 32), d_inputs(s)
    run_steps(s, 1, 1)
    assert_close(seen[0], reals, rtol=0, atol=0)
    assert [len(x) for x in seen] == [32, 32, 32]


def test_instance_norm_normalises_each_sample_over_its_features():
    D = toy_session(d_norm="instance").players.D
    norm = next(m for m in D.modules() if isinstance(m, nn.LayerNorm))
    out = []
    norm.register_forward_hook(lambda module, args, result: out.append(result))
    D(10 * torch.randn(6, 2))  # features well above LayerNorm's eps
    assert_close(out[0].mean(1), torch.zeros(6), rtol=0, atol=1e-5)
    assert_close(out[0].var(1, unbiased=False), torch.ones(6), rtol=1e-3, atol=0)


def test_virtual_batch_norm_reference_is_the_first_real_batch_and_stays_fixed():
    s = toy_session(d_norm="virtual-batch")
    D, first = s.players.D, s.target.sample(32, torch.Generator().manual_seed(s.cfg.seed))
    assert_close(D.reference, first, rtol=0, atol=0)
    x = torch.randn(4, 2)
    before = D(x)
    run_steps(s, 1, 2)
    assert_close(D.reference, first, rtol=0, atol=0)
    D.load_state_dict(toy_session(d_norm="virtual-batch").players.D.state_dict())
    D.reference.mul_(2.0)  # other reference statistics, other scores
    with pytest.raises(AssertionError):
        assert_close(D(x), before)


# --- penalties and averages ------------------------------------------------------------------

def test_r1_is_the_mean_squared_input_gradient_of_d_on_reals():
    w = torch.tensor([0.3, -1.2])
    assert_close(r1_penalty(lambda x: x @ w, torch.randn(10, 2)), (w ** 2).sum())


def test_r1_enters_ds_loss_with_weight_gamma_over_two(monkeypatch):
    values, r1 = [], S.r1_penalty
    monkeypatch.setattr(S, "r1_penalty", lambda D, real: values.append(r1(D, real)) or values[-1])
    with_r1, plain = run_steps(toy_session(r1=4.0), 1, 1), run_steps(toy_session(), 1, 1)
    assert_close(with_r1["d_loss"], plain["d_loss"] + 2.0 * values[0].detach())


def test_historical_average_is_zero_at_the_first_step_and_pulls_towards_the_mean():
    net = nn.Linear(3, 2)
    avg = HistoricalAverage(net, weight=0.7)
    assert_close(avg.penalty(net.parameters()), torch.tensor(0.0), rtol=0, atol=0)
    history = [[q.detach().clone() for q in net.parameters()]]
    for _ in range(3):
        with torch.no_grad():
            for q in net.parameters():
                q.add_(torch.randn_like(q))
        avg.update(net)
        history.append([q.detach().clone() for q in net.parameters()])
    with torch.no_grad():
        for q in net.parameters():
            q.add_(torch.randn_like(q))
    grads = torch.autograd.grad(avg.penalty(net.parameters()), list(net.parameters()))
    means = [torch.stack(values).mean(0) for values in zip(*history)]
    assert_close(list(grads), [2 * 0.7 * (q.detach() - m) for q, m in zip(net.parameters(), means)])


def test_historical_averaging_is_a_term_of_ds_loss_not_an_extra_step():
    # plain SGD on D: the penalty's gradient 2 * lam * (theta_1 - (theta_0 + theta_1) / 2) moves step 2 by
    # exactly -lr * lam * (theta_1 - theta_0); step 1 is untouched (the penalty starts at zero)
    lam, lr, sgd = 5.0, 0.1, {"d_opt": "sgd", "d_beta1": 0.0, "d_lr": 0.1}
    s, plain = toy_session(hist_avg=lam, **sgd), toy_session(**sgd)
    theta0 = [q.detach().clone() for q in s.players.D.parameters()]
    run_steps(s, 1, 1)
    run_steps(plain, 1, 1)
    theta1 = [q.detach().clone() for q in s.players.D.parameters()]
    assert_close(theta1, [q.detach() for q in plain.players.D.parameters()], rtol=0, atol=0)
    run_steps(s, 2, 2)
    run_steps(plain, 2, 2)
    expected = [q.detach() - lr * lam * (a - b) for q, a, b in zip(plain.players.D.parameters(), theta1, theta0)]
    assert_close([q.detach() for q in s.players.D.parameters()], expected)


# --- swaps -----------------------------------------------------------------------------------

def d_state(s):
    return {k: v.clone() for k, v in s.players.D.state_dict().items()}, opt_steps(s.players.opt_d)


def test_swap_plays_the_old_d_then_restores_the_current_one_exactly():
    s, swaps = toy_session(), Swaps(every=2, length=1)
    run_steps(s, 1, 1)
    swaps.before_step(2, s.players)  # first swap point: both players saved, nothing swapped
    after_1 = d_state(s)
    run_steps(s, 2, 3)
    after_3 = d_state(s)
    swaps.before_step(4, s.players)
    assert_close(d_state(s), after_1, rtol=0, atol=0)
    run_steps(s, 4, 4)
    swaps.before_step(5, s.players)
    assert_close(d_state(s), after_3, rtol=0, atol=0)


def test_swaps_alternate_between_d_and_g():
    s, swaps = toy_session(), Swaps(every=2, length=1)
    names = []
    for step in range(1, 9):
        swaps.before_step(step, s.players)
        names.append(swaps.away and swaps.away["name"])
        run_steps(s, step, step)
    assert names == [None, None, None, "D", None, "G", None, "D"]


def test_training_step_swaps_in_the_old_d():
    # D trains at steps 1..3, then its copy from after step 1 takes step 4 (2 Adam steps in all),
    # then the current D (3 steps) returns at step 5
    s = toy_session(swap_every=2, swap_for=1)
    run_steps(s, 1, 4)
    assert opt_steps(s.players.opt_d) == 2
    run_steps(s, 5, 5)
    assert opt_steps(s.players.opt_d) == 4


# --- resume ----------------------------------------------------------------------------------

# every stabilizer that holds state or draws random numbers (unrolling and R1 do neither)
EVERYTHING = dict(hist_avg=0.1, replay_size=100, swap_every=2, swap_for=2, d_norm="virtual-batch", g_dropout=0.2,
                  noisy_labels=True, label_flip=0.1, instance_noise=0.1, instance_noise_decay=4, pack=2,
                  minibatch_disc=True, mbd_kernels=3, mbd_dim=2, spectral_norm=True)


def test_a_resumed_session_continues_bit_for_bit_with_every_stabilizer_on(tmp_path):
    whole, first = toy_session(**EVERYTHING), toy_session(**EVERYTHING)
    run_steps(whole, 1, 7)
    run_steps(first, 1, 5)  # step 5: the D from step 3 is swapped in, the current one is away
    torch.save(first.state(5), tmp_path / "ckpt.pt")
    resumed = toy_session(**EVERYTHING)
    start = resumed.load_state(torch.load(tmp_path / "ckpt.pt", weights_only=True))
    run_steps(resumed, start + 1, 7)
    a, b = whole.state(7), resumed.state(7)
    for key in ("G", "D", "opt_g", "opt_d"):
        assert_close(b[key], a[key], rtol=0, atol=0)
    assert_close(b["stabilizers"]["replay"], a["stabilizers"]["replay"], rtol=0, atol=0)
    assert_close(b["stabilizers"]["d_average"], a["stabilizers"]["d_average"], rtol=0, atol=0)
    assert torch.equal(b["rng"]["gen"], a["rng"]["gen"])



# --- settings that would train as other settings do -------------------------------------------

#: (settings, the settings they would train exactly as, the start of their refusal)
TRAINS_AS = {
    "smoothing under noisy labels": ({"noisy_labels": True, "label_smoothing": 0.9}, {"noisy_labels": True},
                                     "label_smoothing = 0.9 does nothing with noisy_labels = True"),
    # round(0.01 * 32) = 0 of D's 32 fakes replayed
    "a replay share of no fake": ({"replay_size": 100, "replay_share": 0.01}, {},
                                  "replay_size = 100 does nothing with replay_share = 0.01 and batch = 32"),
    "a swap past the next swap point": ({"swap_every": 5, "swap_for": 12}, {"swap_every": 5, "swap_for": 5},
                                        "swap_for = 12 is longer than swap_every = 5"),
    "the default swap past it": ({"swap_every": 20}, {"swap_every": 20, "swap_for": 20},
                                 "swap_for = 100 is longer than swap_every = 20"),
}


def trained(cfg, steps: int = 60) -> list[torch.Tensor]:
    s = Session.for_config(cfg, "cpu")
    run_steps(s, 1, steps)
    return [q.detach() for q in [*s.players.G.parameters(), *s.players.D.parameters()]]


@pytest.mark.parametrize("given,same,_", TRAINS_AS.values(), ids=TRAINS_AS)
def test_the_refused_settings_would_train_exactly_as_others(given, same, _):
    # built past make_config's refusals, as a config.json written before them still reads
    assert_close(trained(dataclasses.replace(toy_config(), **given)),
                 trained(dataclasses.replace(toy_config(), **same)), rtol=0, atol=0)


@pytest.mark.parametrize("given,_,refusal", TRAINS_AS.values(), ids=TRAINS_AS)
def test_a_setting_that_would_train_as_another_is_refused_in_one_line_naming_both(tmp_path, given, _, refusal):
    with pytest.raises(ConfigError, match=re.escape(refusal)):
        toy_config(**given)
    out = tmp_path / "run"
    switches = [a for key, value in given.items()
                for a in [f"--{key.replace('_', '-')}", *([] if value is True else [str(value)])]]
    result = cli("run", "ring8", "--out", out, *flags(RUN, *QUIET), *switches)
    assert result.exit_code == 1 and result.output.startswith(f"Error: {refusal}"), result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert not out.exists()


@pytest.mark.parametrize("edge,unlike", [({"swap_every": 5, "swap_for": 5}, {"swap_every": 5, "swap_for": 4}),
                                         ({"replay_size": 100, "replay_share": 1 / 32}, {})])
def test_the_settings_at_a_refusals_edge_are_accepted_and_act(edge, unlike):
    with pytest.raises(AssertionError):
        assert_close(trained(toy_config(**edge)), trained(toy_config(**unlike)), rtol=0, atol=0)


# --- the docs' table -------------------------------------------------------------------------

def test_the_docs_stabilizer_table_is_in_the_form_its_script_prints():
    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("stabilizer_table", root / "benchmarks" / "stabilizer_table.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    shown = [line.strip("| ").split(" | ") for line in (root / "docs" / "stabilizers.md").read_text().splitlines()
             if line.startswith("| ") and line.count(" | ") == 7 and not line.startswith("| stabilizer")]
    assert [row[:2] for row in shown] == [[name, what] for name, what, _ in script.ROWS]
    for name, _, *cells in shown:
        for scenario, (modes, held, hq) in zip(script.SCENARIOS, (cells[:3], cells[3:])):
            if (scenario, name) in script.SLOW:
                assert [modes, held, hq] == ["not run (slow)"] * 3, name
            else:
                summary = {"modes": float(modes), "held_final": float(held), "hq": float(hq) / 100}
                assert [script.cell([summary], "modes"), script.cell([summary], "held_final"),
                        script.cell([summary], "hq", 100)] == [modes, held, hq], name
