"""Adam on flat buffers: the optimiser's own update, and a pure version with its reverse for unrolling.

`step_` is torch.optim.Adam's own fused kernel, so the fast path's real optimiser steps match the
reference's. `unrolled_step` is the update the unrolled D replays
(gandiag.stabilizers.unrolled: the same formula with 1e-30 under the square root, whose derivative
is infinite at 0 otherwise); `unrolled_step_reverse` pulls adjoints back through it by hand.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..stabilizers.unrolled import SQRT_TINY  # noqa: F401  (the one definition: the reference unroll's)


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


def step_(theta: list[Tensor], m: list[Tensor], v: list[Tensor], g: list[Tensor], t: Tensor, h: Hyper) -> None:
    """Step number t (a 0-d float tensor, 1-based, already counted) in place on lists of tensors:
    torch.optim.Adam's fused kernel (what Adam(fused=True) runs), one pass where the single-tensor path
    makes seven; it rounds as that path does to 1e-17 in float64 (tests/test_engine.py).

    The caller passes each seed's parameters as tensors of their own: the kernel's vectorised body and
    its scalar tail round differently, and which elements fall in the tail depends on a tensor's size,
    so a stacked seed would otherwise train differently from the seed alone."""
    torch._fused_adam_(theta, g, m, v, [], [t] * len(theta), lr=h.lr, beta1=h.b1, beta2=h.b2, weight_decay=0.0,
                       eps=h.eps, amsgrad=False, maximize=False)


@dataclass
class Tape:
    """What the reverse of one unrolled update needs."""

    g: Tensor        # the gradient the update used
    ds: Tensor       # -(sqrt(v' + tiny) + eps * sqrt(bc2)) / c: the update is theta' = theta + m' / ds
    kappa: Tensor    # m' / (2 c ds sqrt(v' + tiny))


def unrolled_coefficients(t: Tensor, k: int, h: Hyper, dtype: torch.dtype) -> Tensor:
    """(k, 3) rows (-1 / c, -eps sqrt(bc2) / c, 1 / (2 c)) in `dtype` for steps t + 1 .. t + k,
    c = lr sqrt(bc2) / bc1, computed where t (a 0-d tensor, the optimiser's step count) lives: no
    host-to-device copy per step.

    Tensors, not Python numbers: a step then costs no scalar conversions, and a compiled unroll
    (gandiag.engine.fused) takes them as inputs instead of recompiling for every step count."""
    # float64 whatever the players' dtype: 1 - b2^t loses digits in float32 (b2 = 0.999 itself is off by 1e-8)
    steps = torch.arange(1, k + 1, dtype=torch.float64, device=t.device).add_(t)
    root_bc2 = (1 - h.b2 ** steps).sqrt_()
    inv_c = (1 - h.b1 ** steps).div_(root_bc2).div_(h.lr)
    return torch.stack([-inv_c, inv_c * root_bc2 * -h.eps, inv_c * 0.5], 1).to(dtype)


def unrolled_step(theta: Tensor, m: Tensor, u: Tensor, g: Tensor, coefficients: Tensor, h: Hyper,
                  tiny: Tensor) -> tuple[Tensor, Tensor, Tensor, Tape]:
    """(theta', m', u', tape) out of place, for one row of unrolled_coefficients. The second moment is
    carried as u = v + tiny (tiny: SQRT_TINY as a 0-d tensor), so u' = b2 u + (1 - b2) (g^2 + tiny) = v' + tiny.

    theta' = theta - c m' / (sqrt(u') + eps sqrt(bc2)) is computed as theta + m' / ds with
    ds = sqrt(u') (-1 / c) + (-eps sqrt(bc2) / c), one fused product."""
    neg_inv_c, neg_eps_term, half_inv_c = coefficients.unbind()
    m = torch.lerp(m, g, 1 - h.b1)
    u = torch.lerp(u, torch.addcmul(tiny, g, g), 1 - h.b2)
    root = u.sqrt()
    ds = torch.addcmul(neg_eps_term, root, neg_inv_c)
    return torch.addcdiv(theta, m, ds), m, u, Tape(g, ds, torch.div(m * half_inv_c, ds * root))


def unrolled_step_reverse(tape: Tape, bar_theta: Tensor, bar_m: Tensor, bar_v: Tensor, h: Hyper) -> Tensor:
    """Given the adjoints of (theta', m', v'), return the adjoint of g and turn bar_m, bar_v (in place)
    into the adjoints of the previous moments. theta' = theta + ..., so bar_theta passes through as is."""
    p = bar_theta / tape.ds
    bar_m.add_(p)
    # d theta' / d v' = m' / (2 c ds^2 sqrt(v')), so its pull-back is p * kappa
    bar_v.addcmul_(p, tape.kappa)
    bar_g = torch.addcmul(bar_m * (1 - h.b1), tape.g, bar_v, value=2 * (1 - h.b2))
    bar_m.mul_(h.b1)
    bar_v.mul_(h.b2)
    return bar_g
