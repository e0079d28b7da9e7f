"""k-NN precision / recall / density / coverage against the papers' definitions, computed by loops."""
import tracemalloc

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st
from numpy.testing import assert_allclose
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

from gandiag import record as R
from gandiag.metrics import prdc as P
from gandiag.testing.strategies import grid_numbers

KEYS = (R.KNN_PRECISION, R.KNN_RECALL, R.KNN_DENSITY, R.KNN_COVERAGE)


def by_the_definitions(real, fake, k):
    """Kynkaanniemi et al. 2019 and Naeem et al. 2020, one point at a time."""
    def radius(points, i):
        return sorted(np.linalg.norm(points[i] - q) for j, q in enumerate(points) if j != i)[k - 1]

    r_real = [radius(real, i) for i in range(len(real))]
    r_fake = [radius(fake, j) for j in range(len(fake))]
    precision = np.mean([any(d(y, x) <= r for x, r in zip(real, r_real)) for y in fake])
    recall = np.mean([any(d(x, y) <= r for y, r in zip(fake, r_fake)) for x in real])
    density = sum(d(y, x) <= r for y in fake for x, r in zip(real, r_real)) / (k * len(fake))
    coverage = np.mean([min(d(x, y) for y in fake) <= r for x, r in zip(real, r_real)])
    return [precision, recall, density, coverage]


def d(a, b):
    return np.linalg.norm(a - b)


def scores(real, fake, k=P.K):
    result = P.prdc(real, fake, k)
    return [result[key] for key in KEYS]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_equal_the_definitions(seed):
    rng = np.random.default_rng(seed)
    real = rng.standard_normal((40, 2))
    fake = 0.7 * rng.standard_normal((30, 2)) + [0.8, 0.0]
    assert_allclose(scores(real, fake, k=3), by_the_definitions(real, fake, 3), rtol=1e-12)


def test_identical_sets_have_full_precision_recall_and_coverage():
    x = np.random.default_rng(4).standard_normal((50, 2))
    assert_allclose(scores(x, x)[:2] + scores(x, x)[3:], [1.0, 1.0, 1.0], rtol=0)


def test_radius_test_includes_the_boundary():
    """Every point repeated k + 1 times: all radii are 0, and only <= finds the point's own copies."""
    x = np.repeat(np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]]), P.K + 1, axis=0)
    assert_allclose(scores(x, x), [1.0, 1.0, (P.K + 1) / P.K, 1.0], rtol=1e-12)


def test_far_apart_sets_score_zero():
    rng = np.random.default_rng(5)
    assert_allclose(scores(rng.standard_normal((30, 2)), rng.standard_normal((30, 2)) + 100.0), [0, 0, 0, 0])


def by_the_whole_distance_matrix(real, fake, k):
    """The blocked cdist version prdc was before its k-d trees, kept as the reference they must equal."""
    def radii(points):
        return cKDTree(points).query(points, k=k + 1)[0][:, k]
    d = cdist(fake, real)
    inside_real, inside_fake = d <= radii(real)[None, :], d <= radii(fake)[:, None]
    return [inside_real.any(axis=1).sum() / len(fake), float(inside_fake.any(axis=0).mean()),
            inside_real.sum() / (k * len(fake)), float((d.min(axis=0) <= radii(real)).mean())]


def _sets():
    rng = np.random.default_rng(7)
    normal, wide = rng.standard_normal((300, 2)), 2.5 * rng.standard_normal((400, 2)) + [1.0, 0.0]
    copies = np.repeat(rng.standard_normal((30, 2)), 3, axis=0)            # each point thrice: radii > 0
    collapsed = np.repeat(normal[:2], 40, axis=0)                          # radii 0
    outlier = np.vstack([normal, [[1e6, 1e6]]])                           # one huge radius
    heavy = np.vstack([normal, np.repeat(normal[:3], [50, 4, 2], axis=0)])[rng.permutation(356)]
    return {"random": (normal, wide), "identical": (normal, normal), "copies": (copies, normal[:90]),
            "collapsed fakes": (normal, collapsed), "collapsed reals": (collapsed, normal),
            "both collapsed": (collapsed, collapsed[::-1].copy()), "outlier real": (outlier, wide),
            "outlier fake": (wide, outlier), "lattice": (np.round(normal * 2) / 2, np.round(wide * 2) / 2),
            "exploded fakes": (normal, np.vstack([normal[:50], 1e200 * wide])),   # squares overflow
            "half identical": (normal, np.vstack([np.repeat(wide[:1], 300, axis=0), wide[1:301]])),
            "heavy copies": (heavy, wide), "heavy copies both": (heavy, heavy[::-1].copy()),
            "signed zeros": (normal, np.vstack([np.zeros((20, 2)), -np.zeros((20, 2)), wide[:20]]))}


@pytest.mark.parametrize("name", list(_sets()))
def test_scores_equal_the_whole_distance_matrix(name, monkeypatch):
    real, fake = _sets()[name]
    want = torch.tensor(by_the_whole_distance_matrix(real, fake, P.K), dtype=torch.float64)
    torch.testing.assert_close(torch.tensor(scores(real, fake), dtype=torch.float64), want, rtol=0, atol=0)
    monkeypatch.setattr(P, "_PAIRS", 3)   # many chunks, each ball its own: the same pairs
    torch.testing.assert_close(torch.tensor(scores(real, fake), dtype=torch.float64), want, rtol=0, atol=0)


grid_points = st.lists(st.tuples(grid_numbers(-1, 1, 0.25), grid_numbers(-1, 1, 0.25)), min_size=P.K + 1,
                       max_size=60).map(lambda rows: np.array(rows, dtype=np.float64))


@given(grid_points, grid_points, st.integers(1, P.K))
def test_scores_on_tied_grid_points_equal_the_whole_distance_matrix(real, fake, k):
    """On a grid many distances equal a radius exactly, so every <= at a ball's edge is tried."""
    torch.testing.assert_close(torch.tensor(scores(real, fake, k), dtype=torch.float64),
                               torch.tensor(by_the_whole_distance_matrix(real, fake, k), dtype=torch.float64),
                               rtol=0, atol=0)


class _WatchedTree(cKDTree):
    """A k-d tree that refuses to be queried while a leaf holds more than leafsize points (only equal
    points make one: a tree cannot split them), before the query scans it."""

    def _check(self):
        nodes, largest = [self.tree], 0
        while nodes:
            node = nodes.pop()
            if node.lesser is None:
                largest = max(largest, node.children)
            else:
                nodes += [node.lesser, node.greater]
        assert largest <= self.leafsize, f"a leaf of {largest} equal points is scanned per query near them"

    def query(self, *args, **kwargs):
        self._check()
        return super().query(*args, **kwargs)

    def query_ball_point(self, *args, **kwargs):
        self._check()
        return super().query_ball_point(*args, **kwargs)

    def sparse_distance_matrix(self, other, *args, **kwargs):
        self._check()
        other._check()
        return super().sparse_distance_matrix(other, *args, **kwargs)


@pytest.mark.parametrize("copies", ["all", "half", "one heavy"])
def test_no_tree_query_scans_a_leaf_of_copies(copies, monkeypatch):
    """200,000 fakes, of which all, half or every 10th are one point (a dead generator writes G's output
    bias for every z): the old code scanned a leaf of all the copies per query near them (~5 min here,
    2,000,000 copies never finished). Each set's copies are one point of the trees that are queried."""
    rng = np.random.default_rng(9)
    real, fake = rng.standard_normal((2000, 2)), rng.standard_normal((200_000, 2))
    fake[{"all": slice(None), "half": slice(100_000), "one heavy": slice(None, None, 10)}[copies]] = real[0]
    real[1000:1200] = real[0]
    monkeypatch.setattr(P, "cKDTree", _WatchedTree)
    result = scores(real, fake)
    if copies == "all":   # k + 1 copies score as 200,000 do: radius 0, each real ball's count per fake the same
        torch.testing.assert_close(torch.tensor(result, dtype=torch.float64), torch.tensor(
            by_the_whole_distance_matrix(real, fake[:P.K + 1], P.K), dtype=torch.float64), rtol=0, atol=0)


def test_memory_grows_with_the_pairs_found_not_with_real_times_fake():
    """5,000 reals x 40,000 fakes: a block of 2,048 fakes' distances alone is 80 MiB; the balls hold about
    k pairs per point, a few MiB."""
    rng = np.random.default_rng(8)
    real, fake = rng.standard_normal((5000, 2)), rng.standard_normal((40000, 2))
    tracemalloc.start()
    try:
        P.prdc(real, fake)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2 ** 20, f"peak {peak / 2 ** 20:.0f} MiB"


def test_too_few_points_for_k_is_a_one_line_error():
    with pytest.raises(ValueError, match="more than k = 5 points"):
        P.prdc(np.zeros((10, 2)), np.zeros((5, 2)))
