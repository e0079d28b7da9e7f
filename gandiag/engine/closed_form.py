"""Closed-form forward and backward passes of the toy players, stacked over S independent seeds.

Every tensor carries a leading seed axis S and every matrix product is batched (torch.bmm), so S seeds
cost one call per product. G is an MLP. D has one hidden layer of a piecewise-linear unit (ReLU or
leaky ReLU): given the pattern of active units its logit is linear in its parameters, so its gradient
is two products with that pattern and its Hessian-vector product (what the unrolled D's second-order
gradient needs) is exact with no second derivative of the unit.

Layouts were chosen by timing the matrix library on these shapes: D's inputs and everything of width
d + 1 are feature-major, and the units' pattern is input-major (N, H), so every product reads it in
memory order. Per seed: D sees XtT (d + 1, N) = [scale * x^T ; 1], and its parameters are one tensor
(d + 3, H): WtT = [first-layer weight^T ; bias], then w2, then b2 padded with zeros. G's output is
(S, 2, R).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

_aten = torch.ops.aten

# --- G: a multilayer perceptron ----------------------------------------------------------------


def activate(pre: Tensor, act: str, slope: float) -> Tensor:
    """The unit applied in place to a fresh pre-activation."""
    if act == "relu":
        return pre.clamp_min_(0)
    if act == "leaky_relu":
        return torch.nn.functional.leaky_relu_(pre, slope)
    return pre.tanh_()


def unit_backward(grad: Tensor, h: Tensor, act: str, slope: float) -> Tensor:
    """d loss / d pre-activation from d loss / d output and the unit's output h: autograd's own fused
    kernels (a ReLU or leaky ReLU output is positive exactly where its input is)."""
    if act == "relu":
        return _aten.threshold_backward(grad, h, 0)
    if act == "leaky_relu":
        return _aten.leaky_relu_backward(grad, h, slope, True)
    return _aten.tanh_backward(grad, h)


def mlp_forward(layers: list[tuple[Tensor, Tensor]], z: Tensor, act: str, slope: float,
                keep: bool) -> tuple[Tensor, list[Tensor]]:
    """(output (S, out, R), inputs of every layer if keep) for z (S, R, in), stacked weights
    (S, out, in) and biases (S, out)."""
    h, inputs = z, []
    for W, b in layers[:-1]:
        if keep:
            inputs.append(h)
        h = activate(torch.baddbmm(b.unsqueeze(1), h, W.transpose(1, 2)), act, slope)
    if keep:
        inputs.append(h)
    W, b = layers[-1]
    return torch.baddbmm(b.unsqueeze(-1), W, h.transpose(1, 2)), inputs


def mlp_backward(layers: list[tuple[Tensor, Tensor]], inputs: list[Tensor], grad_out: Tensor,
                 grads: list[tuple[Tensor, Tensor]], act: str, slope: float) -> None:
    """Write d loss / d (W, b) of every layer into `grads` (views of the player's gradient buffer),
    given d loss / d output (S, out, R)."""
    gT = grad_out
    for i in reversed(range(len(layers))):
        gW, gb = grads[i]
        torch.bmm(gT, inputs[i], out=gW)
        torch.sum(gT, 2, out=gb)
        if i:
            gT = unit_backward(torch.bmm(gT.transpose(1, 2), layers[i][0]), inputs[i], act, slope).transpose(1, 2)


# --- D: one hidden layer of a piecewise-linear unit --------------------------------------------


def critic_views(theta: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(WtT (S, d + 1, H), w2 (S, 1, H), b2 (S, 1)) of D's parameters theta (S, d + 3, H). b2 is the first
    entry of the last row; the row's other entries have zero gradient, so they stay zero under Adam."""
    return theta[:, :-2], theta[:, -2:-1], theta[:, -1, :1]


def augment(xT: Tensor, scale: float) -> Tensor:
    """XtT = [scale * x^T ; 1] (S, d + 1, N): D's input scaling and first-layer bias in one product."""
    return torch.cat([xT * scale, torch.ones_like(xT[:, :1])], 1)


@dataclass
class CriticPass:
    """What one evaluation of D on fixed inputs leaves for its gradient and for reverse passes."""

    mask: Tensor     # (S, N, H) slope of each unit at each input: 1 or 0 (ReLU), 1 or slope (leaky)
    jacT: Tensor     # (S, d + 1, N) d logit / d XtT
    logits: Tensor   # (S, N)


def critic_pass(theta: Tensor, XtT: Tensor, slope: float, out: Tensor | None = None) -> CriticPass:
    """D on XtT; the mask goes into `out` (S, N, H) when given: a fresh mask is the step's largest
    allocation, and reusing memory saves the page faults of a new one (about a tenth of an unrolled step).

    The mask is input-major (S, N, H): every product with it then reads it in its memory order, which
    measured 1.5 to 4 times faster than the unit-major layout for these shapes (inner or outer size d + 1)."""
    WtT, w2, b2 = critic_views(theta)
    mask = torch.bmm(XtT.transpose(1, 2), WtT, out=out)
    torch.gt(mask, 0, out=mask)   # the pre-activations become the units' slopes in place
    if slope:
        mask.mul_(1 - slope).add_(slope)
    # logit = sum_j w2_j unit(pre_j) + b2 = sum_j w2_j mask_j (Wt_j . Xt) + b2 = jac . Xt + b2
    jacT = torch.bmm(mask, (WtT * w2).transpose(1, 2)).transpose(1, 2)
    return CriticPass(mask, jacT, torch.linalg.vecdot(jacT, XtT, dim=1) + b2)


def critic_grad(cp: CriticPass, theta: Tensor, XtT: Tensor, delta: Tensor, out: Tensor) -> Tensor:
    """Write d loss / d theta into `out` (zero where theta is padding) for delta = d loss / d logits (S, N).

    Returns G0T = (delta * XtT) mask (S, d + 1, H), which the reverse pass reuses."""
    WtT, w2, _ = critic_views(theta)
    gWtT, gw2, gb2 = critic_views(out)
    G0T = torch.bmm(XtT * delta.unsqueeze(1), cp.mask)
    torch.mul(G0T, w2, out=gWtT)
    # sum_i delta_i h_ij, since a unit's output is h_ij = mask_ij (Wt_j . Xt_i)
    torch.sum(WtT * G0T, 1, keepdim=True, out=gw2)
    torch.sum(delta, 1, keepdim=True, out=gb2)
    return G0T


def critic_grad_reverse(cp: CriticPass, theta: Tensor, XtT: Tensor, delta: Tensor, curv: Tensor, G0T: Tensor,
                        bar_g: Tensor, bar_theta: Tensor, cols: slice) -> Tensor:
    """Reverse of critic_grad: given bar_g, the adjoint of D's gradient, add its pull-back to bar_theta
    (in place) and return its pull-back to XtT[..., cols].

    delta and curv are the loss's first and second derivatives per logit (curv = d delta / d logit).
    The units' pattern (mask) is piecewise constant, so it contributes nothing."""
    WtT, w2, _ = critic_views(theta)
    gWtT_bar, gw2_bar, gb2_bar = critic_views(bar_g)
    tWtT, tw2, tb2 = critic_views(bar_theta)
    # gWtT = G0T * w2 and gw2 = sum(WtT * G0T) both read G0T = (delta * XtT) mask; the adjoint of G0T
    # pushed through the mask is QT = d <bar_g, g> / d (delta * XtT)
    QT = torch.bmm(cp.mask, torch.addcmul(gWtT_bar * w2, WtT, gw2_bar).transpose(1, 2)).transpose(1, 2)
    bar_a = (QT * XtT).sum(1).add_(gb2_bar).mul_(curv)                   # through delta = loss'(logit)
    RT = torch.bmm(XtT * bar_a.unsqueeze(1), cp.mask)    # like G0T, with bar_a for delta
    tWtT.addcmul_(RT, w2).addcmul_(G0T, gw2_bar)
    tw2.add_((WtT * RT).addcmul_(gWtT_bar, G0T).sum(1, keepdim=True))
    tb2.add_(bar_a.sum(1, keepdim=True))
    return torch.addcmul(QT[..., cols] * delta[:, None, cols], cp.jacT[..., cols], bar_a[:, None, cols])
