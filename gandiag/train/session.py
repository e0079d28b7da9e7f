"""A training session: one seed slot's players, target, random streams, fixed batches and stabilizers.

Every draw of a run comes from generators it owns, never from the global ones of Python, numpy or
torch (the layers' initial weights come from cfg.seed through gandiag.rng.seeded): a run repeats
whatever the caller's process did before, and leaves those streams as it found them. The fixed batches
(the snapshot's and the evaluation's z) come from a generator of their own, so recording more or less
often never changes the training stream.
"""
from __future__ import annotations

import torch

from .. import losses, targets, user_losses
from ..config import Config, ConfigError, to_dict
from ..engine import Choice, Players, choose
from ..engine.classes import uses_labels
from ..nets import build_nets
from ..stabilizers import build_stabilizers
from .device import batch_format, prepare

#: the fixed z batches come from seed + FIXED_Z_OFFSET, far from the training stream's seed
FIXED_Z_OFFSET = 1_000_003


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device = 'cuda' is not available on this machine: use --device cpu or --device auto")
    return torch.device(name)


class Session:
    """Everything a run needs between steps (an engine's Slot, gandiag.engine)."""

    def __init__(self, cfg: Config, device: torch.device, target, choice: Choice,
                 objective: losses.Objective | None = None):
        self.cfg, self.device, self.target = cfg, device, target
        self.objective = objective or user_losses.objective(cfg)   # the players' losses, loaded once
        G, D = (prepare(net.to(device), cfg, choice) for net in build_nets(cfg))
        self.batch_format = batch_format(cfg)   # of the real batches D sees
        self.players = Players(G, D, _optimizer(cfg.g_opt, G, cfg.g_lr, cfg.g_beta1, cfg.g_beta2, cfg.eps),
                               _optimizer(cfg.d_opt, D, cfg.d_lr, cfg.d_beta1, cfg.d_beta2, cfg.eps))
        self.gen = torch.Generator(device=device).manual_seed(cfg.seed)
        fixed = torch.Generator(device=device).manual_seed(cfg.seed + FIXED_Z_OFFSET)
        self.z_snapshot = self._z(cfg.snapshot_samples, fixed)
        self.z_eval = self._z(cfg.eval_samples, fixed)
        self.stabilizers = build_stabilizers(cfg, self.players, self.sample_real, self.gen)
        # Stabilizers that carry state from step to step (averages, replay buffer, swapped-out players)
        # have state_dict()/load_state_dict(): checkpoints hold them, so resume stays exact
        self.stateful: dict[str, object] = self.stabilizers.stateful()

    @classmethod
    def for_config(cls, cfg: Config, device: torch.device | str | None = None) -> "Session":
        """A session of cfg on `device` (default: cfg's), its target and engine choice made as a run
        makes them (image targets: the cached classifier, trained once if missing)."""
        from .classifier import load_or_train
        device = torch.device(device) if device is not None else resolve_device(cfg.device)
        target = targets.from_config(cfg, device, load_classifier=lambda: load_or_train(cfg.data_dir))
        return cls(cfg, device, target, choose(cfg))

    def _z(self, n: int, gen: torch.Generator) -> torch.Tensor:
        if self.cfg.z_dist == "uniform":
            return torch.rand(n, self.cfg.z_dim, generator=gen, device=self.device) * 2 - 1
        return torch.randn(n, self.cfg.z_dim, generator=gen, device=self.device)

    def sample_z(self, n: int) -> torch.Tensor:
        return self._z(n, self.gen)

    def sample_real(self, n: int) -> torch.Tensor:
        return self.target.sample(n, self.gen, self.device).contiguous(memory_format=self.batch_format)

    def sample_labeled(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Reals and their classes (image data with labels only)."""
        if not uses_labels(self.cfg):
            raise ValueError("sample_labeled is for runs with class labels (conditional, aux_classifier)")
        images, labels = self.target.sample_labeled(n, self.gen, self.device)
        return images.contiguous(memory_format=self.batch_format), labels

    # --- checkpoints: everything needed to continue bit for bit --------------------------------
    def state(self, step: int) -> dict:
        p = self.players
        return {"step": step, "config": to_dict(self.cfg), "device": self.device.type,
                "G": p.G.state_dict(), "D": p.D.state_dict(),
                "opt_g": p.opt_g.state_dict(), "opt_d": p.opt_d.state_dict(),
                "stabilizers": {name: obj.state_dict() for name, obj in self.stateful.items()},
                "rng": {"gen": self.gen.get_state()}}

    def load_state(self, ckpt: dict) -> int:
        p = self.players
        p.G.load_state_dict(ckpt["G"])
        p.D.load_state_dict(ckpt["D"])
        p.opt_g.load_state_dict(ckpt["opt_g"])
        p.opt_d.load_state_dict(ckpt["opt_d"])
        for name, obj in self.stateful.items():
            obj.load_state_dict(ckpt["stabilizers"][name])
        # older checkpoints also hold the global streams of Python, numpy and torch: no draw reads them, and
        # restoring them would reseed the caller's process
        self.gen.set_state(ckpt["rng"]["gen"])
        return int(ckpt["step"])


def _optimizer(kind: str, net, lr: float, beta1: float, beta2: float, eps: float) -> torch.optim.Optimizer:
    if kind == "sgd":
        return torch.optim.SGD(net.parameters(), lr=lr, momentum=beta1)
    return torch.optim.Adam(net.parameters(), lr=lr, betas=(beta1, beta2), eps=eps)
