"""Adam on flat buffers: the optimiser's own update, and a pure version with its reverse for unrolling.

`step_` follows torch.optim.Adam's arithmetic operation for operation, so the fast path's real
optimiser steps match the reference's. `unrolled_step` is the update the unrolled D replays
(gandiag.stabilizers.unrolled: the same formula with 1e-30 under the square root, whose derivative
is infinite at 0 otherwise); `unrolled_step_reverse` pulls adjoints back through it by hand.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

#: added under the square root in the unrolled update, as the reference unroll does
SQRT_TINY = 1e-30


@dataclass(frozen=True)
class Hyper:
    lr: float
    b1: float
    b2: float
    eps: float


def hyper(opt: torch.optim.Optimizer) -> Hyper:
    group = opt.param_groups[0]
    b1, b2 = group["betas"]
    return Hyper(group["lr"], b1, b2, group["eps"])


def plain_adam(opt: torch.optim.Optimizer) -> bool:
    """True for an Adam with one group and no weight decay, amsgrad or maximize: what this module computes."""
    group = opt.param_groups[0]
    return (type(opt) is torch.optim.Adam and len(opt.param_groups) == 1 and not group["weight_decay"]
            and not group["amsgrad"] and not group["maximize"])


def step_(theta: Tensor, m: Tensor, v: Tensor, g: Tensor, t: int, h: Hyper) -> None:
    """Step number t (1-based) in place, as torch.optim.Adam's single-tensor path computes it."""
    m.lerp_(g, 1 - h.b1)
    v.mul_(h.b2).addcmul_(g, g, value=1 - h.b2)
    denom = (v.sqrt() / math.sqrt(1 - h.b2 ** t)).add_(h.eps)
    theta.addcdiv_(m, denom, value=-h.lr / (1 - h.b1 ** t))


@dataclass
class Tape:
    """What the reverse of one unrolled update needs."""

    g: Tensor        # the gradient the update used
    denom: Tensor    # sqrt(v' + tiny) + eps * sqrt(bc2)
    kappa: Tensor    # m' / (denom * sqrt(v' + tiny))
    c: float         # lr * sqrt(bc2) / bc1: the update is theta' = theta - c * m' / denom


def unrolled_step(theta: Tensor, m: Tensor, u: Tensor, g: Tensor, t: int, h: Hyper,
                  tiny: Tensor) -> tuple[Tensor, Tensor, Tensor, Tape]:
    """(theta', m', u', tape) for step t, out of place. The second moment is carried as u = v + tiny
    (tiny: SQRT_TINY as a 0-d tensor), so u' = b2 u + (1 - b2) (g^2 + tiny) = v' + tiny."""
    m = torch.lerp(m, g, 1 - h.b1)
    u = torch.lerp(u, torch.addcmul(tiny, g, g), 1 - h.b2)
    root = u.sqrt()
    root_bc2 = math.sqrt(1 - h.b2 ** t)
    denom = root + h.eps * root_bc2   # (root / root_bc2 + eps), with root_bc2 moved into c
    c = h.lr * root_bc2 / (1 - h.b1 ** t)
    return torch.addcdiv(theta, m, denom, value=-c), m, u, Tape(g, denom, m / (denom * root), c)


def unrolled_step_reverse(tape: Tape, bar_theta: Tensor, bar_m: Tensor, bar_v: Tensor, h: Hyper) -> Tensor:
    """Given the adjoints of (theta', m', v'), return the adjoint of g and turn bar_m, bar_v (in place)
    into the adjoints of the previous moments. theta' = theta + ..., so bar_theta passes through as is."""
    q = bar_theta / tape.denom
    bar_m.sub_(q, alpha=tape.c)
    # d theta' / d v' = c m' / denom^2 * d root / d v' = c m' / (2 denom^2 root) = (c / 2) * kappa / denom
    bar_v.addcmul_(q, tape.kappa, value=tape.c / 2)
    bar_g = torch.addcmul(bar_m * (1 - h.b1), tape.g, bar_v, value=2 * (1 - h.b2))
    bar_m.mul_(h.b1)
    bar_v.mul_(h.b2)
    return bar_g
