"""2D Gaussian mixtures with known modes: the toy targets and the ground truth for mode metrics."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass(frozen=True)
class Mixture:
    """Isotropic Gaussian mixture in 2D: centres (M, 2), per-mode stds (M,), weights (M,) summing to 1."""

    centres: np.ndarray
    stds: np.ndarray
    weights: np.ndarray
    # (centres, stds, weights) as tensors per (device, dtype): copying them on every draw would cost a
    # host-to-device copy, and a sync on CUDA, in every training step
    _tensors: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def n_modes(self) -> int:
        return len(self.centres)

    def sample(self, n: int, generator: torch.Generator | None = None, device="cpu",
               dtype=torch.float32) -> torch.Tensor:
        """n samples on `device`, drawn with `generator` (on that device) so runs repeat exactly."""
        key = (torch.device(device), dtype)
        if key not in self._tensors:
            self._tensors[key] = tuple(torch.as_tensor(a, dtype=dtype, device=device)
                                       for a in (self.centres, self.stds, self.weights))
        centres, stds, weights = self._tensors[key]
        k = torch.multinomial(weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, 2, generator=generator, device=device, dtype=dtype)
        return torch.addcmul(centres.index_select(0, k), stds.index_select(0, k).unsqueeze(1), noise)

    def window(self, margin: float = 0.5) -> tuple[float, float, float, float]:
        """A square plot window (xmin, xmax, ymin, ymax) around all modes, the same for every frame."""
        reach = float(np.max(np.abs(self.centres) + 3 * self.stds[:, None])) + margin
        return (-reach, reach, -reach, reach)

    def to_dict(self) -> dict:
        return {"centres": self.centres.tolist(), "stds": self.stds.tolist(), "weights": self.weights.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "Mixture":
        return cls(np.asarray(d["centres"], dtype=np.float64).reshape(-1, 2),
                   np.asarray(d["stds"], dtype=np.float64), np.asarray(d["weights"], dtype=np.float64))


def ring(n_modes: int, radius: float, std: float) -> Mixture:
    # angles 2*pi*k/M for k < M: linspace(0, 2*pi, M) would repeat the first centre (a bug of earlier code)
    angles = 2 * math.pi * np.arange(n_modes) / n_modes
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return Mixture(centres, np.full(n_modes, std), np.full(n_modes, 1.0 / n_modes))


def grid(n_modes: int, spacing: float, std: float) -> Mixture:
    side = math.isqrt(n_modes)
    axis = (np.arange(side) - (side - 1) / 2) * spacing
    xx, yy = np.meshgrid(axis, axis, indexing="ij")
    centres = np.stack([xx.ravel(), yy.ravel()], axis=1)
    return Mixture(centres, np.full(n_modes, std), np.full(n_modes, 1.0 / n_modes))


def mixture_from_config(cfg) -> Mixture:
    """The toy target a config describes (data = ring, grid or mixture)."""
    if cfg.data == "ring":
        return ring(cfg.modes, cfg.radius, cfg.std)
    if cfg.data == "grid":
        return grid(cfg.modes, cfg.spacing, cfg.std)
    if cfg.data == "mixture":
        weights = np.asarray(cfg.weights or [1.0] * len(cfg.centres), dtype=np.float64)
        return Mixture(np.asarray(cfg.centres, dtype=np.float64), np.asarray(cfg.stds, dtype=np.float64),
                       weights / weights.sum())
    raise ValueError(f"data = {cfg.data!r} is not a 2D mixture")


def points_window(points: np.ndarray, margin: float = 0.1) -> tuple[float, float, float, float]:
    """A square around points (their 0.1-99.9 % range, so a stray point does not widen the view)."""
    lo, hi = np.percentile(points, [0.1, 99.9], axis=0)
    half = float(np.max(hi - lo)) / 2 * (1 + margin) or 1.0
    cx, cy = (lo + hi) / 2
    return (float(cx - half), float(cx + half), float(cy - half), float(cy + half))
