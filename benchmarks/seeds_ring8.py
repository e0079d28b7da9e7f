#!/usr/bin/env python3
"""The seed study behind the ring8 preset: how many seeds collapse or hop without unrolling, and spread
over all 8 modes with it (the Unrolled GAN paper: the K = 0 collapse depends on the initialisation).

    python benchmarks/seeds_ring8.py --seeds 5 --unrolled 0 10 --processes 2

Each K trains seeds 0 .. n-1 of the preset (its own steps and recording settings) in one vectorised
pass, exactly as `gandiag run ring8 --unrolled K --seeds n --out ROOT/k<K>` does; a finished K is
reused. Prints one row per run and a count of verdicts per K (benchmarks/runs_kit.summarise defines
them); writes the same as summary.json under --root.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runs_kit import summarise  # noqa: E402

from gandiag.config import load_config  # noqa: E402
from gandiag.train.seeds import SUMMARY_FILE, run_seeds, seed_folder  # noqa: E402


def ensure_seeds(job: tuple) -> Path:
    """Train one K's seeds into `root` unless a finished summary of as many steps is there (one thread:
    two single-thread passes share 2 cores better than threads fighting)."""
    import torch
    cfg, n, root = job
    summary = root / SUMMARY_FILE
    if not (summary.exists() and json.loads(summary.read_text())["config"]["steps"] == cfg.steps):
        torch.set_num_threads(1)
        run_seeds(cfg, n, root, quiet=True)
    return root


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5, help="seeds 0 .. N-1")
    ap.add_argument("--unrolled", type=int, nargs="+", default=[0, 10])
    ap.add_argument("--steps", type=int, default=None, help="default: the preset's")
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--root", type=Path, default=Path("runs/seeds_ring8"))
    args = ap.parse_args(argv)

    steps = {} if args.steps is None else {"steps": args.steps}
    jobs = [(load_config("ring8", seed=0, unrolled=k, **steps), args.seeds, args.root / f"k{k}") for k in args.unrolled]
    with ProcessPoolExecutor(max(1, args.processes)) as pool:
        list(pool.map(ensure_seeds, jobs))

    rows = [{"unrolled": cfg.unrolled, "seed": seed, **summarise(seed_folder(root, seed))}
            for cfg, n, root in jobs for seed in range(n)]
    print("| K | seed | modes (>= 1 HQ) | modes (>= 1 %) | % HQ | reverse KL | modes held at the end "
          "| modes held, late mean | late switches | verdict |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['unrolled']} | {r['seed']} | {r['modes']}/8 | {r['modes_strict']}/8 | {100 * r['hq']:.1f} "
              f"| {r['reverse_kl']:.3f} | {r['held_final']}/8 | {r['held_late_mean']:.1f} | {r['late_switches']} "
              f"| {r['verdict']} |")
    counts = {k: dict(collections.Counter(r["verdict"] for r in rows if r["unrolled"] == k)) for k in args.unrolled}
    for k, c in counts.items():
        print(f"K = {k}: " + ", ".join(f"{n} of {args.seeds} {v}" for v, n in sorted(c.items())))
    (args.root / "summary.json").write_text(json.dumps({"command": " ".join(sys.argv), "runs": rows,
                                                        "verdicts": counts}, indent=1))


if __name__ == "__main__":
    main()
