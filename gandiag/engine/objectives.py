"""The GAN losses of gandiag.losses per seed, with the derivatives the closed-form passes need.

Logits are (S, N). D's N logits are the reals first, then the fakes, n of each. A loss is a mean over
n inputs per side, so each logit's derivative carries 1 / n. The constants are tensors made once: an
operation given a Python number converts it to a tensor on every call, which costs as much as the
operation itself on these sizes. The per-seed sums are vecdot products, not torch.mv: BLAS's matrix-vector
product rounds a row differently with other rows beside it, and seed s of a stacked pass must train
exactly what the seed trains alone. tests/test_engine.py checks values and derivatives against
gandiag.losses and autograd.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..losses import PROBABILISTIC

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
        self.inv_n, self.zero, self.one = (torch.full((), c, **opts) for c in (1 / n, 0.0, 1.0))
        # a product with it sums a per-logit loss into D's (a mean over each side, the sides added)
        self.weights = torch.full((2 * n,), (0.5 if kind == "least-squares" else 1.0) / n, **opts)
        # (2, 2n): a product with it is (mean over the reals, mean over the fakes)
        self.sides = torch.zeros(2, 2 * n, **opts)
        self.sides[0, :n] = self.sides[1, n:] = 1 / n

    def value(self, logits: Tensor) -> Tensor:
        """The loss per seed (S,)."""
        if self.kind == "least-squares":
            per_logit = torch.sub(logits, self.targets).square_()
        elif self.kind == "hinge":
            per_logit = F.relu(torch.addcmul(self.one, self.targets, logits))
        else:   # cross-entropy with logits
            per_logit = torch.addcmul(F.softplus(logits), self.targets, logits, value=-1)
        return torch.linalg.vecdot(per_logit, self.weights)

    def side_means(self, values: Tensor) -> Tensor:
        """(S, 2): the means of per-logit values (S, 2n) over the reals and over the fakes."""
        return torch.linalg.vecdot(values.unsqueeze(1), self.sides)

    def gradient(self, logits: Tensor) -> Tensor:
        """d loss / d logit (S, 2n): all D's own step needs."""
        return self._gradient(logits, torch.sigmoid(logits) if self.kind in PROBABILISTIC else None)

    def derivatives(self, logits: Tensor) -> tuple[Tensor, Tensor]:
        """(d loss / d logit, d^2 loss / d logit^2), each (S, 2n)."""
        if self.kind == "least-squares":
            return self._gradient(logits, None), self.inv_n.expand_as(logits)
        if self.kind == "hinge":
            return self._gradient(logits, None), self.zero.expand_as(logits)
        p = torch.sigmoid(logits)
        return self._gradient(logits, p), torch.ops.aten.sigmoid_backward(self.inv_n.expand_as(p), p)  # p (1 - p) / n

    def _gradient(self, logits: Tensor, p: Tensor | None) -> Tensor:
        """d loss / d logit, given p = sigmoid(logits) for the cross-entropy losses."""
        if self.kind == "least-squares":
            return torch.add(self.neg_scaled, logits, alpha=1 / self.n)
        if self.kind == "hinge":
            return self.targets * (torch.addcmul(self.one, self.targets, logits) > 0) / self.n
        return torch.add(self.neg_scaled, p, alpha=1 / self.n)


class GLoss:
    """G's loss on D's logits (S, n) for its fakes."""

    def __init__(self, kind: str, n: int, like: Tensor):
        self.kind, self.n = kind, n
        opts = {"dtype": like.dtype, "device": like.device}
        self.mean = torch.full((n,), 1 / n, **opts)     # a product with it is the mean over the fakes
        self.neg_inv_n = torch.full((), -1 / n, **opts)

    def __call__(self, logits: Tensor) -> tuple[Tensor, Tensor]:
        """(G's loss per seed (S,), d loss / d logit (S, n))."""
        if self.kind == "minimax":        # log(1 - D(G(z))) = -softplus(a)
            return -torch.linalg.vecdot(F.softplus(logits), self.mean), torch.mul(torch.sigmoid(logits), self.neg_inv_n)
        if self.kind == "nonsaturating":  # -log D(G(z)) = softplus(-a)
            return (torch.linalg.vecdot(F.softplus(logits.neg()), self.mean),
                    torch.add(self.neg_inv_n, torch.sigmoid(logits), alpha=1 / self.n))
        if self.kind == "least-squares":
            return (0.5 * torch.linalg.vecdot((logits - 1).square_(), self.mean),
                    torch.add(self.neg_inv_n, logits, alpha=1 / self.n))
        return -torch.linalg.vecdot(logits, self.mean), self.neg_inv_n.expand_as(logits)   # hinge
