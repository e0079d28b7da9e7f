"""Closed-form forward and backward passes of the toy players, stacked over S independent seeds.

Every tensor carries a leading seed axis S and every matrix product is batched (torch.bmm), so S seeds
cost one call per product. G is an MLP. D has one hidden layer of a piecewise-linear unit (ReLU or
leaky ReLU): given the pattern of active units its logit is linear in its parameters, so its gradient
is two products with that pattern and its Hessian-vector product (what the unrolled D's second-order
gradient needs) is exact with no second derivative of the unit.

Layouts are chosen for the matrix library: a product whose output has 2 or 3 columns is several
times slower than the same product transposed, so D's inputs and everything of width d + 1 are
feature-major. Per seed: D sees XtT (d + 1, N) = [scale * x^T ; 1], and its parameters are
WtT (d + 1, H) = [first-layer weight^T ; bias], w2 (1, H) and b2 (1,). G's output is (S, 2, R).
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


def augment(xT: Tensor, scale: float) -> Tensor:
    """XtT = [scale * x^T ; 1] (S, d + 1, N): D's input scaling and first-layer bias in one product."""
    return torch.cat([xT * scale, torch.ones_like(xT[:, :1])], 1)


@dataclass
class CriticPass:
    """What one evaluation of D on fixed inputs leaves for its gradient and for reverse passes."""

    maskT: Tensor    # (S, H, N) slope of each unit at each input: 1 or 0 (ReLU), 1 or slope (leaky)
    jacT: Tensor     # (S, d + 1, N) d logit / d XtT
    logits: Tensor   # (S, N)


def critic_pass(WtT: Tensor, w2: Tensor, b2: Tensor, XtT: Tensor, slope: float) -> CriticPass:
    maskT = torch.bmm(WtT.transpose(1, 2), XtT).gt_(0)
    if slope:
        maskT.mul_(1 - slope).add_(slope)
    # logit = sum_j w2_j unit(pre_j) + b2 = sum_j w2_j mask_j (Wt_j . Xt) + b2 = jac . Xt + b2
    jacT = torch.bmm(WtT * w2, maskT)
    return CriticPass(maskT, jacT, torch.linalg.vecdot(jacT, XtT, dim=1) + b2)


def critic_grad(cp: CriticPass, WtT: Tensor, w2: Tensor, XtT: Tensor, delta: Tensor,
                out: tuple[Tensor, Tensor, Tensor]) -> Tensor:
    """Write d loss / d (WtT, w2, b2) into `out` for delta = d loss / d logits (S, N).

    Returns G0T = (delta * XtT) mask (S, d + 1, H), which the reverse pass reuses."""
    gWtT, gw2, gb2 = out
    G0T = torch.bmm(XtT * delta.unsqueeze(1), cp.maskT.transpose(1, 2))
    torch.mul(G0T, w2, out=gWtT)
    # sum_i delta_i h_ij, since a unit's output is h_ij = mask_ij (Wt_j . Xt_i)
    torch.linalg.vecdot(WtT, G0T, dim=1, out=gw2.squeeze(1))
    torch.sum(delta, 1, keepdim=True, out=gb2)
    return G0T


def critic_grad_reverse(cp: CriticPass, WtT: Tensor, w2: Tensor, XtT: Tensor, delta: Tensor, curv: Tensor,
                        G0T: Tensor, bar_g: tuple[Tensor, Tensor, Tensor],
                        bar_theta: tuple[Tensor, Tensor, Tensor]) -> Tensor:
    """Reverse of critic_grad: given bar_g, the adjoint of D's gradient, add its pull-back to bar_theta
    (views of the parameters' adjoint, in place) and return the pull-back to XtT (S, d + 1, N).

    delta and curv are the loss's first and second derivatives per logit (curv = d delta / d logit).
    The units' pattern (mask) is piecewise constant, so it contributes nothing."""
    gWtT_bar, gw2_bar, gb2_bar = bar_g
    tWtT, tw2, tb2 = bar_theta
    # gWtT = G0T * w2 and gw2 = WtT . G0T both read G0T = (delta * XtT) mask; the adjoint of G0T,
    # pushed through the mask, is QT = d <bar_g, g> / d (delta * XtT)
    QT = torch.bmm(gWtT_bar * w2 + WtT * gw2_bar, cp.maskT)
    bar_a = (torch.linalg.vecdot(QT, XtT, dim=1) + gb2_bar) * curv       # through delta = loss'(logit)
    RT = torch.bmm(XtT * bar_a.unsqueeze(1), cp.maskT.transpose(1, 2))    # like G0T, with bar_a for delta
    tWtT.addcmul_(RT, w2).addcmul_(G0T, gw2_bar)
    tw2.squeeze(1).add_(torch.linalg.vecdot(WtT, RT, dim=1)).add_(torch.linalg.vecdot(gWtT_bar, G0T, dim=1))
    tb2.add_(bar_a.sum(1, keepdim=True))
    return QT * delta.unsqueeze(1) + cp.jacT * bar_a.unsqueeze(1)
