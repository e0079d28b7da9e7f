"""Closed-form forward and backward passes of the toy players, stacked over S independent seeds.

Every tensor carries a leading seed axis S and every matrix product is batched (torch.bmm), so S seeds
cost one call per product; where oneDNN's products are the faster (a float32 CPU with AVX-512), G's
wide products go seed by seed to oneDNN instead (gandiag.engine.products.bmm), which measured twice as
fast as MKL's there. G is an MLP. D has one hidden layer of a piecewise-linear unit (ReLU or leaky
ReLU): given the pattern of active units its logit is linear in its parameters, so its gradient is two
products with that pattern and its Hessian-vector product (what the unrolled D's second-order gradient
needs) is exact with no second derivative of the unit. With pack = m (PacGAN) D's input is m points
side by side, d = 2m.

Layouts were chosen by timing the matrix library on these shapes: D's inputs and everything of width
d + 1 are feature-major, and the units' pattern is input-major (N, H). Per seed: D sees
XtT (d + 1, N) = [scale * x^T ; 1], and its parameters are one tensor (d + 3, H): WtT = [first-layer
weight^T ; bias], then w2, then b2 padded with zeros. G's output is (S, 2, R).

On the toy shapes an operation's fixed cost (microseconds) rivals its arithmetic, so the views every
step reads (Layer, CriticViews) are taken once, by the caller.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from . import products

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


class Layer(NamedTuple):
    """One stacked linear layer and the views of it that the products read."""

    W: Tensor       # (S, out, in)
    b: Tensor       # (S, out)
    WT: Tensor      # (S, in, out)
    b_col: Tensor   # (S, out, 1)


def layers(params: list[Tensor]) -> list[Layer]:
    """The layers of stacked parameters [W0, b0, W1, b1, ...] (or of their gradients)."""
    return [Layer(W, b, W.transpose(1, 2), b.unsqueeze(-1)) for W, b in zip(params[0::2], params[1::2])]


def mlp_forward(layers: list[Layer], z: Tensor, act: str, slope: float, out: Tensor, scale: float = 1.0
                ) -> list[Tensor]:
    """Write scale * G(z) (S, out, R) into `out` (that shape, or a view of it split as (S, out, R / m, m))
    for z (S, R, in); return every layer's input (for mlp_backward). The scale rides on the last product
    (D's input scaling, at no extra operation)."""
    inputs = [z]
    for layer in layers[:-1]:
        inputs.append(activate(products.bmm(inputs[-1], layer.WT, layer.b), act, slope))
    last = layers[-1]
    # computed, then copied into `out` (a view strided across seeds): mlp_backward says why
    out.copy_(torch.baddbmm(last.b_col, last.W, inputs[-1].transpose(1, 2), beta=scale, alpha=scale).view(out.shape))
    return inputs


def mlp_backward(layers: list[Layer], inputs: list[Tensor], grad_out: Tensor, grads: list[Layer], act: str,
                 slope: float) -> None:
    """Write d loss / d (W, b) of every layer into `grads` (the layers of the player's gradient buffer),
    given d loss / d output (S, out, R)."""
    gT = grad_out
    for i in reversed(range(len(layers))):
        # not bmm(out=): a product written into a view strided across seeds (of the (S, P) buffer) rounds
        # differently than into its own memory, and a stacked seed must train exactly as it does alone
        grads[i].W.copy_(products.bmm(gT, inputs[i]))
        torch.sum(gT, 2, out=grads[i].b)
        if i:
            gT = unit_backward(products.bmm(gT.transpose(1, 2), layers[i].W), inputs[i], act, slope).transpose(1, 2)


# --- D: one hidden layer of a piecewise-linear unit --------------------------------------------


class CriticViews(NamedTuple):
    """D's parameters (or a tensor of their shape) theta (S, d + 3, H) as the passes read them. b2 is the
    first entry of the last row; the row's other entries have zero gradient, so they stay zero under Adam."""

    WtT: Tensor   # (S, d + 1, H)
    w2: Tensor    # (S, 1, H)
    b2: Tensor    # (S, 1)


def critic_views(theta: Tensor) -> CriticViews:
    return CriticViews(theta[:, :-2], theta[:, -2:-1], theta[:, -1, :1])


@dataclass
class CriticPass:
    """What one evaluation of D on fixed inputs leaves for its gradient and for reverse passes."""

    mask: Tensor     # (S, N, H) slope of each unit at each input: 1 or 0 (ReLU), 1 or slope (leaky)
    jacT: Tensor     # (S, d + 1, N) d logit / d XtT
    logits: Tensor   # (S, N)


def critic_pass(theta: CriticViews, XtT: Tensor, slope: float, out: Tensor | None = None) -> CriticPass:
    """D on XtT; the mask goes into `out` (S, N, H) when given: a fresh mask is the step's largest
    allocation, and reusing memory saves the page faults of a new one (about a tenth of an unrolled step).

    The mask is input-major (S, N, H), which the products with it measured 1.5 to 4 times faster in
    (for inner or outer size d + 1) than the unit-major layout; jacT reads it transposed, which measured
    faster for that product together with the logits' reduction over its (then contiguous) rows."""
    WtT, w2, b2 = theta
    mask = torch.bmm(XtT.transpose(1, 2), WtT, out=out)
    torch.gt(mask, 0, out=mask)   # the pre-activations become the units' slopes in place
    if slope:
        mask.mul_(1 - slope).add_(slope)
    # logit = sum_j w2_j unit(pre_j) + b2 = sum_j w2_j mask_j (Wt_j . Xt) + b2 = jac . Xt + b2
    jacT = torch.bmm(WtT * w2, mask.transpose(1, 2))
    return CriticPass(mask, jacT, torch.linalg.vecdot(jacT, XtT, dim=1).add_(b2))


def critic_grad(cp: CriticPass, theta: CriticViews, XtT: Tensor, delta: Tensor, out: CriticViews) -> Tensor:
    """Write d loss / d theta into `out` (views of a tensor whose padding is zero) for
    delta = d loss / d logits (S, N).

    Returns G0T = (delta * XtT) mask (S, d + 1, H), which the reverse pass reuses."""
    WtT, w2, _ = theta
    G0T = torch.bmm(XtT * delta.unsqueeze(1), cp.mask)
    torch.mul(G0T, w2, out=out.WtT)
    # sum_i delta_i h_ij, since a unit's output is h_ij = mask_ij (Wt_j . Xt_i)
    torch.sum(WtT * G0T, 1, keepdim=True, out=out.w2)
    torch.sum(delta, 1, keepdim=True, out=out.b2)
    return G0T


def critic_grad_reverse(cp: CriticPass, theta: CriticViews, XtT: Tensor, delta: Tensor, curv: Tensor, G0T: Tensor,
                        bar_g: Tensor, bar_theta: Tensor, cols: slice) -> Tensor:
    """Reverse of critic_grad: given bar_g, the adjoint of D's gradient, add its pull-back to bar_theta
    (in place; both are whole tensors of theta's shape) and return its pull-back to XtT[..., cols].

    delta and curv are the loss's first and second derivatives per logit (curv = d delta / d logit).
    The units' pattern (mask) is piecewise constant, so it contributes nothing."""
    WtT, w2, _ = theta
    gWtT_bar, gw2_bar, gb2_bar = critic_views(bar_g)
    tWtT, tw2, tb2 = critic_views(bar_theta)
    # gWtT = G0T * w2 and gw2 = sum(WtT * G0T) both read G0T = (delta * XtT) mask; the adjoint of G0T
    # pushed through the mask is QT = d <bar_g, g> / d (delta * XtT)
    QT = torch.bmm(torch.addcmul(gWtT_bar * w2, WtT, gw2_bar), cp.mask.transpose(1, 2))
    bar_a = (QT * XtT).sum(1).add_(gb2_bar).mul_(curv)                   # through delta = loss'(logit)
    RT = torch.bmm(XtT * bar_a.unsqueeze(1), cp.mask)    # like G0T, with bar_a for delta
    tWtT.addcmul_(RT, w2).addcmul_(G0T, gw2_bar)
    tw2.add_((WtT * RT).addcmul_(gWtT_bar, G0T).sum(1, keepdim=True))
    tb2.add_(bar_a.sum(1, keepdim=True))
    return torch.addcmul(QT[..., cols] * delta[:, None, cols], cp.jacT[..., cols], bar_a[:, None, cols])
