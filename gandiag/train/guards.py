"""Guards around the training loop: the divergence watch and the deferred Ctrl-C."""
from __future__ import annotations

import math
import signal
import threading

import torch

from .. import record as R
from ..engine import Players


class DivergenceWatch:
    """The first step with a non-finite loss or gradient norm, kept on the device: observing a step is
    device work only (no host sync, nothing changes on the host), so a CUDA graph can capture it with
    the step (gandiag.engine.graphed). Watches the `seeds` slots of one pass (a single run is one).

    A non-finite parameter shows in the next step's losses; parameters are also checked whenever the
    flag is read, so the step about to be recorded or checkpointed is never a bad one.
    """

    KEYS = (R.D_LOSS, R.G_LOSS, R.D_GRAD_NORM, R.G_GRAD_NORM)

    def __init__(self, device: torch.device, start: int = 0, seeds: int = 1):
        shape = (seeds,)
        self.seen = torch.full((), start, dtype=torch.long, device=device)   # the last step observed
        # constants of the per-step work as tensors: a Python number would be converted on every call
        self.one, self.inf = torch.ones_like(self.seen), torch.tensor(math.inf, device=device)
        self.step = torch.zeros(shape, dtype=torch.long, device=device)     # 0: every step finite so far
        self.values = torch.zeros(*shape, len(self.KEYS), device=device)   # the statistics at that step

    @torch.no_grad()
    def observe(self, stats: dict) -> None:
        """Count a step whose statistics are `stats` ((S,) per key); in place, so a captured graph keeps
        writing where the watch reads."""
        self.seen.add_(self.one)
        values = torch.stack([stats[k] for k in self.KEYS], -1).float()
        # |x| < inf is isfinite (NaN compares false) in two operations, where isfinite itself takes five
        first = torch.lt(values.abs(), self.inf).all(-1).logical_not_().logical_and_(self.step.logical_not())
        torch.where(first, self.seen, self.step, out=self.step)
        torch.where(first.unsqueeze(-1), values, self.values, out=self.values)

    @torch.no_grad()
    def first_bad(self, step: int, players: Players, slot: int = 0) -> tuple[int, dict, str] | None:
        """(step, its statistics, what was non-finite) or None for slot `slot`, whose players are
        `players`; `step` is the step just trained. Syncs."""
        bad = int(self.step[slot])
        if bad:
            row = dict(zip(self.KEYS, self.values[slot].tolist()))
            return bad, row, ", ".join(k for k, v in row.items() if not math.isfinite(v))
        params = [q for net in (players.G, players.D) for q in net.parameters()]
        if not torch.stack([torch.isfinite(q).all() for q in params]).all():   # one sync
            return step, {}, "parameters"
        return None


class DeferInterrupt:
    """Turns Ctrl-C (and SIGTERM, which job schedulers send before a kill) into a flag checked between
    steps, so the checkpoint it leads to is a whole step."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __enter__(self):
        self.hit = False
        self.main = threading.current_thread() is threading.main_thread()
        if self.main:
            self.previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        return self

    def _handle(self, signum, frame):
        self.hit = True

    def __exit__(self, *exc):
        if self.main:
            for sig, handler in self.previous.items():
                signal.signal(sig, handler)
