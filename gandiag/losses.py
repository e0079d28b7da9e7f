"""GAN losses as pure functions of D's logits: no state, no optimiser, no network.

`d_loss(kind, real, fake, real_target, fake_target)` is what D minimises and `g_loss(kind, fake)` what G
minimises. Targets only matter for the cross-entropy and least-squares families (label smoothing and
noisy labels pass tensors or floats here); critic losses (wgan, wgan-gp, hinge) ignore them.
Weight clipping and the gradient penalty need the network, so they live in the trainer and in
`gandiag.stabilizers.penalties`; here `wgan` and `wgan-gp` share the critic objective.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .config import LOSSES

#: Losses whose D output is a probability via the sigmoid (others are critics: raw scores).
PROBABILISTIC = ("minimax", "nonsaturating")


def _bce(logits: Tensor, target) -> Tensor:
    target = torch.as_tensor(target, dtype=logits.dtype, device=logits.device).expand_as(logits)
    return F.binary_cross_entropy_with_logits(logits, target)


def d_loss(kind: str, real: Tensor, fake: Tensor, real_target=1.0, fake_target=0.0) -> Tensor:
    """D's loss on its logits for a real and a fake batch."""
    if kind in PROBABILISTIC:
        return _bce(real, real_target) + _bce(fake, fake_target)
    if kind == "least-squares":  # Mao et al. 2016, a-b coding with a = 0, b = 1
        return 0.5 * ((real - real_target) ** 2).mean() + 0.5 * ((fake - fake_target) ** 2).mean()
    if kind in ("wgan", "wgan-gp"):
        return fake.mean() - real.mean()
    if kind == "hinge":
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()
    raise ValueError(f"unknown loss {kind!r}: expected one of {', '.join(LOSSES)}")


def g_loss(kind: str, fake: Tensor) -> Tensor:
    """G's loss on D's logits for its fakes."""
    if kind == "minimax":  # Goodfellow 2014: minimise log(1 - D(G(z))) = -softplus(a)
        return -F.softplus(fake).mean()
    if kind == "nonsaturating":  # -log D(G(z)) = softplus(-a)
        return F.softplus(-fake).mean()
    if kind == "least-squares":
        return 0.5 * ((fake - 1.0) ** 2).mean()
    if kind in ("wgan", "wgan-gp", "hinge"):
        return -fake.mean()
    raise ValueError(f"unknown loss {kind!r}: expected one of {', '.join(LOSSES)}")


def d_output(kind: str, logits: Tensor) -> Tensor:
    """What to show as 'D's output': the probability for the cross-entropy losses, the raw score otherwise."""
    return torch.sigmoid(logits) if kind in PROBABILISTIC else logits


@dataclass(frozen=True)
class Objective:
    """What a run's two players minimise: d(real_logits, fake_logits, real_target, fake_target) and
    g(fake_logits), either a loss of this module or a user's own (gandiag.user_losses)."""

    d: Callable[..., Tensor]
    g: Callable[[Tensor], Tensor]


def builtin(kind: str) -> Objective:
    return Objective(partial(d_loss, kind), partial(g_loss, kind))
