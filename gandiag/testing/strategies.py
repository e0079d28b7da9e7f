"""Hypothesis strategies for GAN properties: logits, batches, point sets and mixtures with known densities.

Examples are plain Python numbers, lists and dicts (tensors are built inside each property), so that
hypothesis shrinks them well and a counterexample prints as something a person can read:
`fake=[-89.0]` rather than a tensor repr.
"""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from scipy.special import logsumexp

from gandiag.data.toy import Mixture

#: The largest logit magnitude drawn: far past where a float32 sigmoid rounds to 0 or 1 (|a| > ~104).
EXTREME = 1e4


def logits(lo: float = -EXTREME, hi: float = EXTREME) -> st.SearchStrategy[float]:
    """A float32-representable logit in [lo, hi]. Over the default range hypothesis draws |a| > 100
    about 70 % of the time and the ends themselves often enough; shrinking then heads for the
    smallest magnitude that still fails (an explicit list of extremes would pin it at the extreme)."""
    return st.floats(*_float32_inside(lo, hi), width=32)


def _float32_inside(lo: float, hi: float) -> tuple[float, float]:
    """The smallest float32 >= lo and the largest <= hi: hypothesis refuses a width-32 bound float32
    cannot hold (-0.1), and these two bound the same float32 values."""
    top = float(np.finfo(np.float32).max)   # a bound past float32's range: its largest value
    lo32, hi32 = (np.float32(min(max(b, -top), top)) for b in (lo, hi))
    if float(lo32) < lo:   # compared as float64: numpy would round lo to float32 first
        lo32 = np.nextafter(lo32, np.float32(np.inf))
    if float(hi32) > hi:
        hi32 = np.nextafter(hi32, np.float32(-np.inf))
    return float(lo32), float(hi32)


def logit_batches(lo: float = -EXTREME, hi: float = EXTREME, max_size: int = 5,
                  min_size: int = 1) -> st.SearchStrategy[list]:
    """A batch (non-empty list) of logits in [lo, hi]."""
    return st.lists(logits(lo, hi), min_size=min_size, max_size=max_size)


def generator_inputs(lo: float = -EXTREME, hi: float = EXTREME) -> st.SearchStrategy[dict]:
    """What a generator loss sees: D's logits on a batch of fakes."""
    return st.fixed_dictionaries({"fake": logit_batches(lo, hi)})


def discriminator_inputs(real=(-EXTREME, EXTREME), fake=(-EXTREME, EXTREME),
                         max_size: int = 5) -> st.SearchStrategy[dict]:
    """What a discriminator loss sees: D's logits on a real batch and a fake batch of one size, as training
    gives them. Sizes that differ would make a loss that pairs real i with fake i (a relativistic one, or
    (log D(x) + log(1 - D(G(z)))).mean()) raise in every property, where batch_permutation_invariance
    finds the pairing under its own name."""
    return st.integers(1, max_size).flatmap(lambda n: st.fixed_dictionaries(
        {"real": logit_batches(*real, min_size=n, max_size=n), "fake": logit_batches(*fake, min_size=n, max_size=n)}))


def loss_inputs(role: str) -> st.SearchStrategy[dict]:
    """Inputs for a loss of `role` ("generator" or "discriminator") over the whole logit range."""
    return generator_inputs() if role == "generator" else discriminator_inputs()


@st.composite
def permuted(draw, batches: st.SearchStrategy[dict]) -> dict:
    """A drawn example plus, for each of its batches, a permutation of that batch (key `<name>_order`)."""
    example = draw(batches)
    orders = {f"{k}_order": draw(st.permutations(range(len(v)))) for k, v in example.items()}
    return {**example, **orders}


def samples_1d(max_size: int = 6) -> st.SearchStrategy[list]:
    """A non-empty sample of numbers on a 0.1-grid in [-5, 5]; ties are likely, on purpose."""
    return st.lists(grid_numbers(-5, 5, 0.1), min_size=1, max_size=max_size)


def points(dim: int, min_size: int = 1, max_size: int = 6, bound: float = 5.0) -> st.SearchStrategy[list]:
    """A set of `dim`-dimensional points with coordinates in [-bound, bound], as a list of lists."""
    coordinate = st.floats(*_float32_inside(-bound, bound), width=32)
    return st.lists(st.lists(coordinate, min_size=dim, max_size=dim), min_size=min_size, max_size=max_size)


def points_2d(min_size: int = 1, max_size: int = 6) -> st.SearchStrategy[list]:
    """A set of 2D points, the toy scenarios' data space."""
    return points(2, min_size, max_size)


def point_pairs_2d(max_size: int = 6) -> st.SearchStrategy[dict]:
    """A real and a fake batch of 2D points of the same size (what an interpolating penalty pairs up)."""
    return points_2d(1, max_size).flatmap(
        lambda real: st.fixed_dictionaries({"real": st.just(real), "fake": points_2d(len(real), len(real))}))


def grid_numbers(lo: float, hi: float, step: float) -> st.SearchStrategy[float]:
    """Multiples of `step` in [lo, hi], shrinking towards the one nearest 0. Drawn as integers, which
    hypothesis shrinks in far fewer tries than floats."""
    return st.integers(math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)).map(lambda k: k * step)


def steps(signed: bool = True) -> st.SearchStrategy[float]:
    """A step away from a claimed optimum, from 1e-3 to 10: small ones catch an optimum that is a little
    off (for a convex objective any wrong optimum loses to a small enough step), large ones a far one."""
    sizes = [10.0 ** k for k in range(-3, 2)]
    return st.sampled_from([s * sign for s in sizes for sign in ((1, -1) if signed else (1,))])


#: Mode standard deviations drawn by `mixtures`, from the papers' 0.01-0.05 up to broad modes.
MODE_STDS = (0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0)


@st.composite
def mixtures(draw, max_modes: int = 2) -> Mixture:
    """An isotropic 2D Gaussian mixture of 1..max_modes modes, centres on a 0.5-grid in [-4, 4]^2."""
    n = draw(st.integers(1, max_modes))
    modes = [draw(st.tuples(grid_numbers(-4, 4, 0.5), grid_numbers(-4, 4, 0.5), st.sampled_from(MODE_STDS),
                            st.integers(1, 4))) for _ in range(n)]
    centres, stds, weights = (np.asarray([m[i] for m in modes], dtype=np.float64) for i in (slice(0, 2), 2, 3))
    return Mixture(centres, stds, weights / weights.sum())


def log_density(mixture: Mixture, x: np.ndarray) -> np.ndarray:
    """log p(x) of the mixture at points x (N, 2), exact.

    Each mode is N(mu_k, sigma_k^2 I) in 2D: its log density is -||x - mu_k||^2 / (2 sigma_k^2)
    - log(2 pi sigma_k^2). (Passing the variance where a library wants the std is a known bug.)
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    var = mixture.stds ** 2
    sq = ((x[:, None, :] - mixture.centres[None, :, :]) ** 2).sum(-1)
    per_mode = np.log(mixture.weights) - sq / (2 * var) - np.log(2 * np.pi * var)
    return logsumexp(per_mode, axis=1)


@st.composite
def density_pairs(draw) -> dict:
    """log p(x) and log q(x) of two drawn mixtures at a point x near a mode of one of them.

    These are the two numbers the pointwise optimal discriminator depends on (Goodfellow et al. 2014,
    Prop. 1); drawing them from real mixtures gives realistic ratios, extreme ones included.
    """
    p, q = draw(mixtures()), draw(mixtures())
    source = draw(st.sampled_from([p, q]))
    k = draw(st.integers(0, source.n_modes - 1))
    offset = np.asarray(draw(st.tuples(grid_numbers(-3, 3, 0.25), grid_numbers(-3, 3, 0.25))))
    x = source.centres[k] + source.stds[k] * offset
    return {"log_p": float(log_density(p, x)[0]), "log_q": float(log_density(q, x)[0])}
