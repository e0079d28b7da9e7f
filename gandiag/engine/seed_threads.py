"""Seeds computed side by side on threads on the CPU (config seed_workers): how many, and the threads.

The generic path hands each thread one seed's pass at a time; the closed form one group of seeds, each
group its own stacked step. Either way a seed's arithmetic is what it is alone, so a pass trains bit for
bit the same on any number of threads (tests/test_generic_engine.py, tests/test_engine.py).
"""
from __future__ import annotations

import weakref
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Callable

import torch

from ..machine import usable_cpus


def seed_workers(cfg, seeds: int, on_cpu: bool) -> int:
    """How many threads compute a pass's seeds side by side: config seed_workers, or under 0 (auto) as
    many as the process's CPUs hold at the run's intra-op threads each; never more than the seeds, and
    one off the CPU (a GPU's kernels queue on one stream, and a CUDA graph captures one thread)."""
    if seeds == 1 or not on_cpu:
        return 1
    return min(seeds, cfg.seed_workers or max(1, usable_cpus() // torch.get_num_threads()))


def groups(seeds: int, workers: int) -> list[range]:
    """Seeds 0 .. seeds - 1 as `workers` runs of consecutive seeds, as even as can be."""
    return [range(seeds * k // workers, seeds * (k + 1) // workers) for k in range(workers)]


def _run_threads(count: int) -> None:
    """A seed thread's start: the run's intra-op thread count for this thread too. OpenMP and MKL keep the
    count per thread, and a new thread starts at their default (every core): without this, two seed threads
    ran their products on two threads each, four threads on two cores."""
    torch.set_num_threads(count)


class SeedThreads:
    """`workers` threads at the run's intra-op thread count (one worker: none, the caller's thread does
    the work); they end on close, or when this object goes unclosed (an engine built outside the loop,
    a benchmark's)."""

    def __init__(self, workers: int):
        self._pool = ThreadPoolExecutor(workers, "gandiag-seed", _run_threads, (torch.get_num_threads(),)) \
            if workers > 1 else None
        self._shutdown = weakref.finalize(self, self._pool.shutdown) if self._pool else lambda: None

    def close(self) -> None:
        """The threads end (after what they run); a second close does nothing."""
        self._shutdown()

    def map(self, work: Callable, items: list) -> list:
        """[work(item) for item in items], side by side, in order. Where one fails (out of memory, say) the
        others stop or finish before the error goes on, so nothing changes a seed while the trainer
        handles it."""
        if self._pool is None:
            return [work(item) for item in items]
        done = [self._pool.submit(work, item) for item in items]
        try:
            return [d.result() for d in done]
        except BaseException:
            for d in done:
                d.cancel()
            wait(done)
            raise
