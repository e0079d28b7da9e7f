"""Seconds per iteration of the presets beyond the hero one: the reference engine against the fast one
(its generic path, gandiag.engine.generic), one seed and a stacked pass, side by side.

Each config's loops are interleaved block by block in one process after an untimed warm-up (as
benchmarks.bench_step does): figures are medians over blocks, ratios medians of the ratios of
neighbouring blocks. Both engines run the step exactly as `gandiag run` calls it, at the toy runs'
one thread (gandiag.train.device.TOY_THREADS).

Minibatch discrimination (batch 512, 100 kernels of 5) is measured against the floor of its work: an
iteration has 3 passes of D with the layer (D's step on reals and on fakes, G's step on fakes), each a
forward and a backward over all N^2 * B * C pairwise L1 terms; the floor is 6 times the fastest pass
over those terms measured here (torch.cdist p=1, or gandiag's blocked in-place form), with nothing else.

    python -m benchmarks.bench_presets [--configs grid25,"ring8 --pack 2"] [--reps 7] [--seeds 10]
"""
from __future__ import annotations

import statistics
from typing import Callable

import torch

from gandiag.config import load_config
from gandiag.engine import build, choose
from gandiag.train.session import Session

from .bench_step import interleave, parse, ratio, suite_parser

#: name -> (scenario, overrides, block): the issue's configs
CONFIGS = {
    "grid25": ("grid25", {}, 5),
    "ring8-veegan --unrolled 5": ("ring8-veegan", {"unrolled": 5}, 2),
    "ring8 --pack 2": ("ring8", {"pack": 2}, 10),
    "ring8 --minibatch-disc": ("ring8", {"minibatch_disc": True}, 1),
}
SEEDS_CONFIG = "grid25"
MBD_CONFIG = "ring8 --minibatch-disc"
MBD_PASSES = 6   # forward and backward of D's step on reals, on fakes, and of G's step on fakes


def pairwise_terms(kind: str, batch: int = 512, kernels: int = 100, dim: int = 5) -> Callable[[], object]:
    """One pass over the N^2 * B * C pairwise L1 terms of a minibatch discrimination layer, nothing else."""
    from gandiag.nets.layers import _blocks
    m = torch.randn(kernels, batch, dim)
    mT = m.transpose(1, 2).contiguous()
    if kind == "cdist":
        return lambda: torch.cdist(m, m, p=1)
    return lambda: [block.abs_().sum(1) for _, _, block in _blocks(mT)]


def engine_step(scenario: str, engine: str, seeds: int = 1, **overrides) -> Callable[[], object]:
    """One iteration of `gandiag run SCENARIO --engine ENGINE --seeds N` (its engine over N sessions)."""
    cfg = load_config(scenario, engine=engine, device="cpu", **overrides)
    sessions = [Session.for_config(load_config(scenario, engine=engine, device="cpu", seed=s, **overrides), "cpu")
                for s in range(seeds)]
    stepper = build(choose(cfg), cfg, sessions, 0, lambda stats: None)
    assert stepper.name == ("fast" if engine == "fast" else "reference")
    return stepper.step


def preset_suite(name: str, reps: int, seeds: int = 0) -> dict[str, list[float]]:
    scenario, overrides, block = CONFIGS[name]
    loops = {"reference": engine_step(scenario, "reference", **overrides),
             "fast": engine_step(scenario, "fast", **overrides)}
    if seeds:
        loops[f"fast, {seeds} seeds"] = engine_step(scenario, "fast", seeds, **overrides)
    if name == MBD_CONFIG:
        for kind in ("cdist", "blocked"):
            one = pairwise_terms(kind)
            loops[f"floor ({kind})"] = lambda one=one: [one() for _ in range(MBD_PASSES)]
    return interleave(loops, block, reps)


def table(results: dict[str, dict[str, list[float]]]) -> list[str]:
    out = ["| config | reference ms/it | fast ms/it | fast / reference |", "|---|---|---|---|"]
    for name, times in results.items():
        out.append(f"| {name} | {1e3 * statistics.median(times['reference']):.2f} | "
                   f"{1e3 * statistics.median(times['fast']):.2f} | {ratio(times, 'fast', 'reference'):.3f} |")
    return out


def main(argv=None) -> None:
    ap = suite_parser(__doc__, reps=7)
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated names of CONFIGS")
    ap.add_argument("--seeds", type=int, default=10, help=f"a stacked pass of {SEEDS_CONFIG} (0: none)")
    args = parse(ap, argv)
    if not args.threads:
        torch.set_num_threads(1)
    results = {}
    for name in args.configs.split(","):
        results[name] = preset_suite(name, args.reps, args.seeds if name == SEEDS_CONFIG else 0)
    print("\n".join(table(results)))
    if MBD_CONFIG in results:
        t = results[MBD_CONFIG]
        floor = min(("floor (cdist)", "floor (blocked)"), key=lambda k: statistics.median(t[k]))
        print(f"\n{MBD_CONFIG}: floor ({MBD_PASSES} passes of N^2 B C L1 terms) "
              + ", ".join(f"{k[7:-1]} {1e3 * statistics.median(t[k]):.1f} ms" for k in ("floor (cdist)", "floor (blocked)"))
              + f"; fast / floor {ratio(t, 'fast', floor):.2f}, reference / floor {ratio(t, 'reference', floor):.2f}")
    if args.seeds and SEEDS_CONFIG in results:
        t = results[SEEDS_CONFIG]
        key = f"fast, {args.seeds} seeds"
        print(f"\n{SEEDS_CONFIG}: {args.seeds} seeds {1e3 * statistics.median(t[key]):.2f} ms/it; / one seed "
              f"{ratio(t, key, 'fast'):.2f}, / one seed on the reference engine {ratio(t, key, 'reference'):.2f}")


if __name__ == "__main__":
    main()
