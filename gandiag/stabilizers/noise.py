"""Instance noise (Sonderby et al. 2016; ganhacks): Gaussian noise on every input D sees, decayed over time.

Blurring reals and fakes alike makes their distributions overlap, so D cannot separate them perfectly
early on and G's gradient stays informative; the noise decays linearly so the final D sees clean data.
"""
from __future__ import annotations

import torch
from torch import Tensor


def noise_std(std: float, decay_steps: int, step: int) -> float:
    """Noise std at iteration `step` (1-based): `std` at step 1, falling linearly to 0 at step
    decay_steps + 1 and staying there; decay_steps = 0 keeps it constant."""
    if decay_steps == 0:
        return std
    return std * max(0.0, 1.0 - (step - 1) / decay_steps)


def add_noise(x: Tensor, std: float, gen: torch.Generator) -> Tensor:
    if std == 0:
        return x
    return x + std * torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)
