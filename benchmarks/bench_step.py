"""Seconds per ring8 training iteration: gandiag's engines (the fast one in ring8's closed form and on
the generic path that computes every toy config), the plain loop, and the floor of the work.

The machine may be shared, so every measurement here interleaves its loops block by block in one
process after an untimed warm-up: each figure is a median over blocks and each ratio the median of the
ratios of blocks that ran next to each other. `floor` does only what any exact implementation of the
vanilla step must: the fast step's random draws (two z batches of 512 x 256 normals and the reals) and
its matrix products, as it calls them, and nothing else (benchmarks.floor).

    python -m benchmarks.bench_step [--unrolled 10] [--reps 11] [--threads 1]
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from typing import Callable

import torch

from gandiag.config import load_config
from gandiag.engine import CLOSED_FORM, GENERIC, build, choose
from gandiag.engine.reference import train_step
from gandiag.train.session import Session

from .floor import floor_of
from .naive_ring8 import Trainer


#: the fast engine on its generic path (gandiag.engine.generic) rather than in closed form
GENERIC_LOOP = "fast, generic path"


def naive_trainer(unrolled: int) -> Trainer:
    """The plain loop's Trainer (benchmarks/naive_ring8.py; its --arch paper default: the ring8 setting)."""
    return Trainer(unrolled=unrolled)


def session(unrolled: int = 0, device: str = "cpu", **overrides) -> Session:
    return Session.for_config(load_config("ring8", unrolled=unrolled, device=device, **overrides), device)


def fast(unrolled: int, device: str = "cpu", path: str = CLOSED_FORM, **overrides) -> Callable[[], object]:
    """The fast engine's step exactly as `gandiag run` calls it; path GENERIC: on the generic path, which
    computes any toy config, instead of ring8's closed form (what one engine for every config would cost)."""
    s = session(unrolled, device, **overrides)
    choice = choose(s.cfg)
    assert choice.name == "fast" and choice.path == CLOSED_FORM
    return build(dataclasses.replace(choice, path=path), s.cfg, [s], 0, lambda stats: None).step


def compiled(unrolled: int, device: str = "cpu") -> tuple[Callable[[], object], float]:
    """(the fast engine's step with config compile, seconds until its first iteration was done: the
    compilation, and on CUDA the graph's capture)."""
    t0 = time.perf_counter()
    loop = fast(unrolled, device, compile=True)
    loop()
    return loop, time.perf_counter() - t0


def reference(unrolled: int, device: str = "cpu") -> Callable[[], object]:
    s = session(unrolled, device, engine="reference")
    return lambda: train_step(s.players, s.stabilizers, s.cfg, s.sample_real, s.sample_z, s.gen, 1)


def interleave(loops: dict[str, Callable[[], object]], block: int, reps: int, warmup: int = 3,
               sync: Callable[[], None] = lambda: None) -> dict[str, list[float]]:
    """Per loop, seconds per iteration of each of `reps` blocks; the loops take turns block by block."""
    for loop in loops.values():
        for _ in range(warmup):
            loop()
    times = {name: [] for name in loops}
    for _ in range(reps):
        for name, loop in loops.items():
            sync()
            t0 = time.perf_counter()
            for _ in range(block):
                loop()
            sync()
            times[name].append((time.perf_counter() - t0) / block)
    return times


def ratio(times: dict[str, list[float]], a: str, b: str) -> float:
    """Median over repetitions of a's block time over b's block time in the same repetition."""
    return statistics.median(x / y for x, y in zip(times[a], times[b]))


def step_suite(unrolled: int, reps: int, block: int) -> tuple[dict[str, list[float]], list[tuple[str, str]], str]:
    """(block times, the ratios to report, a note) for one unrolling depth, gandiag against the plain loop.
    Unrolled, the fast engine runs also with config compile (its compilation is timed apart, in the note;
    vanilla, compile changes nothing on the fast engine)."""
    loops, note = {"naive": naive_trainer(unrolled).step, "fast": fast(unrolled), "reference": reference(unrolled),
                   GENERIC_LOOP: fast(unrolled, path=GENERIC)}, ""
    if unrolled == 0:
        loops["floor"] = floor_of(loops["fast"])
    else:
        loops["fast compiled"], seconds = compiled(unrolled)
        note = f"fast compiled: its first iteration (the compilation) took {seconds:.1f} s"
    times = interleave(loops, block, reps)
    return times, [(name, "naive") for name in loops if name != "naive"], note


def suite_parser(doc: str, reps: int) -> argparse.ArgumentParser:
    """The options every single-suite module takes (--unrolled, --reps, --threads); see parse."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--unrolled", type=int, default=0)
    ap.add_argument("--reps", type=int, default=reps)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    return ap


def refuse_unknown(ap: argparse.ArgumentParser, what: str, asked: list[str], known) -> None:
    """Exit through `ap` (2, one line) where `asked` names a `what` that is not among `known`."""
    unknown = sorted(set(asked) - set(known))
    if unknown:
        ap.error(f"unknown {what} {', '.join(unknown)}: choose from {', '.join(known)}")


def parse(ap: argparse.ArgumentParser, argv) -> argparse.Namespace:
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    return args


def main(argv=None) -> None:
    ap = suite_parser(__doc__, reps=11)
    ap.add_argument("--block", type=int, default=0, help="iterations per block (0: 20 vanilla, 3 unrolled)")
    args = parse(ap, argv)
    times, pairs, note = step_suite(args.unrolled, args.reps, args.block or (3 if args.unrolled else 20))
    for name, t in times.items():
        print(f"{name:>18}  {1e3 * statistics.median(t):8.2f} ms/iteration")
    for a, b in pairs:
        print(f"{a} / {b}: {ratio(times, a, b):.3f}")
    print(note)


if __name__ == "__main__":
    main()
