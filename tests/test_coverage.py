"""Toy coverage metrics against direct computations and known values."""
import json
import math
import tracemalloc

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from numpy.testing import assert_allclose
from scipy import integrate

from gandiag import record as R
from gandiag.data.toy import Mixture, grid, ring
from gandiag.metrics import coverage as C
from gandiag.testing.strategies import log_density, mixtures

RING = ring(8, 2.0, 0.02)


def on_modes(mixture, per_mode, which=None, seed=0):
    """per_mode samples around each chosen mode, 0.5 std from its centre on average."""
    which = range(mixture.n_modes) if which is None else which
    rng = np.random.default_rng(seed)
    return np.concatenate([mixture.centres[k] + 0.5 * mixture.stds[k] * rng.standard_normal((per_mode, 2))
                           for k in which])


def test_js_to_equal_weights_matches_the_definition_for_a_skewed_distribution():
    counts = np.array([5, 1, 0, 2])
    p, u = counts / 8, np.full(4, 0.25)
    m = (p + u) / 2
    direct = 0.5 * sum(pi * math.log(pi / mi) for pi, mi in zip(p, m) if pi > 0) \
        + 0.5 * sum(ui * math.log(ui / mi) for ui, mi in zip(u, m))
    assert_allclose(C.js_target(counts), direct, rtol=1e-12)


def test_js_to_equal_weights_is_zero_for_balance_and_scores_no_hq_sample_as_one_mode():
    assert_allclose(C.js_target(np.array([3, 3, 3])), 0.0, atol=1e-15)
    assert_allclose(C.js_target(np.zeros(8)), C.js_target(np.array([7, 0, 0, 0, 0, 0, 0, 0])), rtol=1e-12)


def test_entropy_is_ln_m_for_balance_zero_for_one_mode_and_the_sum_otherwise():
    assert_allclose(C.entropy(np.full(8, 10)), math.log(8), rtol=1e-12)
    assert_allclose(C.entropy(np.array([0, 9, 0])), 0.0, atol=1e-15)
    assert_allclose(C.entropy(np.array([1, 3])), -(0.25 * math.log(0.25) + 0.75 * math.log(0.75)), rtol=1e-12)
    assert_allclose(C.entropy(np.zeros(4)), 0.0, atol=1e-15)


@settings(max_examples=30, deadline=None)
@given(mixtures(), st.lists(st.tuples(st.floats(-3, 3), st.floats(-3, 3)), min_size=1, max_size=6))
def test_log_likelihood_equals_the_exact_mixture_density(mixture, offsets):
    """Against the closed form with sigma^2 in it: stds from 0.05 to 2 make a variance-for-std mix-up show."""
    x = mixture.centres[0] + np.asarray(offsets)
    assert_allclose(C.log_likelihood(x, mixture), log_density(mixture, x).mean(), rtol=1e-9, atol=1e-9)


def test_log_likelihood_with_a_zero_weight_mode_ignores_it():
    m = Mixture(np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([0.5, 0.5]), np.array([1.0, 0.0]))
    x = np.array([[1.0, 0.0]])
    assert_allclose(C.log_likelihood(x, m), -1 / (2 * 0.25) - math.log(2 * math.pi * 0.25), rtol=1e-12)


def test_grid_target_histogram_is_the_gaussian_mass_of_each_cell():
    m = Mixture(np.array([[0.3, -0.2], [-1.0, 0.5]]), np.array([0.4, 0.7]), np.array([0.3, 0.7]))
    target, _ = C.grid_histograms(np.zeros((1, 2)), m, cells=4)
    xmin, xmax, ymin, ymax = m.window()
    ex, ey = np.linspace(xmin, xmax, 5), np.linspace(ymin, ymax, 5)
    for i, j in [(1, 2), (2, 1), (0, 3)]:
        direct, _ = integrate.dblquad(lambda y, x: math.exp(log_density(m, np.array([[x, y]]))[0]),
                                      ex[i], ex[i + 1], ey[j], ey[j + 1])
        assert_allclose(target[i * 4 + j], direct, rtol=1e-6)
    assert_allclose(target.sum(), 1.0, rtol=1e-12)


def test_grid_sample_histogram_counts_every_sample_including_those_off_the_grid():
    xmin, xmax, _, _ = RING.window()
    x = np.array([[0.0, 0.0], [0.0, 0.0], [xmax + 1.0, 0.0], [xmin - 5.0, 3.0]])
    _, gen = C.grid_histograms(x, RING, cells=10)
    assert_allclose(gen.sum(), 1.0, rtol=1e-12)
    assert_allclose(gen[-1], 0.5, rtol=1e-12)  # the two samples off the window
    assert_allclose(gen[5 * 10 + 5], 0.5, rtol=1e-12)  # (0, 0) sits in cell (5, 5) of a symmetric 10 x 10 grid


def test_grid_divergences_match_the_definitions_on_the_histograms():
    x = on_modes(RING, 50, which=[0, 1, 2])
    target, gen = C.grid_histograms(x, RING)
    eps = C.GRID_SMOOTHING
    ps, qs = (target + eps) / (1 + eps * len(target)), (gen + eps) / (1 + eps * len(gen))
    kl = sum(p * math.log(p / q) for p, q in zip(ps, qs))
    mid = (target + gen) / 2
    js = 0.5 * sum(p * math.log(p / m) for p, m in zip(target, mid) if p > 0) \
        + 0.5 * sum(q * math.log(q / m) for q, m in zip(gen, mid) if q > 0)
    assert_allclose(C.grid_divergences(x, RING), (kl, js), rtol=1e-9)


def test_grid_js_is_ln2_when_samples_and_target_share_no_cell():
    far = np.full((100, 2), 50.0)
    assert_allclose(C.grid_divergences(far, grid(25, 2.0, 0.05))[1], math.log(2), rtol=1e-6)


def test_report_of_balanced_samples_on_every_mode():
    x = on_modes(RING, 40)
    report = C.coverage_report(x, RING, reference=on_modes(RING, 40, seed=1))
    assert (report[R.MODES], report[R.MODES_STRICT], report[R.N_SAMPLES]) == (8, 8, 320)
    assert report[R.MODE_COUNTS] == [40] * 8
    assert_allclose([report[R.HQ], report[R.REVERSE_KL], report[R.JS_UNIFORM], report[R.ENTROPY]],
                    [1.0, 0.0, 0.0, math.log(8)], atol=1e-12)


def test_report_of_a_one_mode_collapse():
    x = on_modes(RING, 200, which=[3])
    report = C.coverage_report(x, RING, reference=on_modes(RING, 40, seed=1))
    assert (report[R.MODES], report[R.MODES_STRICT]) == (1, 1)
    assert_allclose([report[R.HQ], report[R.REVERSE_KL], report[R.ENTROPY]], [1.0, math.log(8), 0.0], atol=1e-12)
    # the reals near mode 3 are an eighth of the reference: k-NN coverage and recall see exactly that
    assert_allclose([report[R.KNN_COVERAGE], report[R.KNN_RECALL]], [1 / 8, 1 / 8], atol=0.02)


def test_strict_count_ignores_a_mode_with_one_stray_sample():
    x = np.concatenate([on_modes(RING, 300, which=[0]), RING.centres[[5]]])
    report = C.coverage_report(x, RING, reference=on_modes(RING, 20))
    assert (report[R.MODES], report[R.MODES_STRICT]) == (2, 1)


def test_reference_samples_are_a_fixed_draw_of_the_target():
    a, b = C.reference_samples(RING, 500), C.reference_samples(RING, 500)
    assert_allclose(a, b, rtol=0)
    assert a.shape == (500, 2)
    assert C.coverage_report(a, RING, reference=b)[R.MODES] == 8


@pytest.fixture(scope="module")
def scored():
    x = np.concatenate([on_modes(RING, 30, which=[0, 1, 2, 6]), np.random.default_rng(3).uniform(-3, 3, (40, 2))])
    reference = on_modes(RING, 25, seed=2)
    return x, reference, C.coverage_report(x, RING, reference)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_coverage_report_does_not_depend_on_sample_order(scored, seed):
    x, reference, expected = scored
    shuffled = C.coverage_report(x[np.random.default_rng(seed).permutation(len(x))], RING, reference)
    assert shuffled[R.MODE_COUNTS] == expected[R.MODE_COUNTS]
    keys = [k for k in expected if k != R.MODE_COUNTS]
    assert_allclose([shuffled[k] for k in keys], [expected[k] for k in keys], rtol=1e-12)


# --- the target's weights, non-finite and too few samples ----------------------------------------

THREE = Mixture(np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]]), np.array([0.1, 0.1, 0.1]), np.array([0.5, 0.25, 0.25]))


def test_reverse_kl_and_js_compare_with_the_targets_weights():
    """A 2:1:1 mixture: samples spread as the target scores 0, equal shares score KL(uniform || w)."""
    w = THREE.weights
    assert_allclose([C.reverse_kl(np.array([50, 25, 25]), w), C.js_target(np.array([50, 25, 25]), w)], [0, 0],
                    atol=1e-15)
    equal = np.full(3, 1 / 3)
    assert_allclose(C.reverse_kl(np.array([10, 10, 10]), w), float(np.sum(equal * np.log(equal / w))), rtol=1e-12)
    m = (equal + w) / 2
    assert_allclose(C.js_target(np.array([10, 10, 10]), w),
                    0.5 * float(np.sum(equal * np.log(equal / m)) + np.sum(w * np.log(w / m))), rtol=1e-12)


def test_report_of_perfect_samples_from_a_weighted_mixture_scores_below_equal_shares():
    perfect = THREE.sample(3000, torch.Generator().manual_seed(0)).numpy()
    equal = np.concatenate([on_modes(THREE, 1000, which=[k]) for k in range(3)])
    good, flat = C.coverage_report(perfect, THREE), C.coverage_report(equal, THREE)
    assert good[R.REVERSE_KL] < 0.01 < flat[R.REVERSE_KL]
    assert good[R.JS_UNIFORM] < flat[R.JS_UNIFORM]


def test_no_high_quality_sample_scores_as_all_mass_on_the_least_likely_mode():
    assert_allclose(C.reverse_kl(np.zeros(3), THREE.weights), -math.log(0.25), rtol=1e-12)
    assert_allclose(C.reverse_kl(np.zeros(8)), math.log(8), rtol=1e-12)


def strict_json(report) -> dict:
    """The report through JSON with NaN and infinities refused, as any JSON reader would."""
    return json.loads(json.dumps(report, allow_nan=False))


def test_non_finite_samples_are_on_no_mode_and_what_they_leave_undefined_says_why():
    x = np.concatenate([on_modes(RING, 40), [[np.nan, 0.0], [np.inf, 1.0], [-np.inf, np.nan]]])
    report = strict_json(C.coverage_report(x, RING, reference=on_modes(RING, 40, seed=1)))
    assert (report[R.N_SAMPLES], report[R.N_NONFINITE], report[R.MODES]) == (323, 3, 8)
    assert_allclose(report[R.HQ], 320 / 323, rtol=1e-12)
    assert report[R.LOG_LIKELIHOOD] is None
    assert "3 of 323 samples are not finite" in report[R.NOT_COMPUTED][R.LOG_LIKELIHOOD]
    finite = C.coverage_report(x[:320], RING, reference=on_modes(RING, 40, seed=1))
    # a non-finite fake is in no real ball and holds none: precision and density count it as a miss
    assert_allclose([report[R.KNN_PRECISION], report[R.KNN_DENSITY]],
                    [finite[R.KNN_PRECISION] * 320 / 323, finite[R.KNN_DENSITY] * 320 / 323], rtol=1e-12)
    assert_allclose([report[R.KNN_RECALL], report[R.KNN_COVERAGE]], [finite[R.KNN_RECALL], finite[R.KNN_COVERAGE]],
                    rtol=1e-12)


def test_samples_at_the_edge_of_the_float_range_give_valid_json():
    report = strict_json(C.coverage_report(np.full((20, 2), 1e308), RING, reference=on_modes(RING, 20)))
    assert (report[R.MODES], report[R.HQ], report[R.KNN_PRECISION]) == (0, 0.0, 0.0)
    assert report[R.LOG_LIKELIHOOD] is None and "density is 0" in report[R.NOT_COMPUTED][R.LOG_LIKELIHOOD]


def test_k_nn_metrics_on_too_few_samples_are_null_with_the_reason():
    report = strict_json(C.coverage_report(on_modes(RING, 1, which=range(5)), RING, reference=on_modes(RING, 20)))
    assert report[R.MODES] == 5
    for key in (R.KNN_PRECISION, R.KNN_RECALL, R.KNN_DENSITY, R.KNN_COVERAGE):
        assert report[key] is None and "more than k = 5 finite samples, got 5" in report[R.NOT_COMPUTED][key]


# --- the strict count and the neighbourhoods -------------------------------------------------------

def test_the_strict_count_asks_a_tenth_of_the_fair_share():
    counts = np.array([990, 13, 12])       # 1015 samples over 3 modes: a tenth of the fair share is 33.8
    assert C.modes_strict(counts) == 1
    counts = np.concatenate([np.full(999, 25), [1]])     # 1000 classes: a tenth of 25 is 2.5 samples
    assert C.modes_strict(counts, 25_000) == 999


def test_a_sample_is_near_its_nearest_mode_up_to_the_distance_to_the_next_mode():
    gap = np.linalg.norm(RING.centres[0] - RING.centres[1])
    assert_allclose(C.near_radii(RING.centres, RING.stds), np.full(8, gap), rtol=1e-12)
    x = np.array([[2.0, 0.0], [2.0 - 0.99 * gap, 0.0], [2.0 - 1.01 * gap, 0.0], [0.0, 0.0], [np.nan, 0.0]])
    assert C.near_counts(x, RING.centres, RING.stds).tolist() == [2, 0, 0, 0, 0, 0, 0, 0]


def test_a_run_on_points_with_fitted_modes_scores_their_distribution_against_the_points_over_their_window(tmp_path):
    """The fitted Gaussians give the modes; grid KL / JS and the k-NN scores are the points' own, as
    without modes (they were the fitted mixture's, over an origin-centred window far from points at 40)."""
    import gandiag
    from torch.testing import assert_close
    from gandiag.analysis import analyze_run
    from gandiag.data.toy import points_window
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(c, (0.3, 0.05), (400, 2)) for c in [(40, 40), (44, 40), (40, 44)]])
    with R.Recorder(tmp_path / "run", target=gandiag.target(points, modes=3)) as rec:
        rec.snapshot(0, fakes=points[rng.permutation(len(points))[:300]] + rng.normal(0, 0.2, (300, 2)))
    final = analyze_run(tmp_path / "run")[0][R.A_COVERAGE][R.FINAL]
    expected = C.points_report(R.RunReader(tmp_path / "run").snapshot(0)[R.SNAP_FAKES], points, points_window(points))
    assert_close({k: final[k] for k in (R.GRID_KL, R.GRID_JS, *C.KNN_KEYS)},
                 {k: expected[k] for k in (R.GRID_KL, R.GRID_JS, *C.KNN_KEYS)})
    assert final[R.MODES] == 3


def test_mode_scores_of_many_samples_hold_memory_for_a_chunk_not_samples_times_modes(monkeypatch):
    """200,000 samples against grid25: the N x M x 2 differences alone would be 80 MiB; in chunks, the
    same numbers as one chunk of them all."""
    mixture = grid(25, 2.0, 0.05)
    x = mixture.sample(200_000, torch.Generator().manual_seed(3), dtype=torch.float64).numpy()
    x[:7] = [[np.nan, 0.0], [np.inf, 1.0], [1e308, 1e308], [0.0, 0.0], [50.0, 0.0], [-1e5, 3.0], [0.1, -0.1]]
    tracemalloc.start()
    try:
        chunked = (C.mode_counts(x, mixture.centres, mixture.stds), C.near_counts(x, mixture.centres, mixture.stds),
                   C.log_likelihood(x[7:], mixture), *C.assign(x, mixture.centres, mixture.stds))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 24 * 2 ** 20, f"peak {peak / 2 ** 20:.0f} MiB"
    monkeypatch.setattr(C, "_ROWS", len(x))
    whole = (C.mode_counts(x, mixture.centres, mixture.stds), C.near_counts(x, mixture.centres, mixture.stds),
             C.log_likelihood(x[7:], mixture), *C.assign(x, mixture.centres, mixture.stds))
    for got, want in zip(chunked, whole):
        torch.testing.assert_close(torch.as_tensor(got), torch.as_tensor(want), rtol=0, atol=0)
