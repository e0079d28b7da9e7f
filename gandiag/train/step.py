"""One training iteration: k D-steps, then k G-steps. Everything it uses is passed in."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

from .. import losses
from ..stabilizers.penalties import gradient_penalty


@dataclass
class Players:
    G: nn.Module
    D: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer


def grad_norm(module: nn.Module) -> Tensor:
    """L2 norm of all of a module's gradients, as a tensor (no host sync)."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))


def train_step(p: Players, cfg, sample_real: Callable[[int], Tensor], sample_z: Callable[[int], Tensor],
               gen: torch.Generator) -> dict[str, Tensor]:
    """One iteration; returns the last D and G step's statistics as tensors (the caller decides when to sync)."""
    for _ in range(cfg.d_steps):
        real = sample_real(cfg.batch)
        with torch.no_grad():
            fake = p.G(sample_z(cfg.batch))
        real_logits, fake_logits = p.D(real), p.D(fake)
        loss_d = losses.d_loss(cfg.loss, real_logits, fake_logits)
        if cfg.loss == "wgan-gp":
            loss_d = loss_d + cfg.gp_weight * gradient_penalty(p.D, real, fake, gen)
        p.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        d_norm = grad_norm(p.D)
        p.opt_d.step()
        if cfg.loss == "wgan":  # Arjovsky et al. 2017 keep the critic Lipschitz by clipping its weights
            with torch.no_grad():
                for w in p.D.parameters():
                    w.clamp_(-cfg.clip, cfg.clip)

    for _ in range(cfg.g_steps):
        fake = p.G(sample_z(cfg.batch))
        loss_g = losses.g_loss(cfg.loss, p.D(fake))
        p.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        g_norm = grad_norm(p.G)
        p.opt_g.step()

    return {"d_loss": loss_d.detach(), "g_loss": loss_g.detach(),
            "d_real": losses.d_output(cfg.loss, real_logits.detach()).mean(),
            "d_fake": losses.d_output(cfg.loss, fake_logits.detach()).mean(),
            "d_grad_norm": d_norm, "g_grad_norm": g_norm}
