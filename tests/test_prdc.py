"""k-NN precision / recall / density / coverage against the papers' definitions, computed by loops."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

from gandiag import record as R
from gandiag.metrics import prdc as P

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


def test_block_size_does_not_change_the_scores(monkeypatch):
    rng = np.random.default_rng(6)
    real, fake = rng.standard_normal((60, 2)), rng.standard_normal((45, 2))
    whole = scores(real, fake)
    monkeypatch.setattr(P, "_BLOCK", 7)
    assert_allclose(scores(real, fake), whole, rtol=1e-12)


def test_too_few_points_for_k_is_a_one_line_error():
    with pytest.raises(ValueError, match="more than k = 5 points"):
        P.prdc(np.zeros((10, 2)), np.zeros((5, 2)))
