"""Stacked players: S seeds' parameters, gradients and Adam moments in flat buffers, tied to the
seeds' own nn.Modules and optimisers so probes, snapshots and checkpoints work unchanged.

A buffer is (S, P): each seed's parameters side by side in its row, so one seed's parameter is a
contiguous view and Adam runs on the whole buffer in a handful of operations. A single run binds its
modules to the buffers (their parameters and Adam state become views: nothing to copy, ever); a
multi-seed run copies a seed out when it records, so each seed's checkpoint holds its own data only.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor, nn

from . import adam

#: maps the stacked views to one seed's module parameters, in module.parameters() order
ModuleViews = Callable[[list[Tensor], int], list[Tensor]]


def same_layout(views: list[Tensor], i: int) -> list[Tensor]:
    return [v[i] for v in views]


def critic_layout(views: list[Tensor], i: int) -> list[Tensor]:
    """D's module holds (W1, b1, w2, b2); the engine keeps them as rows of one tensor (d + 3, H):
    W1^T, b1, w2, then b2 padded with zeros (gandiag.engine.closed_form.critic_views)."""
    (theta,) = views
    return [theta[i, :-3].T, theta[i, -3], theta[i, -2:-1], theta[i, -1, :1]]


class Flat:
    """The shapes of one player's parameters, stacked over S seeds in one (S, P) buffer: a seed's
    parameters lie side by side in its row, so per-seed norms are one reduction."""

    def __init__(self, shapes: list[tuple[int, ...]], S: int, like: Tensor):
        self.shapes, self.S, self.like = [tuple(s) for s in shapes], S, like
        self.sizes = [math.prod(s) for s in self.shapes]

    def zeros(self) -> Tensor:
        return torch.zeros(self.S, sum(self.sizes), dtype=self.like.dtype, device=self.like.device)

    def split(self, flat: Tensor) -> list[Tensor]:
        return [c.view(self.S, *s) for c, s in zip(flat.split(self.sizes, 1), self.shapes)]

    def norms(self, flat: Tensor) -> Tensor:
        """Per-seed L2 norm (S,) of a buffer, e.g. a gradient."""
        return torch.linalg.vector_norm(flat, dim=1)


class Player:
    """One player of S seeds: parameters, gradient and Adam moments (flat), and the optimiser step."""

    def __init__(self, shapes: list[tuple[int, ...]], layout: ModuleViews, nets: list[nn.Module],
                 opts: list[torch.optim.Optimizer]):
        self.layout, self.hyper = layout, adam.hyper(opts[0])
        self.flat = Flat(shapes, len(nets), next(nets[0].parameters()))
        self.theta, self.grad, self.m, self.v = (self.flat.zeros() for _ in range(4))
        self.params, self.grads = self.flat.split(self.theta), self.flat.split(self.grad)
        self.steps: Tensor | None = None   # the bound optimiser's step counters, on the host (a single run)
        # the optimisers' step count on the players' device, where Adam's fused kernel and the unrolled D read
        # it; float32 whatever the parameters' dtype, as torch keeps it for fused Adam (the CUDA kernel reads
        # a float; exact to 2^24 steps)
        self.t_tensor = torch.tensor(float(self._load(nets, opts)), dtype=torch.float32, device=self.flat.like.device)
        self._one = torch.ones_like(self.t_tensor)   # added per step: a Python 1 would be converted each time

    def _views(self, flat: Tensor, i: int) -> list[Tensor]:
        return self.layout(self.flat.split(flat), i)

    @torch.no_grad()
    def _load(self, nets, opts) -> int:
        """Copy every seed's parameters and Adam state in; return the (common) step count."""
        counts = set()
        for i, (net, opt) in enumerate(zip(nets, opts)):
            for q, p, m, v in zip(net.parameters(), *(self._views(b, i) for b in (self.theta, self.m, self.v))):
                p.copy_(q)
                state = opt.state.get(q)
                if state:
                    m.copy_(state["exp_avg"])
                    v.copy_(state["exp_avg_sq"])
                counts.add(int(state["step"]) if state else 0)
        if len(counts) != 1:
            raise ValueError(f"the stacked optimisers disagree on their step count ({sorted(counts)})")
        return counts.pop()

    def bind(self, net: nn.Module, opt: torch.optim.Optimizer) -> None:
        """Make seed 0's module parameters and Adam state views of the buffers (a single run)."""
        qs = list(net.parameters())
        # one counter per parameter, as torch keeps them; views of one vector, so one add_ per step
        self.steps = torch.full((len(qs),), float(self.t_tensor))
        for j, (q, p, m, v) in enumerate(zip(qs, *(self._views(b, 0) for b in (self.theta, self.m, self.v)))):
            q.data = p
            opt.state[q] = {"step": self.steps[j], "exp_avg": m, "exp_avg_sq": v}

    @torch.no_grad()
    def export(self, i: int, net: nn.Module, opt: torch.optim.Optimizer) -> None:
        """Copy seed i into its module and optimiser (a multi-seed run, before it records)."""
        for q, p, m, v in zip(net.parameters(), *(self._views(b, i) for b in (self.theta, self.m, self.v))):
            q.copy_(p)
            opt.state[q] = {"step": self.t_tensor.to("cpu", copy=True), "exp_avg": m.clone(), "exp_avg_sq": v.clone()}

    def step_(self) -> None:
        """One optimiser step on the gradient buffer: device work only (a CUDA graph can replay it);
        `count` advances the host's step counters."""
        self.t_tensor.add_(self._one)
        adam.step_(self.theta, self.m, self.v, self.grad, self.t_tensor, self.hyper)

    def count(self, n: int) -> None:
        """Advance the bound optimiser's step counters by the n steps the device took."""
        if self.steps is not None:
            self.steps.add_(n)

    def device_state(self) -> list[Tensor]:
        """Copies of everything step_ changes, for restore."""
        return [b.clone() for b in (self.theta, self.grad, self.m, self.v, self.t_tensor)]

    def restore(self, state: list[Tensor]) -> None:
        for b, saved in zip((self.theta, self.grad, self.m, self.v, self.t_tensor), state):
            b.copy_(saved)
