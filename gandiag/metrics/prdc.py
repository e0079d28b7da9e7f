"""k-NN precision, recall (Kynkaanniemi et al. 2019), density and coverage (Naeem et al. 2020).

Each point's neighbourhood is a ball reaching its k-th nearest neighbour in its own set. A point is
inside a ball when its distance is <= the radius: with the strict < a set of repeated points (a
collapsed generator scored against itself) would have radius 0 and nothing inside anything.

    precision  share of fakes inside some real ball                       (quality)
    recall     share of reals inside some fake ball                       (diversity)
    density    real balls holding each fake, summed, / (k * fakes)       (quality, ~1 when matched)
    coverage   share of real balls holding at least one fake             (diversity, robust to outliers)
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

from .. import record as R

#: neighbours that set each ball's radius (Naeem et al.'s default)
K = 5
#: fakes per block of the real-fake distance matrix, so memory stays bounded for any sample count
_BLOCK = 2048


def knn_radii(points: np.ndarray, k: int = K) -> np.ndarray:
    """Distance from each point to its k-th nearest other point of the same set."""
    # the nearest hit of a point is itself (distance 0), so ask for k + 1
    dist, _ = cKDTree(points).query(points, k=k + 1)
    return dist[:, k]


def prdc(real: np.ndarray, fake: np.ndarray, k: int = K) -> dict:
    """The four k-NN scores of `fake` against `real` (both N x D, each with more than k points)."""
    real, fake = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"k-NN metrics need more than k = {k} points in each set, "
                         f"got {len(real)} real and {len(fake)} fake")
    r_real, r_fake = knn_radii(real, k), knn_radii(fake, k)
    fakes_in_real_balls = 0            # summed over fakes, for density
    fake_in_some_real_ball = 0         # fakes, for precision
    real_in_some_fake_ball = np.zeros(len(real), dtype=bool)
    nearest_fake = np.full(len(real), np.inf)
    for start in range(0, len(fake), _BLOCK):
        block = slice(start, start + _BLOCK)
        d = cdist(fake[block], real)                     # (block, reals)
        inside = d <= r_real[None, :]
        fakes_in_real_balls += int(inside.sum())
        fake_in_some_real_ball += int(inside.any(axis=1).sum())
        real_in_some_fake_ball |= (d <= r_fake[block, None]).any(axis=0)
        nearest_fake = np.minimum(nearest_fake, d.min(axis=0))
    return {R.KNN_PRECISION: fake_in_some_real_ball / len(fake),
            R.KNN_RECALL: float(real_in_some_fake_ball.mean()),
            R.KNN_DENSITY: fakes_in_real_balls / (k * len(fake)),
            R.KNN_COVERAGE: float((nearest_fake <= r_real).mean())}
