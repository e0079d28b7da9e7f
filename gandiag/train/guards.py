"""Guards around the training loop: the divergence watch and the deferred Ctrl-C."""
from __future__ import annotations

import math
import signal
import threading

import torch

from .. import record as R
from .step import Players


class DivergenceWatch:
    """The first step with a non-finite loss or gradient norm, kept on the device (no sync per step).

    A non-finite parameter shows in the next step's losses; parameters are also checked whenever the
    flag is read, so the step about to be recorded or checkpointed is never a bad one.
    """

    KEYS = (R.D_LOSS, R.G_LOSS, R.D_GRAD_NORM, R.G_GRAD_NORM)

    def __init__(self, players: Players, device: torch.device):
        self.params = [q for net in (players.G, players.D) for q in net.parameters()]
        self.step = torch.zeros((), dtype=torch.long, device=device)    # 0: every step finite so far
        self.values = torch.zeros(len(self.KEYS), device=device)       # the statistics at that step

    @torch.no_grad()
    def observe(self, step: int, stats: dict) -> None:
        values = torch.stack([stats[k].float() for k in self.KEYS])
        first = (self.step == 0) & ~torch.isfinite(values).all()
        self.step = torch.where(first, step, self.step)
        self.values = torch.where(first, values, self.values)

    @torch.no_grad()
    def first_bad(self, step: int) -> tuple[int, dict, str] | None:
        """(step, its statistics, what was non-finite) or None; `step` is the step just trained. Syncs."""
        bad = int(self.step)
        if bad:
            row = dict(zip(self.KEYS, self.values.tolist()))
            return bad, row, ", ".join(k for k, v in row.items() if not math.isfinite(v))
        if not all(bool(torch.isfinite(q).all()) for q in self.params):
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
