"""The update schedule (config `updates`): alternating D-then-G steps, or PacGAN's simultaneous ones, each
against a hand-written step of plain torch on the same draws."""
import copy

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from gandiag.config import ConfigError
from gandiag.engine import choose, in_closed_form
from gandiag.engine.reference import train_step
from gandiag.train.session import Session
from tiny import toy_config


def _bce(logits, target):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def _adam(net, cfg, lr, beta1, beta2):
    return torch.optim.Adam(net.parameters(), lr=lr, betas=(beta1, beta2), eps=cfg.eps)


def _step_both(G, D, cfg, grads_g, grads_d):
    for net, grads, opt in ((G, grads_g, _adam(G, cfg, cfg.g_lr, cfg.g_beta1, cfg.g_beta2)),
                            (D, grads_d, _adam(D, cfg, cfg.d_lr, cfg.d_beta1, cfg.d_beta2))):
        for w, g in zip(net.parameters(), grads):
            w.grad = g
        opt.step()


def hand_step(G, D, cfg, draws, simultaneous: bool):
    """One iteration of the non-saturating GAN from the definitions: D's cross-entropy on a real and a fake
    batch, G's -log D(G(z)); simultaneous: both gradients at the iteration's parameters, on the same fakes."""
    real, z = draws[0], draws[1]
    fake = G(z)
    loss_d = _bce(D(real), 1.0) + _bce(D(fake.detach()), 0.0)
    grads_d = torch.autograd.grad(loss_d, list(D.parameters()))
    if simultaneous:
        grads_g = torch.autograd.grad(_bce(D(fake), 1.0), list(G.parameters()))
        _step_both(G, D, cfg, grads_g, grads_d)
        return
    opt_d = _adam(D, cfg, cfg.d_lr, cfg.d_beta1, cfg.d_beta2)
    for w, g in zip(D.parameters(), grads_d):
        w.grad = g
    opt_d.step()
    opt_g = _adam(G, cfg, cfg.g_lr, cfg.g_beta1, cfg.g_beta2)
    loss_g = _bce(D(G(draws[2])), 1.0)   # against the D that has just stepped, on fresh fakes
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()


def gandiag_step(updates: str):
    """(players before, players after one train_step, the draws it made in order)."""
    s = Session.for_config(toy_config(updates=updates, engine="reference"), "cpu")
    before = copy.deepcopy(s.players.G), copy.deepcopy(s.players.D)
    draws = []

    def recorded(sample):
        def draw(n):
            draws.append(sample(n))
            return draws[-1]
        return draw

    train_step(s.players, s.stabilizers, s.cfg, recorded(s.sample_real), recorded(s.sample_z), s.gen, 1)
    return before, (s.players.G, s.players.D), draws, s.cfg


@pytest.mark.parametrize("updates", ["alternating", "simultaneous"])
def test_each_update_schedule_is_the_hand_written_step(updates):
    (G, D), (G_after, D_after), draws, cfg = gandiag_step(updates)
    assert len(draws) == (2 if updates == "simultaneous" else 3)   # simultaneous: G's loss on D's fakes
    hand_step(G, D, cfg, draws, updates == "simultaneous")
    assert_close(list(G.parameters()), list(G_after.parameters()))
    assert_close(list(D.parameters()), list(D_after.parameters()))


def test_simultaneous_updates_train_another_generator_than_alternating():
    _, (G_alt, D_alt), _, _ = gandiag_step("alternating")
    _, (G_sim, D_sim), _, _ = gandiag_step("simultaneous")
    assert_close(list(D_alt.parameters()), list(D_sim.parameters()))   # D's step is the same either way
    assert any(not torch.equal(a, b) for a, b in zip(G_alt.parameters(), G_sim.parameters()))


def test_simultaneous_updates_run_on_the_generic_fast_path_not_in_closed_form():
    cfg = toy_config(updates="simultaneous")
    assert choose(cfg).name == "fast" and not in_closed_form(cfg) and in_closed_form(toy_config())


@pytest.mark.parametrize("extra", [{"d_steps": 2}, {"g_steps": 2}, {"unrolled": 3}])
def test_simultaneous_updates_refuse_more_than_one_step_each(extra):
    with pytest.raises(ConfigError, match="simultaneous"):
        toy_config(updates="simultaneous", **extra)
