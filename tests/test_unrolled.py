"""The unrolled discriminator: G's gradient is the derivative of "G's loss after K steps of D's own
optimiser", second order, and the real D never notices."""
import copy

import pytest
import torch
from torch.testing import assert_close

from gandiag import losses
from gandiag.nets.mlp import Discriminator, Generator, apply_spectral_norm
from gandiag.stabilizers import unrolled as U
from gandiag.engine import reference as S

from tiny import run_steps, toy_session

K = 3


def players(opt: str, minibatch=None, norm="none", spectral=False):
    """Tiny float64 players, D's optimiser already carrying moments, and fixed data."""
    torch.manual_seed(0)
    G = Generator(2, (3,), "tanh", "none", 0.0).double()
    D = Discriminator(2, (6,), "tanh", norm, 2, 1.0, minibatch=minibatch).double()
    if spectral:
        apply_spectral_norm(D)
    if opt == "adam":
        opt_d = torch.optim.Adam(D.parameters(), lr=0.05, betas=(0.5, 0.999))
    else:
        opt_d = torch.optim.SGD(D.parameters(), lr=0.2, momentum=0.5)
    real, z = torch.randn(8, 2, dtype=torch.float64) + 1.0, torch.randn(8, 2, dtype=torch.float64)
    for _ in range(2):  # give the optimiser a history (Adam moments and step, SGD momentum buffer)
        opt_d.zero_grad()
        losses.d_loss("nonsaturating", D(real), D(G(z).detach())).backward()
        opt_d.step()
    return G, D, opt_d, real, z


def d_loss_on(real, fake):
    return lambda D_fn, params: losses.d_loss("nonsaturating", D_fn(real), D_fn(fake))


def g_grad(G, loss) -> torch.Tensor:
    return torch.cat([g.flatten() for g in torch.autograd.grad(loss, list(G.parameters()))])


def unrolled_g_loss(G, D, opt_d, real, z, k, first_order=False):
    fake = G(z)
    D_k = U.unroll(D, opt_d, d_loss_on(real, fake), k, first_order)
    return losses.g_loss("nonsaturating", D_k(fake))


def stepped_copy(D, opt_d, real, fake, k):
    """The reference: a deep copy of D taking k real optimiser steps on the fixed batches."""
    D2 = copy.deepcopy(D)
    opt2 = type(opt_d)(D2.parameters(), **opt_d.defaults)
    opt2.load_state_dict(copy.deepcopy(opt_d.state_dict()))
    for _ in range(k):
        opt2.zero_grad()
        losses.d_loss("nonsaturating", D2(real), D2(fake.detach())).backward()
        opt2.step()
    return D2


def test_zero_unrolled_steps_give_exactly_the_vanilla_generator_gradient():
    G, D, opt_d, real, z = players("adam")
    vanilla = g_grad(G, losses.g_loss("nonsaturating", D(G(z))))
    assert_close(g_grad(G, unrolled_g_loss(G, D, opt_d, real, z, 0)), vanilla, rtol=0, atol=0)


@pytest.mark.parametrize("opt", ["adam", "sgd"])
def test_unrolled_copy_equals_the_optimiser_stepped_k_times(opt):
    G, D, opt_d, real, z = players(opt)
    fake, probe = G(z).detach(), torch.randn(16, 2, dtype=torch.float64)
    D_k = U.unroll(D, opt_d, d_loss_on(real, fake), K)
    assert_close(D_k(probe), stepped_copy(D, opt_d, real, fake, K)(probe))


@pytest.mark.parametrize("opt,minibatch", [("adam", None), ("sgd", None), ("adam", (4, 3))])
def test_unrolled_generator_gradient_matches_finite_differences(opt, minibatch):
    G, D, opt_d, real, z = players(opt, minibatch)
    grad = g_grad(G, unrolled_g_loss(G, D, opt_d, real, z, K))

    def loss_after_k_steps() -> float:  # G's loss against D after K real optimiser steps
        fake = G(z)
        return float(losses.g_loss("nonsaturating", stepped_copy(D, opt_d, real, fake, K)(fake)).detach())

    def shifted(flat, i, by):
        with torch.no_grad():
            flat[i] += by

    h, numeric = 1e-6, []
    for q in G.parameters():
        flat = q.data.view(-1)
        for i in range(flat.numel()):
            shifted(flat, i, h)
            up = loss_after_k_steps()
            shifted(flat, i, -2 * h)
            down = loss_after_k_steps()
            shifted(flat, i, h)
            numeric.append((up - down) / (2 * h))
    assert_close(grad, torch.tensor(numeric, dtype=torch.float64), rtol=1e-5, atol=1e-8)


def test_first_order_drops_the_second_order_term():
    G, D, opt_d, real, z = players("adam")
    first = g_grad(G, unrolled_g_loss(G, D, opt_d, real, z, K, first_order=True))
    second = g_grad(G, unrolled_g_loss(G, D, opt_d, real, z, K))
    # first order = G's gradient against the stepped D held fixed ...
    frozen = stepped_copy(D, opt_d, real, G(z), K)
    assert_close(first, g_grad(G, losses.g_loss("nonsaturating", frozen(G(z)))))
    # ... and the term through D's updates is really there in the second-order gradient
    with pytest.raises(AssertionError):
        assert_close(second, first, rtol=1e-3, atol=1e-6)


def test_unrolling_leaves_the_real_discriminator_and_its_optimiser_untouched():
    G, D, opt_d, real, z = players("adam", norm="batch", spectral=True)
    opt_d.zero_grad()
    before_d, before_opt = copy.deepcopy(D.state_dict()), copy.deepcopy(opt_d.state_dict())
    unrolled_g_loss(G, D, opt_d, real, z, K).backward()
    assert all(q.grad is None for q in D.parameters())
    assert_close(D.state_dict(), before_d, rtol=0, atol=0)
    assert_close(opt_d.state_dict(), before_opt, rtol=0, atol=0)


@pytest.mark.parametrize("first_order", [False, True])
def test_training_step_plays_g_against_the_unrolled_discriminator(monkeypatch, first_order):
    calls = []

    def spy(D, opt_d, d_loss, k, first_order=False, clip=None):
        calls.append((k, first_order))
        return U.unroll(D, opt_d, d_loss, k, first_order, clip)

    monkeypatch.setattr(S, "unroll", spy)
    unrolled = run_steps(toy_session(unrolled=4, unrolled_first_order=first_order), 1, 1)
    vanilla = run_steps(toy_session(), 1, 1)
    assert calls == [(4, first_order)]
    assert_close(unrolled["d_loss"], vanilla["d_loss"], rtol=0, atol=0)  # D's own step is the same ...
    with pytest.raises(AssertionError):  # ... G's gradient is not
        assert_close(unrolled["g_grad_norm"], vanilla["g_grad_norm"], rtol=1e-3, atol=0)
