"""Oscillation: a generator that rotates through the modes instead of covering them, and losses that cycle.

Inputs are sequences over time: where the generated mass sits among the modes (from the snapshots'
fixed-z fakes, each fake counting for its nearest mode; or from the metrics rows' HQ mode counts),
the fixed-z fakes themselves (for the angular drift on rings), and the D and G loss series.

The oscillation index (README.md) is the larger of two parts, each in [0, 1]:

  mode part  sliding windows of W snapshots; each snapshot's mass over the M modes plus one
             "on no mode" bin; the generalised Jensen-Shannon divergence of the window's W
             distributions, H(mean p) - mean H(p), divided by its maximum ln W; averaged over the
             windows in the later half of the run (early learning is progress, not oscillation).
             0: the mass distribution holds still (static collapse, full coverage, sampling noise);
             1: every snapshot of a window puts its mass on modes no other snapshot there uses.
  loss part  for the D and the G loss over the later half: the share of the detrended variance in
             the dominant frequency (+-1 bin) times the persistence (the last quarter's spread over
             the third quarter's, at most 1); the larger of the two. ~1 for an undamped cycle,
             ~0 for a flat or damped series, about 0.1-0.2 for white noise. Measured once the
             later half holds MIN_CYCLE_ROWS rows.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import signal, special

from .. import record as R
from . import coverage

#: snapshots per window for "visited vs covered" and the mode part of the index
WINDOW = 8
#: loss rows the later half needs before its cycle is measured
MIN_CYCLE_ROWS = 32
#: a loss whose spread is below this (relative to its level) is at rest: no cycle
_AT_REST = 1e-9


# --- mode sequences ----------------------------------------------------------------------------
# A mass sequence is (T, M + 1): at each time the share of the samples on each of the M modes, then
# the share on none of them. Two ways to get one:

def nearest_mode_masses(fakes, centres: np.ndarray, stds: np.ndarray) -> np.ndarray:
    """From fixed-z fakes, T arrays (S, 2): every fake counts for its nearest mode (std-scaled distance),
    high quality or not, so a collapsed blob orbiting between the modes still moves mass from mode
    to mode; the last column is 0."""
    m = len(centres)
    masses = [np.bincount(coverage.assign(f, centres, stds)[0], minlength=m) / len(f) for f in fakes]
    return np.hstack([np.asarray(masses), np.zeros((len(masses), 1))])


def hq_masses(counts: np.ndarray, n_samples) -> np.ndarray:
    """From HQ counts per mode (the metrics rows' MODE_COUNTS) and the samples behind them: the
    shares on the modes, then the share that is high quality on none."""
    counts = np.asarray(counts, dtype=np.float64)
    n = np.broadcast_to(np.asarray(n_samples, dtype=np.float64), (len(counts),))[:, None]
    on_modes = counts / n
    return np.hstack([on_modes, 1.0 - on_modes.sum(axis=1, keepdims=True)])


def dominant_modes(masses: np.ndarray) -> np.ndarray:
    """The mode holding the most mass at each time, -1 where no mass is on any mode."""
    on_modes = masses[:, :-1]
    return np.where(on_modes.sum(axis=1) > 0, on_modes.argmax(axis=1), -1)


def switch_rate(dominant: np.ndarray) -> float:
    """Share of consecutive pairs (both with a dominant mode) where the dominant mode changes."""
    a, b = dominant[:-1], dominant[1:]
    valid = (a >= 0) & (b >= 0)
    return float((a[valid] != b[valid]).mean()) if valid.any() else 0.0


def window_jsd(dists: np.ndarray) -> np.ndarray:
    """Generalised JS divergence of the W distributions along axis -2 (equal weights), over ln W:
    in [0, 1]; works on one window (W, K) or a stack of them (N, W, K)."""
    w = dists.shape[-2]
    if w < 2:
        return np.zeros(dists.shape[:-2])
    pooled = special.entr(dists.mean(axis=-2)).sum(axis=-1)
    each = special.entr(dists).sum(axis=-1).mean(axis=-1)
    return np.maximum(0.0, pooled - each) / np.log(w)


def windows(steps, masses: np.ndarray, window: int = WINDOW) -> list[dict]:
    """Sliding windows of `window` consecutive times of a mass sequence: step range, modes visited
    (>= MIN_MODE_SHARE of the samples at some time in the window), modes covered at once (mean over
    its times) and the window's mode-part index."""
    w = max(1, min(window, len(masses)))
    stacked = sliding_window_view(masses, w, axis=0).swapaxes(-1, -2)     # (N, w, M + 1)
    held = stacked[..., :-1] >= R.MIN_MODE_SHARE
    visited, covered = held.any(axis=1).sum(axis=-1), held.sum(axis=-1).mean(axis=1)
    index = window_jsd(stacked)
    return [{R.OSC_STEPS: [int(steps[s]), int(steps[s + w - 1])], R.OSC_VISITED: int(visited[s]),
             R.OSC_COVERED: float(covered[s]), R.OSC_INDEX: float(index[s])} for s in range(len(stacked))]


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
    """Dominant period (in steps) and amplitude of a loss series' later half, how much of its
    variance that frequency carries (+-1 bin) and whether it persists; strength = share x persistence.
    None when the later half has fewer than MIN_CYCLE_ROWS finite values (too short to tell a cycle
    from noise)."""
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
    power = np.abs(np.fft.rfft(y * window))[1:] ** 2           # drop the constant term
    k = int(power.argmax())
    share = float(power[max(0, k - 1):k + 2].sum() / power.sum())
    half = len(y) // 2
    third, last = np.std(signal.detrend(x[:half])), np.std(signal.detrend(x[half:]))
    persistence = float(min(1.0, last / third)) if third > 0 else 0.0
    return {R.CYCLE_PERIOD: float(len(y) / (k + 1) * step_spacing),
            R.CYCLE_AMPLITUDE: float(2 * np.sqrt(power[k]) / window.sum()),
            R.CYCLE_PEAK_SHARE: share, R.CYCLE_PERSISTENCE: persistence,
            R.CYCLE_STRENGTH: share * persistence}


# --- the summary -------------------------------------------------------------------------------

def oscillation(steps=None, masses=None, fakes=None, centres=None,
                loss_steps=None, d_loss=None, g_loss=None, window: int = WINDOW) -> dict:
    """The oscillation section of analysis.json from whatever is available: a mass sequence (steps,
    masses (T, M + 1)), the fixed-z fakes (T, S, 2) with the target's centres, and the loss series.
    Parts without their inputs are None; the index is the larger part present."""
    out = {R.OSC_MODE_INDEX: None, R.OSC_LOSS_INDEX: None, R.OSC_DRIFT: None,
           R.OSC_D_CYCLE: None, R.OSC_G_CYCLE: None}
    if masses is not None and len(masses):
        dominant = dominant_modes(masses)
        wins = windows(steps, masses, window)
        tail = late(wins)
        out.update({R.OSC_STEPS: [int(s) for s in steps], R.OSC_DOMINANT: dominant.tolist(),
                    R.OSC_SWITCH_RATE: switch_rate(dominant),
                    R.OSC_DOMINANT_SHARE: float(masses[:, :-1].max(axis=1).mean()),
                    R.OSC_WINDOWS: wins,
                    R.OSC_VISITED: float(np.mean([w[R.OSC_VISITED] for w in tail])),
                    R.OSC_COVERED: float(np.mean([w[R.OSC_COVERED] for w in tail])),
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
    parts = [p for p in (out[R.OSC_MODE_INDEX], out[R.OSC_LOSS_INDEX]) if p is not None]
    out[R.OSC_INDEX] = max(parts) if parts else None
    return out
