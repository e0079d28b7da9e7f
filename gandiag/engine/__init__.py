"""Training engines: what computes an iteration of S seed slots, behind one interface.

    choice = choose(cfg)                          # once per run: Choice(name, requested, reason)
    engine = build(choice, cfg, slots, start, then)
    stats = engine.step()                         # one iteration of every slot: {key: (S,) tensor}
    engine.export(i)                              # slot i's modules and optimisers hold its state
    engine.close()                                # its seed threads end (the loop: however it stops)

- reference (gandiag.engine.reference): autograd, any config; it trains the slots' modules themselves.
- fast: the toy MLPs, exact against the reference (docs/engine.md). In closed form
  (gandiag.engine.fast: a one-hidden-layer ReLU D, unrolled D included, second order), stacked over
  seeds, one replayed CUDA graph per iteration on CUDA (tests/test_engine.py); or generically
  (gandiag.engine.generic: deeper, maxout and tanh Ds, batch norm in G, packing, minibatch
  discrimination, unrolled; tests/test_generic_engine.py).
A slot is anything with the attributes of `Slot` (the trainer's gandiag.train.session.Session is one).
`then(stats)` runs as part of each iteration (on CUDA captured with it): the trainer's divergence watch.
Nothing here imports the trainer.
"""
from __future__ import annotations

from typing import Callable, Protocol

import torch
from torch import Tensor

from .reference import Players, ReferenceEngine
from .support import CLOSED_FORM, GENERIC, Choice, choose, in_closed_form, unsupported

Stats = dict[str, Tensor]


class Slot(Protocol):
    """One seed slot as an engine sees it: its players, stabilizer state, samplers and training generator."""

    players: Players
    stabilizers: object
    gen: torch.Generator

    def sample_real(self, n: int) -> Tensor: ...

    def sample_z(self, n: int) -> Tensor: ...

    def sample_labeled(self, n: int) -> tuple[Tensor, Tensor]: ...


class Engine(Protocol):
    name: str

    def step(self) -> Stats: ...

    def export(self, i: int) -> None: ...

    def close(self) -> None: ...


def build(choice: Choice, cfg, slots: list[Slot], start: int, then: Callable[[Stats], None]) -> Engine:
    """The engine `choice` names, over `slots`, counting iterations from `start`."""
    if choice.path == CLOSED_FORM:
        from .fast import FastEngine
        return FastEngine(cfg, slots, start, then)
    if choice.path == GENERIC:
        from .generic import GenericEngine
        return GenericEngine(cfg, slots, start, then)
    return ReferenceEngine(cfg, slots, start, then)


__all__ = ["CLOSED_FORM", "GENERIC", "Choice", "Engine", "Players", "Slot", "Stats", "build", "choose",
           "in_closed_form", "unsupported"]
