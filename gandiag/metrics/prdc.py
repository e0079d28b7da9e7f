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


def _copies(points: np.ndarray) -> tuple[cKDTree, np.ndarray]:
    """(tree, copies): a k-d tree over the set's points with each run of equal points in a first tree's
    order made one, and how many points each stands for. A tree cannot split equal points, so it keeps
    them all in one leaf, which each query near them scans (2,000,000 copies of one point, a dead
    generator's fakes, never finished); those copies are one run of that order, found at the cost of one
    comparison per point. Copies that are not neighbours there share a leaf of at most leafsize points
    with other points, which is cheap to scan, so they may stay apart."""
    tree = cKDTree(points)
    apart = np.zeros(len(points) - 1, dtype=bool)
    for column in points.T:   # a column at a time: no second copy of the set (32 MB at 2M points)
        ordered = column[tree.indices]
        apart |= ordered[1:] != ordered[:-1]
    first = np.flatnonzero(np.r_[True, apart])
    if len(first) == len(points):
        return tree, np.ones(len(points), dtype=np.int64)
    return cKDTree(points[tree.indices[first]]), np.diff(np.r_[first, len(points)])


def knn_radii(tree: cKDTree, copies: np.ndarray, k: int = K) -> np.ndarray:
    """Distance from each of the tree's points to its k-th nearest other point of the set, where each
    point stands for `copies` equal points: the (k + 1)-th distance counting the point itself, reached
    where the copies of its nearest points add up to k + 1 (each point counts one at least)."""
    # queried in the tree's own order, neighbouring queries walk the same nodes (2-3x faster at 2M points)
    order, near = tree.indices, min(k + 1, tree.n)
    radii = np.empty(tree.n)
    for start in range(0, tree.n, _PAIRS):   # the neighbours of _PAIRS points at a time: bounded memory
        rows = order[start:start + _PAIRS]
        distances, neighbours = tree.query(tree.data[rows], k=list(range(1, near + 1)))
        # a neighbour whose squared distance overflows is missing (index n, at inf): counted as the last
        # point, it and every later one are at inf, the radius where the copies do not reach k + 1 before
        reached = np.cumsum(copies.take(neighbours, mode="clip"), axis=1) > k
        radii[rows] = distances[np.arange(len(rows)), reached.argmax(axis=1)]
    return radii


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Euclidean distances, summed over coordinates in cdist's order so <= ties agree with it."""
    total = np.zeros(len(a))
    with np.errstate(over="ignore"):   # points 1e200 apart are inf apart, as cdist has them
        for column in range(a.shape[1]):
            total += (a[:, column] - b[:, column]) ** 2
    return np.sqrt(total)


def _inside(tree: cKDTree, centres: np.ndarray, radii: np.ndarray):
    """Every (point index, ball index) pair of the tree's points with the point's distance to the ball's
    centre <= its radius, in chunks. A chunk is balls of radii within a factor 2, asked for at the widest
    one's: that lists at most about 2**D times the pairs each ball holds, and never a point for a ball
    that holds none."""
    reach = radii * (1 + _SLACK)
    huge = (reach >= _HUGE / 10) | (np.abs(centres).max(axis=1) >= _HUGE / 10)
    points = tree.data
    normal = np.flatnonzero(np.abs(points).max(axis=1) < _HUGE)
    if len(normal) < len(points):   # else the set's own tree, not a second one (1-2 s at 2M points)
        tree = cKDTree(points[normal])
    for ball in np.flatnonzero(huge):
        for start in range(0, len(points), _PAIRS):
            near = points[start:start + _PAIRS]
            point = start + np.flatnonzero(_distances(near, np.broadcast_to(centres[ball], near.shape)) <= radii[ball])
            yield point, np.full(len(point), ball)
    asked = np.flatnonzero(~huge) if huge.any() else slice(None)   # a view, no copy of 2M balls (48 MB)
    held = np.zeros(len(centres), dtype=np.int64)
    held[asked] = tree.query_ball_point(centres[asked], reach[asked], return_length=True)
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
    (real_tree, real_copies), (fake_tree, fake_copies) = _copies(real), _copies(fake)
    reals = real_tree.data
    radii = knn_radii(real_tree, real_copies, k)
    fakes_in_real_balls = 0            # summed over fakes, for density
    fake_in_some_real_ball = np.zeros(fake_tree.n, dtype=bool)
    real_ball_holds_a_fake = np.zeros(len(reals), dtype=bool)
    for point, ball in _inside(fake_tree, reals, radii):
        fakes_in_real_balls += int((fake_copies[point] * real_copies[ball]).sum())
        fake_in_some_real_ball[point] = True
        real_ball_holds_a_fake[ball] = True
    real_in_some_fake_ball = np.zeros(len(reals), dtype=bool)
    for point, _ in _inside(real_tree, fake_tree.data, knn_radii(fake_tree, fake_copies, k)):
        real_in_some_fake_ball[point] = True
    return {R.KNN_PRECISION: int(fake_copies[fake_in_some_real_ball].sum()) / len(fake),
            R.KNN_RECALL: int(real_copies[real_in_some_fake_ball].sum()) / len(real),
            R.KNN_DENSITY: fakes_in_real_balls / (k * len(fake)),
            R.KNN_COVERAGE: int(real_copies[real_ball_holds_a_fake].sum()) / len(real)}
