"""Historical averaging (Salimans et al. 2016): a term of each player's own loss.

lambda * ||theta - mean of the values theta has taken||^2, with the mean a constant (no gradient), so
the term's gradient is 2 * lambda * (theta - mean). It is added to the loss the player's optimiser
already minimises; it is never stepped on its own (a known library did that, and it did not work).
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import Tensor, nn


class HistoricalAverage:
    """The running mean of one player's parameters, including their initial value."""

    def __init__(self, module: nn.Module, weight: float):
        self.weight = weight
        self.mean = [q.detach().clone() for q in module.parameters()]
        self.count = 1

    def penalty(self, params: Iterable[Tensor]) -> Tensor:
        """weight * ||params - mean||^2: zero before the first update, since the mean is the initial value."""
        return self.weight * sum(((q - m) ** 2).sum() for q, m in zip(params, self.mean))

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        """Add the player's current parameters to the mean (call after each of its optimiser steps)."""
        self.count += 1
        for m, q in zip(self.mean, module.parameters()):
            m.add_((q - m) / self.count)

    def state_dict(self) -> dict:
        return {"mean": [m.clone() for m in self.mean], "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.mean = [m.clone() for m in state["mean"]]
        self.count = int(state["count"])
