"""Named properties of stabilizers, each taking the implementation under test as an argument.

They are generic: pass gandiag's own (see tests/test_property_kit.py) or your own implementation with
the same call signature. Like the loss properties, each returns a Result with a shrunk counterexample.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import strategies as st
from torch import nn

from gandiag import losses
from gandiag.rng import seeded

from . import strategies as S
from .search import prop, show


@prop
def gradient_penalty_zero_for_unit_linear_critic(penalty):
    """Property: for a linear critic D(x) = w.x + b with ||w|| = 1 the gradient penalty is 0 for any real
    and fake batch. `penalty(critic, real, fake)` returns the (unweighted) penalty.

    Source: Gulrajani et al. 2017, Sec. 4: the penalty is E[(||grad D(x_hat)|| - 1)^2], and a linear
    critic's gradient is w everywhere, so a unit-norm w is exactly 1-Lipschitz and costs nothing.
    """
    def violation(example):
        angle = example["angle"]
        w = torch.tensor([math.cos(angle), math.sin(angle)], dtype=torch.float64)
        real, fake = (torch.tensor(example[k], dtype=torch.float64) for k in ("real", "fake"))
        value = float(penalty(lambda x: x @ w + example["bias"], real, fake))
        return None if abs(value) <= 1e-12 else f"penalty = {value:.6g} for the unit-norm critic"

    extra = st.tuples(S.grid_numbers(0, 2 * math.pi, math.pi / 16), S.grid_numbers(-5, 5, 0.5))
    return (st.tuples(S.point_pairs_2d(), extra)
            .map(lambda t: {**t[0], "angle": t[1][0], "bias": t[1][1]})), violation


@prop
def spectral_norm_unit_sigma(normalise, iterations: int = 50, tol: float = 1e-2):
    """Property: after `iterations` training-mode forward passes, a linear layer under spectral
    normalisation has largest singular value 1 (within `tol`), whatever the scale and shape of its
    weight. `normalise(module)` adds the normalisation in place, as gandiag.nets.mlp.apply_spectral_norm.

    Source: Miyato et al. 2018, Sec. 2.1: W / sigma(W), with sigma estimated by one power iteration per
    step; the estimate approaches sigma from below, so too few iterations leave sigma above 1.
    """
    def violation(example):
        n_out, n_in = example["shape"]
        with seeded(example["seed"]):  # the normalisation's random start vector repeats per example
            layer = nn.Linear(n_in, n_out).double()
            with torch.no_grad():
                layer.weight.mul_(example["scale"])
            normalise(layer)
        layer.train()
        with torch.no_grad():
            for _ in range(iterations):
                layer(torch.zeros(1, n_in, dtype=torch.float64))
            sigma = float(torch.linalg.matrix_norm(layer.weight, ord=2))
        return None if abs(sigma - 1) <= tol else f"largest singular value {sigma:.6g}, expected 1"

    example = st.fixed_dictionaries({"shape": st.tuples(st.integers(1, 8), st.integers(1, 8)),
                                     "scale": st.sampled_from([1e-3, 0.1, 1.0, 10.0, 1e3]),
                                     "seed": st.integers(0, 2 ** 16)})
    return example, violation


@prop
def minibatch_features_permutation_equivariant(layer, in_features: int):
    """Property: reordering the batch reorders a minibatch-discrimination layer's output the same way:
    layer(x[perm]) = layer(x)[perm] (float32 rounding aside). `layer` maps (N, in_features) -> (N, out).

    Source: Salimans et al. 2016, Sec. 3.2: o(x_i) sums similarities over the other samples of the
    batch, a set, so it depends on which samples are there but not on their order.
    """
    def violation(example):
        x = torch.tensor(example["x"], dtype=torch.float32)
        order = list(example["x_order"])
        with torch.no_grad():
            out, reordered = layer(x), layer(x[order])
        if torch.allclose(reordered, out[order], rtol=1e-5, atol=1e-5):
            return None
        return f"layer(x[perm]) = {show(reordered.tolist())}, layer(x)[perm] = {show(out[order].tolist())}"

    return S.permuted(st.fixed_dictionaries({"x": S.points(in_features, 1, 6, bound=3.0)})), violation


def _tiny_discriminator(seed: int) -> nn.Module:
    with seeded(seed):
        return nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1), nn.Flatten(0)).double()


@prop
def unrolled_k0_equals_vanilla(unrolled):
    """Property: G's gradient (w.r.t. its fakes) against D unrolled K = 0 steps equals its gradient
    against D itself. `unrolled(D, k)` returns D after k unrolled steps as a function x -> logits.

    Source: Metz et al. 2017, Sec. 2: the unrolled objective f_K with K = 0 is the ordinary GAN objective.
    """
    def violation(example):
        D = _tiny_discriminator(example["seed"])
        fake = torch.tensor(example["fake"], dtype=torch.float64, requires_grad=True)
        (vanilla,) = torch.autograd.grad(losses.g_loss("nonsaturating", D(fake)), fake)
        (through,) = torch.autograd.grad(losses.g_loss("nonsaturating", unrolled(D, 0)(fake)), fake)
        if torch.allclose(through, vanilla, rtol=1e-12, atol=1e-15):
            return None
        return f"gradient {show(through.tolist())} with K = 0, {show(vanilla.tolist())} without unrolling"

    return st.fixed_dictionaries({"fake": S.points_2d(), "seed": st.integers(0, 2 ** 16)}), violation


@prop
def historical_average_zero_at_mean(average, weight: float = 0.5):
    """Property: after tracking a player's parameters through any sequence of values, the historical
    averaging term and its gradient are 0 when the parameters sit at the mean of those values.

    `average(module, weight)` starts tracking (its current parameters count as the first value),
    `.update(module)` adds the current parameters, `.penalty(params)` is the term, as
    gandiag.stabilizers.averaging.HistoricalAverage. Source: Salimans et al. 2016, Sec. 3.3: the term is
    lambda ||theta - (1/t) sum_i theta[i]||^2.
    """
    def violation(example):
        history = np.asarray(example["history"])
        module = nn.Linear(2, 2).double()
        _assign(module, history[0])
        tracker = average(module, weight)
        for values in history[1:]:
            _assign(module, values)
            tracker.update(module)
        _assign(module, history.mean(axis=0))
        params = list(module.parameters())
        value = tracker.penalty(params)
        largest = max(float(g.abs().max()) for g in torch.autograd.grad(value, params))
        if abs(float(value.detach())) <= 1e-12 and largest <= 1e-12:
            return None
        return f"term = {float(value.detach()):.6g}, largest gradient {largest:.6g} at the mean"

    return st.fixed_dictionaries({"history": S.points(6, 1, 4, bound=3.0)}), violation


def _assign(module: nn.Module, values) -> None:
    """Set a module's parameters (in order) from one flat vector."""
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(torch.as_tensor(values, dtype=torch.float64), module.parameters())
