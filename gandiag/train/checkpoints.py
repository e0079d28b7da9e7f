"""Checkpoints: what one holds, how it is written and kept, and how it is read back safely.

A checkpoint is Session.state(step): players, optimisers, stabilizer state, every random stream, the
step, the config and the device. It is written atomically and read with torch.load(weights_only=True),
so a foreign file cannot run code; every way a file can be wrong becomes a one-line RunError.
"""
from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import torch

from .. import record as R
from ..record import RunError

#: what a checkpoint must hold to be ours
CHECKPOINT_KEYS = {"step", "config", "device", "G", "D", "opt_g", "opt_d", "stabilizers", "rng"}


def rng_state(gen: torch.Generator, device: torch.device) -> dict:
    """Every random stream a step may read, as types torch.load(weights_only=True) accepts."""
    _, keys, pos, has_gauss, gauss = np.random.get_state()
    return {"python": random.getstate(),
            "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                      "has_gauss": int(has_gauss), "gauss": float(gauss)},
            "torch": torch.get_rng_state(), "gen": gen.get_state(),
            "cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else []}


def set_rng_state(rng: dict, gen: torch.Generator, device: torch.device) -> None:
    version, internal, gauss_next = rng["python"]
    random.setstate((version, tuple(internal), gauss_next))
    n = rng["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(rng["torch"])
    gen.set_state(rng["gen"])
    if device.type == "cuda":
        torch.cuda.set_rng_state_all(rng["cuda"])


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
