"""The fast engine's iteration on CUDA: captured once as a CUDA graph, then replayed.

A ring8 iteration is a few hundred small kernels (over a thousand with an eager unrolled D); launched
one at a time from Python, the launches cost more than the GPU's work. A graph launches them all at once.
The replay computes what the eager iteration computes because
- FastStep.compute syncs nothing with the host and changes nothing on it: it reads and writes the
  players' fixed buffers (their step counts too, as device tensors);
- every random draw comes from the runs' own generators, registered with the graph, so each replay
  advances them as an eager iteration would (the draws of replay i are those of eager iteration i);
Capturing needs warm-up iterations first (cuBLAS's handles, a compiled unroll's compilation), and
warm-up iterations train; they are undone, so the run's first iteration is the first replay.
tests/test_engine.py compares replays with eager iterations on a GPU (its "on CUDA" tests).
"""
from __future__ import annotations

from typing import Callable, Protocol

import torch
from torch import Tensor

#: iterations run before the capture (then undone): PyTorch's CUDA graph notes use three
WARMUP = 3


Stats = dict[str, Tensor]
#: one seed's (sample_real, sample_z): n -> a batch of n
Samplers = tuple[Callable[[int], Tensor], Callable[[int], Tensor]]


class Step(Protocol):
    """What a graph captures (gandiag.engine.fast.FastStep): an iteration's device work, and the state
    it changes, to undo the warm-up iterations."""

    device: torch.device

    def compile_now(self) -> None: ...

    def compute(self, samplers: list[Samplers]) -> Stats: ...

    def device_state(self) -> list[list[Tensor]]: ...

    def restore(self, state: list[list[Tensor]]) -> None: ...


def iteration(engine: Step, samplers: list[Samplers], generators: list[torch.Generator],
              then: Callable[[Stats], None] = lambda stats: None) -> Callable[[], Stats]:
    """The engine's iteration on these samplers: its statistics (S,), and `then` on them (device work
    only, such as gandiag.train.guards.DivergenceWatch.observe). One replayed CUDA graph where the
    engine runs on CUDA; eager calls elsewhere. `generators` are the ones the samplers draw from."""
    # a torch without graph-safe custom generators cannot replay the draws: it runs eagerly
    if engine.device.type == "cuda" and hasattr(torch.cuda.CUDAGraph, "register_generator_state"):
        return Graphed(engine, samplers, generators, then)   # its warm-up compiles
    engine.compile_now()

    def eager() -> Stats:
        stats = engine.compute(samplers)
        then(stats)
        return stats
    return eager


class Graphed:
    """engine.compute(samplers) and `then` captured as one CUDA graph; calling it replays the graph and
    returns the statistics (the same tensors each time, overwritten by the next call)."""

    def __init__(self, engine: Step, samplers: list[Samplers], generators: list[torch.Generator],
                 then: Callable[[Stats], None]):
        # the graph reads memory that these own (the samplers' sessions hold the data's tensors, the
        # generators their states): it must not be freed and reused while the graph may replay
        self.engine, self.samplers, self.generators = engine, samplers, generators
        state, draws = engine.device_state(), [g.get_state() for g in generators]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(WARMUP):
                engine.compute(samplers)
        torch.cuda.current_stream().wait_stream(side)
        engine.restore(state)
        for g, saved in zip(generators, draws):
            g.set_state(saved)
        self.graph = torch.cuda.CUDAGraph()
        for g in generators:
            self.graph.register_generator_state(g)
        with torch.cuda.graph(self.graph):   # `then` is not warmed up: it would have to be undone too
            self.stats = engine.compute(samplers)
            then(self.stats)

    def __call__(self) -> Stats:
        self.graph.replay()
        return self.stats
