"""The unrolled D (Metz et al. 2017) in closed form: K Adam steps of D on fixed inputs, G's loss
against the result, and G's gradient back through all K steps (second order) by a hand-written
reverse pass: per step one Adam reverse and one Hessian-vector product of D's loss.

The reference (gandiag.stabilizers.unrolled) builds the same gradient with autograd and
create_graph=True; tests/test_engine.py compares the two.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from . import adam
from .closed_form import CriticPass, CriticViews, critic_grad, critic_grad_reverse, critic_pass, critic_views


@dataclass
class Critic:
    """D's unit and the losses it is trained on and judged by."""

    slope: float                                                  # 0 for ReLU
    derivatives: Callable[[Tensor], tuple[Tensor, Tensor]]        # logits -> (d loss, d^2 loss) per logit
    g_loss: Callable[[Tensor], tuple[Tensor, Tensor]]             # fake logits -> (G's loss, its derivative)


@dataclass
class _Record:
    theta: CriticViews
    cp: CriticPass
    delta: Tensor
    curv: Tensor
    G0T: Tensor
    tape: adam.Tape


def g_loss_through_unroll(critic: Critic, h: adam.Hyper, n_real: int, second_order: bool, theta: Tensor,
                          m: Tensor, v: Tensor, coefficients: Tensor, XtT: Tensor,
                          masks: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """(G's loss (S,), its gradient w.r.t. the fakes' augmented inputs XtT[..., n_real:]) where D takes
    K Adam steps from (theta, m, v) on D's loss over XtT (reals first, then G's fakes), with the steps'
    coefficients (K, 3) from adam.unrolled_coefficients.

    masks: optional memory (K, S, N, H) for the K steps' unit patterns (closed_form.critic_pass)."""
    tiny = torch.full((), adam.SQRT_TINY, dtype=v.dtype, device=v.device)
    records, u = [], v + tiny
    for i in range(len(coefficients)):
        views = critic_views(theta)
        cp = critic_pass(views, XtT, critic.slope, None if masks is None else masks[i])
        delta, curv = critic.derivatives(cp.logits)
        g = torch.zeros_like(theta)
        G0T = critic_grad(cp, views, XtT, delta, critic_views(g))
        after, m, u, tape = adam.unrolled_step(theta, m, u, g, coefficients[i], h, tiny)
        records.append(_Record(views, cp, delta, curv, G0T, tape))
        theta = after

    fakes, views = XtT[..., n_real:], critic_views(theta)
    cp = critic_pass(views, fakes, critic.slope)
    loss, bar_a = critic.g_loss(cp.logits)
    bar_fakes = cp.jacT * bar_a.unsqueeze(1)
    if not (second_order and records):
        return loss, bar_fakes

    bar_theta = torch.zeros_like(theta)
    critic_grad(cp, views, fakes, bar_a, critic_views(bar_theta))
    bar_m, bar_v = torch.zeros_like(theta), torch.zeros_like(theta)
    cols = slice(n_real, None)
    for r in reversed(records):
        bar_g = adam.unrolled_step_reverse(r.tape, bar_theta, bar_m, bar_v, h)
        bar_fakes += critic_grad_reverse(r.cp, r.theta, XtT, r.delta, r.curv, r.G0T, bar_g, bar_theta, cols)
    return loss, bar_fakes
