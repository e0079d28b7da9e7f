"""Oscillation measures on sequences with known answers, and on the Dirac-GAN (Mescheder et al. 2018)."""
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import expit

from gandiag import record as R
from gandiag.data.toy import grid, ring
from gandiag.metrics import oscillation as O
from gandiag.metrics.coverage import mode_counts

RING = ring(8, 2.0, 0.02)
T, S = 32, 256
Z = np.random.default_rng(0).standard_normal((S, 2))   # the fixed z: each fake keeps its offset


def on_mode(k):
    return RING.centres[k] + 0.5 * RING.stds[k] * Z


def orbiting(t):
    """A collapsed blob between two modes (1/32 of a turn past one, far from high quality), 3/8 of a
    turn further round the ring each snapshot: eight snapshots in a row sit nearest eight different modes."""
    angle = 2 * math.pi * (3 * t / 8 + 1 / 32)
    return 2.0 * np.array([math.cos(angle), math.sin(angle)]) + 0.05 * Z


SEQUENCES = {
    "static collapse": lambda t: on_mode(3),
    "rotating collapse": lambda t: on_mode(t % 8),
    "orbiting blob": orbiting,
    "full coverage": lambda t: RING.centres[np.arange(S) % 8] + 0.01 * Z,
    "noise": lambda t: np.random.default_rng(100 + t).uniform(-2.5, 2.5, (S, 2)),
}
# index, switch rate, modes visited per window, covered at once, ring drift (rad per snapshot)
KNOWN = {
    "static collapse": (0.0, 0.0, 1.0, 1.0, 0.0),
    "rotating collapse": (1.0, 1.0, 8.0, 1.0, math.pi / 4),
    "orbiting blob": (1.0, 1.0, 8.0, 1.0, 2 * math.pi * 3 / 8),
    "full coverage": (0.0, 0.0, 8.0, 8.0, 0.0),
    "noise": (0.0, None, 8.0, 8.0, 0.0),
}


def summarise(name):
    fakes = np.stack([SEQUENCES[name](t) for t in range(T)])
    near, hq = O.snapshot_masses(fakes, RING.centres, RING.stds)
    return O.oscillation(np.arange(T) * 500, near, fakes, RING.centres, hq=hq)


def hq_summary(counts, n):
    return O.oscillation(np.arange(len(counts)), O.mode_masses(counts, n))


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_mode_measures_give_the_known_answers(name):
    o = summarise(name)
    index, switches, visited, covered, drift = KNOWN[name]
    assert_allclose([o[R.OSC_INDEX], o[R.OSC_VISITED], o[R.OSC_COVERED], o[R.OSC_DRIFT][R.DRIFT_MEAN]],
                    [index, visited, covered, drift], atol=0.02)
    if switches is not None:
        assert_allclose(o[R.OSC_SWITCH_RATE], switches, atol=0)


def test_rotating_collapse_turns_one_full_ring_every_eight_snapshots():
    # not exact: the fixed offsets around each centre shift the fakes' angles by a hair
    assert_allclose(summarise("rotating collapse")[R.OSC_DRIFT][R.DRIFT_TURNS], (T - 1) / 8, rtol=1e-4)


def test_sampling_noise_on_a_full_coverage_generator_is_not_oscillation():
    """Fresh samples each time make the argmax mode switch at random; the index must not follow it."""
    counts = np.stack([mode_counts(RING.sample(2500).numpy(), RING.centres, RING.stds) for _ in range(T)])
    o = hq_summary(counts, 2500)
    assert_allclose(o[R.OSC_INDEX], 0.0, atol=0.01)
    # the naive signal that would have raised a false alarm: the argmax of 8 near-equal counts moves 7 times in 8
    assert_allclose(o[R.OSC_SWITCH_RATE], 7 / 8, atol=0.15)


def test_alternating_between_two_modes_scores_ln2_over_ln_w():
    counts = np.zeros((T, 8))
    counts[np.arange(T), (np.arange(T) % 2) * 4] = 100
    assert_allclose(hq_summary(counts, 100)[R.OSC_MODE_INDEX], math.log(2) / math.log(8), rtol=1e-12)


def window_index(dists):
    """The mode-part index of one window holding exactly these distributions (rows) over K bins."""
    (w,) = O.windows(np.arange(len(dists)), np.asarray(dists, dtype=np.float64), window=len(dists))
    return w[R.OSC_INDEX]


def test_window_index_is_one_for_disjoint_and_zero_for_equal_distributions():
    assert_allclose(window_index(np.eye(4)), 1.0, rtol=1e-12)
    assert_allclose(window_index(np.tile([0.2, 0.3, 0.5], (5, 1))), 0.0, atol=1e-12)
    # more distributions than bins: the most a window can differ is ln K, not ln W
    assert_allclose(window_index(np.eye(4)[np.arange(8) % 4]), 1.0, rtol=1e-12)


def test_windows_report_their_step_ranges_and_span_a_quarter_of_a_long_sequence():
    wins = O.windows(np.arange(10) * 100, O.mode_masses(np.tile([5, 0, 0], (10, 1)), 5), window=4)
    assert [w[R.OSC_STEPS] for w in wins] == [[s * 100, (s + 3) * 100] for s in range(7)]
    assert O.late(wins) == wins[3:]
    long = O.windows(np.arange(100) * 10, O.mode_masses(np.tile([5, 0, 0], (100, 1)), 5))
    assert {w[R.OSC_WINDOW] for w in long} == {25} and len(long) == 76
    assert O.windows(np.arange(3), O.mode_masses(np.tile([5, 0, 0], (3, 1)), 5)) == []   # too short to tell motion


def test_masses_count_fakes_near_a_mode_and_high_quality_ones_apart():
    # on mode 0; off it but in its neighbourhood; near mode 6; at the ring's centre, near no mode
    fakes = [np.array([[2.0, 0.0], [1.5, 0.1], [0.0, -1.9], [0.0, 0.0]])]
    near, hq = O.snapshot_masses(fakes, RING.centres, RING.stds)
    assert_allclose(near, [[0.5, 0, 0, 0, 0, 0, 0.25, 0, 0.25]])
    assert_allclose(hq, [[0.25, 0, 0, 0, 0, 0, 0, 0, 0.75]])
    assert_allclose(O.mode_masses([[1, 0, 2]], 4), [[0.25, 0, 0.5, 0.25]])
    assert O.dominant_modes(O.mode_masses([[0, 0], [1, 3]], 4)).tolist() == [-1, 1]


def test_switch_rate_counts_only_pairs_with_a_dominant_mode():
    assert_allclose(O.switch_rate(np.array([0, 0, 1, 1, -1, 2])), 1 / 3, rtol=1e-12)


def test_ring_detection():
    assert O.is_ring(RING.centres) and not O.is_ring(grid(25, 2.0, 0.05).centres)


def test_loss_cycle_finds_the_period_and_amplitude_of_a_sinusoid():
    t = np.arange(400)
    c = O.loss_cycle(1.4 + 0.3 * np.sin(2 * np.pi * t / 20), step_spacing=100)
    assert_allclose([c[R.CYCLE_PERIOD], c[R.CYCLE_AMPLITUDE]], [2000, 0.3], rtol=0.02)
    # the red-noise background fitted to a pure sinusoid (lag-1 autocorrelation 0.95) keeps 4 % of its peak
    assert_allclose(c[R.CYCLE_STRENGTH], 1.0, atol=0.05)


@pytest.mark.parametrize("series, strength", [
    (np.full(300, 1.386), 0.0),
    (1.386 + np.exp(-np.arange(300) / 15) * np.sin(np.arange(300)), 0.0),
    (1.386 + 0.05 * np.random.default_rng(1).standard_normal(300), 0.14),
])
def test_loss_cycle_strength_of_flat_damped_and_noisy_series(series, strength):
    assert_allclose(O.loss_cycle(series)[R.CYCLE_STRENGTH], strength, atol=0.08)


# --- the Dirac-GAN: D(x) = psi * x, G = theta, real data at 0 -------------------------------------

def dirac_gan(steps=3000, lr=0.1, gamma=0.0, theta=1.0, psi=1.0):
    """Alternating gradient steps on the zero-sum game (D minimises log 2 + softplus(psi theta) +
    gamma/2 psi^2, the last term R1's gradient penalty; G maximises softplus(psi theta)); returns
    the D and G losses per step."""
    d_loss, g_loss = [], []
    for _ in range(steps):
        psi -= lr * (expit(psi * theta) * theta + gamma * psi)
        theta += lr * expit(psi * theta) * psi
        d_loss.append(math.log(2) + np.logaddexp(0, psi * theta))
        g_loss.append(-np.logaddexp(0, psi * theta))
    return np.asarray(d_loss), np.asarray(g_loss)


def dirac_index(gamma):
    d, g = dirac_gan(gamma=gamma)
    return O.oscillation(loss_steps=np.arange(len(d)), d_loss=d, g_loss=g)[R.OSC_INDEX]


def test_dirac_gan_rotates_forever_without_a_penalty_and_converges_with_one():
    assert_allclose(dirac_index(0.0), 1.0, atol=0.15)
    assert_allclose(dirac_index(1.0), 0.0, atol=1e-3)


def test_ring_drift_ignores_fakes_near_the_centre_where_angles_mean_nothing():
    spin = np.stack([0.05 * np.stack([np.cos(Z[:, 0] + t), np.sin(Z[:, 0] + t)], 1) for t in range(T)])
    assert_allclose(O.angular_drift(spin, np.zeros(2), radius=2.0), np.zeros(T - 1), atol=0)


def test_loss_cycle_is_not_measured_on_a_series_too_short_to_tell_from_noise():
    assert O.loss_cycle(np.sin(np.arange(2 * O.MIN_CYCLE_ROWS - 2))) is None
    assert O.loss_cycle(np.sin(np.arange(2 * O.MIN_CYCLE_ROWS))) is not None


# --- fair shares, and loss cycles that are cycles ------------------------------------------------

def test_a_uniform_generator_over_1000_classes_visits_and_covers_them():
    """Stacked MNIST: the fair share of a class is 0.1 % of the samples; a fixed 1 % share would find
    no class at all. Here every class holds at least a tenth of its fair share in every row."""
    rng = np.random.default_rng(0)
    counts = rng.multinomial(25_600, np.full(1000, 1e-3), size=T)
    o = O.oscillation(np.arange(T), O.mode_masses(counts, 25_600))
    held = (counts >= 2.56).sum(axis=1)
    assert_allclose([o[R.OSC_VISITED], o[R.OSC_COVERED]], [1000, held.mean()], rtol=0.01)
    assert o[R.OSC_MODE_INDEX] < 0.02


@pytest.mark.parametrize("seed", range(3))
def test_a_step_change_is_not_a_cycle(seed):
    x = np.r_[np.full(300, 1.386), np.full(100, 2.0)] + 0.001 * np.random.default_rng(seed).standard_normal(400)
    assert O.loss_cycle(x)[R.CYCLE_STRENGTH] < 0.2      # white noise's level; a cycle scores ~1


def test_random_walks_are_not_cycles():
    strengths = [O.loss_cycle(np.cumsum(np.random.default_rng(s).standard_normal(400)))[R.CYCLE_STRENGTH]
                 for s in range(20)]
    assert np.median(strengths) < 0.15


def test_the_headline_index_is_the_mode_part_when_there_is_mode_data():
    """A static collapse whose losses cycle: the mass holds still (index 0); the cycle is reported apart."""
    t = np.arange(400)
    cycling = 1.386 + 0.2 * np.sin(2 * np.pi * t / 25)
    o = O.oscillation(np.arange(T), O.mode_masses(np.tile([100, 0, 0], (T, 1)), 100),
                      loss_steps=t, d_loss=cycling, g_loss=cycling)
    assert o[R.OSC_INDEX] == o[R.OSC_MODE_INDEX] == 0.0
    assert_allclose(o[R.OSC_LOSS_INDEX], 1.0, atol=0.05)
