"""Stabilizers: the published tricks against mode collapse and instability, one module each.

Stateless ones are functions the step calls (labels, noise, packing, penalties, unrolled); the
stateful ones live in a `Stabilizers` object that the session builds once and passes to every step,
and whose parts (`stateful()`) every checkpoint saves, so a resumed run continues bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from ..nets.layers import use_generator
from .averaging import HistoricalAverage
from .packing import pack
from .replay import ReplayBuffer
from .swaps import Swaps


@dataclass
class Stabilizers:
    """The stateful stabilizers of a run; None where the option is off."""

    replay: ReplayBuffer | None = None
    d_average: HistoricalAverage | None = None
    g_average: HistoricalAverage | None = None
    swaps: Swaps | None = None

    def stateful(self) -> dict[str, object]:
        """The objects that are on, by name: each has state_dict()/load_state_dict() for checkpoints."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def build_stabilizers(cfg, players, sample_real, gen) -> Stabilizers:
    """A run's stabilizer state; also prepares the players for the options that live inside them:
    G's always-on dropout draws its training masks from `gen`, and D's virtual-batch-norm reference
    batch is filled with reals (drawn with sample_real, i.e. from `gen`)."""
    use_generator(players.G, gen)
    if cfg.d_norm == "virtual-batch":
        players.D.reference.copy_(pack(sample_real(len(players.D.reference) * cfg.pack), cfg.pack))
    return Stabilizers(
        replay=ReplayBuffer(cfg.replay_size, cfg.replay_share) if cfg.replay_size else None,
        d_average=HistoricalAverage(players.D, cfg.hist_avg) if cfg.hist_avg else None,
        g_average=HistoricalAverage(players.G, cfg.hist_avg) if cfg.hist_avg else None,
        swaps=Swaps(cfg.swap_every, cfg.swap_for) if cfg.swap_every else None)
