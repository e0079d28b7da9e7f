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

from .. import record as R

#: neighbours that set each ball's radius (Naeem et al.'s default)
K = 5
#: pairs a chunk of balls may hold (by the count at their own radius), so memory stays bounded for any
#: sample count; one ball holding more is a chunk of its own
_PAIRS = 1 << 16
#: the trees are asked for balls this much wider than their radii, and every candidate is then measured as
#: cdist measures it: a tree compares squared distances, which round differently at the boundary
_SLACK = 1e-9
#: coordinates and reaches from which the trees' squared distances overflow, which they refuse: a ball
#: reaching that far or centred that far out (samples near 1e308) is measured against every point, and the
#: tree holds the other points, which no other ball can reach
_HUGE = 1e150


def knn_radii(points: np.ndarray, k: int = K) -> np.ndarray:
    """Distance from each point to its k-th nearest other point of the same set."""
    tree = cKDTree(points)
    # queried in the tree's own order, neighbouring queries walk the same nodes (2-3x faster at 2M points);
    # the nearest hit of a point is itself (distance 0), so ask for the (k + 1)-th
    order = tree.indices
    radii = np.empty(len(points))
    radii[order] = tree.query(points[order], k=[k + 1])[0][:, 0]
    return radii


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Euclidean distances, summed over coordinates in cdist's order so <= ties agree with it."""
    total = np.zeros(len(a))
    with np.errstate(over="ignore"):   # points 1e200 apart are inf apart, as cdist has them
        for column in range(a.shape[1]):
            total += (a[:, column] - b[:, column]) ** 2
    return np.sqrt(total)


def _balls(centres: np.ndarray, radii: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centres, radii, copies): the balls of a set, those of radius 0 merged with their copies. Only a
    point repeated more than k times has radius 0, and a collapsed set is all such copies: merged, each
    point is listed in one ball of theirs, not in every copy's."""
    zero = radii == 0
    if not zero.any():
        return centres, radii, np.ones(len(centres), dtype=np.int64)
    points, copies = np.unique(centres[zero], axis=0, return_counts=True)
    return (np.concatenate([centres[~zero], points]), np.concatenate([radii[~zero], np.zeros(len(points))]),
            np.concatenate([np.ones(int((~zero).sum()), dtype=np.int64), copies]))


def _inside(points: np.ndarray, centres: np.ndarray, radii: np.ndarray):
    """Every (point index, ball index) pair with the point's distance to the ball's centre <= its radius,
    in chunks. A chunk is balls of radii within a factor 2, asked for at the widest one's: that lists at
    most about 2**D times the pairs each ball holds, and never a point for a ball that holds none."""
    reach = radii * (1 + _SLACK)
    huge = (reach >= _HUGE / 10) | (np.abs(centres).max(axis=1) >= _HUGE / 10)
    normal = np.flatnonzero(np.abs(points).max(axis=1) < _HUGE)
    tree = cKDTree(points[normal])
    for ball in np.flatnonzero(huge):
        for start in range(0, len(points), _PAIRS):
            near = points[start:start + _PAIRS]
            point = start + np.flatnonzero(_distances(near, np.broadcast_to(centres[ball], near.shape)) <= radii[ball])
            yield point, np.full(len(point), ball)
    held = np.zeros(len(centres), dtype=np.int64)
    held[~huge] = tree.query_ball_point(centres[~huge], reach[~huge], return_length=True)
    balls = np.flatnonzero(held)
    balls = balls[np.argsort(radii[balls], kind="stable")]
    sorted_radii, ends = radii[balls], np.cumsum(held[balls])
    start = 0
    while start < len(balls):
        stop = min(np.searchsorted(sorted_radii, 2 * sorted_radii[start], "right"),
                   np.searchsorted(ends, ends[start] - held[balls[start]] + _PAIRS, "right"))
        chunk = balls[start:max(stop, start + 1)]
        pairs = cKDTree(centres[chunk]).sparse_distance_matrix(tree, reach[chunk].max(), output_type="ndarray")
        point, ball = normal[pairs["j"]], chunk[pairs["i"]]
        keep = _distances(points[point], centres[ball]) <= radii[ball]
        yield point[keep], ball[keep]
        start = max(stop, start + 1)


def prdc(real: np.ndarray, fake: np.ndarray, k: int = K) -> dict:
    """The four k-NN scores of `fake` against `real` (both N x D, each with more than k points).

    Each set's balls ask a k-d tree of the other set which of its points they hold, so the work grows with
    the pairs found (about k per point), not with real x fake."""
    real, fake = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"k-NN metrics need more than k = {k} points in each set, "
                         f"got {len(real)} real and {len(fake)} fake")
    centres, radii, copies = _balls(real, knn_radii(real, k))
    fakes_in_real_balls = 0            # summed over fakes, for density
    fake_in_some_real_ball = np.zeros(len(fake), dtype=bool)
    real_ball_holds_a_fake = np.zeros(len(centres), dtype=bool)
    for point, ball in _inside(fake, centres, radii):
        fakes_in_real_balls += int(copies[ball].sum())
        fake_in_some_real_ball[point] = True
        real_ball_holds_a_fake[ball] = True
    real_in_some_fake_ball = np.zeros(len(real), dtype=bool)
    for point, _ in _inside(real, *_balls(fake, knn_radii(fake, k))[:2]):
        real_in_some_fake_ball[point] = True
    return {R.KNN_PRECISION: int(fake_in_some_real_ball.sum()) / len(fake),
            R.KNN_RECALL: float(real_in_some_fake_ball.mean()),
            R.KNN_DENSITY: fakes_in_real_balls / (k * len(fake)),
            R.KNN_COVERAGE: int(copies[real_ball_holds_a_fake].sum()) / len(real)}
