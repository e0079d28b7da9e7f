"""Named properties of GAN losses, each checked by a hypothesis search for a shrunk counterexample.

A loss is a function of D's logits that returns a scalar tensor: a generator loss `f(fake)`, a
discriminator loss `f(real, fake)`. Each property below returns a `Result` (see search.py); its
docstring states the property and where it comes from.

Only `finite_value_and_gradient` looks at non-finite values: the others check inputs where the loss
and its gradient are finite, so that one defect is reported once, under its own name. Searches run in
float64 except the finiteness one, which uses float32, the dtype training runs in and where a naive
log(sigmoid) underflows first.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import strategies as st
from scipy.stats import wasserstein_distance

from . import strategies as S
from .search import NOT_FINITE, prop, show

GENERATOR, DISCRIMINATOR = "generator", "discriminator"
ROLES = (GENERATOR, DISCRIMINATOR)
SATURATING, NON_SATURATING, GROWING = "saturating", "non-saturating", "growing"
UNKNOWN_PROFILE = "unknown (G's gradient is not finite as D(G(z)) -> 0)"


def evaluate(loss, example: dict, dtype=torch.float64) -> tuple[float, dict]:
    """The loss value and its gradient w.r.t. each logit batch of the example (keys real, fake)."""
    names = [k for k in ("real", "fake") if k in example]
    inputs = [torch.tensor(example[k], dtype=dtype, requires_grad=True) for k in names]
    value = loss(*inputs)
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        shape = f" of shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else ""
        raise ValueError(f"the loss returned {type(value).__name__}{shape}, expected a scalar tensor")
    grads = torch.autograd.grad(value.reshape(()), inputs, allow_unused=True)
    # A loss that ignores one batch has a zero gradient for it, not a missing one.
    return float(value.detach()), {k: (torch.zeros_like(x) if g is None else g.detach())
                                   for k, x, g in zip(names, inputs, grads)}


def _finite(value: float, grads: dict) -> bool:
    return math.isfinite(value) and all(bool(torch.isfinite(g).all()) for g in grads.values())


@prop
def finite_value_and_gradient(loss, role: str):
    """Property: for every batch of float32 logits in [-1e4, 1e4] the loss and its gradient are finite.

    Source: D's logits reach hundreds during training; log(sigmoid(a)) written naively underflows to
    log(0) = -inf for a below about -104 in float32 (and its gradient overflows earlier), which is why
    PyTorch's BCEWithLogitsLoss and softplus use the log-sum-exp form.
    """
    def violation(example):
        value, grads = evaluate(loss, example, torch.float32)
        if not math.isfinite(value):
            return f"loss = {value}"
        bad = [f"dL/d{k} = {show(g.tolist())}" for k, g in grads.items() if not bool(torch.isfinite(g).all())]
        return "; ".join(bad) or None

    return S.loss_inputs(role), violation


@prop
def generator_step_raises_fake_scores(g_loss):
    """Property: while D calls the fakes fake or is unsure (logits in [-10, 0]), a gradient-descent
    step on G's loss lowers no fake's logit and raises at least one: dL/da_i <= 0 for all i, < 0 for some.

    Source: G is trained to fool D, i.e. to raise D(G(z)) (Goodfellow et al. 2014, Sec. 3); a loss with
    the wrong sign trains G away from the data.
    """
    def violation(example):
        value, grads = evaluate(g_loss, example)
        g = grads["fake"]
        if not _finite(value, grads):
            return NOT_FINITE
        if bool((g > 0).any()):
            return f"dL/dfake = {show(g.tolist())}: a descent step lowers D's score on a fake"
        if not bool((g < 0).any()):
            return "the gradient is zero: a descent step does not move D's score on any fake"
        return None

    return S.generator_inputs(-10.0, 0.0), violation


@prop
def discriminator_step_separates(d_loss):
    """Property: while D is wrong or unsure (real logits in [-10, 0], fake logits in [0, 10]), a
    gradient-descent step on D's loss lowers no real logit, raises no fake logit, and moves at least one.

    Source: D is trained to tell real from fake (Goodfellow et al. 2014, Sec. 3): a step must widen the
    gap between its scores on reals and fakes. Swapped labels or a flipped sign break this.
    """
    def violation(example):
        value, grads = evaluate(d_loss, example)
        if not _finite(value, grads):
            return NOT_FINITE
        real, fake = grads["real"], grads["fake"]
        if bool((real > 0).any()):
            return f"dL/dreal = {show(real.tolist())}: a descent step lowers D's score on a real"
        if bool((fake < 0).any()):
            return f"dL/dfake = {show(fake.tolist())}: a descent step raises D's score on a fake"
        if not (bool((real < 0).any()) or bool((fake > 0).any())):
            return "the gradient is zero: a descent step does not separate reals from fakes"
        return None

    return S.discriminator_inputs(real=(-10.0, 0.0), fake=(0.0, 10.0)), violation


@prop
def non_saturating_gradient(g_loss):
    """Property: the push on a fake does not fade as D grows sure it is fake: for fake logits a <= 0,
    |dL/da_i| is at least its value at a_i = 0.

    Source: Goodfellow et al. 2014, Sec. 3, and Arjovsky & Bottou 2017: the minimax loss log(1 - D(G(z)))
    has gradient -D(G(z)) in the logit, which vanishes as D(G(z)) -> 0 (it saturates); -log D(G(z))
    has gradient -(1 - D(G(z))), which tends to -1. A clamp or epsilon inside the log brings the
    vanishing back.
    """
    def violation(example):
        value, grads = evaluate(g_loss, example)
        _, at_zero = evaluate(g_loss, {"fake": [0.0] * len(example["fake"])})
        g, g0 = grads["fake"].abs(), at_zero["fake"].abs()
        weaker = torch.isfinite(g) & torch.isfinite(g0) & (g < g0 * (1 - 1e-9))
        if not math.isfinite(value):
            return NOT_FINITE
        if not bool(weaker.any()):
            return None
        i = int(weaker.nonzero()[0])
        return (f"|dL/da| = {g[i]:.3g} at a = {example['fake'][i]:.7g}, below {g0[i]:.3g} at a = 0: "
                "the gradient vanishes as D(G(z)) -> 0")

    return S.generator_inputs(-S.EXTREME, 0.0), violation


def saturation_profile(g_loss, near: float = -10.0, far: float = -40.0) -> str:
    """Which way G's gradient goes as D(G(z)) -> 0: compare |dL/da| at a fake logit `far` with `near`.

    saturating: it vanishes (minimax, gradient -D(G(z))); non-saturating: it levels off at a non-zero
    value (-log D(G(z)) tends to -1, WGAN and hinge are constant); growing: it grows with the distance
    to the target (least squares, gradient a - 1). Goodfellow et al. 2014; Mao et al. 2016.
    """
    # a batch of two equal logits, so that a loss returning one value per sample is refused here too
    g_near = abs(float(evaluate(g_loss, {"fake": [near, near]})[1]["fake"][0]))
    g_far = abs(float(evaluate(g_loss, {"fake": [far, far]})[1]["fake"][0]))
    if not (math.isfinite(g_near) and math.isfinite(g_far)):
        return UNKNOWN_PROFILE
    if g_near == 0 or g_far / g_near < 0.5:
        return SATURATING
    return GROWING if g_far / g_near > 2 else NON_SATURATING


@prop
def batch_permutation_invariance(loss, role: str):
    """Property: reordering a batch (reals and fakes each on their own) leaves the loss unchanged, up
    to float64 rounding.

    Source: a GAN loss is an expectation over samples, and a minibatch is an unordered sample of them;
    a loss that pairs real i with fake i or reads one position is a different objective.
    """
    def violation(example):
        value, _ = evaluate(loss, example)
        reordered = {k: [example[k][i] for i in example[f"{k}_order"]] for k in ("real", "fake") if k in example}
        again, _ = evaluate(loss, reordered)
        scale = 1 + max(abs(a) for k in reordered for a in reordered[k])
        if not (math.isfinite(value) and math.isfinite(again)):
            return NOT_FINITE
        if math.isclose(value, again, rel_tol=1e-9, abs_tol=1e-9 * scale ** 2):
            return None
        return f"loss = {value:.9g} before and {again:.9g} after reordering the batch"

    return S.permuted(S.loss_inputs(role)), violation


def pointwise_objective(d_loss, log_p: float, log_q: float, *args):
    """V(a) = p(x) l_real(a) + q(x) l_fake(a), up to a positive factor and a constant: D's expected loss
    at one point x where it outputs logit a (Goodfellow et al. 2014, Prop. 1).

    Read off a loss that is a real-batch term plus a fake-batch term: l_real(a) is d_loss([a], [0])
    less a constant, l_fake likewise. Extra `args` (a real target) are passed on to d_loss.
    """
    top = max(log_p, log_q)  # scale both densities so the larger is 1: ratios of 1e-200 stay exact
    w_p, w_q = math.exp(log_p - top), math.exp(log_q - top)
    zero = torch.zeros(1, dtype=torch.float64)

    def value(a: float) -> float:
        logit = torch.tensor([a], dtype=torch.float64)
        return float(w_p * d_loss(logit, zero, *args) + w_q * d_loss(zero, logit, *args))

    return value


#: The optimal logit at a point with densities p (real) and q (fake), per loss family, from log p, log q.
OPTIMA = {
    # D* = p / (p + q) (Goodfellow et al. 2014, Prop. 1), i.e. logit log p - log q
    "cross-entropy": lambda log_p, log_q: log_p - log_q,
    # D* = (b p + a q) / (p + q) with a = 0, b = 1 (Mao et al. 2016, Prop. 1), on D's raw output
    "least-squares": lambda log_p, log_q: 1 / (1 + math.exp(min(log_q - log_p, 700.0))),
    # D* = sign(p - q): the hinge loss's minimiser of p relu(1 - a) + q relu(1 + a) (Lim & Ye 2017)
    "hinge": lambda log_p, log_q: float(np.sign(log_p - log_q)),
}


@prop
def optimal_discriminator(d_loss, optimum: str):
    """Property: at any point x with real density p and fake density q, the logit OPTIMA[optimum] gives
    does at least as well as any other: V(a*) <= V(a* + step) for D's pointwise objective V.

    Source: Goodfellow et al. 2014, Prop. 1 (cross-entropy, D* = p / (p + q)); Mao et al. 2016,
    Prop. 1 (least squares); Lim & Ye 2017 (hinge, D* = sign(p - q)). Densities come from 2D Gaussian
    mixtures, so p / q ranges over realistic and extreme values.
    """
    def violation(example):
        v = pointwise_objective(d_loss, example["log_p"], example["log_q"])
        best = OPTIMA[optimum](example["log_p"], example["log_q"])
        at_best, nearby = v(best), v(best + example["step"])
        if not (math.isfinite(at_best) and math.isfinite(nearby)):
            return NOT_FINITE
        if at_best <= nearby + 1e-9 * (1 + abs(at_best)):
            return None
        return (f"D's expected loss here is {nearby:.9g} at a* + step, below {at_best:.9g} at the "
                f"{optimum} optimum a* = {best:.7g}")

    return st.tuples(S.density_pairs(), S.steps()).map(lambda t: {**t[0], "step": t[1]}), violation


#: The smoothed real target t as a logit bound, per loss family: D's output must not exceed t.
SMOOTHED_BOUNDS = {
    "cross-entropy": lambda t: math.log(t / (1 - t)),  # D = sigmoid(a) <= t
    "least-squares": lambda t: t,                      # D's raw output a <= t
}


@prop
def label_smoothing_bounds_optimum(d_loss, family: str):
    """Property: with the real target smoothed to t < 1, no logit above the target does better than the
    target itself: V_t(b) <= V_t(b + step) for b = SMOOTHED_BOUNDS[family](t) and every step > 0.

    `d_loss(real, fake, real_target)`. Source: Salimans et al. 2016, Sec. 3.4: with one-sided smoothing
    the optimal D is t p / (p + q) <= t, so D never grows more confident than its target.
    """
    def violation(example):
        t = example["target"]
        v = pointwise_objective(d_loss, example["log_p"], example["log_q"], t)
        bound = SMOOTHED_BOUNDS[family](t)
        at_bound, beyond = v(bound), v(bound + example["step"])
        if not (math.isfinite(at_bound) and math.isfinite(beyond)):
            return NOT_FINITE
        if at_bound <= beyond + 1e-9 * (1 + abs(at_bound)):
            return None
        return (f"D's expected loss here is {beyond:.9g} at the bound + step, below {at_bound:.9g} at "
                f"the bound {bound:.7g} the target sets")

    extra = st.tuples(S.grid_numbers(0.5, 0.99, 0.01), S.steps(signed=False))
    return (st.tuples(S.density_pairs(), extra)
            .map(lambda t: {**t[0], "target": t[1][0], "step": t[1][1]})), violation


def optimal_critic(real: np.ndarray, fake: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The optimal 1-Lipschitz critic on the line, at the real and fake samples: its slope between
    sample points is sign(F_fake - F_real) (the empirical CDFs), so E_real f - E_fake f = W1."""
    grid = np.unique(np.concatenate([real, fake]))
    cdf_real = np.searchsorted(np.sort(real), grid, side="right") / len(real)
    cdf_fake = np.searchsorted(np.sort(fake), grid, side="right") / len(fake)
    values = np.concatenate([[0.0], np.cumsum(np.sign(cdf_fake - cdf_real)[:-1] * np.diff(grid))])
    return values[np.searchsorted(grid, real)], values[np.searchsorted(grid, fake)]


@prop
def wasserstein_critic_duality(d_loss):
    """Property: evaluated at the optimal 1-Lipschitz critic of two 1D samples, the critic loss equals
    minus their Wasserstein-1 distance (computed independently by scipy).

    Source: Kantorovich-Rubinstein duality, W1 = sup over 1-Lipschitz f of E_real f - E_fake f, which the
    WGAN critic loss E_fake f - E_real f minimises (Arjovsky et al. 2017, Sec. 3).
    """
    def violation(example):
        real, fake = np.asarray(example["real"]), np.asarray(example["fake"])
        f_real, f_fake = optimal_critic(real, fake)
        value = float(d_loss(torch.tensor(f_real), torch.tensor(f_fake)))
        w1 = wasserstein_distance(real, fake)
        if math.isclose(value, -w1, rel_tol=1e-9, abs_tol=1e-9):
            return None
        return f"loss = {value:.9g} at the optimal critic, expected -W1 = {-w1:.9g}"

    return st.fixed_dictionaries({"real": S.samples_1d(), "fake": S.samples_1d()}), violation
