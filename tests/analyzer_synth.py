"""Synthetic metrics rows and run folders with known failures, for the analyzer's tests.

Rows carry what the trainer writes (losses, gradient norms, PacGAN coverage of 2,500 samples, the
saturation probe every PROBE_EVERY rows); run folders are written through the Recorder as the trainer
writes them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gandiag import record as R
from gandiag.config import make_config, to_dict
from gandiag.data.toy import Mixture, ring
from synth_folder import write_folder
from gandiag.metrics import coverage

RING = ring(8, 2.0, 0.02)
#: RING ten times larger around (500, 400): data at pixel scale, nowhere near where a G starts
PIXEL_RING = Mixture(10 * RING.centres + np.array([500.0, 400.0]), 10 * RING.stds, RING.weights)
ROWS, EVERY, PROBE_EVERY = 100, 100, 5


def mode_entries(samples: np.ndarray) -> dict:
    return coverage.row_entries(samples, RING)


def on_mode(k: int, n: int, gen: torch.Generator) -> np.ndarray:
    return RING.centres[k] + RING.stds[k] * torch.randn(n, 2, generator=gen, dtype=torch.float64).numpy()


def healthy_rows(seed: int = 0, n: int = ROWS) -> list[dict]:
    """A generator that samples the target: metrics as the trainer writes them, noise included (the
    step-0 row, before any training step, has coverage but no losses)."""
    rng, gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    rows = []
    for i in range(n):
        row = {R.STEP: i * EVERY, R.D_LOSS: 1.386 + 0.03 * rng.standard_normal(),
               R.G_LOSS: 0.693 + 0.03 * rng.standard_normal(), R.D_GRAD_NORM: 0.5 + 0.1 * rng.random(),
               R.G_GRAD_NORM: 0.3 + 0.1 * rng.random(), **mode_entries(RING.sample(2500, gen).numpy())}
        if i == 0:
            row = {k: v for k, v in row.items() if k not in (R.D_LOSS, R.G_LOSS, R.D_GRAD_NORM, R.G_GRAD_NORM)}
        if i % PROBE_EVERY == 0:
            row.update({R.SAT_SHARE: 0.0, R.SAT_DLOGIT_MINIMAX: 0.5, R.SAT_DLOGIT_NONSAT: 0.5,
                        R.SAT_GNORM_MINIMAX: 0.3, R.SAT_GNORM_NONSAT: 0.3})
        rows.append(row)
    return rows


def set_from(rows: list[dict], start: int, **values) -> list[dict]:
    """From row `start` on, set record keys (by constant name) to a value or a function of the row."""
    for row in rows[start:]:
        row.update({getattr(R, k): v(row) if callable(v) else v for k, v in values.items()})
    return rows


def collapsed(rows: list[dict], start: int = 0, mode: int = 3) -> list[dict]:
    """From row `start` on, all samples sit on one mode."""
    gen = torch.Generator().manual_seed(1)
    for row in rows[start:]:
        row.update(mode_entries(on_mode(mode, 2500, gen)))
    return rows


def saturated(rows: list[dict], start: int = 0) -> list[dict]:
    """From row `start` on, the saturation probe finds 95 % of the fakes saturated (D(G(z)) < SATURATED_BELOW)."""
    for row in rows[start:]:
        if R.SAT_SHARE in row:
            row[R.SAT_SHARE] = 0.95
    return rows


def rotating(rows: list[dict]) -> list[dict]:
    """Mode hopping: all samples on one mode at a time, the next mode each row."""
    gen = torch.Generator().manual_seed(2)
    for i, row in enumerate(rows):
        row.update(mode_entries(on_mode(i % 8, 2500, gen)))
    return rows


def spreading(rows: list[dict], start: int = 0) -> list[dict]:
    """From row `start` on, the samples sit around every mode at once, ten stds wide: near all of them,
    high quality hardly ever (an unrolled GAN early on)."""
    gen = torch.Generator().manual_seed(3)
    for row in rows[start:]:
        k = torch.randint(8, (2500,), generator=gen).numpy()
        wide = 0.2 * torch.randn(2500, 2, generator=gen, dtype=torch.float64).numpy()
        row.update(mode_entries(RING.centres[k] + wide))
    return rows


def orbiting(rows: list[dict], start: int = 0) -> list[dict]:
    """From row `start` on, one blob a little inside the ring, off every mode's high-quality disc, a
    sixth of a turn further each row (a vanilla GAN on ring8)."""
    gen = torch.Generator().manual_seed(4)
    for i, row in enumerate(rows[start:]):
        angle = 2 * np.pi * i / 6
        blob = 1.7 * np.array([np.cos(angle), np.sin(angle)]) + 0.05 * torch.randn(2500, 2, generator=gen).numpy()
        row.update(mode_entries(blob))
    return rows


def flickering(rows: list[dict], start: int = 0) -> list[dict]:
    """From row `start` on, the samples far off the ring, all on mode 0 every third row: mass that comes
    and goes on one mode (a G that never reaches data at another scale), hopping between no two modes."""
    gen = torch.Generator().manual_seed(5)
    for i, row in enumerate(rows[start:]):
        far = 20.0 + 0.5 * torch.randn(2500, 2, generator=gen, dtype=torch.float64).numpy()
        row.update(mode_entries(on_mode(0, 2500, gen) if i % 3 == 0 else far))
    return rows


def unreached(rows: list[dict], mixture=PIXEL_RING, start: int = 0) -> list[dict]:
    """From row `start` on, G's samples where a G starts (about the origin, at scale 1), scored against
    `mixture`: of data far from there, not one on a mode."""
    gen = torch.Generator().manual_seed(6)
    for row in rows[start:]:
        row.update(coverage.row_entries(torch.randn(2500, 2, generator=gen, dtype=torch.float64).numpy(), mixture))
    return rows


def where_g_starts(steps, n: int = 256) -> dict[int, np.ndarray]:
    """Snapshots at `steps` whose fixed-z fakes sit where a G starts: about the origin, at scale 1."""
    return {step: torch.randn(n, 2, generator=torch.Generator().manual_seed(8)).numpy() for step in steps}


def exploded(rows: list[dict], start: int = 0) -> list[dict]:
    """From row `start` on, the losses of `gandiag run ring8 --d-lr 1e6 --g-lr 1e6`: no NaN, D loss in
    the hundreds of thousands, G's gradient exactly 0, every sample far from every mode."""
    for row in rows[start:]:
        row.update({R.D_LOSS: 456_000.0 + row[R.STEP] % 7, R.G_LOSS: 0.0, R.D_GRAD_NORM: 1.0, R.G_GRAD_NORM: 0.0,
                    **mode_entries(np.full((2500, 2), 3e3))})
    return rows


def fixed_z_fakes(kind: str, t: int, n: int = 256) -> np.ndarray:
    """G(z_fixed) at snapshot t: 'healthy' covers every mode and holds still, 'rotating' sits on mode
    t mod 8, 'collapsed' on mode 3."""
    offsets = 0.5 * RING.stds[0] * torch.randn(n, 2, generator=torch.Generator().manual_seed(7)).numpy()
    modes = {"healthy": np.arange(n) % 8, "rotating": np.full(n, t % 8), "collapsed": np.full(n, 3)}[kind]
    return RING.centres[modes] + offsets


def write_run(root: Path, rows: list[dict], snapshots: dict[int, np.ndarray], loss: str = "nonsaturating",
              status: str = R.FINISHED, mixture=RING, **config) -> Path:
    """A run folder as the trainer leaves it (mixture None: an image run without modes); `config`
    overrides config.json's settings."""
    snaps = {step: {R.SNAP_FAKES: np.asarray(fakes, dtype=np.float32)} for step, fakes in snapshots.items()}
    return write_folder(root, to_dict(make_config(loss=loss, **config)), rows, snaps, mixture, status, seed=0)
