"""Which engine a config runs on: the fast path where it computes exactly what the reference does.

The fast engine has two paths: the closed form (gandiag.engine.fast: a one-hidden-layer piecewise-linear
D, the hero preset) and the generic one (gandiag.engine.generic: any toy MLP with the layers and options
below). Each knows the fields of its table; every other field must keep its default (a stabilizer or
layer option it does not implement), so an option added to the config later falls back to the
reference path on its own until a fast path learns it.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import DEFAULTS, LOSSES, ConfigError
from .objectives import SUPPORTED as CLOSED_FORM_LOSSES

#: fields that do not change what the fast path computes, or that it implements for any value
ANY_VALUE = frozenset({
    "scenario", "description", "modes", "radius", "spacing", "std", "centres", "stds", "weights", "data_dir",
    "z_dim", "z_dist", "g_hidden", "init", "init_gain", "init_std", "d_input_scale", "leaky_slope",
    "data_file", "target_modes",
    "steps", "batch", "d_steps", "g_steps", "d_lr", "g_lr", "d_beta1", "d_beta2", "g_beta1", "g_beta2", "eps",
    "seed", "device", "threads", "seed_workers", "engine", "compile", "unrolled", "unrolled_first_order",
    "label_smoothing",
    # parameters of options that are off unless their switch (checked at its default) is on
    "maxout_pieces", "mbd_kernels", "mbd_dim", "clip", "gp_weight", "instance_noise_decay", "replay_share",
    "swap_for",
    # recording
    "log_every", "snapshot_every", "checkpoint_every", "keep_checkpoints", "eval_samples", "snapshot_samples",
    "grid_res",
})

#: fields the fast path implements for some values only
SOME_VALUES = {
    "data": ("ring", "grid", "mixture", "points"),
    "g_act": ("relu", "leaky_relu", "tanh"),
    "d_act": ("relu", "leaky_relu"),          # piecewise linear: exact second-order unrolling
    "loss": CLOSED_FORM_LOSSES,
    "d_opt": ("adam",),
    "g_opt": ("adam",),
    "updates": ("alternating",),
}


#: the generic path: every field above but compile (it has no compiled form), and these
GENERIC_ANY_VALUE = (ANY_VALUE - {"compile"}) | {"d_hidden", "pack", "minibatch_disc", "noisy_labels", "label_flip",
                                                  "instance_noise", "replay_size", "hist_avg", "r1", "g_loss", "d_loss",
                                                  "g_dropout", "swap_every", "spectral_norm"}
GENERIC_SOME_VALUES = {**SOME_VALUES, "d_act": ("relu", "leaky_relu", "tanh", "maxout"), "g_norm": ("none", "batch"),
                       "d_norm": ("none", "batch", "instance", "virtual-batch"),
                       "updates": ("alternating", "simultaneous"), "loss": LOSSES, "d_opt": ("adam", "sgd"),
                       "g_opt": ("adam", "sgd")}


#: the fast engine's two paths, as Choice.path and config.json name them
CLOSED_FORM, GENERIC = "closed form", "generic"


@dataclass(frozen=True)
class Choice:
    name: str        # the engine that runs: "fast" or "reference"
    requested: str   # cfg.engine
    reason: str      # why the fast path does not apply ("" when it does)
    path: str = ""   # the fast engine's path, CLOSED_FORM or GENERIC ("" on the reference engine)

    def record(self) -> dict:
        """The config.json entry."""
        return {"name": self.name, "requested": self.requested, **({"path": self.path} if self.path else {}),
                **({"reason": self.reason} if self.reason else {})}


def _outside(cfg, any_value: frozenset, some_values: dict) -> str:
    """Why `cfg` is outside a path's table, or ""."""
    for name, allowed in some_values.items():
        if getattr(cfg, name) not in allowed:
            return f"{name} = {getattr(cfg, name)!r}: the fast path supports {', '.join(allowed)}"
    for name, default in DEFAULTS.items():
        if name not in any_value and name not in some_values and getattr(cfg, name) != default:
            return f"{name} = {getattr(cfg, name)!r}: the fast path implements only the default ({default!r})"
    return ""


def in_closed_form(cfg) -> bool:
    """Whether the fast engine runs `cfg` in closed form (else, where unsupported(cfg) is "", generically)."""
    return len(cfg.d_hidden) == 1 and not _outside(cfg, ANY_VALUE | {"d_hidden", "pack"}, SOME_VALUES)


def unsupported(cfg) -> str:
    """Why the fast engine cannot run `cfg` exactly, or "" when it can."""
    return "" if in_closed_form(cfg) else _outside(cfg, GENERIC_ANY_VALUE, GENERIC_SOME_VALUES)


def choose(cfg) -> Choice:
    """The engine for `cfg` in this process; engine = fast where it cannot run exactly is a ConfigError."""
    reason = "" if cfg.engine == "reference" else unsupported(cfg)
    if not reason and torch.distributed.is_available() and torch.distributed.is_initialized():
        reason = "a data-parallel run (torchrun): the fast path does not average gradients across processes"
    if cfg.engine == "fast" and reason:
        raise ConfigError(f"engine = 'fast' cannot run this config ({reason}): use --engine auto or reference")
    name = "fast" if cfg.engine != "reference" and not reason else "reference"
    if name == "reference" and cfg.compile and cfg.unrolled and not cfg.unrolled_first_order:
        raise ConfigError("compile with second-order unrolled runs on the fast engine only (the reference "
                          f"engine's compiled players have no double backward; {reason or 'engine = reference'}): "
                          "use --unrolled-first-order or drop --compile")
    path = "" if name == "reference" else CLOSED_FORM if in_closed_form(cfg) else GENERIC
    return Choice(name, cfg.engine, reason if cfg.engine == "auto" else "", path)
