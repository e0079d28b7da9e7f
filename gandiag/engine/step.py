"""The fast path's training iteration for S seeds at once, equal to gandiag.train.step.train_step.

It draws from each seed's own samplers in train_step's order (per D step a real and a z batch, per G
step a z batch and, unrolled, a real batch), so seed i follows exactly the run a single session with
that seed would make. No .item() and no host sync: statistics come back as (S,) tensors.
"""
from __future__ import annotations

from functools import partial
from typing import Callable

import torch
from torch import Tensor, nn

from .. import losses
from . import adam, fused, objectives, unroll
from .closed_form import augment, critic_grad, critic_pass, mlp_backward, mlp_forward
from .players import Player, critic_layout, same_layout

#: one seed's (sample_real, sample_z)
Samplers = tuple[Callable[[int], Tensor], Callable[[int], Tensor]]


def unit(net: nn.Module) -> tuple[str, float]:
    """(kind, negative slope) of the hidden unit a network uses."""
    for m in net.modules():
        if isinstance(m, nn.ReLU):
            return "relu", 0.0
        if isinstance(m, nn.LeakyReLU):
            return "leaky_relu", float(m.negative_slope)
        if isinstance(m, nn.Tanh):
            return "tanh", 0.0
    raise ValueError(f"no supported hidden unit in {type(net).__name__}")


def linears(net: nn.Module) -> list[nn.Linear]:
    return [m for m in net.modules() if isinstance(m, nn.Linear)]


def _stacked(tensors: list[Tensor]) -> Tensor:
    return tensors[0].unsqueeze(0) if len(tensors) == 1 else torch.stack(tensors)


class FastStep:
    """Stacked G and D of S sessions' players (gandiag.engine.support says which configs qualify)."""

    def __init__(self, cfg, players: list):
        self.cfg = cfg
        G_layers, (d_first, _) = linears(players[0].G), linears(players[0].D)
        self.g = Player([s for lin in G_layers for s in (lin.weight.shape, lin.bias.shape)], same_layout,
                        [p.G for p in players], [p.opt_g for p in players])
        H, d = d_first.weight.shape
        self.d = Player([(d + 3, H)], critic_layout, [p.D for p in players], [p.opt_d for p in players])
        # D's parameters, gradient and moments as (S, d + 3, H) views of its flat buffers
        self.theta_d, self.grad_d, self.m_d, self.v_d = (self.d.flat.split(b)[0] for b in
                                                          (self.d.theta, self.d.grad, self.d.m, self.d.v))
        self.device = self.d.flat.like.device
        self.g_unit = unit(players[0].G)
        self.d_loss = objectives.DLoss(cfg.loss, cfg.batch, cfg.label_smoothing, self.d.theta)
        self.critic = unroll.Critic(unit(players[0].D)[1], self.d_loss.derivatives,
                                    partial(objectives.g_value_and_derivative, cfg.loss))
        self._mask_memory: Tensor | None = None
        # (theta, m, v, coefficients, XtT) -> (G's loss, its gradient w.r.t. the fakes) through the unroll
        self._unroll_settings = (self.critic, self.d.hyper, cfg.batch, not cfg.unrolled_first_order)
        self._unroll = (fused.compiled(fused.g_loss_through_unroll, *self._unroll_settings) if cfg.compile
                        else self._eager_unroll)

    def bind(self, players) -> None:
        """A single run: seed 0's modules and optimisers become views of the engine's buffers."""
        self.g.bind(players.G, players.opt_g)
        self.d.bind(players.D, players.opt_d)

    def export(self, i: int, players) -> None:
        """A multi-seed run: copy seed i into its players before they are recorded or saved."""
        self.g.export(i, players.G, players.opt_g)
        self.d.export(i, players.D, players.opt_d)

    def _eager_unroll(self, theta: Tensor, m: Tensor, v: Tensor, coefficients: Tensor,
                      XtT: Tensor) -> tuple[Tensor, Tensor]:
        return unroll.g_loss_through_unroll(*self._unroll_settings, theta, m, v, coefficients, XtT,
                                            self._unrolled_masks(XtT))

    def _unrolled_masks(self, XtT: Tensor) -> Tensor:
        """Memory for the unrolled steps' unit patterns, (S, N, H) each, kept from iteration to iteration
        (closed_form.critic_pass says why; for the single patterns of D's and G's own steps it measured
        no faster)."""
        shape = (self.cfg.unrolled, XtT.shape[0], XtT.shape[2], self.theta_d.shape[2])
        if self._mask_memory is None or self._mask_memory.shape != shape:
            self._mask_memory = XtT.new_empty(shape)
        return self._mask_memory

    def _g_layers(self) -> list[tuple[Tensor, Tensor]]:
        p = self.g.params
        return list(zip(p[0::2], p[1::2]))

    def __call__(self, samplers: list[Samplers]) -> dict[str, Tensor]:
        """One training iteration of every seed: its statistics as (S,) tensors."""
        stats = self.compute(samplers)
        self.count()
        return stats

    def count(self) -> None:
        """The host's share of an iteration: the players' step counters."""
        self.d.count(self.cfg.d_steps)
        self.g.count(self.cfg.g_steps)

    def device_state(self) -> list[list[Tensor]]:
        return [self.d.device_state(), self.g.device_state()]

    def restore(self, state: list[list[Tensor]]) -> None:
        self.d.restore(state[0])
        self.g.restore(state[1])

    @torch.no_grad()
    def compute(self, samplers: list[Samplers]) -> dict[str, Tensor]:
        """An iteration's device work (no host sync, nothing on the host changes: a CUDA graph can
        capture it, gandiag.engine.graphed)."""
        cfg, n, scale = self.cfg, self.cfg.batch, self.cfg.d_input_scale
        real = lambda: _stacked([sample_real(n) for sample_real, _ in samplers])  # noqa: E731
        z = lambda: _stacked([sample_z(n) for _, sample_z in samplers])  # noqa: E731

        for _ in range(cfg.d_steps):
            x_real = real().transpose(1, 2)
            fake, _ = mlp_forward(self._g_layers(), z(), *self.g_unit, keep=False)
            XtT = augment(torch.cat([x_real, fake], 2), scale)
            cp = critic_pass(self.theta_d, XtT, self.critic.slope)
            critic_grad(cp, self.theta_d, XtT, self.d_loss.derivatives(cp.logits)[0], self.grad_d)
            d_loss, d_logits, d_norm = self.d_loss.value(cp.logits), cp.logits, self.d.flat.norms(self.d.grad)
            self.d.step_()

        for _ in range(cfg.g_steps):
            fake, inputs = mlp_forward(self._g_layers(), z(), *self.g_unit, keep=True)
            if cfg.unrolled:
                XtT = augment(torch.cat([real().transpose(1, 2), fake], 2), scale)
                coefficients = adam.unrolled_coefficients(self.d.t_tensor, cfg.unrolled, self.d.hyper,
                                                          self.theta_d.dtype)
                g_loss, bar_fakes = self._unroll(self.theta_d, self.m_d, self.v_d, coefficients, XtT)
            else:
                cp = critic_pass(self.theta_d, augment(fake, scale), self.critic.slope)
                g_loss, bar_a = self.critic.g_loss(cp.logits)
                bar_fakes = cp.jacT * bar_a.unsqueeze(1)
            mlp_backward(self._g_layers(), inputs, bar_fakes[:, :-1] * scale,
                         list(zip(self.g.grads[0::2], self.g.grads[1::2])), *self.g_unit)
            g_norm = self.g.flat.norms(self.g.grad)
            self.g.step_()

        d_real, d_fake = losses.d_output(cfg.loss, d_logits).unflatten(1, (2, n)).mean(2).unbind(1)
        return {"d_loss": d_loss, "g_loss": g_loss, "d_real": d_real, "d_fake": d_fake,
                "d_grad_norm": d_norm, "g_grad_norm": g_norm}
