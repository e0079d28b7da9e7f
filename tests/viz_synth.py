"""Synthetic run folders with known content, written through the Recorder exactly as the trainer writes
them: the viz tests (and benchmarks/bench_render.py) draw these, so every expected pixel is known."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from gandiag import record as R
from gandiag.data.toy import ring
from synth_folder import write_folder

RING = ring(8, 2.0, 0.02)


def toy_snapshot(fakes, arrows, d_fn, window=RING.window(), res: int = 32, manifold=None) -> dict:
    """A toy snapshot: D's grid from d_fn(X, Y) with row i at y = grid_y[i], column j at x = grid_x[j]."""
    gx = np.linspace(window[0], window[1], res)
    gy = np.linspace(window[2], window[3], res)
    xx, yy = np.meshgrid(gx, gy)  # xx[i, j] = gx[j], yy[i, j] = gy[i]
    fakes = np.asarray(fakes, dtype=np.float32)
    snap = {R.SNAP_FAKES: fakes, R.SNAP_ARROWS: np.asarray(arrows, dtype=np.float32),
            R.SNAP_FAKE_LOGITS: np.zeros(len(fakes), dtype=np.float32),
            R.SNAP_GRID_X: gx, R.SNAP_GRID_Y: gy, R.SNAP_D_GRID: d_fn(xx, yy).astype(np.float32)}
    if manifold is not None:
        snap[R.SNAP_MANIFOLD] = np.asarray(manifold, dtype=np.float32)
    return snap


def write_run(root: Path, snapshots: dict[int, dict], rows: list[dict] = (), mixture=RING, **config) -> Path:
    """A run folder of gandiag's trainer (its config is gandiag's settings) holding the given snapshots and
    metrics rows (mixture None: an image run)."""
    return write_folder(root, {"scenario": "ring8", "loss": "nonsaturating", "unrolled": 0, "snapshot_every": 100,
                               **config}, rows, snapshots, mixture, **{R.TRAINER: R.GANDIAG_TRAINER})


def metric_rows(last: int, every: int, modes=lambda s: 8) -> list[dict]:
    """Smooth, plausible metrics rows from step 0 to last."""
    return [{R.STEP: s, R.D_LOSS: 1.2 + 0.1 * np.sin(s / 700), R.G_LOSS: 0.8 + 0.1 * np.cos(s / 500),
             R.MODES: modes(s), R.MODES_STRICT: modes(s), R.HQ: 0.9, R.REVERSE_KL: 0.1,
             R.SAT_SHARE: 0.05 * (s % 1000) / 1000} for s in range(0, last + 1, every)]


def rotating_run(root: Path, n_snapshots: int, every: int = 100, n_fakes: int = 512, res: int = 64,
                 seed: int = 0, z2: bool = False, fakes_alone: bool = False) -> Path:
    """A ring8 run whose fakes sit on one mode at a time and move on to the next (the oscillating
    collapse of the Unrolled GAN paper's figure), with D high on the modes G left uncovered and
    arrows pulling the fakes towards the next mode: realistic shapes and motion for timing.
    fakes_alone: snapshots of the fakes only, as a user's loop may record them (no D grid or arrows)."""
    rng = np.random.default_rng(seed)
    snaps = {}
    for k in range(n_snapshots):
        here, nxt = RING.centres[k % 8], RING.centres[(k + 1) % 8]
        fakes = here + 0.08 * rng.standard_normal((n_fakes, 2))
        centres = np.delete(RING.centres, k % 8, axis=0)

        def d_fn(x, y, centres=centres):
            near = np.min([(x - cx) ** 2 + (y - cy) ** 2 for cx, cy in centres], axis=0)
            return 0.2 + 0.75 * np.exp(-near / 0.5)

        grid = np.stack(np.meshgrid(np.linspace(-1, 1, 12), np.linspace(-1, 1, 12)), -1)
        manifold = here + 0.3 * grid if z2 else None
        snaps[k * every] = {R.SNAP_FAKES: fakes.astype(np.float32)} if fakes_alone else \
            toy_snapshot(fakes, nxt - fakes, d_fn, res=res, manifold=manifold)
    last = (n_snapshots - 1) * every
    return write_run(root, snaps, metric_rows(last, max(every // 5, 1), modes=lambda s: 1 + (s // every) % 2))
