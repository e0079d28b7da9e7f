"""The GAN losses of gandiag.losses per seed, with the derivatives the closed-form passes need.

Logits are (S, N). D's N logits are the reals first, then the fakes, n of each; `targets` (N,) holds
each input's label (hinge: -1 for reals, +1 for fakes). A loss is a mean over n inputs per side, so
each logit's derivative carries 1 / n. tests/test_engine.py checks values and derivatives against
gandiag.losses and autograd.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

#: the losses the fast path computes (wgan needs weight clipping, wgan-gp a gradient penalty)
SUPPORTED = ("minimax", "nonsaturating", "least-squares", "hinge")


def d_targets(kind: str, n: int, real_target: float, like: Tensor) -> Tensor:
    if kind == "hinge":
        real_target, fake_target = -1.0, 1.0
    else:
        fake_target = 0.0
    return torch.cat([torch.full((n,), real_target, dtype=like.dtype, device=like.device),
                      torch.full((n,), fake_target, dtype=like.dtype, device=like.device)])


def d_value(kind: str, logits: Tensor, targets: Tensor, n: int) -> Tensor:
    """D's loss per seed (S,)."""
    if kind == "least-squares":
        return 0.5 * (logits - targets).square().sum(1) / n
    if kind == "hinge":
        return F.relu(1 + targets * logits).sum(1) / n
    return (F.softplus(logits) - targets * logits).sum(1) / n   # binary cross-entropy with logits


def d_derivatives(kind: str, logits: Tensor, targets: Tensor, n: int) -> tuple[Tensor, Tensor]:
    """(d loss / d logit, d^2 loss / d logit^2), each (S, N)."""
    if kind == "least-squares":
        return (logits - targets) / n, torch.full_like(logits, 1 / n)
    if kind == "hinge":
        return targets * (1 + targets * logits > 0) / n, torch.zeros_like(logits)
    p = torch.sigmoid(logits)
    return (p - targets) / n, torch.addcmul(p, p, p, value=-1) / n


def g_value_and_derivative(kind: str, logits: Tensor) -> tuple[Tensor, Tensor]:
    """(G's loss per seed (S,), d loss / d logit (S, n)) on D's logits for G's fakes."""
    n = logits.shape[1]
    if kind == "minimax":       # log(1 - D(G(z))) = -softplus(a)
        return -F.softplus(logits).mean(1), -torch.sigmoid(logits) / n
    if kind == "nonsaturating":  # -log D(G(z)) = softplus(-a)
        return F.softplus(-logits).mean(1), (torch.sigmoid(logits) - 1) / n
    if kind == "least-squares":
        return 0.5 * (logits - 1).square().mean(1), (logits - 1) / n
    return -logits.mean(1), torch.full_like(logits, -1 / n)   # hinge
