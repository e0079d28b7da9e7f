"""The generic fast path: any toy MLP config the closed form does not cover (deeper D, maxout or tanh
units, batch norm and dropout in G, batch, instance or virtual batch norm and spectral norm in D,
packing, minibatch discrimination, every loss of gandiag.losses with WGAN's clipping and the gradient
penalties, a user's own losses, noisy and flipped labels, instance noise, experience replay,
historical averaging, swaps of old players, Adam or SGD, the unrolled D on any of them), for S seeds.

It computes gandiag.engine.reference.train_step's iteration with autograd on the players written as
functions of their parameters (gandiag.engine.functional), and differs from it only where that
changes no result beyond rounding:
- the products are oneDNN's on a float32 CPU with AVX-512 (gandiag.engine.products: there about twice
  MKL's speed on AMD; with AVX2 only, MKL's are the faster and stay);
- an affine layer and its tanh are one node, the tanh oneDNN's post-op where the products are oneDNN's,
  with its backward's backward written out (products.linear_tanh);
- D scores reals and fakes as one batch where that changes nothing and measured faster (one product
  per layer), apart as the reference does where D's batch or its buffers matter (GenericStep.apart);
- Adam is torch's fused kernel, one call for every seed (gandiag.engine.adam.step_; SGD is the seeds'
  own optimisers, gandiag.engine.players.SGDPlayer);
- the unrolled D replays the reference's own update (stabilizers.unrolled.AdamReplay, SGDReplay) on
  one flat vector of its parameters, not through torch.func.functional_call on a module.
Seeds go through the autograd passes each on its own (its own products: batched ones are MKL's, slower
with AVX-512 than one oneDNN product per seed, benchmarks/bench_presets.py), on the CPU side by side on threads
(config seed_workers, gandiag.engine.seed_threads), and share the optimiser steps. Draws come from
each seed's samplers in train_step's order, so seed s of a pass trains bit for bit what the seed trains
alone, whichever thread computes it. tests/test_generic_engine.py checks it against the reference.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from .. import losses
from ..stabilizers import Stabilizers
from ..stabilizers.labels import d_targets
from ..stabilizers.noise import add_noise, noise_std
from ..stabilizers.packing import pack
from .functional import Net
from .players import own_player
from .reference import Players, after_d_step, d_penalties
from .seed_threads import SeedThreads, seed_workers

Stats = dict[str, Tensor]


def _norm(grads: list[Tensor]) -> Tensor:
    """The L2 norm of a player's gradient, as gandiag.engine.reference.grad_norm takes it."""
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))


class GenericStep:
    """One iteration of S seeds' players (gandiag.engine.support says which configs qualify)."""

    def __init__(self, cfg, players: list[Players], objectives: list[losses.Objective], stabilizers: list[Stabilizers],
                 start: int = 0):
        self.cfg, self.players, self.objectives, self.stabilizers = cfg, players, objectives, stabilizers
        self.iteration, self.sigma = start, 0.0   # the iteration's instance-noise std, set by compute
        # D twice differentiable where its gradient is differentiated again: the second-order unroll and
        # the penalties on D's input gradient
        second_order = (cfg.unrolled > 0 and not cfg.unrolled_first_order) or cfg.loss == "wgan-gp" or cfg.r1 > 0
        self.clip = cfg.clip if cfg.loss == "wgan" else None   # the unrolled D's clipping, as unroll's
        self.g_nets, self.d_nets = [Net(p.G) for p in players], [Net(p.D, second_order) for p in players]
        self.g = own_player([p.G for p in players], [p.opt_g for p in players])
        self.d = own_player([p.D for p in players], [p.opt_d for p in players])
        # reals and fakes as separate batches where D needs it (functional.Net.apart), and where D is
        # unrolled: its second-order pass keeps every layer's activations, and at half the rows they stay
        # in cache (measured: ring8-veegan --unrolled 5 0.83 of the reference apart, 0.98 as one batch;
        # grid25 0.51 as one batch, 0.56 apart)
        self.apart = self.d_nets[0].apart or cfg.unrolled > 0
        self.threads = SeedThreads(seed_workers(cfg, len(players), next(players[0].G.parameters()).is_cpu))

    def close(self) -> None:
        """The seed threads end."""
        self.threads.close()

    def _each(self, grad: Callable, slots: list) -> list:
        """grad(i, sample_real, sample_z, gen) of every seed slot i, in seed order: side by side on the
        seed threads, or one after another. Each seed's pass reads and writes only its own players,
        stabilizers and generator; what all the seeds share (the optimiser step) runs after, here."""
        calls = [(i, s.sample_real, s.sample_z, s.gen) for i, s in enumerate(slots)]
        return self.threads.map(lambda call: grad(*call), calls)

    def export(self, i: int) -> None:
        p = self.players[i]
        self.g.export(i, p.G, p.opt_g)
        self.d.export(i, p.D, p.opt_d)

    def _logits(self, i: int, params: list[Tensor], real: Tensor, fake: Tensor, state) -> tuple[Tensor, Tensor]:
        D = self.d_nets[i]
        if self.apart:
            return D(params, real, state), D(params, fake, state)
        return D(params, torch.cat([real, fake]), state).split([len(real), len(fake)])

    def _d_loss(self, i: int, params: list[Tensor], real: Tensor, fake: Tensor, targets,
                gen, state=None) -> tuple[Tensor, Tensor, Tensor]:
        """D's objective on its inputs, as gandiag.engine.reference.d_objective (the real D's, and the
        unrolled one's with its copies of D's buffers)."""
        real_logits, fake_logits = self._logits(i, params, real, fake, state)
        critic = lambda x: self.d_nets[i](params, x, state)  # noqa: E731
        loss = self.objectives[i].d(real_logits, fake_logits, *targets) + d_penalties(
            self.cfg, critic, params, real, fake, self.stabilizers[i], gen)
        return loss, real_logits, fake_logits

    def _d_input(self, x: Tensor, gen) -> Tensor:
        """What D sees of a batch of samples: packed, then the iteration's instance noise."""
        return add_noise(pack(x, self.cfg.pack), self.sigma, gen)

    def _d_fakes(self, i: int, fake: Tensor, gen) -> Tensor:
        """D's fake batch: the fresh fakes, some replaced by old ones where a replay buffer is on."""
        replay = self.stabilizers[i].replay
        return fake if replay is None else replay.mix(fake, gen)

    def _targets(self, gen, like: Tensor):
        return d_targets(self.cfg, self.cfg.batch, gen, like.device)

    def _d_grad(self, i: int, sample_real, sample_z, gen) -> tuple[list[Tensor], dict]:
        cfg, n = self.cfg, self.cfg.batch * self.cfg.pack
        real = sample_real(n)
        with torch.no_grad():
            fake = self._d_fakes(i, self.g_nets[i](self.g.params[i], sample_z(n)), gen)
        targets = self._targets(gen, real)
        loss, real_logits, fake_logits = self._d_loss(i, self.d.params[i], self._d_input(real, gen),
                                                      self._d_input(fake, gen), targets, gen)
        grads = list(torch.autograd.grad(loss, self.d.params[i]))
        return grads, {"d_loss": loss.detach(), "d_real": losses.d_output(cfg.loss, real_logits.detach()).mean(),
                       "d_fake": losses.d_output(cfg.loss, fake_logits.detach()).mean(), "d_grad_norm": _norm(grads)}

    def _unrolled(self, i: int, real: Tensor, fake: Tensor, gen) -> tuple[list[Tensor], list]:
        """D's parameters after cfg.unrolled steps of its optimiser on (real, fake), differentiable w.r.t.
        the fakes unless first order, and its copies of D's buffers (gandiag.stabilizers.unrolled.unroll).

        The K updates run on one flat vector of D's parameters (each parameter a view of it): Adam's
        update is elementwise, so it computes what it computes per parameter, in a sixth of the
        operations for a two-layer D (forward and, second order, backward); so is SGD's."""
        cfg, params = self.cfg, self.d.params[i]
        shapes, sizes = [q.shape for q in params], [q.numel() for q in params]
        flat = lambda tensors: torch.cat([q.detach().reshape(-1) for q in tensors])  # noqa: E731
        theta = flat(params).requires_grad_()
        update = self.d.replay(i, flat)
        targets = self._targets(gen, real)   # one draw for all K steps, as the reference's unroll
        views = lambda theta: [q.view(shape) for q, shape in zip(theta.split(sizes), shapes)]  # noqa: E731
        state = self.d_nets[i].copied_state()
        for _ in range(cfg.unrolled):
            loss = self._d_loss(i, views(theta), real, fake, targets, gen, state)[0]
            (theta,) = update([theta], torch.autograd.grad(loss, theta, create_graph=not cfg.unrolled_first_order))
            if self.clip is not None:
                theta = theta.clamp(-self.clip, self.clip)
            if cfg.unrolled_first_order:
                theta = theta.detach().requires_grad_()
        return views(theta), state

    def _g_grad(self, i: int, sample_real, sample_z, gen) -> tuple[list[Tensor], dict]:
        cfg, n = self.cfg, self.cfg.batch * self.cfg.pack
        fake = self._d_input(self.g_nets[i](self.g.params[i], sample_z(n)), gen)
        if cfg.unrolled:
            d_params, state = self._unrolled(i, self._d_input(sample_real(n), gen), fake, gen)
        else:
            d_params, state = self._d_as_constant(i), None
        loss = self._g_loss(i, self.d_nets[i](d_params, fake, state))
        grads = list(torch.autograd.grad(loss, self.g.params[i]))
        return grads, {"g_loss": loss.detach(), "g_grad_norm": _norm(grads)}

    def _d_as_constant(self, i: int) -> list[Tensor]:
        """D's parameters detached, for a pass that differentiates for G only: a Function's backward computes
        every gradient its inputs require (needs_input_grad), even those autograd.grad then drops, where
        torch's own nodes skip them. D's weight gradients in G's step were 80 of grid25's 1,108 MFLOP."""
        return [p.detach() for p in self.d.params[i]]

    def _g_loss(self, i: int, logits: Tensor) -> Tensor:
        loss, average = self.objectives[i].g(logits), self.stabilizers[i].g_average
        return loss if average is None else loss + average.penalty(self.g.params[i])

    def _both_grads(self, i: int, sample_real, sample_z, gen) -> tuple[list[Tensor], list[Tensor], dict]:
        """updates = simultaneous: D's and G's gradients at the iteration's parameters, G's on the fakes D
        scores (one forward of G, as the reference's schedule)."""
        cfg, n = self.cfg, self.cfg.batch * self.cfg.pack
        real = sample_real(n)
        g_fake = self.g_nets[i](self.g.params[i], sample_z(n))
        fake = self._d_fakes(i, g_fake.detach(), gen)
        targets = self._targets(gen, real)
        loss, real_logits, fake_logits = self._d_loss(i, self.d.params[i], self._d_input(real, gen),
                                                      self._d_input(fake, gen), targets, gen)
        d_grads = list(torch.autograd.grad(loss, self.d.params[i]))
        g_loss = self._g_loss(i, self.d_nets[i](self._d_as_constant(i), self._d_input(g_fake, gen)))
        g_grads = list(torch.autograd.grad(g_loss, self.g.params[i]))
        return d_grads, g_grads, {
            "d_loss": loss.detach(), "d_real": losses.d_output(cfg.loss, real_logits.detach()).mean(),
            "d_fake": losses.d_output(cfg.loss, fake_logits.detach()).mean(), "d_grad_norm": _norm(d_grads),
            "g_loss": g_loss.detach(), "g_grad_norm": _norm(g_grads)}

    def compute(self, slots: list) -> Stats:
        """An iteration of every slot (each with sample_real, sample_z and gen); the (S,) statistics."""
        cfg, stats = self.cfg, [{} for _ in slots]
        self.iteration += 1
        self._swap(self.iteration)
        self.sigma = noise_std(cfg.instance_noise, cfg.instance_noise_decay, self.iteration)
        if cfg.updates == "simultaneous":
            both = self._each(self._both_grads, slots)
            self._step(self.d, [d for d, _, _ in both])
            self._step(self.g, [g for _, g, _ in both])
            return {k: torch.stack([row[k] for _, _, row in both]) for k in both[0][2]}
        for player, grad in ((self.d, self._d_grad), (self.g, self._g_grad)):
            for _ in range(self.cfg.d_steps if player is self.d else self.cfg.g_steps):
                grads = []
                for i, (g, row) in enumerate(self._each(grad, slots)):
                    grads.append(g)
                    stats[i].update(row)
                self._step(player, grads)
        return {k: torch.stack([row[k] for row in stats]) for k in stats[0]}

    def _swap(self, step: int) -> None:
        """Old players swapped in or back (gandiag.stabilizers.swaps) where a swap acts at this step: on the
        seeds' modules and optimisers, as the reference swaps them, with the players' state written there
        first and read back after. Every seed is written out before any is read back: the seeds share
        Adam's step count, which the swapped-in players bring back to theirs (every seed swaps at the
        same steps)."""
        acting = [i for i, stab in enumerate(self.stabilizers) if stab.swaps is not None and stab.swaps.acts(step)]
        for i in acting:
            self.export(i)
        for i in acting:
            p = self.players[i]
            self.stabilizers[i].swaps.before_step(step, p)
            self.g.reload(i, p.G, p.opt_g)
            self.d.reload(i, p.D, p.opt_d)

    def _step(self, player, grads: list[list[Tensor]]) -> None:
        """The player's optimiser step for every seed, then what follows it as on the reference engine
        (OwnPlayer's parameters are the modules' own)."""
        player.step_(grads)
        for p, stab in zip(self.players, self.stabilizers):
            if player is self.d:
                after_d_step(self.cfg, p.D, stab)
            elif stab.g_average is not None:
                stab.g_average.update(p.G)


class GenericEngine:
    """GenericStep behind the engines' interface (gandiag.engine.Engine)."""

    name = "fast"

    def __init__(self, cfg, slots: list, start: int, then: Callable[[Stats], None]):
        self.slots, self.then = slots, then
        self.core = GenericStep(cfg, [s.players for s in slots], [s.objective for s in slots],
                                [s.stabilizers for s in slots], start)

    def step(self) -> Stats:
        stats = self.core.compute(self.slots)
        self.then(stats)
        return stats

    def export(self, i: int) -> None:
        self.core.export(i)

    def close(self) -> None:
        self.core.close()
