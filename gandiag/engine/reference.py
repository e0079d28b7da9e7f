"""The reference engine: one training iteration with autograd (k D-steps, then k G-steps; or one of each
from the same losses with updates = simultaneous), for any config.

`train_step` is the iteration, written as the papers define it; everything it uses is passed in. The
fast engine (gandiag.engine.fast) is proven against it. `ReferenceEngine` steps S seed slots one after
the other through it, behind the engines' common interface (gandiag.engine.Engine).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

from .. import losses
from ..stabilizers import Stabilizers
from ..stabilizers.labels import d_targets
from ..stabilizers.noise import add_noise, noise_std
from ..stabilizers.packing import pack
from ..stabilizers.penalties import gradient_penalty, r1_penalty
from ..stabilizers.unrolled import unroll
from .classes import class_loss, draw_labeled, for_classes, generate, uses_labels


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


def d_objective(cfg, D: Callable[[Tensor], Tensor], params: list[Tensor], real: Tensor, fake: Tensor,
                targets: tuple, stab: Stabilizers, gen: torch.Generator,
                objective: losses.Objective) -> tuple[Tensor, Tensor, Tensor]:
    """(D's loss, logits on reals, logits on fakes) for D's inputs; the same objective drives the real D
    and its unrolled copy. Reals and fakes go through D as separate batches (batch norm needs that)."""
    real_logits, fake_logits = D(real), D(fake)
    loss = objective.d(real_logits, fake_logits, *targets) + d_penalties(cfg, D, params, real, fake, stab, gen)
    return loss, real_logits, fake_logits


def d_penalties(cfg, D: Callable[[Tensor], Tensor], params: list[Tensor], real: Tensor, fake: Tensor,
                stab: Stabilizers, gen: torch.Generator) -> Tensor | float:
    """The terms D's loss adds to its objective on the logits: WGAN-GP's and R1's input-gradient
    penalties, then historical averaging's pull on `params` (0 where none is on)."""
    total = 0.0
    if cfg.loss == "wgan-gp":
        total = total + cfg.gp_weight * gradient_penalty(D, real, fake, gen)
    if cfg.r1:
        total = total + cfg.r1 / 2 * r1_penalty(D, real)
    if stab.d_average is not None:
        total = total + stab.d_average.penalty(params)
    return total


def d_update(cfg, p: Players, stab: Stabilizers) -> None:
    """D's optimizer step from the gradients it holds, with what follows every D step."""
    p.opt_d.step()
    after_d_step(cfg, p.D, stab)


def after_d_step(cfg, D: nn.Module, stab: Stabilizers) -> None:
    """What follows every step of D's optimiser: WGAN's weight clipping, then D's historical average."""
    if cfg.loss == "wgan":  # Arjovsky et al. 2017 keep the critic Lipschitz by clipping its weights
        with torch.no_grad():
            for w in D.parameters():
                w.clamp_(-cfg.clip, cfg.clip)
    if stab.d_average is not None:
        stab.d_average.update(D)


def train_step(p: Players, stab: Stabilizers, cfg, sample_real: Callable[[int], Tensor],
               sample_z: Callable[[int], Tensor], gen: torch.Generator, step: int,
               sample_labeled: Callable[[int], tuple[Tensor, Tensor]] | None = None,
               objective: losses.Objective | None = None) -> dict[str, Tensor]:
    """Iteration `step` (1-based); returns the last D and G step's statistics as tensors (the caller
    decides when to sync). With pack = m each side draws batch * m samples: D sees batch inputs.
    A run with class labels passes sample_labeled (reals and their classes) and G draws its fakes for
    those classes (gandiag.engine.classes); with aux_classifier D's class cross-entropy on reals and
    fakes joins D's loss and the one on G's fakes joins G's."""
    objective = objective or losses.builtin(cfg.loss)
    if stab.swaps is not None:
        stab.swaps.before_step(step, p)
    n, sigma = cfg.batch * cfg.pack, noise_std(cfg.instance_noise, cfg.instance_noise_decay, step)
    d_params, g_params = list(p.D.parameters()), list(p.G.parameters())

    def d_input(x: Tensor) -> Tensor:  # what D sees of a batch of samples
        return add_noise(pack(x, cfg.pack), sigma, gen)

    # simultaneous (one D and one G step): G's loss is taken on the fakes D scores, against D before its
    # step, and both players step after both gradients are taken (PacGAN's schedule)
    simultaneous = cfg.updates == "simultaneous"
    for _ in range(cfg.d_steps):
        real, labels = draw_labeled(sample_real, sample_labeled, n)
        with torch.set_grad_enabled(simultaneous):
            g_fake = generate(p.G, sample_z(n), labels)
        fake = g_fake.detach()
        if stab.replay is not None:
            fake = stab.replay.mix(fake, gen)
        targets = d_targets(cfg, cfg.batch, gen, real.device)
        real_in, fake_in = d_input(real), d_input(fake)
        loss_d, real_logits, fake_logits = d_objective(cfg, for_classes(p.D, labels), d_params, real_in, fake_in,
                                                       targets, stab, gen, objective)
        if cfg.aux_classifier:
            loss_d = loss_d + class_loss(p.D, real_in, labels) + class_loss(p.D, fake_in, labels)
        p.opt_d.zero_grad(set_to_none=True)
        loss_d.backward(inputs=d_params)
        d_norm = grad_norm(p.D)
        if not simultaneous:
            d_update(cfg, p, stab)

    for _ in range(cfg.g_steps):
        if simultaneous:
            fake = d_input(g_fake)
        else:
            labels = sample_labeled(n)[1] if sample_labeled is not None else None
            fake = d_input(generate(p.G, sample_z(n), labels))
        D = p.D
        if cfg.unrolled:  # G plays against D advanced cfg.unrolled steps of its own optimiser
            real, targets = d_input(sample_real(n)), d_targets(cfg, cfg.batch, gen, fake.device)

            def unrolled_d_loss(D_k, params):  # D's objective on one fixed real batch and these fakes
                return d_objective(cfg, D_k, params, real, fake, targets, stab, gen, objective)[0]

            D = unroll(p.D, p.opt_d, unrolled_d_loss, cfg.unrolled, cfg.unrolled_first_order,
                       cfg.clip if cfg.loss == "wgan" else None)
        loss_g = objective.g(for_classes(D, labels)(fake))
        if cfg.aux_classifier:
            loss_g = loss_g + class_loss(p.D, fake, labels)
        if stab.g_average is not None:
            loss_g = loss_g + stab.g_average.penalty(g_params)
        p.opt_g.zero_grad(set_to_none=True)
        loss_g.backward(inputs=g_params)
        g_norm = grad_norm(p.G)
        if simultaneous:
            d_update(cfg, p, stab)
        p.opt_g.step()
        if stab.g_average is not None:
            stab.g_average.update(p.G)

    return {"d_loss": loss_d.detach(), "g_loss": loss_g.detach(),
            "d_real": losses.d_output(cfg.loss, real_logits.detach()).mean(),
            "d_fake": losses.d_output(cfg.loss, fake_logits.detach()).mean(),
            "d_grad_norm": d_norm, "g_grad_norm": g_norm}


class ReferenceEngine:
    """train_step for each of S slots in turn; the slots' own modules are the state, so export is free."""

    name = "reference"

    def __init__(self, cfg, slots: list, start: int, then: Callable[[dict[str, Tensor]], None]):
        self.cfg, self.slots, self.then = cfg, slots, then
        self.iteration = start

    def step(self) -> dict[str, Tensor]:
        self.iteration += 1
        per_slot = [train_step(s.players, s.stabilizers, self.cfg, s.sample_real, s.sample_z, s.gen, self.iteration,
                               s.sample_labeled if uses_labels(self.cfg) else None, s.objective) for s in self.slots]
        stats = {k: torch.stack([row[k] for row in per_slot]) for k in per_slot[0]}
        self.then(stats)
        return stats

    def export(self, i: int) -> None:
        """Nothing to copy: the reference engine trains the slots' modules themselves."""

    def close(self) -> None:
        """Nothing to end: the reference engine starts no threads."""
