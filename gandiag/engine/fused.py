"""The unrolled D of gandiag.engine.unroll written for torch.compile (config `compile` on the fast engine).

unroll.py multiplies by the units' pattern with batched matrix products, the fastest eager form. Here
every such product is a pointwise expression summed over units or over inputs, in the (S, H, N) layout
(seeds, units, inputs). Compiled, inductor turns each pass over units x inputs into one loop that
recomputes the pattern in registers, and the whole unroll (K steps, G's loss, the reverse) is one
graph: one call per G step instead of about a thousand operations. Run eagerly this form is slow (it
materialises every product), so the fast engine uses it compiled only. tests/test_engine.py compares
it with unroll.py.
"""
from __future__ import annotations

import functools
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from . import adam
from .closed_form import critic_views
from .unroll import Critic


def _sum_units(slopes: Tensor, V: Tensor) -> Tensor:
    """(S, c, N): sum_j V[c, j] slopes[j, n], for slopes (S, H, N) and V (S, c, H)."""
    return torch.stack([(slopes * V[:, c, :, None]).sum(1) for c in range(V.shape[1])], 1)


def _sum_inputs(weights: Tensor, XtT: Tensor) -> Tensor:
    """(S, c, H): sum_n XtT[c, n] weights[j, n], for weights (S, H, N) and XtT (S, c, N)."""
    return torch.stack([(weights * XtT[:, c, None, :]).sum(2) for c in range(XtT.shape[1])], 1)


def _b2_row(per_input: Tensor, H: int) -> Tensor:
    """(S, 1, H): the sum over inputs in b2's place (the first entry of theta's last row), zeros after it."""
    return F.pad(per_input.sum(1, keepdim=True), (0, H - 1))[:, None]


def _critic(theta: Tensor, XtT: Tensor, slope: float) -> tuple[Tensor, Tensor, Tensor]:
    """(slopes, unit outputs, both (S, H, N); logits (S, N)) of D on XtT."""
    WtT, w2, b2 = critic_views(theta)
    pre = sum(WtT[:, c, :, None] * XtT[:, c, None, :] for c in range(XtT.shape[1]))
    slopes = torch.where(pre > 0, 1.0, slope)
    hidden = pre * slopes
    return slopes, hidden, (hidden * w2.transpose(1, 2)).sum(1) + b2


def _critic_grad(theta: Tensor, XtT: Tensor, slopes: Tensor, hidden: Tensor, delta: Tensor) -> tuple[Tensor, Tensor]:
    """(d loss / d theta, G0T (S, d + 1, H)) as closed_form.critic_grad, for delta = d loss / d logits."""
    _, w2, _ = critic_views(theta)
    G0T = _sum_inputs(slopes * delta[:, None], XtT)
    gw2 = (hidden * delta[:, None]).sum(2)[:, None]
    return torch.cat([G0T * w2, gw2, _b2_row(delta, theta.shape[2])], 1), G0T


def g_loss_through_unroll(critic: Critic, h: adam.Hyper, n_real: int, second_order: bool, theta: Tensor,
                          m: Tensor, v: Tensor, coefficients: Tensor, XtT: Tensor) -> tuple[Tensor, Tensor]:
    """unroll.g_loss_through_unroll with the K steps' Adam coefficients (adam.unrolled_coefficients) in
    place of the step count: (G's loss (S,), its gradient w.r.t. XtT[..., n_real:])."""
    tiny = torch.full((), adam.SQRT_TINY, dtype=v.dtype, device=v.device)
    records, u = [], v + tiny
    for row in coefficients:
        slopes, hidden, logits = _critic(theta, XtT, critic.slope)
        delta, curv = critic.derivatives(logits)
        g, G0T = _critic_grad(theta, XtT, slopes, hidden, delta)
        after, m, u, tape = adam.unrolled_step(theta, m, u, g, row, h, tiny)
        records.append((theta, slopes, delta, curv, G0T, tape))
        theta = after

    fakes, cols = XtT[..., n_real:], slice(n_real, None)
    slopes, hidden, logits = _critic(theta, fakes, critic.slope)
    loss, bar_a = critic.g_loss(logits)
    WtT, w2, _ = critic_views(theta)
    bar_fakes = _sum_units(slopes, WtT * w2) * bar_a[:, None]
    if not (second_order and records):
        return loss, bar_fakes

    bar_theta, _ = _critic_grad(theta, fakes, slopes, hidden, bar_a)
    bar_m, bar_v = torch.zeros_like(theta), torch.zeros_like(theta)
    for theta, slopes, delta, curv, G0T, tape in reversed(records):
        bar_g = adam.unrolled_step_reverse(tape, bar_theta, bar_m, bar_v, h)
        # closed_form.critic_grad_reverse, term by term
        WtT, w2, _ = critic_views(theta)
        gWtT_bar, gw2_bar, gb2_bar = critic_views(bar_g)
        QT = _sum_units(slopes, gWtT_bar * w2 + WtT * gw2_bar)
        bar_a = ((QT * XtT).sum(1) + gb2_bar) * curv
        RT = _sum_inputs(slopes * bar_a[:, None], XtT)
        bar_w2 = (WtT * RT + gWtT_bar * G0T).sum(1, keepdim=True)
        bar_theta = bar_theta + torch.cat([RT * w2 + G0T * gw2_bar, bar_w2, _b2_row(bar_a, theta.shape[2])], 1)
        jacT = _sum_units(slopes[..., cols], WtT * w2)
        bar_fakes = bar_fakes + QT[..., cols] * delta[:, None, cols] + jacT * bar_a[:, None, cols]
    return loss, bar_fakes


def compiled(fn: Callable, *settings, on_cpu: bool) -> Callable:
    """fn with its leading arguments (a run's settings) bound, compiled once for the run's shapes. On a CPU
    with inductor's C++ wrapper: the graph is one kernel, and the Python wrapper around it allocated its
    few hundred buffers one Python call each (about a twentieth of a compiled unrolled-10 ring8 step,
    measured; the kernel is the same, bit for bit). On CUDA the iteration is replayed as a CUDA graph,
    which runs no wrapper at all."""
    return torch.compile(functools.partial(fn, *settings), fullgraph=True, dynamic=False,
                         options={"cpp_wrapper": True} if on_cpu else None)
