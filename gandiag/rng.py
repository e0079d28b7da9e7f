"""Seeded draws from torch's global generator that leave the caller's random streams as they were.

Training draws from generators a run owns (gandiag.train.loop.Session). A few draws torch makes only
from its global CPU generator, with no way to hand it another: a module's default initialisation
(nn.Linear, nn.Conv2d, ...) and spectral normalisation's start vectors. gandiag makes those under
`seeded`, which seeds torch's global CPU generator inside and puts the caller's state back after, so
the draws repeat and a user's own stream is never reseeded or moved.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Inside: torch's global CPU generator seeded with `seed`. After: its state from before.

    CPU only (torch.manual_seed would reseed every CUDA generator too, and fork_rng would not restore
    them): what is drawn here is drawn on the CPU, and modules move to their device afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        yield
