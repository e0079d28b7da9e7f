"""Checkpoints: what one holds, how it is written and kept, and how it is read back safely.

A checkpoint is Session.state(step): players, optimisers, stabilizer state, the run's random stream
(`rng`: its training generator), the step, the config and the device. It is written atomically and
read with torch.load(weights_only=True), so a foreign file cannot run code; every way a file can be
wrong becomes a one-line RunError.
"""
from __future__ import annotations

import io
from pathlib import Path

import torch

from .. import record as R
from ..record import RunError

#: what a checkpoint must hold to be ours
CHECKPOINT_KEYS = {"step", "config", "device", "G", "D", "opt_g", "opt_d", "stabilizers", "rng"}


def save_checkpoint(root: Path, state: dict, step: int, keep: int) -> None:
    """Write RUN/checkpoints/step_XXXXXXXX.pt; then keep only the newest `keep` (0: all)."""
    buf = io.BytesIO()
    torch.save(state, buf)
    R.atomic_write_bytes(root / R.CHECKPOINT_DIR / R.checkpoint_name(step), buf.getvalue())
    if keep:  # only files named like ours, oldest first; the new one is written before any is removed
        for old in R.RunReader(root).checkpoint_steps()[:-keep]:
            (root / R.CHECKPOINT_DIR / R.checkpoint_name(old)).unlink(missing_ok=True)


def load_checkpoint(path: Path) -> dict:
    """A checkpoint as written by the loop, or a one-line RunError for a truncated or foreign file."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for bad files; all mean "not a usable checkpoint"
        raise RunError(f"checkpoint {path} cannot be read ({type(e).__name__}): "
                       "it is truncated or not a gandiag checkpoint; delete it to resume from an earlier one") from None
    if not isinstance(ckpt, dict) or not CHECKPOINT_KEYS <= set(ckpt) or ckpt["device"] not in ("cpu", "cuda") \
            or not isinstance(ckpt["config"], dict) or not isinstance(ckpt["step"], int):
        raise RunError(f"checkpoint {path} is not a gandiag checkpoint: delete it to resume from an earlier one")
    return ckpt
