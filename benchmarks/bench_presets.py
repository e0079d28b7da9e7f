"""Seconds per iteration of the presets beyond the hero one and of the stabilizers: the reference engine
against the fast one (its generic path, gandiag.engine.generic), one seed and a stacked pass (its seeds on
threads side by side, as `seed_workers` auto runs them, and one after another), side by side.

Each config's loops are interleaved block by block in one process after an untimed warm-up (as
benchmarks.bench_step does): figures are medians over blocks, ratios medians of the ratios of
neighbouring blocks. Both engines run the step exactly as `gandiag run` calls it, at the toy runs'
one thread (gandiag.train.device.TOY_THREADS).

Every config is also measured against the floor of the fast step's work (benchmarks.floor): its
matrix products and random draws alone, as the step calls them. Where that floor is above 0.6 of the
reference step, no form of the step that multiplies and draws what it does can reach the target.
The reference step's own floor (the same products on torch's kernels, MKL on a CPU) says how much of
the reference is arithmetic on this machine: the fast step's products are oneDNN's where the CPU has
AVX-512 and torch's elsewhere (gandiag.engine.products; the machine line says which), so the ratios
are comparable only between runs whose machine lines name the same kernel.

Minibatch discrimination (batch 512, 100 kernels of 5) is measured against the floor of its work: an
iteration has 3 passes of D with the layer (D's step on reals and on fakes, G's step on fakes), each a
forward and a backward over all N^2 * B * C pairwise L1 terms; the floor is 6 times the fastest pass
over those terms measured here (torch.cdist p=1, or gandiag's blocked in-place form), with nothing else.

    python -m benchmarks.bench_presets [--configs grid25,"ring8 --pack 2"] [--reps 7] [--seeds 10]
"""
from __future__ import annotations

import os
import statistics
from types import SimpleNamespace
from typing import Callable

import torch

from gandiag.config import load_config
from gandiag.engine import build, choose
from gandiag.engine.generic import seed_workers
from gandiag.train.session import Session

from .bench_step import interleave, parse, ratio, refuse_unknown, suite_parser
from .floor import floor_of
from .results_files import machine, print_and_keep

#: name -> (scenario, overrides, block): the issue's configs
CONFIGS = {
    "grid25": ("grid25", {}, 5),
    "ring8-veegan --unrolled 5": ("ring8-veegan", {"unrolled": 5}, 2),
    "ring8 --pack 2": ("ring8", {"pack": 2}, 10),
    "ring8 --minibatch-disc": ("ring8", {"minibatch_disc": True}, 1),
    # the stabilizers and losses the generic path took over from the reference engine
    "ring8 --noisy-labels --label-flip 0.05": ("ring8", {"noisy_labels": True, "label_flip": 0.05}, 10),
    "ring8 --instance-noise 0.1": ("ring8", {"instance_noise": 0.1}, 10),
    "ring8 --replay-size 4096": ("ring8", {"replay_size": 4096}, 10),
    "ring8 --hist-avg 0.01": ("ring8", {"hist_avg": 0.01}, 10),
    "ring8 --loss wgan": ("ring8", {"loss": "wgan"}, 10),
    "ring8 --loss wgan-gp": ("ring8", {"loss": "wgan-gp"}, 5),
    "ring8 --r1 1": ("ring8", {"r1": 1.0}, 5),
    # the optimiser, normalisations and stabilizers that replace players, taken over next
    "ring8 --d-opt sgd --g-opt sgd": ("ring8", {"d_opt": "sgd", "g_opt": "sgd"}, 10),
    "ring8 --g-dropout 0.2": ("ring8", {"g_dropout": 0.2}, 10),
    "ring8 --swap-every 1000": ("ring8", {"swap_every": 1000}, 10),
    "ring8 --spectral-norm": ("ring8", {"spectral_norm": True}, 5),
    "ring8 --d-norm batch": ("ring8", {"d_norm": "batch"}, 5),
    "ring8 --d-norm instance": ("ring8", {"d_norm": "instance"}, 5),
    "ring8 --d-norm virtual-batch": ("ring8", {"d_norm": "virtual-batch"}, 5),
}
SEEDS_CONFIG = "grid25"
FLOOR = "fast's floor"   # the fast step's products and draws alone (benchmarks.floor)
REFERENCE_FLOOR = "reference's floor"   # the reference step's, on torch's kernels (MKL on a CPU)
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
    loops[FLOOR] = floor_of(loops["fast"])
    loops[REFERENCE_FLOOR] = floor_of(loops["reference"])
    if seeds:
        loops[f"fast, {seeds} seeds"] = engine_step(scenario, "fast", seeds, **overrides)
        loops[f"fast, {seeds} seeds, one thread"] = engine_step(scenario, "fast", seeds, seed_workers=1, **overrides)
        # from the pass on one thread, where the profiler sees every product
        loops[f"{FLOOR}, {seeds} seeds"] = floor_of(loops[f"fast, {seeds} seeds, one thread"])
    if name == MBD_CONFIG:
        for kind in ("cdist", "blocked"):
            one = pairwise_terms(kind)
            loops[f"floor ({kind})"] = lambda one=one: [one() for _ in range(MBD_PASSES)]
    return interleave(loops, block, reps)


def table(results: dict[str, dict[str, list[float]]]) -> list[str]:
    out = ["| config | reference ms/it | fast ms/it | fast / reference | floor ms/it | floor / reference | "
           "reference's floor / reference |", "|---|---|---|---|---|---|---|"]
    for name, t in results.items():
        out.append(f"| {name} | {1e3 * statistics.median(t['reference']):.2f} | "
                   f"{1e3 * statistics.median(t['fast']):.2f} | {ratio(t, 'fast', 'reference'):.3f} | "
                   f"{1e3 * statistics.median(t[FLOOR]):.2f} | {ratio(t, FLOOR, 'reference'):.3f} | "
                   f"{ratio(t, REFERENCE_FLOOR, 'reference'):.3f} |")
    return out


def presets_report(configs: list[str], reps: int, seeds: int, report: dict | None = None) -> list[str]:
    """The suite's Markdown lines (the side-by-side table, the seeds and the floor); block times into report."""
    results = {name: preset_suite(name, reps, seeds if name == SEEDS_CONFIG else 0) for name in configs}
    if report is not None:
        report.update({f"presets {name}": times for name, times in results.items()})
    lines = table(results)
    if MBD_CONFIG in results:
        t = results[MBD_CONFIG]
        floors = {k[7:-1]: statistics.median(t[k]) for k in ("floor (cdist)", "floor (blocked)")}
        best = min(floors, key=floors.get)
        lines += ["", f"- {MBD_CONFIG}: the floor ({MBD_PASSES} passes over the N^2 B C pairwise L1 terms) is "
                  + ", ".join(f"{1e3 * v:.1f} ms with {k}" for k, v in floors.items())
                  + f"; fast / floor {ratio(t, 'fast', f'floor ({best})'):.2f}, reference / floor "
                  f"{ratio(t, 'reference', f'floor ({best})'):.2f}"]
    if seeds and SEEDS_CONFIG in results:
        t, key, alone = results[SEEDS_CONFIG], f"fast, {seeds} seeds", f"fast, {seeds} seeds, one thread"
        workers = seed_workers(SimpleNamespace(seed_workers=0), seeds, on_cpu=True)
        lines += ["", f"- {SEEDS_CONFIG}, {seeds} seeds in one pass, on {workers} seed threads (`seed_workers` auto): "
                  f"{1e3 * statistics.median(t[key]):.2f} ms/it; / one seed on the fast engine "
                  f"{ratio(t, key, 'fast'):.2f}, / one seed on the reference engine {ratio(t, key, 'reference'):.2f}; "
                  f"on one thread {1e3 * statistics.median(t[alone]):.2f} ms/it, / one seed "
                  f"{ratio(t, alone, 'fast'):.2f}; "
                  f"the floor of its work on one thread {1e3 * statistics.median(t[f'{FLOOR}, {seeds} seeds']):.2f} "
                  f"ms/it, / one seed on the fast engine {ratio(t, f'{FLOOR}, {seeds} seeds', 'fast'):.2f}"]
    return lines


def main(argv=None) -> None:
    ap = suite_parser(__doc__, reps=7)
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated names of CONFIGS")
    ap.add_argument("--seeds", type=int, default=10, help=f"a stacked pass of {SEEDS_CONFIG} (0: none)")
    ap.add_argument("--write", action="store_true",
                    help="also write the tables to a new benchmarks/results/presets-<time>.md")
    args = parse(ap, argv)
    configs = args.configs.split(",")
    refuse_unknown(ap, "config", configs, CONFIGS)
    if not args.threads:
        torch.set_num_threads(1)
    lines = [f"machine: {machine()}", "", *presets_report(configs, args.reps, args.seeds), "",
             f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}"]
    print_and_keep("presets", "benchmarks.bench_presets", argv, lines, args.write)


if __name__ == "__main__":
    main()
