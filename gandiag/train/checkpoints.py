"""Reading checkpoints back safely (the Recorder writes them: gandiag.record.Recorder.checkpoint).

A checkpoint is Session.state(step): players, optimisers, stabilizer state, the run's random stream
(`rng`: its training generator), the step, the config and the device, tagged with the run's id. It is
read with torch.load(weights_only=True), so a foreign file cannot run code; every way a file can be
wrong becomes a one-line RunError.
"""
from __future__ import annotations

from pathlib import Path

import torch

from .. import record as R
from ..record import RunError

#: what a checkpoint must hold to be ours
CHECKPOINT_KEYS = {"step", "config", "device", "G", "D", "opt_g", "opt_d", "stabilizers", "rng"}


def load_checkpoint(path: Path) -> dict:
    """A checkpoint as the trainer writes it, or a one-line RunError for a truncated or foreign file."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for bad files; all mean "not a usable checkpoint"
        raise RunError(f"checkpoint {path} cannot be read ({type(e).__name__}): "
                       "it is truncated or not a gandiag checkpoint; delete it to resume from an earlier one") from None
    if not isinstance(ckpt, dict) or not CHECKPOINT_KEYS <= set(ckpt) or ckpt["device"] not in ("cpu", "cuda") \
            or not isinstance(ckpt["config"], dict) or not isinstance(ckpt["step"], int):
        raise RunError(f"checkpoint {path} is not a gandiag checkpoint: delete it to resume from an earlier one")
    return ckpt


def check_belongs(ckpt: dict, record: dict, path: Path) -> None:
    """A checkpoint continues only the run that wrote it: its run id must be the folder's."""
    mine, theirs = record.get(R.RUN_ID), ckpt.get(R.RUN_ID)
    if mine != theirs:
        raise RunError(f"checkpoint {path} belongs to another run (id {theirs or 'none'}, this folder's is "
                       f"{mine or 'none'}): remove it, or resume the run it came from")


def refuse_own_loop(reader: R.RunReader, then: str) -> None:
    """Refuse, saying `then`, a folder a user's own loop recorded (gandiag.Recorder): it holds that loop's
    config and no checkpoint gandiag's trainer can rebuild the players from. A damaged config.json passes:
    a checkpoint, if any, holds the config."""
    try:
        trainer = reader.trainer()
    except R.RunError:
        return
    if trainer == R.OWN_LOOP:
        raise R.RunError(f"{reader.root} was recorded by your own training loop (gandiag.Recorder): {then}")
