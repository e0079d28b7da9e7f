#!/usr/bin/env python3
"""The table of docs/stabilizers.md "what each does on ring8 and grid25": modes captured and % high
quality on ring8 and grid25, one row per stabilizer, each run from the same seeds for the same number of steps.

    python benchmarks/stabilizer_table.py --steps-ring8 5000 --steps-grid25 5000 --seeds 0 --processes 2

Runs go to --root/<scenario>/<row>-seed<S> (default runs/stabilizer_table); finished runs are reused, so
rows can be added or the table regenerated without retraining. --only picks rows by name. Prints the
markdown table and writes it (with the command) to --root/table.md.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runs_kit import ensure_runs, summarise  # noqa: E402

from gandiag.config import load_config  # noqa: E402

SCENARIOS = ("ring8", "grid25")

#: (row name, what it is, overrides); callables get the run's step count (schedules scale with it)
ROWS = [
    ("vanilla", "non-saturating GAN, the scenario as published", {}),
    ("unrolled-10", "--unrolled 10 (second order)", {"unrolled": 10}),
    ("unrolled-10-first-order", "--unrolled 10 --unrolled-first-order", {"unrolled": 10, "unrolled_first_order": True}),
    ("minibatch-disc", "--minibatch-disc --mbd-kernels 20 (5-dim kernels)",
     {"minibatch_disc": True, "mbd_kernels": 20}),
    ("hist-avg", "--hist-avg 0.01", {"hist_avg": 0.01}),
    ("smooth-0.9", "--label-smoothing 0.9 (one-sided)", {"label_smoothing": 0.9}),
    ("noisy-labels", "--noisy-labels (real 0.7-1.2, fake 0-0.3)", {"noisy_labels": True}),
    ("label-flip", "--label-flip 0.05", {"label_flip": 0.05}),
    ("instance-noise", "--instance-noise 0.1, decayed to 0 over the first half",
     lambda steps: {"instance_noise": 0.1, "instance_noise_decay": steps // 2}),
    ("replay", "--replay-size 5120 --replay-share 0.5", {"replay_size": 5120, "replay_share": 0.5}),
    ("swaps", "--swap-every steps/10 --swap-for steps/50",
     lambda steps: {"swap_every": steps // 10, "swap_for": steps // 50}),
    ("d-steps-2", "--d-steps 2", {"d_steps": 2}),
    ("sgd-d", "--d-opt sgd --d-lr 0.01 (momentum = d_beta1)", {"d_opt": "sgd", "d_lr": 0.01}),
    ("z-uniform", "--z-dist uniform", {"z_dist": "uniform"}),
    ("g-dropout", "--g-dropout 0.5 (train and test)", {"g_dropout": 0.5}),
    ("spectral-norm", "--spectral-norm", {"spectral_norm": True}),
    ("batch-norm-d", "--d-norm batch (separate real/fake batches)", {"d_norm": "batch"}),
    ("instance-norm-d", "--d-norm instance", {"d_norm": "instance"}),
    ("virtual-batch-norm-d", "--d-norm virtual-batch", {"d_norm": "virtual-batch"}),
    ("pack-2", "--pack 2 (PacGAN)", {"pack": 2}),
    ("r1", "--r1 1", {"r1": 1.0}),
]


#: rows too slow for a default run on a 2-core CPU, and why (--slow runs them too)
SLOW = {("ring8", "minibatch-disc"): "minibatch discrimination compares all 512 x 512 pairs of a batch "
                                     "in every kernel: seconds per step on a 2-core CPU",
        ("grid25", "unrolled-10"): "grid25's maxout D and batch-norm G run on the reference (autograd) "
                                   "engine, whose second-order unroll does about 75 steps a minute on one "
                                   "core of a 2-core CPU (over an hour for 5,000 steps)",
        ("grid25", "unrolled-10-first-order"): "the same reference-engine unroll in first order, cheaper but "
                                               "not timed: skipped with it"}


def overrides(spec, steps: int) -> dict:
    return spec(steps) if callable(spec) else dict(spec)


def cell(summaries: list[dict], key: str, scale: float = 1.0, digits: int = 1) -> str:
    values = [scale * s[key] for s in summaries]
    text = f"{np.mean(values):.{digits}f}"
    return text if len(values) == 1 else f"{text} ({', '.join(f'{v:.{digits}f}' for v in values)})"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps-ring8", type=int, default=5000)
    ap.add_argument("--steps-grid25", type=int, default=5000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--only", nargs="+", default=None, help="row names (default: all)")
    ap.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=SCENARIOS)
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--slow", action="store_true", help="also run the rows listed in SLOW")
    ap.add_argument("--root", type=Path, default=Path("runs/stabilizer_table"))
    args = ap.parse_args(argv)
    steps = {"ring8": args.steps_ring8, "grid25": args.steps_grid25}
    rows = [r for r in ROWS if args.only is None or r[0] in args.only]

    jobs = {}
    for scenario in args.scenarios:
        n = steps[scenario]
        every = max(1, n // 20)
        for name, _, spec in rows:
            if (scenario, name) in SLOW and not args.slow:
                continue
            for seed in args.seeds:
                cfg = load_config(scenario, seed=seed, steps=n, log_every=every, snapshot_every=every,
                                  checkpoint_every=max(every, n // 4), **overrides(spec, n))
                jobs[scenario, name, seed] = (cfg, args.root / scenario / f"{name}-seed{seed}")
    ensure_runs(list(jobs.values()), args.processes)

    head = "| stabilizer | flags | " + " | ".join(
        f"{s}: modes (>= 1 HQ) | {s}: modes held | {s}: % HQ" for s in args.scenarios) + " |"
    lines = [head, "|" + "---|" * (2 + 3 * len(args.scenarios))]
    for name, what, _ in rows:
        cells = []
        for scenario in args.scenarios:
            if (scenario, name, args.seeds[0]) not in jobs:
                cells += ["not run (slow)"] * 3
                continue
            runs = [summarise(jobs[scenario, name, seed][1]) for seed in args.seeds]
            cells += [cell(runs, "modes"), cell(runs, "held_final"), cell(runs, "hq", 100)]
        lines.append(f"| {name} | {what} | " + " | ".join(cells) + " |")
    note = ("Steps: " + ", ".join(f"{s} {steps[s]}" for s in args.scenarios) + f"; seeds {args.seeds}; "
            "modes out of 8 (ring8) and 25 (grid25) at the last step: modes with >= 1 high-quality sample "
            "among 2,500 (PacGAN), modes held = modes that are the nearest mode of >= 1/4 of their fair "
            "share of the 512 fixed-z fakes (benchmarks/runs_kit.py). "
            f"Command: python benchmarks/stabilizer_table.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    skipped = [f"{scenario} {name}: {why}." for (scenario, name), why in SLOW.items()
               if not args.slow and scenario in args.scenarios and any(r[0] == name for r in rows)]
    text = "\n".join(lines) + "\n\n" + " ".join([note, *skipped]) + "\n"
    print(text)
    args.root.mkdir(parents=True, exist_ok=True)
    (args.root / "table.md").write_text(text)


if __name__ == "__main__":
    main()
