"""`gandiag probe saturation`: Arjovsky & Bottou's (2017) experiment on a trained run.

G is loaded from a checkpoint and frozen, a fresh D of the run's architecture and optimiser trains
against it, and at log-spaced D steps the trainer's saturation probe records G's gradient norm under
the saturating loss log(1 - D(G(z))) and under -log D(G(z)): the first falls by orders of magnitude as
D wins, the second does not. This trains a network, so it lives beside the trainer; the analyzer only
reads the files it writes (RUN/saturation_probe_step_XXXXXXXX_dsteps_N_dlr_LR.json and .png).
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .. import losses, record as R
from ..config import from_dict
from ..record.snapshot import measure_saturation
from ..viz.source import open_reader
from .checkpoints import load_checkpoint, refuse_own_loop
from .session import Session


def probe_steps(d_steps: int, points: int = 25) -> list[int]:
    """D steps at which the probe measures: 0 and about `points` log-spaced steps up to d_steps."""
    spaced = np.unique(np.round(np.logspace(0, np.log10(max(d_steps, 1)), points)).astype(int))
    return [0, *[int(s) for s in spaced if 0 < s <= d_steps]]


def frozen_g_probe(G, D, sample_real: Callable[[int], torch.Tensor], sample_z: Callable[[int], torch.Tensor],
                   measure: Callable, d_steps: int, batch: int, opt: torch.optim.Optimizer) -> list[dict]:
    """Train D alone (cross-entropy, `opt` over D's parameters) against the frozen G for d_steps and
    return one row per probe step: {PROBE_D_STEP, D_LOSS on a fixed batch, measure(G, D, z_fixed)...}.

    `measure(G, D, z) -> dict` is the trainer's saturation probe (SAT_* keys); G's parameters keep
    requires_grad so it can take G's gradient norm, but nothing ever steps them."""
    z_fixed, real_fixed = sample_z(batch), sample_real(batch)
    at, rows = set(probe_steps(d_steps)), []
    G.eval()
    for step in range(d_steps + 1):
        if step in at:
            with torch.no_grad():
                d_loss = losses.d_loss("nonsaturating", D(real_fixed), D(G(z_fixed)))
            if not torch.isfinite(d_loss):   # stopped before anything is written: an earlier probe's files stay
                raise R.RunError(f"the probe's fresh D diverged by D step {step} (its loss is {float(d_loss)}): "
                                 "lower its learning rate (--d-lr)")
            rows.append({R.PROBE_D_STEP: step, R.D_LOSS: float(d_loss), **measure(G, D, z_fixed)})
        if step == d_steps:
            break
        with torch.no_grad():
            fake = G(sample_z(batch))
        loss = losses.d_loss("nonsaturating", D(sample_real(batch)), D(fake))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return rows


def probe_saturation(path, checkpoint: int | None = None, d_steps: int = 2000,
                     d_lr: float | None = None) -> tuple[list[dict], list[Path]]:
    """Load G from a checkpoint (default: the newest), freeze it, train a fresh D of the run's
    architecture and optimiser (learning rate d_lr, default the run's) for d_steps and record G's
    gradient norm under both losses; writes RUN/saturation_probe_step_XXXXXXXX_dsteps_N_dlr_LR.json and .png;
    returns the rows and the two paths."""
    reader = open_reader(path)   # a --seeds pass's folder is named as such
    refuse_own_loop(reader, "the probe needs a checkpoint of G and D, which only gandiag's trainer writes; freeze "
                            "your G and train a fresh D on it with gandiag.train.saturation_probe.frozen_g_probe")
    steps = reader.checkpoint_steps()
    if not steps:
        raise R.RunError(f"{reader.root} has no checkpoint: the probe needs a trained G (let the run reach "
                         "--checkpoint-every)")
    step = steps[-1] if checkpoint is None else checkpoint
    if step not in steps:
        raise R.RunError(f"{reader.root} has no checkpoint at step {step}: choose one of {steps}")
    ckpt = load_checkpoint(reader.root / R.CHECKPOINT_DIR / R.checkpoint_name(step))
    if isinstance(d_steps, bool) or not isinstance(d_steps, int) or d_steps < 1:
        raise R.RunError(f"d_steps = {d_steps!r} is not allowed: give a whole number of D steps >= 1")
    # the run's config with the probe's learning rate, validated as any config (NaN, 0 or -1 refused)
    cfg = from_dict({**ckpt["config"], **({"d_lr": d_lr} if d_lr is not None else {})})
    s = Session.for_config(cfg)   # D as the run began: a fresh one, with its optimiser at d_lr
    s.players.G.load_state_dict(ckpt["G"])
    rows = frozen_g_probe(s.players.G, s.players.D, s.sample_real, s.sample_z,
                          lambda g, d, z: measure_saturation(g, d, z)[0], d_steps, cfg.batch, s.players.opt_d)
    stem = R.saturation_probe_stem(step, d_steps, cfg.d_lr)   # a dotted learning rate: no with_suffix
    paths = [reader.root / f"{stem}.json", reader.root / f"{stem}.png"]
    R.atomic_write_json(paths[0], {R.STEP: step, R.PROBE_D_LR: cfg.d_lr, R.SERIES: rows})
    _write_probe_figure(rows, step, cfg.d_lr, paths[1])
    return rows, paths


def probe_figure(rows: list[dict], step: int, d_lr: float):
    """G's gradient norm under both losses against the fresh D's steps, as a matplotlib Figure."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(6, 4), dpi=120, layout="constrained")
    ax = fig.add_subplot()
    x = np.asarray([r[R.PROBE_D_STEP] for r in rows]) + 1   # log axis: D step 0 at 1
    ax.loglog(x, [r[R.SAT_GNORM_MINIMAX] for r in rows], "o-", label="saturating: log(1 - D(G(z)))")
    ax.loglog(x, [r[R.SAT_GNORM_NONSAT] for r in rows], "s-", label="non-saturating: -log D(G(z))")
    # two lines: on one the title ran past the figure's right edge at 6 inches
    ax.set(xlabel="D training steps + 1 (G frozen)", ylabel="G's gradient norm",
           title=f"G frozen at step {step:,}, a fresh D trained at lr {d_lr:g}\n(Arjovsky & Bottou 2017)")
    ax.legend()
    return fig


def _write_probe_figure(rows: list[dict], step: int, d_lr: float, path: Path) -> None:
    buf = io.BytesIO()
    probe_figure(rows, step, d_lr).savefig(buf, format="png")
    R.atomic_write_bytes(path, buf.getvalue())
