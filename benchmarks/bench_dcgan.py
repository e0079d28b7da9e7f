#!/usr/bin/env python3
"""Images per second of gandiag's MNIST training step against a plain DCGAN loop written the usual way.

    nice python benchmarks/bench_dcgan.py --steps 200 --device cpu
    python benchmarks/bench_dcgan.py --device cuda --precision bf16 --channels-last --compile

Both train the same networks (gandiag.nets.build_dcgan for the `mnist` scenario) with the same
optimisers and batch. The plain loop is the PyTorch DCGAN tutorial's: a shuffling DataLoader over a
float tensor of the digits, BCE-with-logits, D on reals then on detached fakes, G reusing those fakes.
gandiag's step draws its batches on the device from uint8 digits and generates a fresh batch for G.
The machine may be shared, so the loops run interleaved in blocks of --block iterations after an
untimed warm-up; the figures are medians over blocks, the ratio the median of neighbouring blocks' ratios.
Images per second = batch / seconds per iteration (one D and one G update per batch).
--precision, --channels-last and --compile go to gandiag's config and to the plain loop as the PyTorch
recipes write them (autocast around forward and loss, backward outside; channels_last nets and batches;
Module.compile), so both sides get the same help; compiling happens in the untimed warm-up.
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from gandiag.config import load_config
from gandiag.data.mnist import load_digits, to_unit
from gandiag.nets import build_nets
from gandiag.engine.reference import train_step
from gandiag.train.session import Session


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def gandiag_loop(cfg, device):
    s, count = Session.for_config(cfg, device), [0]

    def step():
        count[0] += 1
        train_step(s.players, s.stabilizers, cfg, s.sample_real, s.sample_z, s.gen, count[0])
    return step


def plain_loop(cfg, device):
    """The tutorial loop, one iteration per call (the DataLoader restarts when it runs out)."""
    torch.manual_seed(cfg.seed)
    layout = torch.channels_last if cfg.channels_last else torch.contiguous_format
    G, D = (net.to(device, memory_format=layout) for net in build_nets(cfg))
    if cfg.compile:
        G.compile()
        D.compile()
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.g_lr, betas=(cfg.g_beta1, cfg.g_beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.d_lr, betas=(cfg.d_beta1, cfg.d_beta2))
    images = to_unit(torch.from_numpy(load_digits(cfg.data_dir).train_images)).unsqueeze(1)
    loader = DataLoader(TensorDataset(images), batch_size=cfg.batch, shuffle=True, drop_last=True)
    bce, batches = nn.BCEWithLogitsLoss(), iter(())

    def autocast():
        if cfg.precision == "bf16":
            return torch.autocast(device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def step():
        nonlocal batches
        real = next(batches, None)
        if real is None:
            batches = iter(loader)
            real = next(batches)
        real = real[0].to(device, memory_format=layout)
        ones = torch.ones(len(real), device=device)
        zeros = torch.zeros(len(real), device=device)
        D.zero_grad()
        with autocast():
            loss = bce(D(real), ones)
        loss.backward()
        with autocast():
            fake = G(torch.randn(len(real), cfg.z_dim, device=device))
            loss = bce(D(fake.detach()), zeros)
        loss.backward()
        opt_d.step()
        G.zero_grad()
        with autocast():
            loss = bce(D(fake), ones)
        loss.backward()
        opt_g.step()
    return step


def block_seconds(step, n: int, device) -> float:
    sync(device)
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    sync(device)
    return (time.perf_counter() - t0) / n


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200, help="timed iterations per loop")
    ap.add_argument("--block", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=("cpu", "cuda"))
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cfg = load_config("mnist", device=args.device, eval_samples=64, precision=args.precision,
                      channels_last=args.channels_last, compile=args.compile)
    loops = {"plain": plain_loop(cfg, device), "gandiag": gandiag_loop(cfg, device)}
    for step in loops.values():
        block_seconds(step, args.warmup, device)
    times = {name: [] for name in loops}
    for _ in range(max(1, args.steps // args.block)):
        for name, step in loops.items():
            times[name].append(block_seconds(step, args.block, device))
    print(f"mnist DCGAN, batch {cfg.batch}, {args.device}, {cfg.precision}"
          f"{', channels_last' if cfg.channels_last else ''}{', compiled' if cfg.compile else ''}, "
          f"{torch.get_num_threads()} threads, "
          f"{len(times['plain'])} interleaved blocks of {args.block} iterations")
    for name, t in times.items():
        print(f"  {name:8s} {cfg.batch / statistics.median(t):8.1f} images/s  "
              f"({1000 * statistics.median(t):.1f} ms per iteration)")
    ratio = statistics.median(p / g for p, g in zip(times["plain"], times["gandiag"]))
    print(f"  gandiag / plain speed: {ratio:.2f}x")


if __name__ == "__main__":
    main()
