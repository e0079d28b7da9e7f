"""Gradient saturation: how much signal G gets as D grows confident.

With a = D's logit on a fake, the saturating G loss log(1 - sigmoid(a)) has d/da = -D(G(z)), which
vanishes as D rejects the fakes; the non-saturating -log sigmoid(a) has -(1 - D(G(z))), which does not.
The trainer records the probe's SAT_* keys at snapshot steps; `summary` gathers them. `frozen_g_probe`
is Arjovsky & Bottou's (2017) experiment: freeze G, train a fresh D, and watch G's gradient norm under
both losses as D improves (the saturating one falls by orders of magnitude, -log D does not).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .. import losses, record as R

SAT_KEYS = (R.SAT_SHARE, R.SAT_DLOGIT_MINIMAX, R.SAT_DLOGIT_NONSAT, R.SAT_GNORM_MINIMAX, R.SAT_GNORM_NONSAT)


def _ratio(a, b):
    return a / b if a is not None and b else None


def summary(rows: list[dict]) -> dict | None:
    """The saturation section of analysis.json: the probe's series, the worst saturated share, the
    last probe, and G's gradient norm under the saturating loss over that under -log D per probe."""
    probed = [r for r in rows if r.get(R.SAT_SHARE) is not None]
    if not probed:
        return None
    series = {key: [r.get(key) for r in probed] for key in (R.STEP, *SAT_KEYS, R.D_GRAD_NORM)}
    return {R.SERIES: series,
            R.SAT_MAX_SHARE: max(series[R.SAT_SHARE]),
            R.SAT_LAST: {key: probed[-1].get(key) for key in (R.STEP, *SAT_KEYS)},
            R.SAT_GNORM_RATIO: [_ratio(m, n) for m, n in zip(series[R.SAT_GNORM_MINIMAX], series[R.SAT_GNORM_NONSAT])]}


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
