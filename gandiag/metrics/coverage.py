"""Toy mode coverage exactly as PacGAN/VEEGAN define it (shared/reference/README.md).

samples -> `assign` (nearest mode by std-scaled distance, HQ flag) -> `mode_counts` -> scores.
"""
from __future__ import annotations

import numpy as np

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
