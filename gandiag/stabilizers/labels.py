"""The targets D is trained towards on reals and fakes: one-sided smoothing, soft noisy labels, flips.

Only the cross-entropy and least-squares losses use targets; critic losses (wgan, wgan-gp, hinge)
ignore them. Without any of these options the targets are the plain floats 1 and 0.
"""
from __future__ import annotations

import torch
from torch import Tensor

#: soft noisy labels (ganhacks): reals uniform in [0.7, 1.2], fakes uniform in [0, 0.3]
NOISY_REAL = (0.7, 1.2)
NOISY_FAKE = (0.0, 0.3)


def _uniform(n: int, lo_hi: tuple[float, float], gen: torch.Generator, device) -> Tensor:
    lo, hi = lo_hi
    return lo + (hi - lo) * torch.rand(n, generator=gen, device=device)


def d_targets(cfg, n: int, gen: torch.Generator, device) -> tuple[Tensor | float, Tensor | float]:
    """(real targets, fake targets) for n real and n fake inputs of D.

    label_smoothing s: reals get s, fakes stay 0 (one-sided: smoothing fakes rewards D for putting
    mass where G already is). noisy_labels: per-input soft targets (instead of smoothing).
    label_flip p: each input independently, with probability p, gets the other side's target at the
    same index (a real gets a fake's label, a fake a real's).
    """
    real, fake = cfg.label_smoothing, 0.0
    if cfg.noisy_labels:
        real, fake = _uniform(n, NOISY_REAL, gen, device), _uniform(n, NOISY_FAKE, gen, device)
    if cfg.label_flip > 0:
        real = torch.as_tensor(real, device=device, dtype=torch.float32).expand(n)
        fake = torch.as_tensor(fake, device=device, dtype=torch.float32).expand(n)
        flip_real = torch.rand(n, generator=gen, device=device) < cfg.label_flip
        flip_fake = torch.rand(n, generator=gen, device=device) < cfg.label_flip
        real, fake = torch.where(flip_real, fake, real), torch.where(flip_fake, real, fake)
    return real, fake
