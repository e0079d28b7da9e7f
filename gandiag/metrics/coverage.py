"""Toy mode coverage exactly as PacGAN/VEEGAN define it (shared/reference/README.md).

samples -> `assign` (nearest mode by std-scaled distance, HQ flag) -> `mode_counts` -> scores;
plus the distribution-level scores (log-likelihood, grid KL/JS, k-NN metrics) and `coverage_report`,
which gathers them all. Definitions: docs/analyzer.md.

A sample with a NaN or infinite coordinate is on no mode and infinitely far from everything; a score
that such samples (or any other input) leave undefined is reported as None, with the reason under
record.NOT_COMPUTED, so a report is always valid JSON.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy import special, stats

from .. import record as R
from .prdc import K, prdc

#: A sample is high quality when its std-scaled distance to the nearest mode is below this.
HQ_RADIUS = 3.0


def _scaled_distances(samples: np.ndarray, centres: np.ndarray, stds: np.ndarray) -> np.ndarray:
    """(N, M) std-scaled distances d_j = ||x - mu_j|| / sigma_j; inf for samples too large to square
    (1e308), NaN for NaN samples."""
    x = np.asarray(samples, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.sqrt((((x[:, None, :] - centres[None, :, :]) / stds[None, :, None]) ** 2).sum(-1))


#: samples measured against the modes at once: the N x M x 2 differences of 2,000,000 samples would
#: hold gigabytes
_ROWS = 1 << 13


def _by_rows(f, samples: np.ndarray, *args):
    """f's per-sample results over the samples, _ROWS at a time, joined (f returns arrays or tuples)."""
    parts = [f(samples[i:i + _ROWS], *args) for i in range(0, max(len(samples), 1), _ROWS)]
    return tuple(map(np.concatenate, zip(*parts))) if isinstance(parts[0], tuple) else np.concatenate(parts)


def assign(samples: np.ndarray, centres: np.ndarray, stds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(nearest mode index, is high quality) per sample; d_j = ||x - mu_j|| / sigma_j. A non-finite
    sample gets index 0 and is never high quality."""
    return _by_rows(_assign, np.asarray(samples, dtype=np.float64), centres, stds)


def _assign(samples: np.ndarray, centres: np.ndarray, stds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = _scaled_distances(samples, centres, stds)
    bad = ~np.isfinite(d).any(axis=1)
    nearest = np.where(bad, 0, np.argmin(np.where(np.isnan(d), np.inf, d), axis=1))
    return nearest, ~bad & (d[np.arange(len(d)), nearest] < HQ_RADIUS)


def mode_counts(samples: np.ndarray, centres: np.ndarray, stds: np.ndarray) -> np.ndarray:
    """High-quality samples per mode, shape (M,)."""
    nearest, hq = assign(samples, centres, stds)
    return np.bincount(nearest[hq], minlength=len(centres))


def near_radii(centres: np.ndarray, stds: np.ndarray) -> np.ndarray:
    """Each mode's neighbourhood (M,): the distance to the nearest other centre, and never less than
    the high-quality radius (a lone mode: just that)."""
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    np.fill_diagonal(gaps, np.inf)
    gap = gaps.min(axis=1) if len(centres) > 1 else np.zeros(len(centres))
    return np.maximum(gap, HQ_RADIUS * stds)


def near_counts(samples: np.ndarray, centres: np.ndarray, stds: np.ndarray) -> np.ndarray:
    """Samples per mode within that mode's neighbourhood, high quality or not, shape (M,): a sample
    counts for its nearest mode (as `assign`) when it is no further from it than the next mode is
    (near_radii). A blob between two ring modes, or just inside the ring, is near one of them; a fake at
    the ring's centre or far off (an exploded run) is near none."""
    x = np.asarray(samples, dtype=np.float64)
    nearest, _ = assign(x, centres, stds)
    with np.errstate(over="ignore", invalid="ignore"):
        gap = np.linalg.norm(x - centres[nearest], axis=1)
    return np.bincount(nearest[gap <= near_radii(centres, stds)[nearest]], minlength=len(centres))


def strict_share(n_modes: int) -> float:
    """The share of the samples a mode needs for the strict count: STRICT_FAIR_SHARE of its fair share 1/M."""
    return R.STRICT_FAIR_SHARE / max(n_modes, 1)


def modes_captured(counts: np.ndarray, min_share: float = 0.0, n_samples: int | None = None) -> int:
    """Modes with at least one HQ sample (min_share = 0: PacGAN/VEEGAN), or with at least
    min_share of all n_samples (the stricter count: one stray sample is not coverage)."""
    if min_share <= 0:
        return int((counts >= 1).sum())
    total = counts.sum() if n_samples is None else n_samples
    return int((counts >= max(1.0, min_share * total)).sum())


def modes_strict(counts: np.ndarray, n_samples: int | None = None) -> int:
    """The strict count: modes holding at least strict_share(M) of the n_samples."""
    return modes_captured(counts, strict_share(len(counts)), n_samples)


def high_quality_share(counts: np.ndarray, n_samples: int) -> float:
    """Share of samples within HQ_RADIUS stds of some mode (ceiling 0.989 for perfect 2D samples)."""
    return float(counts.sum() / n_samples) if n_samples else 0.0


def _weights(counts: np.ndarray, weights) -> np.ndarray:
    return np.full(len(counts), 1.0 / len(counts)) if weights is None else np.asarray(weights, dtype=np.float64)


def _on_least_likely_mode(counts: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The generator's distribution over modes; with no HQ sample it has no mass on any mode, scored as
    all mass on the target's least likely mode (of weight > 0): the worst balance there is."""
    if counts.sum():
        return counts / counts.sum()
    return np.eye(len(w))[np.argmin(np.where(w > 0, w, np.inf))]


def reverse_kl(counts: np.ndarray, weights=None) -> float:
    """KL(p_gen || w) over modes, natural log, empty bins skipped, with w the target's mode weights
    (None: uniform, ln M - H(p_gen)). No HQ sample scores -ln(min w) (ln M for equal weights); HQ
    samples on a mode of weight 0 score inf."""
    w = _weights(counts, weights)
    with np.errstate(divide="ignore"):
        return kl(_on_least_likely_mode(np.asarray(counts, dtype=np.float64), w), w)


def mode_shares(counts: np.ndarray) -> np.ndarray:
    """The generator's distribution over modes (HQ samples only); all zeros when no sample is HQ."""
    total = counts.sum()
    return counts / total if total else np.zeros(len(counts))


def js_target(counts: np.ndarray, weights=None) -> float:
    """JS(p_gen, w) over modes, nats, w the target's mode weights (None: uniform): 0 when the HQ samples
    are spread as the target is, bounded by ln 2; no HQ sample scores as for reverse_kl."""
    w = _weights(counts, weights)
    return js(_on_least_likely_mode(np.asarray(counts, dtype=np.float64), w), w)


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
    return float(_by_rows(_log_densities, np.asarray(samples, dtype=np.float64), mixture).mean())


def _log_densities(samples: np.ndarray, mixture) -> np.ndarray:
    x = samples[:, None, :]
    with np.errstate(over="ignore", invalid="ignore"):   # a sample at 1e308 has density 0: -inf
        per_mode = stats.norm.logpdf(x, loc=mixture.centres[None], scale=mixture.stds[None, :, None]).sum(-1)
        log_w = np.log(mixture.weights, where=mixture.weights > 0, out=np.full(mixture.n_modes, -np.inf))
        return special.logsumexp(per_mode + log_w, axis=1)


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
    return np.append(target, max(0.0, 1.0 - target.sum())), binned(samples, ex, ey)


def binned(samples: np.ndarray, ex: np.ndarray, ey: np.ndarray) -> np.ndarray:
    """The share of the samples in each cell of the grid with edges ex, ey, plus one bin for the rest."""
    x = np.asarray(samples, dtype=np.float64)
    counts, _, _ = np.histogram2d(x[:, 0], x[:, 1], bins=[ex, ey])
    inside = counts.ravel()
    return np.append(inside, len(x) - inside.sum()) / len(x)


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


def row_entries(samples: np.ndarray, mixture) -> dict:
    """The metrics row's coverage entries for one batch of samples (the trainer's live metrics)."""
    counts = mode_counts(samples, mixture.centres, mixture.stds)
    kl_modes = reverse_kl(counts, mixture.weights)
    return {R.N_SAMPLES: len(samples), R.MODES: modes_captured(counts),
            R.MODES_STRICT: modes_strict(counts, len(samples)),
            R.HQ: high_quality_share(counts, len(samples)),
            R.REVERSE_KL: kl_modes if np.isfinite(kl_modes) else None,
            R.MODE_COUNTS: counts.tolist(),
            R.NEAR_COUNTS: near_counts(samples, mixture.centres, mixture.stds).tolist()}


KNN_KEYS = (R.KNN_PRECISION, R.KNN_RECALL, R.KNN_DENSITY, R.KNN_COVERAGE)


def _knn(real: np.ndarray, finite_fakes: np.ndarray, n: int) -> dict:
    """k-NN scores of all n fakes, of which these are the finite ones: a non-finite fake is in no ball
    and holds none, so precision and density count it as a miss; None when too few fakes are finite."""
    if len(finite_fakes) <= K:
        return dict.fromkeys(KNN_KEYS)
    with np.errstate(over="ignore", invalid="ignore"):
        scores = prdc(real, finite_fakes)
    kept = len(finite_fakes) / n
    return {**scores, R.KNN_PRECISION: scores[R.KNN_PRECISION] * kept, R.KNN_DENSITY: scores[R.KNN_DENSITY] * kept}


def points_grid_divergences(samples: np.ndarray, points: np.ndarray, window,
                            cells: int = GRID_CELLS) -> tuple[float, float]:
    """(KL(points || samples), JS(points, samples)) between the two histograms over cells x cells squares
    of the window plus one bin for the rest (a non-finite sample's), smoothed for KL as grid_divergences."""
    x = np.asarray(samples, dtype=np.float64)
    xmin, xmax, ymin, ymax = window
    ex, ey = np.linspace(xmin, xmax, cells + 1), np.linspace(ymin, ymax, cells + 1)
    target, gen = binned(points, ex, ey), binned(np.where(np.isfinite(x).all(axis=1)[:, None], x, np.inf), ex, ey)
    return kl(_smoothed(target), _smoothed(gen)), js(target, gen)


def fitted_report(samples: np.ndarray, mixture, points: np.ndarray, window) -> dict:
    """coverage_report for samples against a user's points with modes fitted to them (`mixture`): the
    modes' metrics from the fitted modes, and the scores of the distribution (grid KL / JS, k-NN) against
    the points themselves over their window, as points_report's: the fitted Gaussians say where the
    modes are, not what the data's distribution is."""
    x = np.asarray(samples, dtype=np.float64)
    return coverage_report(x, mixture, reference=np.asarray(points, dtype=np.float64),
                           grid=points_grid_divergences(x, points, window))


def coverage_report(samples: np.ndarray, mixture, reference: np.ndarray | None = None,
                    grid: tuple[float, float] | None = None) -> dict:
    """Every toy coverage metric for one set of samples (N x 2) against the target mixture (the k-NN
    scores against `reference`, grid KL / JS as `grid` gives them, else against the mixture); a metric
    that cannot be computed is None, with the reason under NOT_COMPUTED."""
    x = np.asarray(samples, dtype=np.float64)
    finite = np.isfinite(x).all(axis=1)
    n, n_bad = len(x), int((~finite).sum())
    counts = mode_counts(x, mixture.centres, mixture.stds)
    grid_kl, grid_js = grid if grid is not None else grid_divergences(x, mixture)
    report = {R.N_SAMPLES: n, R.N_NONFINITE: n_bad,
              R.MODES: modes_captured(counts),
              R.MODES_STRICT: modes_strict(counts, n),
              R.HQ: high_quality_share(counts, n),
              R.REVERSE_KL: reverse_kl(counts, mixture.weights),
              R.JS_UNIFORM: js_target(counts, mixture.weights),
              R.ENTROPY: entropy(counts),
              R.LOG_LIKELIHOOD: log_likelihood(x, mixture) if not n_bad else None,
              R.GRID_KL: grid_kl,
              R.GRID_JS: grid_js,
              **_knn(reference_samples(mixture) if reference is None else reference, x[finite], n),
              R.MODE_COUNTS: counts.tolist()}
    why = {}
    if n_bad:
        why[R.LOG_LIKELIHOOD] = f"{n_bad} of {n} samples are not finite: their density is undefined"
    elif not np.isfinite(report[R.LOG_LIKELIHOOD]):
        why[R.LOG_LIKELIHOOD] = "some sample is so far from every mode that its density is 0 in floating point"
    if not np.isfinite(report[R.REVERSE_KL]):
        why[R.REVERSE_KL] = "high-quality samples sit on a mode of weight 0: KL(p_gen || weights) is infinite"
    if report[R.KNN_PRECISION] is None:
        why.update(dict.fromkeys(KNN_KEYS, f"k-NN metrics need more than k = {K} finite samples, "
                                           f"got {int(finite.sum())}"))
    for key in why:
        report[key] = None
    return {**report, R.NOT_COMPUTED: why} if why else report


def points_report(samples: np.ndarray, points: np.ndarray, window, cells: int = GRID_CELLS) -> dict:
    """The coverage metrics that need no modes, for samples against a user's own target points: grid
    KL / JS between the two histograms over the window (GAN Lab's smoothing for KL) and the k-NN scores
    against the points."""
    x = np.asarray(samples, dtype=np.float64)
    finite = np.isfinite(x).all(axis=1)
    grid_kl, grid_js = points_grid_divergences(x, points, window, cells)
    report = {R.N_SAMPLES: len(x), R.N_NONFINITE: int((~finite).sum()), R.GRID_KL: grid_kl, R.GRID_JS: grid_js,
              **_knn(np.asarray(points, dtype=np.float64), x[finite], len(x))}
    if report[R.KNN_PRECISION] is None:
        return {**report, R.NOT_COMPUTED: dict.fromkeys(KNN_KEYS, f"k-NN metrics need more than k = {K} finite "
                                                                  f"samples, got {int(finite.sum())}")}
    return report
