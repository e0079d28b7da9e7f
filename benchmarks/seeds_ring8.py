#!/usr/bin/env python3
"""The seed study behind the ring8 preset: how many seeds collapse or hop without unrolling, and spread
over all 8 modes with it (the Unrolled GAN paper: the K = 0 collapse depends on the initialisation).

    nice python benchmarks/seeds_ring8.py --seeds 0 1 2 3 4 --unrolled 0 10 --steps 25000 --processes 2

Runs go to --root (default runs/seeds_ring8/k<K>-seed<S>); finished runs are reused and
interrupted ones resumed, so the study can be stopped and restarted. Prints one row per run and a
count of verdicts per K (benchmarks/runs_kit.summarise defines them); writes the same as summary.json
under --root.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runs_kit import ensure_runs, summarise  # noqa: E402

from gandiag.config import load_config  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--unrolled", type=int, nargs="+", default=[0, 10])
    ap.add_argument("--steps", type=int, default=25000)
    ap.add_argument("--snapshot-every", type=int, default=500, help="also the metrics-row interval")
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--root", type=Path, default=Path("runs/seeds_ring8"))
    args = ap.parse_args(argv)

    jobs = [(load_config("ring8", seed=seed, unrolled=k, steps=args.steps, snapshot_every=args.snapshot_every,
                         log_every=args.snapshot_every, checkpoint_every=max(args.snapshot_every, args.steps // 5)),
             args.root / f"k{k}-seed{seed}") for k in args.unrolled for seed in args.seeds]
    ensure_runs(jobs, args.processes)

    rows = [{"unrolled": cfg.unrolled, "seed": cfg.seed, **summarise(out)} for cfg, out in jobs]
    print("| K | seed | modes (>= 1 HQ) | modes (>= 1 %) | % HQ | reverse KL | modes held at the end "
          "| modes held, late mean | late switches | verdict |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['unrolled']} | {r['seed']} | {r['modes']}/8 | {r['modes_strict']}/8 | {100 * r['hq']:.1f} "
              f"| {r['reverse_kl']:.3f} | {r['held_final']}/8 | {r['held_late_mean']:.1f} | {r['late_switches']} "
              f"| {r['verdict']} |")
    counts = {k: dict(collections.Counter(r["verdict"] for r in rows if r["unrolled"] == k)) for k in args.unrolled}
    for k, c in counts.items():
        print(f"K = {k}: " + ", ".join(f"{n} of {len(args.seeds)} {v}" for v, n in sorted(c.items())))
    (args.root / "summary.json").write_text(json.dumps({"command": " ".join(sys.argv), "steps": args.steps,
                                                        "runs": rows, "verdicts": counts}, indent=1))


if __name__ == "__main__":
    main()
