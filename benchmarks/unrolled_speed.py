#!/usr/bin/env python3
"""Iterations per second of gandiag's training step against the plain-loop baseline, interleaved.

    python benchmarks/unrolled_speed.py --unrolled 10 --steps 300 --repeats 5

Each repeat runs `../shared/bench/naive_ring8.py` and then gandiag's ring8 step (same setting, same
steps, same untimed warm-up, training loop only) in fresh processes, back to back; the machine is
shared, so the medians over the repeats are compared. `--inner` times gandiag in this process only.
"""
from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

NAIVE = Path(__file__).resolve().parents[2] / "shared" / "bench" / "naive_ring8.py"


def gandiag_rate(unrolled: int, steps: int, warmup: int, threads: int) -> float:
    """Iterations per second of gandiag's train_step on ring8, warm-up excluded (the naive script's rule)."""
    import torch

    from gandiag.config import load_config
    from gandiag.train.loop import Session
    from gandiag.train.step import train_step

    if threads:
        torch.set_num_threads(threads)
    cfg = load_config("ring8", unrolled=unrolled)
    s = Session(cfg, torch.device("cpu"))
    timed = 0.0
    for step in range(1, steps + 1):
        t0 = time.perf_counter()
        train_step(s.players, s.stabilizers, cfg, s.sample_real, s.sample_z, s.gen, step)["g_loss"].item()
        if step > warmup:
            timed += time.perf_counter() - t0
    return (steps - warmup) / timed


def _last_rate(output: str) -> float:
    return float(re.findall(r"iterations/second: ([0-9.]+)", output)[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--unrolled", type=int, default=10)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads in both (0 = torch's default)")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.inner:
        print(f"iterations/second: {gandiag_rate(args.unrolled, args.steps, args.warmup, args.threads):.2f}")
        return
    common = ["--unrolled", str(args.unrolled), "--steps", str(args.steps), "--warmup", str(args.warmup),
              "--threads", str(args.threads)]
    naive, ours = [], []
    for r in range(args.repeats):
        naive.append(_last_rate(subprocess.run([sys.executable, str(NAIVE), *common], check=True,
                                               capture_output=True, text=True).stdout))
        ours.append(_last_rate(subprocess.run([sys.executable, __file__, "--inner", *common], check=True,
                                              capture_output=True, text=True).stdout))
        print(f"repeat {r + 1}: naive {naive[-1]:.2f} it/s   gandiag {ours[-1]:.2f} it/s", flush=True)
    n, g = statistics.median(naive), statistics.median(ours)
    print(f"median over {args.repeats}: naive {n:.2f} it/s ({1000 / n:.1f} ms/it), "
          f"gandiag {g:.2f} it/s ({1000 / g:.1f} ms/it); gandiag time / naive time = {n / g:.2f}")


if __name__ == "__main__":
    main()
