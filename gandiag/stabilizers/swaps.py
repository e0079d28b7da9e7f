"""Swapping in old checkpoints (ganhacks): now and then a player trains against an old opponent.

Every `every` steps both players are saved. From the second such point on, one player (D first,
then G, alternately) is replaced by its saved copy from `every` steps earlier, parameters and
optimiser state, for `length` steps; the opponent trains against that old player, which keeps it from
specialising on the current one. Then the current player comes back exactly as it left (the old
copy's training is discarded). A swap still running at the next swap point ends there.
"""
from __future__ import annotations

import copy

PLAYERS = ("D", "G")  # swapped in this order, alternately


def _get(players, name: str) -> dict:
    net, opt = (players.D, players.opt_d) if name == "D" else (players.G, players.opt_g)
    return {"net": copy.deepcopy(net.state_dict()), "opt": copy.deepcopy(opt.state_dict())}


def _set(players, name: str, state: dict) -> None:
    net, opt = (players.D, players.opt_d) if name == "D" else (players.G, players.opt_g)
    net.load_state_dict(state["net"])
    opt.load_state_dict(copy.deepcopy(state["opt"]))  # load_state_dict may alias the tensors it is given


class Swaps:
    def __init__(self, every: int, length: int):
        self.every, self.length = every, length
        self.saved: dict | None = None   # both players at the last swap point
        self.away: dict | None = None    # {"name", "state", "until"}: the current player while an old one plays
        self.swaps = 0

    def acts(self, step: int) -> bool:
        """Whether before_step(step) changes the players."""
        return step % self.every == 0 or self.away is not None and step >= self.away["until"]

    def before_step(self, step: int, players) -> None:
        """Call at the start of iteration `step` (1-based): ends a swap that is due, starts one at swap points."""
        at_point = step % self.every == 0
        if self.away is not None and (step >= self.away["until"] or at_point):
            _set(players, self.away["name"], self.away["state"])
            self.away = None
        if not at_point:
            return
        now = {name: _get(players, name) for name in PLAYERS}
        if self.saved is not None:
            name = PLAYERS[self.swaps % 2]
            self.away = {"name": name, "state": now[name], "until": step + self.length}
            _set(players, name, self.saved[name])
            self.swaps += 1
        self.saved = now

    def state_dict(self) -> dict:
        return {"saved": self.saved, "away": self.away, "swaps": self.swaps}

    def load_state_dict(self, state: dict) -> None:
        self.saved, self.away, self.swaps = copy.deepcopy(state["saved"]), copy.deepcopy(state["away"]), state["swaps"]
