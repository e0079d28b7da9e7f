"""Closed-form forward and backward passes of the toy players, stacked over S independent seeds.

Every tensor carries a leading seed axis S and every matrix product is batched (torch.bmm), so S seeds
cost one call per product. G is an MLP. D has one hidden layer of a piecewise-linear unit (ReLU or
leaky ReLU): its output is then linear in its parameters given the pattern of active units, so its
gradient is two matrix products with that pattern and its Hessian-vector product (what the unrolled
D's second-order gradient needs) is exact with no second derivative of the unit.

D's parameters, per seed: Wt (H, d + 1) = [first-layer weight | bias], w2 (1, H), b2 (1,). D sees
Xt = [scale * x | 1] (N, d + 1), so its first layer is one product with Wt.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

# --- G: a multilayer perceptron ----------------------------------------------------------------


def activate(pre: Tensor, act: str, slope: float) -> Tensor:
    """The unit applied in place to a fresh pre-activation."""
    if act == "relu":
        return pre.clamp_min_(0)
    if act == "leaky_relu":
        return torch.nn.functional.leaky_relu_(pre, slope)
    return pre.tanh_()


def unit_backward_(grad: Tensor, h: Tensor, act: str, slope: float) -> Tensor:
    """d loss / d pre-activation from d loss / d output, in place, using only the unit's output h
    (a ReLU or leaky ReLU output is positive exactly where its input is)."""
    if act == "relu":
        return grad.mul_(h > 0)
    if act == "leaky_relu":
        return grad.mul_(torch.where(h > 0, 1.0, slope))
    return grad.mul_(1 - h * h)


def mlp_forward(layers: list[tuple[Tensor, Tensor]], z: Tensor, act: str, slope: float,
                keep: bool) -> tuple[Tensor, list[Tensor]]:
    """(output, inputs of every layer if keep) for stacked weights (S, out, in) and biases (S, out)."""
    h, inputs = z, []
    for i, (W, b) in enumerate(layers):
        if keep:
            inputs.append(h)
        h = torch.baddbmm(b.unsqueeze(1), h, W.transpose(1, 2))
        if i < len(layers) - 1:
            h = activate(h, act, slope)
    return h, inputs


def mlp_backward(layers: list[tuple[Tensor, Tensor]], inputs: list[Tensor], grad_out: Tensor,
                 grads: list[tuple[Tensor, Tensor]], act: str, slope: float) -> None:
    """Write d loss / d (W, b) of every layer into `grads` (views of the player's gradient buffer)."""
    g = grad_out
    for i in reversed(range(len(layers))):
        gW, gb = grads[i]
        torch.bmm(g.transpose(1, 2), inputs[i], out=gW)
        torch.sum(g, 1, out=gb)
        if i:
            g = unit_backward_(torch.bmm(g, layers[i][0]), inputs[i], act, slope)


# --- D: one hidden layer of a piecewise-linear unit --------------------------------------------


def augment(x: Tensor, scale: float) -> Tensor:
    """Xt = [scale * x | 1]: D's input scaling and first-layer bias folded into one product."""
    return torch.cat([x * scale, torch.ones_like(x[..., :1])], -1)


@dataclass
class CriticPass:
    """What one evaluation of D on fixed inputs leaves for its gradient and for reverse passes."""

    mask: Tensor     # (S, N, H) slope of each unit at each input: 1 or 0 (ReLU), 1 or slope (leaky)
    jac: Tensor      # (S, N, d + 1) d logit / d Xt, i.e. mask @ (w2^T * Wt)
    logits: Tensor   # (S, N)


def critic_pass(Wt: Tensor, w2: Tensor, b2: Tensor, Xt: Tensor, slope: float) -> CriticPass:
    mask = torch.bmm(Xt, Wt.transpose(1, 2)).gt_(0)
    if slope:
        mask.mul_(1 - slope).add_(slope)
    jac = torch.bmm(mask, Wt * w2.transpose(1, 2))
    # logit = sum_j w2_j * unit(pre_j) + b2 = sum_j w2_j mask_j (Wt_j . Xt) + b2 = jac . Xt + b2
    return CriticPass(mask, jac, torch.linalg.vecdot(jac, Xt) + b2)


def critic_grad(cp: CriticPass, Wt: Tensor, w2: Tensor, Xt: Tensor, delta: Tensor,
                out: tuple[Tensor, Tensor, Tensor]) -> Tensor:
    """Write d loss / d (Wt, w2, b2) into `out` for delta = d loss / d logits (S, N).

    Returns G0 = mask^T (delta * Xt) (S, H, d + 1), which the reverse pass reuses."""
    gWt, gw2, gb2 = out
    G0 = torch.bmm(cp.mask.transpose(1, 2), Xt * delta.unsqueeze(-1))
    torch.mul(G0, w2.transpose(1, 2), out=gWt)
    torch.linalg.vecdot(Wt, G0, out=gw2.squeeze(1))   # sum_i delta_i h_ij, since h_ij = mask_ij Wt_j . Xt_i
    torch.sum(delta, 1, keepdim=True, out=gb2)
    return G0


def critic_grad_reverse(cp: CriticPass, Wt: Tensor, w2: Tensor, Xt: Tensor, delta: Tensor, curv: Tensor,
                        G0: Tensor, bar_g: tuple[Tensor, Tensor, Tensor],
                        bar_theta: tuple[Tensor, Tensor, Tensor]) -> Tensor:
    """Reverse of critic_grad: given bar_g, the adjoint of D's gradient, add its pull-back to bar_theta
    (views of the parameters' adjoint, in place) and return the pull-back to Xt (S, N, d + 1).

    delta and curv are the loss's first and second derivatives per logit (curv: d delta / d logit).
    The unit's pattern (mask) is piecewise constant, so it contributes nothing."""
    gWt_bar, gw2_bar, gb2_bar = bar_g
    tWt, tw2, tb2 = bar_theta
    # gWt = w2^T * G0 and gw2 = Wt . G0 both read G0 = mask^T (delta * Xt); their adjoints meet in
    # Q = mask @ (w2^T * gWt_bar + gw2_bar^T * Wt), which is d(<bar_g, g>)/d(delta * Xt) per input
    Q = torch.bmm(cp.mask, gWt_bar * w2.transpose(1, 2) + Wt * gw2_bar.transpose(1, 2))
    bar_a = (torch.linalg.vecdot(Q, Xt) + gb2_bar) * curv            # through delta = loss'(logit)
    R = torch.bmm(cp.mask.transpose(1, 2), Xt * bar_a.unsqueeze(-1))  # like G0, with bar_a for delta
    tWt.addcmul_(R, w2.transpose(1, 2)).addcmul_(G0, gw2_bar.transpose(1, 2))
    tw2.squeeze(1).add_(torch.linalg.vecdot(Wt, R)).add_(torch.linalg.vecdot(gWt_bar, G0))
    tb2.add_(bar_a.sum(1, keepdim=True))
    return Q * delta.unsqueeze(-1) + cp.jac * bar_a.unsqueeze(-1)
