"""The fast engine: the toy scenarios' training step in closed form, stacked over seeds.

For an MLP G and a one-hidden-layer ReLU (or leaky ReLU) D it computes what gandiag.train.step does,
with hand-written forward and backward passes (unrolled D included, second order through Adam),
manual Adam on flat buffers, batched matrix products over seeds and no host sync per step; on CUDA
each iteration is one replayed CUDA graph (gandiag.engine.graphed).
`engine = auto` takes it where it applies (gandiag.engine.support) and the reference path otherwise.
README.md has the measurements; tests/test_engine.py compares both paths.
"""
from __future__ import annotations

from typing import Callable

from torch import Tensor

from .graphed import iteration
from .step import FastStep
from .support import Choice, choose, unsupported

__all__ = ["FastStep", "Choice", "choose", "unsupported", "fast_step"]


def fast_step(session, then: Callable[[dict[str, Tensor]], None] = lambda stats: None
              ) -> Callable[[int], dict[str, Tensor]] | None:
    """A training session's step function on the fast path (its players become views of the engine's
    buffers), or None when the config runs on the reference path. `then` takes each step's statistics
    as part of the step (on CUDA it is captured with it)."""
    if choose(session.cfg).name != "fast":
        return None
    engine = FastStep(session.cfg, [session.players])
    engine.bind(session.players)
    run = iteration(engine, [(session.sample_real, session.sample_z)], [session.gen], then,
                    pick=lambda stats: {k: v[0] for k, v in stats.items()})
    return lambda _iteration: run()   # the fast path's step does not depend on the step number
