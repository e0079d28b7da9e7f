"""The fast path's training iteration for S seeds at once, equal to gandiag.train.step.train_step.

It draws from each seed's own samplers in train_step's order (per D step a real and a z batch, per G
step a z batch and, unrolled, a real batch), so seed i follows exactly the run a single session with
that seed would make. No .item() and no host sync: statistics come back as (S,) tensors.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from .. import losses
from . import adam, fused, objectives, unroll
from .closed_form import critic_grad, critic_pass, critic_views, layers, mlp_backward, mlp_forward
from .graphed import Samplers, iteration
from .players import StackedPlayer, critic_layout, same_layout
from .seed_threads import SeedThreads, groups, seed_workers

#: the toy data's points are 2D
POINT_DIM = 2


def unit(act: str, slope: float) -> tuple[str, float]:
    """(kind, negative slope) of a hidden unit as the closed-form passes take it."""
    return act, slope if act == "leaky_relu" else 0.0


def mlp_shapes(n_in: int, hidden, n_out: int) -> list[tuple[int, ...]]:
    """The parameter shapes of an MLP n_in -> hidden... -> n_out, in module.parameters() order."""
    widths = [n_in, *hidden, n_out]
    return [shape for a, b in zip(widths, widths[1:]) for shape in ((b, a), (b,))]


def _stacked(tensors: list[Tensor]) -> Tensor:
    return tensors[0].unsqueeze(0) if len(tensors) == 1 else torch.stack(tensors)


class FastStep:
    """Stacked G and D of S sessions' players (gandiag.engine.support says which configs qualify)."""

    def __init__(self, cfg, players: list):
        self.cfg = cfg
        # the architecture comes from the config (gandiag.engine.support admits only the MLPs it computes);
        # StackedPlayer checks that the modules' parameters have these shapes
        # with pack = m (PacGAN) D's input is m points side by side: d = 2m features per packed input
        (H,), d = cfg.d_hidden, POINT_DIM * cfg.pack
        self.g = StackedPlayer(mlp_shapes(cfg.z_dim, cfg.g_hidden, POINT_DIM), same_layout, [p.G for p in players],
                        [p.opt_g for p in players])
        self.d = StackedPlayer([(d + 3, H)], critic_layout, [p.D for p in players], [p.opt_d for p in players],
                        module_shapes=mlp_shapes(d, cfg.d_hidden, 1))
        # D's parameters, gradient and moments as (S, d + 3, H) views of its flat buffers
        self.theta_d, self.grad_d, self.m_d, self.v_d = (self.d.flat.split(b)[0] for b in
                                                          (self.d.theta, self.d.grad, self.d.m, self.d.v))
        # the views every step reads, taken once (closed_form says why)
        self.g_layers, self.g_grads = layers(self.g.params), layers(self.g.grads)
        self.d_views, self.d_grad_views = critic_views(self.theta_d), critic_views(self.grad_d)
        self.device = self.d.flat.like.device
        self.g_unit = unit(cfg.g_act, cfg.leaky_slope)
        S, n, like = len(players), cfg.batch, self.theta_d
        # D's inputs XtT = [scale * x^T ; 1]: reals then fakes (D's step and the unrolled G step), and G's
        # fakes alone (the plain G step). Their rows of ones are written here once; each step writes the
        # x rows in place, so building them costs no concatenation.
        self.XtT, self.XfT = like.new_ones(S, d + 1, 2 * n), like.new_ones(S, d + 1, n)
        # G's fakes (S, 2, m n) go straight into those rows: their packed views (S, 2, n, m) (_points says how)
        self.x_real = self.XtT[:, :-1, :n]
        self.x_fake, self.x_fake_alone = self._points(self.XtT[:, :-1, n:]), self._points(self.XfT[:, :-1])
        # d_input_scale as a tensor for the multiplications (G's last product takes it as a number, its factor)
        self.scale = torch.full((), cfg.d_input_scale, dtype=like.dtype, device=like.device)
        self.d_loss = objectives.DLoss(cfg.loss, n, cfg.label_smoothing, like)
        self.critic = unroll.Critic(unit(cfg.d_act, cfg.leaky_slope)[1], self.d_loss.derivatives,
                                    objectives.GLoss(cfg.loss, n, like))
        self._mask_memory: Tensor | None = None
        # (theta, m, v, coefficients, XtT) -> (G's loss, its gradient w.r.t. the fakes) through the unroll
        self._unroll_settings = (self.critic, self.d.hyper, n, not cfg.unrolled_first_order)
        self._unroll = (fused.compiled(fused.g_loss_through_unroll, *self._unroll_settings, on_cpu=like.is_cpu)
                        if cfg.compile else self._eager_unroll)

    def export(self, i: int, players) -> None:
        """Copy seed i into its players (modules and optimisers) before they are recorded or saved."""
        self.g.export(i, players.G, players.opt_g)
        self.d.export(i, players.D, players.opt_d)

    def _points(self, packed: Tensor) -> Tensor:
        """Packed feature-major inputs (S, 2m, n) as the points they hold, (S, 2, n, m): packed input i
        is points m i .. m i + m - 1 side by side (gandiag.stabilizers.packing), so point m i + k's
        coordinate c is feature 2k + c of input i."""
        S, _, n = packed.shape
        return packed.view(S, self.cfg.pack, POINT_DIM, n).permute(0, 2, 3, 1)

    def _write_reals(self, reals: Tensor) -> None:
        """XtT's first n columns: scale * the packed reals^T, for reals (S, m n, 2)."""
        torch.mul(reals.reshape(reals.shape[0], self.cfg.batch, -1).transpose(1, 2), self.scale, out=self.x_real)

    def _unrolled_g_loss(self) -> tuple[Tensor, Tensor]:
        """G's loss through the unroll on the current XtT, and its gradient w.r.t. the fakes (pure: D's
        buffers are read, not changed)."""
        coefficients = adam.unrolled_coefficients(self.d.t_tensor, self.cfg.unrolled, self.d.hyper, self.theta_d.dtype)
        return self._unroll(self.theta_d, self.m_d, self.v_d, coefficients, self.XtT)

    @torch.inference_mode()   # as in compute: the compiled code is specialised to the mode it is called in
    def compile_now(self) -> None:
        """Compile the unrolled D (config compile) before the first iteration rather than in it, so a run's
        clock starts after the compilation: the unroll is pure, so calling it trains nothing."""
        if self.cfg.compile and self.cfg.unrolled:
            self._unrolled_g_loss()

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

    def device_state(self) -> list[list[Tensor]]:
        return [self.d.device_state(), self.g.device_state()]

    def restore(self, state: list[list[Tensor]]) -> None:
        self.d.restore(state[0])
        self.g.restore(state[1])

    @torch.inference_mode()   # not no_grad: it also skips autograd's version counters and view records
    def compute(self, samplers: list[Samplers]) -> dict[str, Tensor]:
        """An iteration's device work (no host sync, nothing on the host changes: a CUDA graph can
        capture it, gandiag.engine.graphed)."""
        cfg, n, scale = self.cfg, self.cfg.batch * self.cfg.pack, self.cfg.d_input_scale
        real = lambda: _stacked([sample_real(n) for sample_real, _ in samplers])  # noqa: E731
        z = lambda: _stacked([sample_z(n) for _, sample_z in samplers])  # noqa: E731

        for _ in range(cfg.d_steps):
            self._write_reals(real())
            mlp_forward(self.g_layers, z(), *self.g_unit, out=self.x_fake, scale=scale)
            cp = critic_pass(self.d_views, self.XtT, self.critic.slope)
            critic_grad(cp, self.d_views, self.XtT, self.d_loss.gradient(cp.logits), self.d_grad_views)
            d_loss, d_logits, d_norm = self.d_loss.value(cp.logits), cp.logits, self.d.flat.norms(self.d.grad)
            self.d.step_()

        for _ in range(cfg.g_steps):
            if cfg.unrolled:
                inputs = mlp_forward(self.g_layers, z(), *self.g_unit, out=self.x_fake, scale=scale)
                self._write_reals(real())
                g_loss, bar_fakes = self._unrolled_g_loss()
            else:
                inputs = mlp_forward(self.g_layers, z(), *self.g_unit, out=self.x_fake_alone, scale=scale)
                cp = critic_pass(self.d_views, self.XfT, self.critic.slope)
                g_loss, bar_a = self.critic.g_loss(cp.logits)
                bar_fakes = cp.jacT * bar_a.unsqueeze(1)
            bar_points = torch.mul(self._points(bar_fakes[:, :-1]), self.scale).reshape(len(samplers), POINT_DIM, n)
            mlp_backward(self.g_layers, inputs, bar_points, self.g_grads, *self.g_unit)
            g_norm = self.g.flat.norms(self.g.grad)
            self.g.step_()

        d_real, d_fake = self.d_loss.side_means(losses.d_output(cfg.loss, d_logits)).unbind(1)
        return {"d_loss": d_loss, "g_loss": g_loss, "d_real": d_real, "d_fake": d_fake,
                "d_grad_norm": d_norm, "g_grad_norm": g_norm}


class FastEngine:
    """The fast path behind the engines' interface (gandiag.engine.Engine): FastStep over S slots, one
    replayed CUDA graph per iteration on CUDA (gandiag.engine.graphed). On the CPU the slots go as groups
    of consecutive seeds, one FastStep each, side by side on seed threads (config seed_workers; one group
    with compile, whose compiled unroll is traced for one step). The engine's buffers are the state;
    export copies a slot's share into its modules and optimisers for recording and checkpoints."""

    name = "fast"

    def __init__(self, cfg, slots: list, start: int, then: Callable[[dict[str, Tensor]], None]):
        self.slots, self.then = slots, then
        on_cpu = next(slots[0].players.G.parameters()).is_cpu
        workers = 1 if cfg.compile else seed_workers(cfg, len(slots), on_cpu)
        self.groups = groups(len(slots), workers)
        self.cores = [FastStep(cfg, [slots[i].players for i in group]) for group in self.groups]
        iterations = [iteration(core, [(slots[i].sample_real, slots[i].sample_z) for i in group],
                                [slots[i].gen for i in group], then if workers == 1 else lambda stats: None)
                      for core, group in zip(self.cores, self.groups)]
        self.iterations, self.threads = iterations, SeedThreads(workers)

    def step(self) -> dict[str, Tensor]:
        if len(self.iterations) == 1:   # `then` inside the iteration (on CUDA captured with it)
            return self.iterations[0]()
        # every group's iteration on the seed threads; their statistics in seed order, and `then` on them
        parts = self.threads.map(lambda one: one(), self.iterations)
        stats = {k: torch.cat([part[k] for part in parts]) for k in parts[0]}
        self.then(stats)
        return stats

    def export(self, i: int) -> None:
        k = next(k for k, group in enumerate(self.groups) if i in group)
        self.cores[k].export(i - self.groups[k].start, self.slots[i].players)

    def close(self) -> None:
        self.threads.close()
