"""What N seeds cost in one vectorised pass (`gandiag run --seeds N`) against one seed, on ring8.

Both run the fast engine's step on stacked sessions (seeds 0..N-1), interleaved block by block in one
process; the ratio is N seeds' seconds per iteration over one seed's. N independent seeds draw N times
the random numbers and do N times the matrix products, so on one core the ratio cannot fall below about
N x (floor / one seed's step), the floor of benchmarks.bench_step; it falls where per-operation
overhead, not arithmetic, is what one seed pays for (the unrolled D's many small operations), and on a
CPU with the cores the pass's seed threads take (config seed_workers auto; also measured on one thread).

    python -m benchmarks.bench_seeds [--seeds 16] [--unrolled 10] [--reps 5] [--threads 1]
"""
from __future__ import annotations

import statistics

from gandiag.engine.fast import FastEngine

from .bench_step import interleave, parse, ratio, session, suite_parser


def stacked(n: int, unrolled: int, device: str = "cpu", **overrides):
    """The iteration of `gandiag run --seeds n` (on CUDA a replayed graph)."""
    sessions = [session(unrolled, device, seed=seed, **overrides) for seed in range(n)]
    return FastEngine(sessions[0].cfg, sessions, 0, lambda stats: None).step


def seeds_suite(n: int, unrolled: int, reps: int, block: int) -> dict[str, list[float]]:
    return interleave({"1 seed": stacked(1, unrolled), f"{n} seeds": stacked(n, unrolled),
                       f"{n} seeds, one thread": stacked(n, unrolled, seed_workers=1)}, block, reps)


def main(argv=None) -> None:
    ap = suite_parser(__doc__, reps=5)
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument("--block", type=int, default=2)
    args = parse(ap, argv)
    times = seeds_suite(args.seeds, args.unrolled, args.reps, args.block)
    for name, t in times.items():
        print(f"{name:>9}  {1e3 * statistics.median(t):9.2f} ms/iteration")
    print(f"{args.seeds} seeds / 1 seed: {ratio(times, f'{args.seeds} seeds', '1 seed'):.2f}")


if __name__ == "__main__":
    main()
