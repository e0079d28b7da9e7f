"""Iterations per second of a vanilla ring8 `gandiag run` (600 steps, default recording) at each thread
count of config `threads`, on an idle machine and beside a second busy process: the figures the toy
scenarios' default (gandiag.train.device.TOY_THREADS, what threads = 0 gives them) is chosen from.

The busy process is another user training a GAN: the plain loop (benchmarks/naive_ring8.py) with
torch's default threads, started before the busy runs and stopped after them. The thread counts take
turns within each repetition, so a slow spell of a shared machine falls on all of them; each figure is
the median over repetitions of status.json's iterations_per_second (the training loop, recording
included), with the slowest and the fastest repetition beside it: a default must keep the spread small
as well as the median high.

    python -m benchmarks --suites threads                    # 1 and 2 threads, 5 repetitions
    python -m benchmarks.bench_threads [--counts 1,2] [--steps 600] [--reps 5]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from gandiag import record as R
from gandiag.config import load_config
from gandiag.train import run

ROOT = Path(__file__).resolve().parents[1]
#: the second process: the plain loop, training until it is stopped; it says when it has started
BUSY = ("from benchmarks.naive_ring8 import Trainer\n"
        "trainer = Trainer()\n"
        "print('training', flush=True)\n"
        "while True:\n"
        "    trainer.step()\n")
LOADS = ("idle", "busy")


@contextmanager
def busy() -> Iterator[None]:
    """A second process training the plain loop for as long as the block runs."""
    proc = subprocess.Popen([sys.executable, "-c", BUSY], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        if proc.stdout.readline().strip() != "training":
            raise RuntimeError(f"the busy process did not start (exit code {proc.wait()})")
        yield
    finally:
        proc.kill()
        proc.wait()


def iterations_per_second(threads: int, steps: int, out: Path) -> float:
    """One `gandiag run ring8` of `steps` vanilla steps with config threads = `threads`."""
    run(load_config("ring8", steps=steps, threads=threads, device="cpu"), out, quiet=True)
    return R.RunReader(out).status["iterations_per_second"]


def threads_suite(counts: list[int], steps: int, reps: int) -> dict[str, list[float]]:
    """Per "<n> threads, <load>": iterations per second of each repetition."""
    rates = {f"{n} threads, {load}": [] for load in LOADS for n in counts}
    with tempfile.TemporaryDirectory() as tmp:
        for load in LOADS:
            with busy() if load == "busy" else nullcontext():
                for rep in range(reps):
                    for n in counts:
                        out = Path(tmp) / f"{load}-{n}-{rep}"
                        rates[f"{n} threads, {load}"].append(iterations_per_second(n, steps, out))
    return rates


def threads_table(rates: dict[str, list[float]], counts: list[int]) -> list[str]:
    def cell(r: list[float]) -> str:
        return f"{statistics.median(r):.0f} ({min(r):.0f}-{max(r):.0f})"
    out = ["| threads | idle it/s: median (slowest-fastest) | beside a busy process |", "|---|---|---|"]
    out += [f"| {n} | {cell(rates[f'{n} threads, idle'])} | {cell(rates[f'{n} threads, busy'])} |" for n in counts]
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args(argv)
    counts = [int(n) for n in args.counts.split(",")]
    print("\n".join(threads_table(threads_suite(counts, args.steps, args.reps), counts)))


if __name__ == "__main__":
    main()
