#!/usr/bin/env python3
"""Naive plain-PyTorch GAN on a ring of 8 Gaussians, optionally unrolled.

This is the hand-written baseline a typical user (or a typical public repo)
would write: eager mode, one seed per process, no torch.compile, no vmap.

Setup (after Metz et al. 2017, "Unrolled Generative Adversarial Networks"):
  data : 8 Gaussians on a circle of radius 2, std 0.02
  G    : z (z_dim, N(0, I)) -> 128 -> ReLU -> 128 -> ReLU -> 2
  D    : --arch paper (default): x / 4 -> 128 -> ReLU -> 1 logit, orthogonal init gain 0.8
         (G too), as the paper's setting; --arch mlp2: x -> 128 -> ReLU -> 128 -> ReLU -> 1
  loss : D = BCE(real -> 1, fake -> 0); G = non-saturating -log D(G(z))
  opt  : Adam(lr 1e-4, betas (0.5, 0.999)) for both, batch 512
  iter : 1 D step, then 1 G step.

With --unrolled K (K > 0) the G loss is computed against a functional copy of
D advanced K optimiser steps (differentiable Adam seeded with D's real Adam
state, or plain SGD with --unroll-opt sgd) on one fresh real batch and the
generator's current fake batch, differentiating through all K steps
(torch.func.functional_call + torch.autograd.grad(create_graph=True)).
The real D is left untouched by the unroll (it only takes its own step).
Mode coverage (--eval-every): 2000 samples; a mode is covered if >= 1% of
them lie within 3 std of it; "high-quality" = fraction within 3 std of any mode.

Last line printed: "iterations/second: <float>" (training loop only;
warm-up and evaluation excluded).
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call


def ring8(n, radius=2.0, std=0.02, dtype=torch.float32):
    k = torch.randint(0, 8, (n,))
    angle = k.to(dtype) * (2 * math.pi / 8)
    centers = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
    return centers + std * torch.randn(n, 2, dtype=dtype)


def mlp(n_in, n_out, hidden=128):
    return nn.Sequential(
        nn.Linear(n_in, hidden), nn.ReLU(),
        nn.Linear(hidden, hidden), nn.ReLU(),
        nn.Linear(hidden, n_out),
    )


class Scale(nn.Module):
    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


def paper_nets(z_dim, hidden=128, gain=0.8):
    G = nn.Sequential(nn.Linear(z_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                      nn.Linear(hidden, 2))
    D = nn.Sequential(Scale(0.25), nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, 1))
    for m in list(G) + list(D):
        if isinstance(m, nn.Linear):
            nn.init.orthogonal_(m.weight, gain=gain)
            nn.init.zeros_(m.bias)
    return G, D


def d_loss_from_logits(real_logits, fake_logits):
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def g_loss_from_logits(fake_logits):
    # non-saturating generator loss: -log D(G(z))
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


@torch.no_grad()
def mode_stats(samples, radius=2.0, std=0.02, n_modes=8, min_frac=0.01):
    """(modes covered, fraction of 'high-quality' samples, per-mode counts).

    A sample is high quality if it lies within 3 std of some mode; a mode is
    covered if it holds at least min_frac of all samples within 3 std.
    """
    angle = torch.arange(n_modes, dtype=samples.dtype) * (2 * math.pi / n_modes)
    centers = radius * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    dist = torch.cdist(samples, centers)
    dmin, idx = dist.min(dim=1)
    good = dmin <= 3 * std
    counts = torch.bincount(idx[good], minlength=n_modes)
    covered = int((counts >= min_frac * samples.shape[0]).sum())
    return covered, float(good.float().mean()), counts.tolist()


class Trainer:
    def __init__(self, z_dim=256, batch=512, lr_g=1e-4, lr_d=1e-4, betas=(0.5, 0.999),
                 unrolled=0, unroll_opt="adam", dtype=torch.float32, seed=0, arch="paper"):
        torch.manual_seed(seed)
        self.z_dim, self.batch, self.dtype = z_dim, batch, dtype
        self.unrolled, self.unroll_opt = unrolled, unroll_opt
        self.lr_d, self.betas, self.eps = lr_d, betas, 1e-8
        if arch == "paper":
            G, D = paper_nets(z_dim)
        else:
            G, D = mlp(z_dim, 2), mlp(2, 1)
        self.G, self.D = G.to(dtype), D.to(dtype)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=lr_d, betas=betas)

    def sample_z(self, n):
        return torch.randn(n, self.z_dim, dtype=self.dtype)

    def _unroll(self, x_real, x_fake):
        """K differentiable optimiser steps of a functional copy of D."""
        names = [n for n, _ in self.D.named_parameters()]
        params = [p.detach().requires_grad_() for p in self.D.parameters()]
        if self.unroll_opt == "adam":
            b1, b2 = self.betas
            ms, vs, step0 = [], [], 0
            for p in self.D.parameters():
                st = self.opt_d.state.get(p, {})
                if st:
                    ms.append(st["exp_avg"].clone())
                    vs.append(st["exp_avg_sq"].clone())
                    step0 = int(st["step"])
                else:
                    ms.append(torch.zeros_like(p))
                    vs.append(torch.zeros_like(p))
        for i in range(self.unrolled):
            pd = dict(zip(names, params))
            loss = d_loss_from_logits(functional_call(self.D, pd, (x_real,)),
                                      functional_call(self.D, pd, (x_fake,)))
            grads = torch.autograd.grad(loss, params, create_graph=True)
            if self.unroll_opt == "sgd":
                params = [p - self.lr_d * g for p, g in zip(params, grads)]
            else:
                t = step0 + i + 1
                bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
                ms = [b1 * m + (1 - b1) * g for m, g in zip(ms, grads)]
                vs = [b2 * v + (1 - b2) * g * g for v, g in zip(vs, grads)]
                # +1e-30 inside sqrt keeps d sqrt(v)/dv finite where v == 0
                params = [p - (self.lr_d / bc1) * m / ((v + 1e-30).sqrt() / math.sqrt(bc2) + self.eps)
                          for p, m, v in zip(params, ms, vs)]
        return dict(zip(names, params))

    def step(self):
        # --- discriminator step
        x_real = ring8(self.batch, dtype=self.dtype)
        with torch.no_grad():
            x_fake = self.G(self.sample_z(self.batch))
        loss_d = d_loss_from_logits(self.D(x_real), self.D(x_fake))
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()
        # --- generator step
        x_fake = self.G(self.sample_z(self.batch))
        if self.unrolled > 0:
            x_real = ring8(self.batch, dtype=self.dtype)
            d_params = self._unroll(x_real, x_fake)
            loss_g = g_loss_from_logits(functional_call(self.D, d_params, (x_fake,)))
        else:
            loss_g = g_loss_from_logits(self.D(x_fake))
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        return loss_d.item(), loss_g.item()

    @torch.no_grad()
    def evaluate(self, n=2000):
        return mode_stats(self.G(self.sample_z(n)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--unrolled", type=int, default=0, metavar="K", help="unrolled D steps (0 = vanilla)")
    ap.add_argument("--unroll-opt", choices=["adam", "sgd"], default="adam")
    ap.add_argument("--arch", choices=["paper", "mlp2"], default="paper")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--z-dim", type=int, default=256)
    ap.add_argument("--lr-g", type=float, default=1e-4)
    ap.add_argument("--lr-d", type=float, default=1e-4)
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0 = default)")
    ap.add_argument("--eval-every", type=int, default=0, help="print mode coverage every N steps (0 = end only)")
    ap.add_argument("--warmup", type=int, default=10, help="untimed warm-up iterations")
    args = ap.parse_args(argv)

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    tr = Trainer(z_dim=args.z_dim, batch=args.batch, lr_g=args.lr_g, lr_d=args.lr_d,
                 unrolled=args.unrolled, unroll_opt=args.unroll_opt,
                 dtype=getattr(torch, args.dtype), seed=args.seed, arch=args.arch)
    timed_s, timed_n = 0.0, 0
    for it in range(1, args.steps + 1):
        t0 = time.perf_counter()
        loss_d, loss_g = tr.step()
        if it > args.warmup:
            timed_s += time.perf_counter() - t0
            timed_n += 1
        if args.eval_every and it % args.eval_every == 0:
            covered, hq, counts = tr.evaluate()
            print(f"step {it:6d}  loss_d {loss_d:.4f}  loss_g {loss_g:.4f}  "
                  f"modes {covered}/8  high-quality {hq:.3f}  counts {counts}", flush=True)
    covered, hq, counts = tr.evaluate()
    print(f"final: modes {covered}/8  high-quality {hq:.3f}  counts {counts}")
    print(f"iterations/second: {timed_n / timed_s if timed_s > 0 else float('nan'):.2f}")


if __name__ == "__main__":
    main()
