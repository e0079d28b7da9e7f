"""The players as the fast engines hold them, S seeds each, tied to the seeds' own nn.Modules and
optimisers so probes, snapshots and checkpoints work unchanged.

StackedPlayer (the closed-form path): parameters, gradients and Adam moments in flat buffers.
OwnPlayer (the generic path): the parameters stay in the modules, the Adam moments beside them.

A buffer is (S, P): each seed's parameters side by side in its row, so one seed's parameter is a
contiguous view and Adam runs on the whole buffer in a handful of operations. The buffers are the
state while the engine trains; a seed is copied out into its modules and optimiser when it records or
saves (`export`), so every probe, snapshot and checkpoint sees ordinary modules.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor, nn
from torch.optim.sgd import sgd

from ..stabilizers.unrolled import AdamReplay, SGDReplay
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
    """The shapes of one player's parameters, stacked over S seeds in one flat buffer, parameter by
    parameter: each parameter is one contiguous (S, *shape) block. (Seeds side by side within each
    parameter, not parameters side by side within each seed: a matrix product that reads a weight
    strided across seeds takes another kernel path and rounds differently, and seed s of a stacked
    pass must train exactly what the seed trains alone.) Adam updates the whole buffer at once."""

    def __init__(self, shapes: list[tuple[int, ...]], S: int, like: Tensor):
        self.shapes, self.S, self.like = [tuple(s) for s in shapes], S, like
        self.sizes = [S * math.prod(s) for s in self.shapes]

    def zeros(self) -> Tensor:
        return torch.zeros(sum(self.sizes), dtype=self.like.dtype, device=self.like.device)

    def split(self, flat: Tensor) -> list[Tensor]:
        return [c.view(self.S, *s) for c, s in zip(flat.split(self.sizes), self.shapes)]

    def norms(self, flat: Tensor) -> Tensor:
        """Per-seed L2 norm (S,) of a buffer, e.g. a gradient: the norm of the per-parameter norms, as
        the reference engine takes it (gandiag.engine.reference.grad_norm)."""
        per_param = [torch.linalg.vector_norm(c.view(self.S, -1), dim=1) for c in self.split(flat)]
        return per_param[0] if len(per_param) == 1 else torch.linalg.vector_norm(torch.stack(per_param, 1), dim=1)


@torch.no_grad()
def load_adam(nets, opts, views: Callable[[int], list[list[Tensor]]]) -> int:
    """Copy every seed's parameters and Adam moments into views(i) = [params, m, v] (lists in
    module.parameters() order); return the seeds' (common) step count."""
    counts = set()
    for i, (net, opt) in enumerate(zip(nets, opts)):
        for q, p, m, v in zip(net.parameters(), *views(i)):
            if p is not q:
                p.copy_(q)
            state = opt.state.get(q)
            if state:
                m.copy_(state["exp_avg"])
                v.copy_(state["exp_avg_sq"])
            counts.add(int(state["step"]) if state else 0)
    if len(counts) != 1:
        raise ValueError(f"the stacked optimisers disagree on their step count ({sorted(counts)})")
    return counts.pop()


@torch.no_grad()
def export_adam(net: nn.Module, opt: torch.optim.Optimizer, params: list[Tensor], m: list[Tensor],
                v: list[Tensor], t: Tensor) -> None:
    """One seed's parameters and Adam state into its module and optimiser, in torch's own format."""
    for q, p, m_, v_ in zip(net.parameters(), params, m, v):
        if p is not q:
            q.copy_(p)
        opt.state[q] = {"step": t.to("cpu", copy=True), "exp_avg": m_.clone(), "exp_avg_sq": v_.clone()}


def step_count(count: int, like: Tensor) -> Tensor:
    """The optimisers' step count on the players' device, where Adam's fused kernel and the unrolled D
    read it; float32 whatever the parameters' dtype, as torch keeps it for fused Adam (the CUDA kernel
    reads a float; exact to 2^24 steps)."""
    return torch.tensor(float(count), dtype=torch.float32, device=like.device)


class StackedPlayer:
    """One player of S seeds: parameters, gradient and Adam moments (flat), and the optimiser step."""

    def __init__(self, shapes: list[tuple[int, ...]], layout: ModuleViews, nets: list[nn.Module],
                 opts: list[torch.optim.Optimizer], module_shapes: list[tuple[int, ...]] | None = None):
        expected = [tuple(s) for s in (module_shapes or shapes)]
        for net in nets:
            found = [tuple(q.shape) for q in net.parameters()]
            if found != expected:
                raise ValueError(f"{type(net).__name__} has parameters {found}, the engine computes {expected}: "
                                 "gandiag.engine.support must not admit this config")
        self.layout, self.hyper = layout, adam.hyper(opts[0])
        self.flat = Flat(shapes, len(nets), next(nets[0].parameters()))
        self.theta, self.grad, self.m, self.v = (self.flat.zeros() for _ in range(4))
        self.params, self.grads = self.flat.split(self.theta), self.flat.split(self.grad)
        # every seed's every parameter as a tensor of its own, for Adam (adam.step_ says why)
        self._per_seed = [[block[i] for block in self.flat.split(b) for i in range(len(nets))]
                          for b in (self.theta, self.m, self.v, self.grad)]
        self.t_tensor = step_count(self._load(nets, opts), self.flat.like)
        self._one = torch.ones_like(self.t_tensor)   # added per step: a Python 1 would be converted each time

    def _views(self, flat: Tensor, i: int) -> list[Tensor]:
        return self.layout(self.flat.split(flat), i)

    def _load(self, nets, opts) -> int:
        return load_adam(nets, opts, lambda i: [self._views(b, i) for b in (self.theta, self.m, self.v)])

    def export(self, i: int, net: nn.Module, opt: torch.optim.Optimizer) -> None:
        """Copy seed i into its module and optimiser (a multi-seed run, before it records)."""
        export_adam(net, opt, *(self._views(b, i) for b in (self.theta, self.m, self.v)), self.t_tensor)

    def step_(self) -> None:
        """One optimiser step on the gradient buffer: device work only (a CUDA graph can replay it)."""
        self.t_tensor.add_(self._one)
        adam.step_(*self._per_seed, self.t_tensor, self.hyper)

    def device_state(self) -> list[Tensor]:
        """Copies of everything step_ changes, for restore."""
        return [b.clone() for b in (self.theta, self.grad, self.m, self.v, self.t_tensor)]

    def restore(self, state: list[Tensor]) -> None:
        for b, saved in zip((self.theta, self.grad, self.m, self.v, self.t_tensor), state):
            b.copy_(saved)


class OwnPlayer:
    """One player of S seeds whose parameters stay in the seeds' own modules (the generic fast path,
    gandiag.engine.generic): the Adam moments and step count beside them, and the optimiser step on
    every seed at once. The modules are the state, so export only writes the optimisers' state."""

    def __init__(self, nets: list[nn.Module], opts: list[torch.optim.Optimizer]):
        self.hyper = adam.hyper(opts[0])
        self.params = [list(net.parameters()) for net in nets]
        self.m = [[torch.zeros_like(q) for q in ps] for ps in self.params]
        self.v = [[torch.zeros_like(q) for q in ps] for ps in self.params]
        self.t_tensor = step_count(load_adam(nets, opts, lambda i: [self.params[i], self.m[i], self.v[i]]),
                                   self.params[0][0])
        self._one = torch.ones_like(self.t_tensor)

    def export(self, i: int, net: nn.Module, opt: torch.optim.Optimizer) -> None:
        export_adam(net, opt, self.params[i], self.m[i], self.v[i], self.t_tensor)

    @torch.no_grad()
    def reload(self, i: int, net: nn.Module, opt: torch.optim.Optimizer) -> None:
        """Seed i's Adam state from its optimiser again, after something replaced it there (a swap of
        old players, gandiag.stabilizers.swaps: every seed swaps at the same steps, so the step count
        stays common)."""
        for m, v in zip(self.m[i], self.v[i]):
            m.zero_()
            v.zero_()
        self.t_tensor.fill_(load_adam([net], [opt], lambda _: [self.params[i], self.m[i], self.v[i]]))

    def replay(self, i: int, flat: Callable[[list[Tensor]], Tensor]) -> AdamReplay:
        """Seed i's optimiser update as the unrolled D replays it, on flat(its parameters)."""
        h = self.hyper
        return AdamReplay(h.lr, (h.b1, h.b2), h.eps, [flat(self.m[i])], [flat(self.v[i])], int(self.t_tensor))

    @torch.no_grad()
    def step_(self, grads: list[list[Tensor]]) -> None:
        """One optimiser step of every seed, grads[i] seed i's gradients (each tensor its own: adam.step_)."""
        self.t_tensor.add_(self._one)
        flat = lambda lists: [q for qs in lists for q in qs]  # noqa: E731
        adam.step_(flat(self.params), flat(self.m), flat(self.v), flat(grads), self.t_tensor, self.hyper)


class SGDPlayer:
    """One player of S seeds trained by SGD (the generic fast path): torch's SGD update on the seeds'
    own optimisers' state, every seed's parameters in one foreach call (the optimiser's own loop is a
    few operations per parameter, each with its fixed cost); the modules and optimisers are the
    state, so there is nothing to export."""

    def __init__(self, nets: list[nn.Module], opts: list[torch.optim.Optimizer]):
        self.params, self.opts = [list(net.parameters()) for net in nets], opts

    def export(self, i: int, net: nn.Module, opt: torch.optim.Optimizer) -> None:
        """Nothing to copy: the optimiser holds its own state."""

    def reload(self, i: int, net: nn.Module, opt: torch.optim.Optimizer) -> None:
        """Nothing to read again: the optimiser holds its own state."""

    def replay(self, i: int, flat: Callable[[list[Tensor]], Tensor]) -> SGDReplay:
        """Seed i's optimiser update as the unrolled D replays it, on flat(its parameters)."""
        update = SGDReplay.of(self.opts[i])
        update.buf = [None if update.buf[0] is None else flat(update.buf)]   # one buffer, as the one vector
        return update

    @torch.no_grad()
    def step_(self, grads: list[list[Tensor]]) -> None:
        """One optimiser step of every seed, grads[i] seed i's gradients."""
        group = self.opts[0].param_groups[0]
        params = [q for qs in self.params for q in qs]
        # the optimiser keeps a state per parameter only with momentum (its state is a defaultdict: read it
        # only then, as SGD.step does)
        states = [opt.state[q] for opt, qs in zip(self.opts, self.params) for q in qs] if group["momentum"] else []
        buffers = [state.get("momentum_buffer") for state in states] or [None] * len(params)
        sgd(params, [g for gs in grads for g in gs], buffers, foreach=True, weight_decay=group["weight_decay"],
            momentum=group["momentum"], lr=group["lr"], dampening=group["dampening"], nesterov=group["nesterov"],
            maximize=group["maximize"])
        if group["momentum"]:
            for state, buf in zip(states, buffers):
                state["momentum_buffer"] = buf


def own_player(nets: list[nn.Module], opts: list[torch.optim.Optimizer]) -> OwnPlayer | SGDPlayer:
    """The generic path's player for the seeds' optimisers (gandiag.train.session makes Adam or SGD)."""
    return SGDPlayer(nets, opts) if isinstance(opts[0], torch.optim.SGD) else OwnPlayer(nets, opts)
