#!/usr/bin/env python3
"""Milliseconds per iteration of gandiag's training step against the plain-loop baseline
(../shared/bench/naive_ring8.py), vanilla and unrolled, on the ring8 setting.

    nice python benchmarks/unrolled_speed.py --unrolled 10 --steps 300

The machine is shared, so the four loops (naive and gandiag, K = 0 and K) run in one process,
interleaved in blocks of --block iterations after an untimed warm-up; each figure is the median
block time per iteration, and the ratios are taken between neighbouring blocks.
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from pathlib import Path

import torch

from gandiag.config import load_config
from gandiag.train.loop import Session
from gandiag.train.step import train_step

NAIVE = Path(__file__).resolve().parents[2] / "shared" / "bench" / "naive_ring8.py"


def naive_module():
    spec = importlib.util.spec_from_file_location("naive_ring8", NAIVE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gandiag_step(unrolled: int):
    cfg = load_config("ring8", unrolled=unrolled)
    s, count = Session(cfg, torch.device("cpu")), [0]

    def step():
        count[0] += 1
        train_step(s.players, s.stabilizers, cfg, s.sample_real, s.sample_z, s.gen, count[0])["g_loss"].item()
    return step


def block_ms(step, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return 1000 * (time.perf_counter() - t0) / n


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--unrolled", type=int, default=10)
    ap.add_argument("--steps", type=int, default=300, help="timed iterations per loop")
    ap.add_argument("--block", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    naive = naive_module()
    loops = {("naive", 0): naive.Trainer(unrolled=0).step, ("naive", args.unrolled): naive.Trainer(unrolled=args.unrolled).step,
             ("gandiag", 0): gandiag_step(0), ("gandiag", args.unrolled): gandiag_step(args.unrolled)}
    for step in loops.values():
        block_ms(step, args.warmup)
    times = {key: [] for key in loops}
    for _ in range(max(1, args.steps // args.block)):
        for key, step in loops.items():
            times[key].append(block_ms(step, args.block))
    med = {key: statistics.median(v) for key, v in times.items()}
    k = args.unrolled

    def ratio(a, b):
        return statistics.median(x / y for x, y in zip(times[a], times[b]))

    print(f"threads {torch.get_num_threads()}, {args.steps} timed iterations each, blocks of {args.block}")
    for key, ms in med.items():
        print(f"{key[0]:>8} K={key[1]:<3} {ms:8.1f} ms/iteration")
    print(f"gandiag / naive: K=0 {ratio(('gandiag', 0), ('naive', 0)):.2f}, K={k} {ratio(('gandiag', k), ('naive', k)):.2f}")
    print(f"unrolled / vanilla: naive {ratio(('naive', k), ('naive', 0)):.2f}, gandiag {ratio(('gandiag', k), ('gandiag', 0)):.2f}")


if __name__ == "__main__":
    main()
