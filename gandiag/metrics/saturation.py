"""Gradient saturation: how much signal G gets as D grows confident.

With a = D's logit on a fake, the saturating G loss log(1 - sigmoid(a)) has d/da = -D(G(z)), which
vanishes as D rejects the fakes; the non-saturating -log sigmoid(a) has -(1 - D(G(z))), which does not.
The trainer records the probe's SAT_* keys at snapshot steps; `summary` gathers them. (Arjovsky &
Bottou's frozen-G experiment trains a D, so it lives beside the trainer: gandiag.train.saturation_probe.)
"""
from __future__ import annotations

from .. import record as R

#: a fake with D(G(z)) below this is saturated: the saturating G loss gives it almost no gradient
SATURATED_BELOW = R.SATURATED_BELOW

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
