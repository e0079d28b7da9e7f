"""Experience replay (ganhacks; Shrivastava et al. 2017): D also sees fakes G made in the past.

A D that only ever sees the current fakes can forget the old ones, and G can return to a mode D has
forgotten; mixing old fakes into D's fake batch keeps them in D's memory.
"""
from __future__ import annotations

import torch
from torch import Tensor


class ReplayBuffer:
    """The most recent `size` fakes (a ring buffer), allocated at the first push with the fakes' shape."""

    def __init__(self, size: int, share: float):
        self.size, self.share = size, share
        self.data: Tensor | None = None
        self.filled = 0
        self.pos = 0

    def mix(self, fresh: Tensor, gen: torch.Generator) -> Tensor:
        """D's fake batch: round(share * N) of the fresh fakes replaced by old ones drawn uniformly from
        the buffer (none while it is empty); then the fresh fakes enter the buffer."""
        k = round(self.share * len(fresh)) if self.filled else 0
        batch = fresh
        if k:
            old = self.data[torch.randint(self.filled, (k,), generator=gen, device=fresh.device)]
            batch = torch.cat([fresh[:len(fresh) - k], old])
        self._push(fresh.detach())
        return batch

    def _push(self, x: Tensor) -> None:
        if self.data is None:
            self.data = torch.zeros(self.size, *x.shape[1:], dtype=x.dtype, device=x.device)
        x = x[-self.size:]
        idx = (self.pos + torch.arange(len(x), device=x.device)) % self.size
        self.data[idx] = x
        self.pos = (self.pos + len(x)) % self.size
        self.filled = min(self.size, self.filled + len(x))

    def state_dict(self) -> dict:
        return {"data": None if self.data is None else self.data.clone(), "filled": self.filled, "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        self.data = None if state["data"] is None else state["data"].clone()
        self.filled, self.pos = int(state["filled"]), int(state["pos"])
