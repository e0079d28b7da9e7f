"""The toy MLP players (gandiag.nets.mlp) as functions of a list of their parameters.

`Net(module)` reads a Generator's or Discriminator's layers once; `net(params, x)` computes what the
module computes in train mode, from `params` (the module's own parameters, or the unrolled D's
replacements for them, in module.parameters() order), with this package's products
(gandiag.engine.products). Batch norm uses and updates the module's own running statistics, as the
module does in train mode. A layer this does not know is a ValueError (gandiag.engine.support must
not admit its config).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..nets.layers import MinibatchDiscrimination, minibatch_features
from ..nets.mlp import Discriminator, Generator, Maxout, Scale
from .products import linear


def _layers(module: nn.Module) -> list[nn.Module]:
    if isinstance(module, Generator):
        return list(module.net)
    if isinstance(module, Discriminator):
        return [*module.features, module.extra, module.head]
    raise ValueError(f"the generic fast path computes gandiag's MLP players, not {type(module).__name__}")


class Net:
    """A player's layers, in order, as the forward pass reads them."""

    def __init__(self, module: nn.Module, twice_differentiable: bool = True):
        self.layers = [m for m in _layers(module) if not isinstance(m, nn.Identity)]
        for m in self.layers:
            if isinstance(m, nn.BatchNorm1d) and (m.momentum is None or not m.track_running_stats):
                raise ValueError("the generic fast path computes batch norm with a momentum and running statistics")
            if not isinstance(m, (nn.Linear, Maxout, Scale, nn.BatchNorm1d, nn.ReLU, nn.LeakyReLU, nn.Tanh,
                                  MinibatchDiscrimination)):
                raise ValueError(f"the generic fast path does not compute {type(m).__name__} layers")
        self.minibatch = any(isinstance(m, MinibatchDiscrimination) for m in self.layers)
        self.logits = isinstance(module, Discriminator)   # D's head: (N, 1) -> (N,)
        self.twice = twice_differentiable   # False: a layer may take a faster backward that has no backward

    def __call__(self, params: list[Tensor], x: Tensor) -> Tensor:
        p = iter(params)
        for m in self.layers:
            if isinstance(m, nn.Linear):
                x = linear(x, next(p), next(p))
            elif isinstance(m, Maxout):
                # max, not amax as the module: its backward routes each unit's gradient to the chosen piece
                # by index, where amax's compares and counts (several times slower here); they differ only
                # where two pieces tie exactly (amax splits the gradient between them, max takes one)
                x = linear(x, next(p), next(p)).view(x.shape[0], m.units, m.pieces).max(-1).values
            elif isinstance(m, Scale):
                x = x * m.factor
            elif isinstance(m, nn.BatchNorm1d):
                m.num_batches_tracked.add_(1)   # as the module counts, though a set momentum never reads it
                x = F.batch_norm(x, m.running_mean, m.running_var, next(p), next(p), True, m.momentum, m.eps)
            elif isinstance(m, nn.ReLU):
                x = torch.relu(x)
            elif isinstance(m, nn.LeakyReLU):
                x = F.leaky_relu(x, m.negative_slope)
            elif isinstance(m, nn.Tanh):
                x = torch.tanh(x)
            else:
                x = minibatch_features(x, next(p), m.kernels, m.dim, self.twice)
        return x.squeeze(-1) if self.logits else x
