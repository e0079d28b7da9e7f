"""Toy mode coverage exactly as PacGAN/VEEGAN define it (shared/reference/README.md).

samples -> `assign` (nearest mode by std-scaled distance, HQ flag) -> `mode_counts` -> scores;
plus the distribution-level scores (log-likelihood, grid KL/JS, k-NN metrics) and `coverage_report`,
which gathers them all. Definitions: README.md.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy import special, stats

from .. import record as R
from .prdc import prdc

#: A sample is high quality when its std-scaled distance to the nearest mode is below this.
HQ_RADIUS = 3.0


def assign(samples: np.ndarray, centres: np.ndarray, stds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(nearest mode index, is high quality) per sample; d_j = ||x - mu_j|| / sigma_j."""
    x = np.asarray(samples, dtype=np.float64)
    d = np.sqrt((((x[:, None, :] - centres[None, :, :]) / stds[None, :, None]) ** 2).sum(-1))
    nearest = d.argmin(axis=1)
    return nearest, d[np.arange(len(x)), nearest] < HQ_RADIUS


def mode_counts(samples: np.ndarray, centres: np.ndarray, stds: np.ndarray) -> np.ndarray:
    """High-quality samples per mode, shape (M,)."""
    nearest, hq = assign(samples, centres, stds)
    return np.bincount(nearest[hq], minlength=len(centres))


def modes_captured(counts: np.ndarray, min_share: float = 0.0, n_samples: int | None = None) -> int:
    """Modes with at least one HQ sample (min_share = 0: PacGAN/VEEGAN), or with at least
    min_share of all n_samples (the stricter count: one stray sample is not coverage)."""
    if min_share <= 0:
        return int((counts >= 1).sum())
    total = counts.sum() if n_samples is None else n_samples
    return int((counts >= max(1.0, min_share * total)).sum())


def high_quality_share(counts: np.ndarray, n_samples: int) -> float:
    """Share of samples within HQ_RADIUS stds of some mode (ceiling 0.989 for perfect 2D samples)."""
    return float(counts.sum() / n_samples) if n_samples else 0.0


def reverse_kl(counts: np.ndarray) -> float:
    """KL(p_gen || uniform) over modes, natural log, empty bins skipped: ln M - H(p_gen).
    With no HQ sample at all the generator has no mass on any mode: report ln M."""
    m, total = len(counts), counts.sum()
    if total == 0:
        return float(np.log(m))
    p = counts[counts > 0] / total
    return float(np.sum(p * np.log(p * m)))


def mode_shares(counts: np.ndarray) -> np.ndarray:
    """The generator's distribution over modes (HQ samples only); all zeros when no sample is HQ."""
    total = counts.sum()
    return counts / total if total else np.zeros(len(counts))


def _on_some_mode(counts: np.ndarray) -> np.ndarray:
    # reverse_kl's convention for "no HQ sample": score it as all mass on one mode, the worst balance
    return counts if counts.sum() else np.eye(len(counts))[0]


def js_uniform(counts: np.ndarray) -> float:
    """JS(p_gen, uniform) over modes, nats: 0 for perfect balance, bounded by ln 2."""
    p = mode_shares(_on_some_mode(counts))
    return js(p, np.full(len(p), 1.0 / len(p)))


def entropy(counts: np.ndarray) -> float:
    """H(p_gen) over modes, nats (ln M for perfect balance, 0 for one mode or no HQ sample)."""
    return float(special.entr(mode_shares(counts)).sum())


def kl(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p || q) in nats; bins with p = 0 contribute nothing."""
    return float(special.rel_entr(p, q).sum())


def js(p: np.ndarray, q: np.ndarray) -> float:
    m = (p + q) / 2
    return (kl(p, m) + kl(q, m)) / 2


def log_likelihood(samples: np.ndarray, mixture) -> float:
    """Mean log density of the samples under the target mixture, nats.

    scipy's `scale` is the standard deviation: passing the variance (an earlier code's bug) would
    score samples against modes 50x too narrow for std 0.02."""
    x = np.asarray(samples, dtype=np.float64)[:, None, :]
    per_mode = stats.norm.logpdf(x, loc=mixture.centres[None], scale=mixture.stds[None, :, None]).sum(-1)
    log_w = np.log(mixture.weights, where=mixture.weights > 0, out=np.full(mixture.n_modes, -np.inf))
    return float(special.logsumexp(per_mode + log_w, axis=1).mean())


#: GAN Lab's grid KL/JS: cells per side over the plot window, and its additive smoothing
GRID_CELLS = 20
GRID_SMOOTHING = 1e-4


def grid_histograms(samples: np.ndarray, mixture, cells: int = GRID_CELLS) -> tuple[np.ndarray, np.ndarray]:
    """(target, samples) as distributions over cells x cells squares of the mixture's window plus one
    bin for everything outside it.

    GAN Lab built its target histogram from an irregular subset of target samples and dropped points
    off its grid; here the target's share of each cell is its exact Gaussian mass (isotropic modes
    factorise into x and y), and every sample lands in some bin."""
    xmin, xmax, ymin, ymax = mixture.window()
    ex, ey = np.linspace(xmin, xmax, cells + 1), np.linspace(ymin, ymax, cells + 1)
    c, s = mixture.centres, mixture.stds[:, None]
    mass_x = np.diff(stats.norm.cdf(ex[None], c[:, :1], s), axis=1)   # (M, cells)
    mass_y = np.diff(stats.norm.cdf(ey[None], c[:, 1:], s), axis=1)
    target = np.einsum("m,mi,mj->ij", mixture.weights, mass_x, mass_y).ravel()
    x = np.asarray(samples, dtype=np.float64)
    counts, _, _ = np.histogram2d(x[:, 0], x[:, 1], bins=[ex, ey])
    inside = counts.ravel()
    return (np.append(target, max(0.0, 1.0 - target.sum())),
            np.append(inside, len(x) - inside.sum()) / len(x))


def grid_divergences(samples: np.ndarray, mixture, cells: int = GRID_CELLS) -> tuple[float, float]:
    """(KL(target || samples), JS(target, samples)) over the grid, nats. KL needs GAN Lab's smoothing
    (a sample-free cell under target mass is infinite otherwise), applied to both histograms and
    renormalised so both stay distributions; JS is finite as it is and is not smoothed."""
    target, gen = grid_histograms(samples, mixture, cells)
    return kl(_smoothed(target), _smoothed(gen)), js(target, gen)


def _smoothed(p: np.ndarray) -> np.ndarray:
    return (p + GRID_SMOOTHING) / (1.0 + GRID_SMOOTHING * len(p))


#: target samples drawn as the reference for the k-NN metrics (the papers' evaluation count)
N_REFERENCE = 2500


def reference_samples(mixture, n: int = N_REFERENCE, seed: int = 0) -> np.ndarray:
    """A fixed draw from the target, so every report compares against the same real set."""
    return mixture.sample(n, torch.Generator().manual_seed(seed), dtype=torch.float64).numpy()


def coverage_report(samples: np.ndarray, mixture, reference: np.ndarray | None = None) -> dict:
    """Every toy coverage metric for one set of samples (N x 2) against the target mixture."""
    x = np.asarray(samples, dtype=np.float64)
    counts = mode_counts(x, mixture.centres, mixture.stds)
    grid_kl, grid_js = grid_divergences(x, mixture)
    real = reference_samples(mixture) if reference is None else reference
    return {R.N_SAMPLES: len(x),
            R.MODES: modes_captured(counts),
            R.MODES_STRICT: modes_captured(counts, R.MIN_MODE_SHARE, len(x)),
            R.HQ: high_quality_share(counts, len(x)),
            R.REVERSE_KL: reverse_kl(counts),
            R.JS_UNIFORM: js_uniform(counts),
            R.ENTROPY: entropy(counts),
            R.LOG_LIKELIHOOD: log_likelihood(x, mixture),
            R.GRID_KL: grid_kl,
            R.GRID_JS: grid_js,
            **prdc(real, x),
            R.MODE_COUNTS: counts.tolist()}
