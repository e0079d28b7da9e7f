"""What recording costs: a whole `gandiag run` loop at default settings (metrics rows with live mode
metrics every 100 steps, snapshots with the saturation probe every 500, the final checkpoint, the
progress line and the analyzer's live warnings) against the same number of bare fast-engine steps.

Repetitions alternate a bare block and a recorded run of --steps iterations each; the overhead is the
median of recorded / bare - 1 over neighbouring pairs. The recorded time is the loop's own
(status.json `seconds`: from the first training step to the end, final checkpoint included).
A short run checkpoints more often than a 25,000-step one (one per --steps against one per 5,000),
so the figure is an upper bound.

    python -m benchmarks.bench_run [--steps 1000] [--unrolled 0] [--reps 3] [--threads 1]
"""
from __future__ import annotations

import contextlib
import io
import statistics
import tempfile
import time
from pathlib import Path

import torch

from gandiag import record as R
from gandiag.analysis import live_warnings
from gandiag.config import load_config
from gandiag.train import run

from .bench_step import fast, parse, suite_parser


def bare(steps: int, unrolled: int) -> float:
    """Seconds per iteration of the fast engine's step alone."""
    step = fast(unrolled)
    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


def recorded(steps: int, unrolled: int, out: Path) -> float:
    """Seconds per iteration of `gandiag run ring8` with default recording (engine auto: the fast path),
    on as many threads as the bare steps."""
    cfg = load_config("ring8", steps=steps, unrolled=unrolled, device="cpu", threads=torch.get_num_threads())
    with contextlib.redirect_stderr(io.StringIO()):   # the progress line is written, not shown
        run(cfg, out, on_row=live_warnings(cfg.loss))
    return R.RunReader(out).status["seconds"] / steps


def run_suite(steps: int, unrolled: int, reps: int) -> dict[str, list[float]]:
    times = {"bare steps": [], "gandiag run": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(reps):
            times["bare steps"].append(bare(steps, unrolled))
            times["gandiag run"].append(recorded(steps, unrolled, Path(tmp) / f"run{i}"))
    return times


def main(argv=None) -> None:
    ap = suite_parser(__doc__, reps=3)
    ap.add_argument("--steps", type=int, default=1000)
    args = parse(ap, argv)
    times = run_suite(args.steps, args.unrolled, args.reps)
    for name, t in times.items():
        print(f"{name:>12}  {1e3 * statistics.median(t):8.2f} ms/iteration")
    overhead = statistics.median(r / b - 1 for r, b in zip(times["gandiag run"], times["bare steps"]))
    print(f"recording overhead: {100 * overhead:.1f} %")


if __name__ == "__main__":
    main()
