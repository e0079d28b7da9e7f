"""The GAN losses of gandiag.losses per seed, with the derivatives the closed-form passes need.

Logits are (S, N). D's N logits are the reals first, then the fakes, n of each. A loss is a mean over
n inputs per side, so each logit's derivative carries 1 / n. tests/test_engine.py checks values and
derivatives against gandiag.losses and autograd.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

#: the losses the fast path computes (wgan needs weight clipping, wgan-gp a gradient penalty)
SUPPORTED = ("minimax", "nonsaturating", "least-squares", "hinge")


class DLoss:
    """D's loss on (S, 2n) logits with real target `real_target` (fakes: 0; hinge: signs -1 and +1)."""

    def __init__(self, kind: str, n: int, real_target: float, like: Tensor):
        self.kind, self.n = kind, n
        real, fake = (-1.0, 1.0) if kind == "hinge" else (real_target, 0.0)
        opts = {"dtype": like.dtype, "device": like.device}
        self.targets = torch.cat([torch.full((n,), real, **opts), torch.full((n,), fake, **opts)])
        self.neg_scaled = -self.targets / n
        self.inv_n, self.zero = torch.full((), 1 / n, **opts), torch.zeros((), **opts)

    def value(self, logits: Tensor) -> Tensor:
        """The loss per seed (S,)."""
        if self.kind == "least-squares":
            return 0.5 * (logits - self.targets).square().sum(1) / self.n
        if self.kind == "hinge":
            return F.relu(1 + self.targets * logits).sum(1) / self.n
        return (F.softplus(logits) - self.targets * logits).sum(1) / self.n   # cross-entropy with logits

    def derivatives(self, logits: Tensor) -> tuple[Tensor, Tensor]:
        """(d loss / d logit, d^2 loss / d logit^2), each (S, 2n)."""
        if self.kind == "least-squares":
            return torch.add(self.neg_scaled, logits, alpha=1 / self.n), self.inv_n.expand_as(logits)
        if self.kind == "hinge":
            return self.targets * (1 + self.targets * logits > 0) / self.n, self.zero.expand_as(logits)
        p = torch.sigmoid(logits)
        return (torch.add(self.neg_scaled, p, alpha=1 / self.n),
                torch.ops.aten.sigmoid_backward(self.inv_n.expand_as(p), p))   # p (1 - p) / n


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
