"""PacGAN (Lin et al. 2018): D judges m samples at once, which makes a collapsed G easy to spot.

The trainer draws batch * m samples per side and packs them into batch inputs of m samples each;
D (gandiag.nets.mlp.Discriminator) packs single points with copies of themselves, for probes.
"""
from __future__ import annotations

from torch import Tensor


def pack(x: Tensor, m: int) -> Tensor:
    """(N, C, ...) samples -> (N / m, m * C, ...): each row holds m consecutive samples side by side."""
    if m == 1:
        return x
    return x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])
