"""Oscillation: a generator that rotates through the modes instead of covering them, and losses that cycle.

Inputs are sequences over time: where the generated mass sits among the modes (the metrics rows'
near and high-quality counts per mode, or the same counts of the snapshots' fixed-z fakes; image runs:
the classifier's classes), the fixed-z fakes themselves (for the angular drift on rings), and the D
and G loss series. Definitions: docs/analyzer.md.

The oscillation index is the mode part, or the loss part for a run without mode data; both in [0, 1]:

  mode part  sliding windows of W = window_size(T) consecutive times (at least WINDOW, a quarter of
             the sequence); each time's near mass over the M modes plus one "on no mode" bin; the
             generalised Jensen-Shannon divergence of the window's W distributions, H(mean p) -
             mean H(p), divided by its maximum ln min(W, M + 1); averaged over the windows in the
             later half of the run (early learning is progress, not oscillation). 0: the mass holds
             still (static collapse, full coverage, sampling noise); 1: every time of a window puts
             its mass on modes no other time there uses.
  loss part  for the D and the G loss over the later half: among the periods that repeat at least
             MIN_CYCLES times, the one standing highest above a red-noise background (the AR(1)
             spectrum of the series' own lag-1 autocorrelation); its excess power (+-1 bin) over
             the whole detrended variance, times the persistence (the last quarter's spread over the
             third quarter's, at most 1); the larger of the two. ~1 for an undamped cycle; ~0 for a
             flat or damped series, a step change or a random walk; about 0.1-0.2 for white noise.
             Measured once the later half holds MIN_CYCLE_ROWS rows.
"""
from __future__ import annotations

import numpy as np
from scipy import signal, special

from .. import record as R
from . import coverage

#: the fewest entries per window for "visited vs near at once" and the mode part of the index
WINDOW = 8
#: a mass sequence shorter than this is too short to tell motion: no windows
MIN_ENTRIES = 4
#: loss rows the later half needs before its cycle is measured
MIN_CYCLE_ROWS = 32
#: a loss cycle must repeat this many times over the later half (slower swings are trends, not cycles)
MIN_CYCLES = 3
#: a loss whose spread is below this (relative to its level) is at rest: no cycle
_AT_REST = 1e-9


# --- mode sequences ----------------------------------------------------------------------------
# A mass sequence is (T, M + 1): at each time the share of the samples on each of the M modes, then
# the share on none of them. Two per run: "near" (samples in each mode's neighbourhood, high quality or
# not: where the mass is, so a blob orbiting between the modes still moves mass from mode to mode) and
# "hq" (high-quality samples: what the metrics rows count).

def mode_masses(counts: np.ndarray, n_samples) -> np.ndarray:
    """From counts per mode (T, M) and the samples behind each row: the shares on the modes, then the
    share on none."""
    counts = np.asarray(counts, dtype=np.float64)
    n = np.broadcast_to(np.asarray(n_samples, dtype=np.float64), (len(counts),))[:, None]
    on_modes = counts / np.maximum(n, 1.0)
    return np.hstack([on_modes, np.maximum(0.0, 1.0 - on_modes.sum(axis=1, keepdims=True))])


def snapshot_masses(fakes, centres: np.ndarray, stds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(near, hq) mass sequences from T arrays of fixed-z fakes (S, 2)."""
    near = [coverage.near_counts(f, centres, stds) for f in fakes]
    hq = [coverage.mode_counts(f, centres, stds) for f in fakes]
    n = [len(f) for f in fakes]
    return mode_masses(near, n), mode_masses(hq, n)


def dominant_modes(masses: np.ndarray) -> np.ndarray:
    """The mode holding the most mass at each time, -1 where no mass is on any mode."""
    on_modes = masses[:, :-1]
    return np.where(on_modes.sum(axis=1) > 0, on_modes.argmax(axis=1), -1)


def switch_rate(dominant: np.ndarray) -> float:
    """Share of consecutive pairs (both with a dominant mode) where the dominant mode changes."""
    a, b = dominant[:-1], dominant[1:]
    valid = (a >= 0) & (b >= 0)
    return float((a[valid] != b[valid]).mean()) if valid.any() else 0.0


def window_size(n: int, window: int = WINDOW) -> int:
    """Entries per window for a sequence of n: at least `window`, and a quarter of the sequence, so a
    window spans the same share of a densely logged run as of a sparsely snapshotted one."""
    return min(n, max(window, -(-n // 4)))


def _window_sums(x: np.ndarray, w: int) -> np.ndarray:
    """Sums over every run of w consecutive rows of x (T, ...) -> (T - w + 1, ...), by cumulative sums
    (the live check runs this at every logged row)."""
    c = np.cumsum(np.concatenate([np.zeros((1, *x.shape[1:])), x]), axis=0)
    return c[w:] - c[:-w]


def windows(steps, masses: np.ndarray, hq: np.ndarray | None = None, window: int = WINDOW) -> list[dict]:
    """Sliding windows of window_size(T) consecutive times of a near-mass sequence (T, M + 1), from
    MIN_ENTRIES times on: step range, entries, modes visited (near STRICT_FAIR_SHARE of their fair
    share of the samples at some time in the window), modes near at once (the mean over its times),
    the window's mode-part index and, given the hq masses of the same times, the modes held at high
    quality at once (the rows' strict count, averaged)."""
    t = len(masses)
    if t < MIN_ENTRIES:
        return []
    w, m = window_size(t, window), masses.shape[1] - 1
    share = coverage.strict_share(m)
    pooled = np.clip(_window_sums(masses, w) / w, 0.0, None)
    each = _window_sums(special.entr(masses).sum(axis=1), w) / w
    index = np.maximum(0.0, special.entr(pooled).sum(axis=1) - each) / np.log(min(w, m + 1))
    held = masses[:, :-1] >= share
    visited = (_window_sums(held.astype(np.float64), w) > 0.5).sum(axis=1)
    covered = _window_sums(held.sum(axis=1).astype(np.float64), w) / w
    hq_covered = None if hq is None else _window_sums((hq[:, :-1] >= share).sum(axis=1).astype(np.float64), w) / w
    return [{R.OSC_STEPS: [int(steps[s]), int(steps[s + w - 1])], R.OSC_WINDOW: w,
             R.OSC_VISITED: int(visited[s]), R.OSC_COVERED: float(covered[s]),
             R.OSC_HQ_COVERED: None if hq_covered is None else float(hq_covered[s]),
             R.OSC_INDEX: float(index[s])} for s in range(len(pooled))]


def late(items: list) -> list:
    """The later half of a sequence (at least its last item): what the run settled into."""
    return items[len(items) // 2:] if items else items


# --- rings -------------------------------------------------------------------------------------

def is_ring(centres: np.ndarray) -> bool:
    """Three or more modes all at one distance from their mean (ring8 and its variants)."""
    r = np.linalg.norm(centres - centres.mean(axis=0), axis=1)
    return len(centres) >= 3 and r.min() > 0 and np.ptp(r) <= 1e-6 * r.max()


def angular_drift(fakes: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    """(T - 1,) mean signed angle (radians) the fixed-z fakes turn about the ring's centre between
    snapshots, over the fakes at least half the ring's radius out at both ends (near the centre an
    angle means nothing); 0 where there are none.

    The same z sits in every snapshot, so each fake's own turn is well defined; a rotating collapse
    turns them all together, a static generator not at all, and jitter averages out."""
    rel = np.asarray(fakes, dtype=np.float64) - centre
    theta = np.arctan2(rel[..., 1], rel[..., 0])                 # (T, S)
    out = np.hypot(rel[..., 0], rel[..., 1]) >= radius / 2
    counted = out[:-1] & out[1:]
    turn = np.angle(np.exp(1j * np.diff(theta, axis=0)))        # wrapped to (-pi, pi]
    return np.where(counted, turn, 0.0).sum(axis=1) / np.maximum(counted.sum(axis=1), 1)


def drift_summary(per_snapshot: np.ndarray) -> dict:
    return {R.DRIFT_PER_SNAPSHOT: per_snapshot.tolist(),
            R.DRIFT_MEAN: float(per_snapshot.mean()) if len(per_snapshot) else 0.0,
            R.DRIFT_TURNS: float(per_snapshot.sum() / (2 * np.pi))}


# --- loss cycles -------------------------------------------------------------------------------

def loss_cycle(values, step_spacing: float = 1.0) -> dict | None:
    """Dominant cycle of a loss series' later half: its period (in steps) and amplitude, the share of
    the detrended variance it carries above a red-noise background (+-1 bin), whether it persists, and
    strength = share x persistence. Only periods that repeat at least MIN_CYCLES times count.

    The background is the spectrum of an AR(1) process with the series' own lag-1 autocorrelation,
    scaled to the series' power (the usual test of a spectral peak against red noise): a random walk or
    a step change has a red spectrum with no peak above it, a cycle stands out of it. None when the
    later half has fewer than MIN_CYCLE_ROWS finite values (too short to tell a cycle from noise)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    x = x[len(x) // 2:]
    if len(x) < MIN_CYCLE_ROWS:
        return None
    if np.std(x) <= _AT_REST * (1.0 + abs(np.mean(x))):
        return {R.CYCLE_PERIOD: None, R.CYCLE_AMPLITUDE: 0.0, R.CYCLE_PEAK_SHARE: 0.0,
                R.CYCLE_PERSISTENCE: 0.0, R.CYCLE_STRENGTH: 0.0}
    y = signal.detrend(x)
    window = np.hanning(len(y))
    power = np.abs(np.fft.rfft(y * window)) ** 2
    power[0] = 0.0                                               # the constant term
    excess = np.maximum(0.0, power - red_noise(y, len(power)) * power.sum())
    k = MIN_CYCLES + int(excess[MIN_CYCLES:].argmax())           # bin k: k cycles over the later half
    share = float(excess[k - 1:k + 2].sum() / power.sum())
    half = len(y) // 2
    third, last = np.std(signal.detrend(x[:half])), np.std(signal.detrend(x[half:]))
    persistence = float(min(1.0, last / third)) if third > 0 else 0.0
    return {R.CYCLE_PERIOD: float(len(y) / k * step_spacing),
            R.CYCLE_AMPLITUDE: float(2 * np.sqrt(power[k]) / window.sum()),
            R.CYCLE_PEAK_SHARE: share, R.CYCLE_PERSISTENCE: persistence,
            R.CYCLE_STRENGTH: share * persistence}


def red_noise(y: np.ndarray, bins: int) -> np.ndarray:
    """The AR(1) spectrum (1 - rho^2) / (1 - 2 rho cos w + rho^2) at the rfft bins of y (rho: y's lag-1
    autocorrelation, at most 0.99), without the constant term, summing to 1."""
    rho = float(np.clip(np.dot(y[1:], y[:-1]) / np.dot(y, y), 0.0, 0.99))
    w = 2 * np.pi * np.arange(bins) / len(y)
    shape = 1.0 / (1.0 - 2 * rho * np.cos(w) + rho ** 2)
    shape[0] = 0.0
    return shape / shape.sum()


# --- the summary -------------------------------------------------------------------------------

def oscillation(steps=None, masses=None, fakes=None, centres=None,
                loss_steps=None, d_loss=None, g_loss=None, hq=None, window: int = WINDOW) -> dict:
    """The oscillation section of analysis.json from whatever is available: a near-mass sequence
    (steps, masses (T, M + 1)) with the hq masses of the same times, the fixed-z fakes (T, S, 2) with the
    target's centres, and the loss series. Parts without their inputs are None; the index is the
    mode part, or the loss part when there is no mode data."""
    out = {R.OSC_MODE_INDEX: None, R.OSC_LOSS_INDEX: None, R.OSC_DRIFT: None,
           R.OSC_D_CYCLE: None, R.OSC_G_CYCLE: None}
    wins = windows(steps, masses, hq, window) if masses is not None else []
    if wins:
        dominant = dominant_modes(masses)
        tail = late(wins)
        out.update({R.OSC_STEPS: [int(s) for s in steps], R.OSC_DOMINANT: dominant.tolist(),
                    R.OSC_SWITCH_RATE: switch_rate(dominant),
                    R.OSC_DOMINANT_SHARE: float(masses[:, :-1].max(axis=1).mean()),
                    R.OSC_WINDOWS: wins, R.OSC_WINDOW: wins[0][R.OSC_WINDOW],
                    R.OSC_VISITED: float(np.mean([w[R.OSC_VISITED] for w in tail])),
                    R.OSC_COVERED: float(np.mean([w[R.OSC_COVERED] for w in tail])),
                    R.OSC_HQ_COVERED: None if hq is None else float(np.mean([w[R.OSC_HQ_COVERED] for w in tail])),
                    R.OSC_MODE_INDEX: float(np.mean([w[R.OSC_INDEX] for w in tail]))})
    if fakes is not None and centres is not None and is_ring(centres) and len(fakes) > 1:
        centre = centres.mean(axis=0)
        radius = float(np.linalg.norm(centres[0] - centre))
        out[R.OSC_DRIFT] = drift_summary(angular_drift(fakes, centre, radius))
    if loss_steps is not None and len(loss_steps) > 1:
        spacing = float(np.median(np.diff(loss_steps)))
        cycles = [None if v is None else loss_cycle(v, spacing) for v in (d_loss, g_loss)]
        out[R.OSC_D_CYCLE], out[R.OSC_G_CYCLE] = cycles
        present = [c[R.CYCLE_STRENGTH] for c in cycles if c is not None]
        out[R.OSC_LOSS_INDEX] = max(present) if present else None
    # the headline is where the mass goes; loss cycles only stand in when there is no mode data
    out[R.OSC_INDEX] = out[R.OSC_MODE_INDEX] if out[R.OSC_MODE_INDEX] is not None else out[R.OSC_LOSS_INDEX]
    return out
