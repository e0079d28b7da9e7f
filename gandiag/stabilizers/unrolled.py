"""Unrolled D (Metz et al. 2017): G's loss is taken against D advanced K steps of D's own optimiser.

The K updates are replayed functionally (torch.func.functional_call) on copies of D's parameters,
buffers and optimiser moments, so the real D and its optimiser are untouched. In the second-order
method (the paper's) G's gradient flows through all K updates: each update's gradient is built with
create_graph=True, so d(update)/d(fakes) is part of G's gradient. The first-order variant treats the
K updates as constants: cheaper, and a different method.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call

#: D's objective for a D given as a callable x -> logits, and the list of that D's parameters
DObjective = Callable[[Callable[[Tensor], Tensor], list[Tensor]], Tensor]

#: added under Adam's square root: d sqrt(v) / dv is infinite at v = 0 (a unit whose gradient has
#: always been 0), which would turn G's second-order gradient into NaN; the value barely moves
SQRT_TINY = 1e-30


class AdamReplay:
    """torch.optim.Adam's update as a pure function, continuing from moments m, v after step t (the
    reference unroll's, and the generic fast path's: gandiag.engine.generic)."""

    def __init__(self, lr: float, betas: tuple[float, float], eps: float, m: list[Tensor], v: list[Tensor], t: int):
        self.lr, (self.b1, self.b2), self.eps, self.m, self.v, self.t = lr, betas, eps, m, v, t

    @classmethod
    def of(cls, opt: torch.optim.Adam, params: list[Tensor]) -> "AdamReplay":
        group = opt.param_groups[0]
        if group["weight_decay"] or group["amsgrad"] or group["maximize"]:
            raise ValueError("unrolling replays plain Adam: no weight decay, amsgrad or maximize")
        states = [opt.state.get(q, {}) for q in group["params"]]
        return cls(group["lr"], group["betas"], group["eps"],
                   [s["exp_avg"] if s else torch.zeros_like(q) for s, q in zip(states, params)],
                   [s["exp_avg_sq"] if s else torch.zeros_like(q) for s, q in zip(states, params)],
                   int(states[0]["step"]) if states[0] else 0)

    def __call__(self, params: list[Tensor], grads: tuple[Tensor, ...]) -> list[Tensor]:
        self.t += 1
        b1, b2 = self.b1, self.b2
        self.m = [b1 * m + (1 - b1) * g for m, g in zip(self.m, grads)]
        self.v = [b2 * v + (1 - b2) * g * g for v, g in zip(self.v, grads)]
        step_size, root_bc2 = self.lr / (1 - b1 ** self.t), (1 - b2 ** self.t) ** 0.5
        return [q - step_size * m / ((v + SQRT_TINY).sqrt() / root_bc2 + self.eps)
                for q, m, v in zip(params, self.m, self.v)]


class SGDReplay:
    """torch.optim.SGD's update (with momentum) as a pure function, continuing from its momentum
    buffers (None before its first step: then the first update's gradient is the buffer, as torch's)."""

    def __init__(self, lr: float, momentum: float, buf: list[Tensor | None]):
        self.lr, self.momentum, self.buf = lr, momentum, buf

    @classmethod
    def of(cls, opt: torch.optim.SGD) -> "SGDReplay":
        group = opt.param_groups[0]
        if group["weight_decay"] or group["dampening"] or group["nesterov"] or group["maximize"]:
            raise ValueError("unrolling replays SGD with plain momentum: no weight decay, dampening or nesterov")
        buffers = [opt.state.get(q, {}).get("momentum_buffer") for q in group["params"]]
        return cls(group["lr"], group["momentum"], buffers)

    def __call__(self, params: list[Tensor], grads: tuple[Tensor, ...]) -> list[Tensor]:
        if self.momentum:
            self.buf = [g if b is None else self.momentum * b + g for b, g in zip(self.buf, grads)]
            grads = self.buf
        return [q - self.lr * g for q, g in zip(params, grads)]


def _update_rule(opt: torch.optim.Optimizer, params: list[Tensor]):
    if len(opt.param_groups) != 1:
        raise ValueError("unrolling expects D's optimiser to hold one parameter group")
    if isinstance(opt, torch.optim.Adam):
        return AdamReplay.of(opt, params)
    if isinstance(opt, torch.optim.SGD):
        return SGDReplay.of(opt)
    raise ValueError(f"unrolling supports Adam and SGD, not {type(opt).__name__}")


def _as_function(D: nn.Module, names: list[str], params: list[Tensor], buffers: dict) -> Callable[[Tensor], Tensor]:
    state = {**dict(zip(names, params)), **buffers}
    return lambda x: functional_call(D, state, (x,))


def unroll(D: nn.Module, opt_d: torch.optim.Optimizer, d_objective: DObjective, k: int, first_order: bool = False,
           clip: float | None = None) -> Callable[[Tensor], Tensor]:
    """D after k steps of opt_d on d_objective, as a function x -> logits (k = 0: D itself, unchanged).

    d_objective should close over fixed minibatches (the paper's unrolled steps reuse one batch). With
    first_order=False the result is differentiable w.r.t. whatever d_objective depends on (G's fakes),
    through all k updates. clip: WGAN weight clipping after each update, as the real D does.
    D's buffers (batch-norm statistics, spectral-norm vectors) are copied, so they evolve in the copy only.
    """
    names = [n for n, _ in D.named_parameters()]
    params = [q.detach().requires_grad_() for q in D.parameters()]
    buffers = {n: b.clone() for n, b in D.named_buffers()}
    update = _update_rule(opt_d, params)
    for _ in range(k):
        loss = d_objective(_as_function(D, names, params, buffers), params)
        grads = torch.autograd.grad(loss, params, create_graph=not first_order)
        params = update(params, grads)
        if clip is not None:
            params = [q.clamp(-clip, clip) for q in params]
        if first_order:  # cut each update's graph: nothing flows back through it
            params = [q.detach().requires_grad_() for q in params]
    return _as_function(D, names, params, buffers)
