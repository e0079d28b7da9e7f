"""The toy MLP players (gandiag.nets.mlp) as functions of a list of their parameters.

`Net(module)` reads a Generator's or Discriminator's layers once; `net(params, x)` computes what the
module computes in train mode, from `params` (the module's own parameters, or the unrolled D's
replacements for them, in module.parameters() order), with this package's products
(gandiag.engine.products). A layer whose train-mode pass changes buffers (batch norm's running
statistics, spectral norm's power-iteration vectors) uses and updates the module's own, or the copies
`net.copied_state()` made (the unrolled D's, as the reference's unroll copies D's buffers). A layer
this does not know is a ValueError (gandiag.engine.support must not admit its config).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call
from torch.nn.utils import parametrize

from ..nets.layers import (AlwaysDropout, MinibatchDiscrimination, VirtualBatchNorm, minibatch_features,
                           virtual_batch_norm)
from ..nets.mlp import Discriminator, Generator, Maxout, Scale
from .products import linear, linear_tanh

#: each layer's buffers that its train-mode pass changes, () for none
State = list[tuple[Tensor, ...]]

_KNOWN = (nn.Linear, Maxout, Scale, nn.BatchNorm1d, nn.LayerNorm, VirtualBatchNorm, nn.ReLU, nn.LeakyReLU, nn.Tanh,
          MinibatchDiscrimination, AlwaysDropout)


def _layers(module: nn.Module) -> list[nn.Module]:
    if isinstance(module, Generator):
        return list(module.net)
    if isinstance(module, Discriminator):
        return [*module.features, module.extra, module.head]
    raise ValueError(f"the generic fast path computes gandiag's MLP players, not {type(module).__name__}")


def _linear_of(m: nn.Module) -> nn.Linear | None:
    return m.linear if isinstance(m, Maxout) else m if isinstance(m, nn.Linear) else None


def _spectral(m: nn.Linear) -> bool:
    return parametrize.is_parametrized(m, "weight")


def _parameters(m: nn.Module) -> list[Tensor]:
    """A layer's parameters in the order its pass reads them (spectral norm's: the original weight)."""
    lin = _linear_of(m)
    if lin is not None:
        return [lin.parametrizations.weight.original if _spectral(lin) else lin.weight, lin.bias]
    if isinstance(m, (nn.BatchNorm1d, nn.LayerNorm, VirtualBatchNorm)):
        return [m.weight, m.bias]
    if isinstance(m, MinibatchDiscrimination):
        return [m.T]
    return []


def _state(m: nn.Module) -> tuple[Tensor, ...]:
    lin = _linear_of(m)
    if lin is not None and _spectral(lin):
        norm = lin.parametrizations.weight[0]
        return norm._u, norm._v
    if isinstance(m, nn.BatchNorm1d):
        return m.running_mean, m.running_var, m.num_batches_tracked
    return ()


class Net:
    """A player's layers, in order, as the forward pass reads them."""

    def __init__(self, module: nn.Module, twice_differentiable: bool = True):
        self.layers = [m for m in _layers(module) if not isinstance(m, nn.Identity)]
        for m in self.layers:
            if isinstance(m, nn.BatchNorm1d) and (m.momentum is None or not m.track_running_stats):
                raise ValueError("the generic fast path computes batch norm with a momentum and running statistics")
            if not isinstance(m, _KNOWN):
                raise ValueError(f"the generic fast path does not compute {type(m).__name__} layers")
        position = {id(q): k for k, q in enumerate(module.parameters())}
        self.slots = [[position[id(q)] for q in _parameters(m)] for m in self.layers]
        if sum(map(len, self.slots)) != len(position):
            raise ValueError("the generic fast path computes affine normalisations only")
        self.state: State = [_state(m) for m in self.layers]
        # reals and fakes as separate batches, as the reference passes them, where a layer's output depends on
        # its batch or a pass changes state (batch norm's statistics; spectral norm's power iterations count passes)
        self.apart = any(self.state) or any(isinstance(m, MinibatchDiscrimination) for m in self.layers)
        self.logits = isinstance(module, Discriminator)   # D's head: (N, 1) -> (N,)
        # virtual batch norm's fixed reference batch goes through D's features ahead of every batch
        self.reference = module.reference if self.logits else None
        self.features = len([m for m in module.features if not isinstance(m, nn.Identity)]) if self.logits else 0
        self.twice = twice_differentiable   # False: a layer may take a faster backward that has no backward
        # an affine layer followed by tanh is one product with the tanh fused into it (products.linear_tanh)
        self.tanh_after = {k for k, (m, after) in enumerate(zip(self.layers, self.layers[1:]))
                           if type(m) is nn.Linear and isinstance(after, nn.Tanh)}
        # a maxout layer's piece -> unit index (maxout's `spread`); on the bias's device: reading a spectrally
        # normalised weight runs its power iteration
        self.spread = {k: torch.arange(m.units, device=m.linear.bias.device).repeat_interleave(m.pieces)
                       for k, m in enumerate(self.layers) if isinstance(m, Maxout)}

    def copied_state(self) -> State:
        return [tuple(b.clone() for b in buffers) for buffers in self.state]

    def __call__(self, params: list[Tensor], x: Tensor, state: State | None = None) -> Tensor:
        state = self.state if state is None else state
        if self.reference is not None:
            x = torch.cat([self.reference, x])
        for k, (m, slot, buffers) in enumerate(zip(self.layers, self.slots, state)):
            if k == self.features and self.reference is not None:
                x = x[len(self.reference):]
            p = [params[j] for j in slot]
            if isinstance(m, (nn.Linear, Maxout)):
                W = self._weight(_linear_of(m), p[0], buffers, state is self.state)
                x = (linear_tanh if k in self.tanh_after else linear)(x, W, p[1])
                if isinstance(m, Maxout):
                    x = maxout(x, m.pieces, self.spread[k])
            elif isinstance(m, Scale):
                x = x * m.factor
            elif isinstance(m, nn.BatchNorm1d):
                running_mean, running_var, tracked = buffers
                tracked.add_(1)   # as the module counts, though a set momentum never reads it
                x = F.batch_norm(x, running_mean, running_var, p[0], p[1], True, m.momentum, m.eps)
            elif isinstance(m, nn.LayerNorm):
                x = F.layer_norm(x, m.normalized_shape, p[0], p[1], m.eps)
            elif isinstance(m, VirtualBatchNorm):
                x = virtual_batch_norm(x, m.reference_size, p[0], p[1], m.eps)
            elif isinstance(m, nn.ReLU):
                x = torch.relu(x)
            elif isinstance(m, nn.LeakyReLU):
                x = F.leaky_relu(x, m.negative_slope)
            elif isinstance(m, nn.Tanh):
                x = x if k - 1 in self.tanh_after else torch.tanh(x)
            elif isinstance(m, AlwaysDropout):
                x = m(x)   # its mask from its own generator, the run's, as the reference draws it
            else:
                x = minibatch_features(x, p[0], m.kernels, m.dim, self.twice)
        return x.squeeze(-1) if self.logits else x

    @staticmethod
    def _weight(m: nn.Linear, W: Tensor, buffers: tuple[Tensor, ...], own: bool) -> Tensor:
        """The weight a linear layer multiplies by: W, or spectral norm's W / sigma after its power
        iteration on the module's vectors (own) or on copies of them."""
        if not buffers:
            return W
        norm = m.parametrizations.weight[0]
        return norm(W) if own else functional_call(norm, {"_u": buffers[0], "_v": buffers[1]}, (W,))


def maxout(x: Tensor, pieces: int, spread: Tensor) -> Tensor:
    """(N, units): the max of each unit's pieces, for x (N, units * pieces) unit-major as Maxout's linear
    writes it, and spread = each piece's unit (arange(units).repeat_interleave(pieces)). Its gradient is
    amax's (the module's, bit for bit: each unit's gradient goes to the pieces equal to its max, shared
    among them where several are), and it is differentiable any number of times."""
    return _Maxout.apply(x, pieces, spread)


class _Maxout(torch.autograd.Function):
    """The max over a unit's consecutive pieces as a pooling window. On a CPU, torch's reductions and
    broadcasts over the 5 consecutive pieces run one short inner loop per unit: max measured 12 times
    slower than max_pool1d, and amax's backward, which compares x with the broadcast max, 4 times slower
    than a flat comparison with the max spread over the pieces. The pieces that give each unit its max
    are found here in the forward, while x is still in cache, and the backward spreads the gradient
    over them."""

    @staticmethod
    def forward(ctx, x: Tensor, pieces: int, spread: Tensor) -> Tensor:
        N, units = x.shape[0], x.shape[1] // pieces
        top = F.max_pool1d(x.view(N, 1, units * pieces), pieces, pieces).view(N, units)
        chosen = top.index_select(1, spread)
        torch.eq(x, chosen, out=chosen)   # 1 where a piece gives its unit's max, else 0, in x's dtype
        # where no two pieces tie for a unit's max (the rule: inputs are continuous), amax's division of the
        # gradient by the count of such pieces is a division by 1, skipped (the check costs a sync on a GPU)
        ties = not x.is_cpu or chosen.sum().item() != N * units
        ctx.save_for_backward(chosen, spread, chosen.view(N, units, pieces).sum(-1) if ties else None)
        return top

    @staticmethod
    def backward(ctx, grad: Tensor):
        chosen, spread, count = ctx.saved_tensors
        share = grad if count is None else grad / count
        return share.index_select(1, spread).mul_(chosen), None, None
