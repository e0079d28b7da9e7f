"""Penalties on D that need the network (not just logits): WGAN-GP and R1.

`critic` is any callable x -> scores (a module, or an unrolled copy of one).
"""
from __future__ import annotations

import torch
from torch import Tensor


def gradient_penalty(critic, real: Tensor, fake: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E[(||grad_x critic(x_hat)|| - 1)^2] on random interpolates."""
    alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), generator=generator,
                       device=real.device, dtype=real.dtype)
    x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()


def r1_penalty(critic, real: Tensor) -> Tensor:
    """R1 (Mescheder et al. 2018): E[||grad_x critic(x)||^2] on reals; the trainer weights it by gamma / 2."""
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return grad.flatten(1).pow(2).sum(1).mean()
