"""A whole protocol's training time at the paper's steps, from two short reproductions of its every cell.

`gandiag reproduce PROTOCOL --profile paper` with --steps S1 and then S2, each into a fresh folder,
with the paper's seeds (stacked as the command stacks them, or --seeds-per-pass): the time of a
reproduction is a fixed part (starting the passes, the table) and a part per step (training and
recording). Two step counts give both, and the paper's step count the protocol's time. The issue's
GPU target: PacGAN Table 1 (ring and grid, GAN and PacGAN2/3/4, 10 seeds each, 400,000 steps) in
under 30 minutes on one GPU.

    python -m benchmarks.bench_protocol [--protocol pacgan-table1] [--steps 1000,3000] [--seeds-per-pass N]
                                        [--seeds N] [--set KEY=VALUE ...] [--write]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from gandiag.config import parse_assignments
from gandiag.reproduce import load_protocol, reproduce

from .results_files import machine, print_and_keep

#: the issue's target for the PacGAN Table 1 protocol at its paper profile on one GPU
TARGET_MINUTES = 30


def timed(protocol: str, steps: int, seeds: int, per_pass: int | None, overrides: dict) -> float:
    """Seconds of one reproduction of every cell at `steps` into a fresh folder."""
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        reproduce(protocol, "paper", seeds, steps, Path(out), overrides=overrides or None, per_pass=per_pass)
        return time.perf_counter() - t0


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--protocol", default="pacgan-table1")
    ap.add_argument("--steps", default="1000,3000", help="the two short step counts, comma-separated")
    ap.add_argument("--seeds", type=int, default=0, help="seeds per cell (0: the paper's)")
    ap.add_argument("--seeds-per-pass", type=int, default=None, help="as gandiag reproduce (default: its own)")
    ap.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                    help="a config value for every cell, as gandiag reproduce --set")
    ap.add_argument("--write", action="store_true",
                    help="also write the lines to a new benchmarks/results/protocol-<time>.md")
    args = ap.parse_args(argv)
    short = [int(s) for s in args.steps.split(",")]
    if len(short) != 2 or not 0 < short[0] < short[1]:
        ap.error(f"--steps {args.steps}: give two step counts, the first smaller")
    paper = load_protocol(args.protocol).profiles["paper"]
    seeds = args.seeds or paper.seeds
    overrides = parse_assignments(args.settings)
    first, second = (timed(args.protocol, s, seeds, args.seeds_per_pass, overrides) for s in short)
    per_step = (second - first) / (short[1] - short[0])
    if per_step <= 0:
        raise SystemExit(f"{short[0]:,} steps took {first:.1f} s and {short[1]:,} took {second:.1f} s: too close to "
                         "tell the time per step; give a larger second step count")
    fixed = first - per_step * short[0]
    total = fixed + per_step * paper.steps
    verdict = "" if args.protocol != "pacgan-table1" else \
        f" ({'met' if total / 60 <= TARGET_MINUTES else 'missed'}: target <= {TARGET_MINUTES} min on one GPU)" \
        if torch.cuda.is_available() else f" (the target, <= {TARGET_MINUTES} min, is one GPU's)"
    lines = [f"machine: {machine()}", "",
             f"- {args.protocol}, {seeds} seeds per cell, seeds per pass {args.seeds_per_pass or 'as reproduce'}"
             f"{', ' + ' '.join(args.settings) if args.settings else ''}: {short[0]:,} steps {first:.1f} s, "
             f"{short[1]:,} steps {second:.1f} s",
             f"- per 1,000 steps of every cell {1e3 * per_step:.2f} s, fixed {fixed:.1f} s; at the paper's "
             f"{paper.steps:,} steps {total / 60:.1f} min{verdict}"]
    print_and_keep("protocol", "benchmarks.bench_protocol", argv, lines, args.write)


if __name__ == "__main__":
    main()
