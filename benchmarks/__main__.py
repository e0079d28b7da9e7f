"""`python -m benchmarks`: gandiag's speed suite on the ring8 setting, as markdown tables with the targets.

    python -m benchmarks                      # everything, torch's default threads
    python -m benchmarks --threads 1 --quick  # a busy machine: one thread each, fewer repetitions
    python -m benchmarks --suites step --json bench.json
    python -m benchmarks --suites threads      # alone on the machine: it starts its own busy process
    python -m benchmarks --suites step,run,seeds --write   # also keep the tables in benchmarks/results/

Suites (each interleaves its loops in one process, figures are medians, ratios are medians of
neighbouring blocks; see each module's docstring):
  step   ms per iteration of the plain loop (benchmarks/naive_ring8.py), gandiag's fast engine (in closed
         form and on its generic path; unrolled: also compiled) and reference engine, and the floor of
         the work, vanilla and unrolled-10
                                                                       (benchmarks.bench_step)
  run    recording overhead of `gandiag run` at default settings       (benchmarks.bench_run)
  seeds  16 seeds in one pass against one seed, vanilla and unrolled, on the pass's seed threads and on
         one                                                         (benchmarks.bench_seeds)
  presets  the reference engine against the fast one (its generic path) on grid25, ring8-veegan
         --unrolled 5, ring8 --pack 2 and --minibatch-disc (with the floor of its work), and grid25's
         seeds stacked                                               (benchmarks.bench_presets)
  cuda   the fast and reference engines on CUDA, when a GPU is present; the plain loop is CPU-only
  threads  a 600-step `gandiag run ring8` at 1 and 2 threads (config `threads`), idle and beside a
         busy process; not in the default set                   (benchmarks.bench_threads)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics

import torch

from .bench_presets import CONFIGS, presets_report
from .bench_run import run_suite
from .bench_seeds import seeds_suite, stacked
from .bench_step import GENERIC_LOOP, compiled, fast, interleave, ratio, reference, refuse_unknown, step_suite
from .bench_threads import threads_suite, threads_table
from .results_files import machine, write_results

K = 10                  # the unrolled setting of the targets
HERO_STEPS = 25_000     # the hero command's length (the CUDA target)
TARGETS = {"vanilla": 0.7, "unrolled": 0.2, "overhead": 0.10, "seeds": 4.0, "cuda_seconds": 15.0}


def ms(times: list[float]) -> str:
    return f"{1e3 * statistics.median(times):.2f}"


def verdict(value: float, target: float) -> str:
    return f"{'met' if value <= target else 'missed'} (target <= {target:g})"


def step_tables(reps: int, report: dict) -> list[str]:
    rows, out, notes = {}, [], []
    for k, block in ((0, 20), (K, 3)):
        times, pairs, note = step_suite(k, reps, block)
        notes += [note] if note else []
        report[f"step_k{k}"] = times
        for name, t in times.items():
            rows.setdefault(name, {})[k] = (ms(t), f"{ratio(times, name, 'naive'):.3f}" if name != "naive" else "1")
    out += ["| loop | vanilla ms/it | / plain | unrolled-10 ms/it | / plain |", "|---|---|---|---|---|"]
    for name, by_k in rows.items():
        v, u = by_k.get(0, ("-", "-")), by_k.get(K, ("-", "-"))
        out.append(f"| {name} | {v[0]} | {v[1]} | {u[0]} | {u[1]} |")
    fast_v = ratio(report["step_k0"], "fast", "naive")
    fast_u = ratio(report[f"step_k{K}"], "fast", "naive")
    compiled_u = ratio(report[f"step_k{K}"], "fast compiled", "naive")
    floor_v = ratio(report["step_k0"], "floor", "naive")
    out += ["", f"- vanilla: fast / plain = {fast_v:.3f}, {verdict(fast_v, TARGETS['vanilla'])}; the floor of the "
                f"work (the fast step's draws and products alone) is {floor_v:.3f} of the plain loop",
            f"- unrolled-10: fast / plain = {fast_u:.3f}, {verdict(fast_u, TARGETS['unrolled'])}; with config "
            f"compile {compiled_u:.3f}, {verdict(compiled_u, TARGETS['unrolled'])}",
            f"- the generic path (which computes every toy config) / the closed form: "
            f"{ratio(report['step_k0'], GENERIC_LOOP, 'fast'):.2f} vanilla, "
            f"{ratio(report[f'step_k{K}'], GENERIC_LOOP, 'fast'):.2f} unrolled-10: what one engine for every "
            "config would cost ring8",
            *(f"- {note}" for note in notes)]
    return out


def run_table(reps: int, steps: int, report: dict) -> list[str]:
    out = ["| setting | bare fast steps ms/it | `gandiag run` ms/it | overhead |", "|---|---|---|---|"]
    for k in (0, K):
        times = run_suite(steps, k, reps)
        report[f"run_k{k}"] = times
        over = statistics.median(r / b - 1 for r, b in zip(times["gandiag run"], times["bare steps"]))
        met = "met" if over <= TARGETS["overhead"] else "missed"
        out.append(f"| {'vanilla' if k == 0 else f'unrolled-{k}'} | {ms(times['bare steps'])} | "
                   f"{ms(times['gandiag run'])} | {100 * over:.1f} % ({met}, target <= "
                   f"{100 * TARGETS['overhead']:g} %) |")
    return out


def seeds_table(reps: int, n: int, report: dict) -> list[str]:
    out = [f"| setting | 1 seed ms/it | {n} seeds ms/it | {n} seeds / 1 seed | on one thread: {n} seeds / 1 seed |",
           "|---|---|---|---|---|"]
    for k in (0, K):
        times = seeds_suite(n, k, reps, block=2 if k == 0 else 1)
        report[f"seeds_k{k}"] = times
        r = ratio(times, f"{n} seeds", "1 seed")
        out.append(f"| {'vanilla' if k == 0 else f'unrolled-{k}'} | {ms(times['1 seed'])} | "
                   f"{ms(times[f'{n} seeds'])} | {r:.2f} ({verdict(r, TARGETS['seeds'])}) | "
                   f"{ratio(times, f'{n} seeds, one thread', '1 seed'):.2f} |")
    return out


def cuda_table(reps: int, n: int, report: dict) -> list[str]:
    if not torch.cuda.is_available():
        return ["CUDA: unmeasured (no CUDA device on this machine)."]
    loops = {f"{name} K={k}": make(k, "cuda")
             for k in (0, K) for name, make in (("fast", fast), ("reference", reference))}
    loops[f"fast compiled K={K}"], seconds = compiled(K, "cuda")
    loops.update({f"{n} seeds K={k}": stacked(n, k, "cuda") for k in (0, K)})
    times = interleave(loops, 20, reps, sync=torch.cuda.synchronize)
    report["cuda"] = times
    out = [f"{torch.cuda.get_device_name()}", "", "| loop | ms/it | 25,000 steps |", "|---|---|---|"]
    for name, t in times.items():
        out.append(f"| {name} | {ms(t)} | {statistics.median(t) * HERO_STEPS:.1f} s |")
    seeds = {k: ratio(times, f"{n} seeds K={k}", f"fast K={k}") for k in (0, K)}
    best = min(statistics.median(times[name]) for name in (f"fast K={K}", f"fast compiled K={K}")) * HERO_STEPS
    out += ["", f"- ring8 unrolled-{K}, {HERO_STEPS} steps: {best:.1f} s, {verdict(best, TARGETS['cuda_seconds'])} "
                f"(steps only; the fast engine replays each iteration as a CUDA graph)",
            f"- fast compiled: building it (compilation, warm-up and capture) took {seconds:.1f} s",
            f"- {n} seeds in one pass / 1 seed: vanilla {seeds[0]:.2f}, unrolled-{K} {seeds[K]:.2f}, "
            f"{verdict(max(seeds.values()), TARGETS['seeds'])}"]
    return out


#: the suites --suites names (threads only when asked for: it starts its own busy process)
SUITES = ("step", "run", "seeds", "presets", "cuda", "threads")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suites", default="step,run,seeds,presets,cuda", help=f"comma-separated: {', '.join(SUITES)}")
    ap.add_argument("--reps", type=int, default=0,
                    help="repetitions per suite (0: 11 step, 3 run, 3 seeds, 11 cuda, 5 threads)")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and shorter runs")
    ap.add_argument("--threads", type=int, default=0, help="torch threads for every loop (0: torch's default)")
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument("--thread-counts", default="1,2", help="the threads suite's thread counts, comma-separated")
    ap.add_argument("--json", default=None, help="also write every block time here")
    ap.add_argument("--write", action="store_true",
                    help="also write the tables to a new benchmarks/results/suite-<time>.md")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    suites = set(args.suites.split(","))
    refuse_unknown(ap, "suite", sorted(suites), SUITES)
    reps = (lambda full, quick: args.reps or (quick if args.quick else full))  # noqa: E731
    report, lines = {}, [f"machine: {machine()}", ""]
    if "step" in suites:
        lines += ["## Step time against the plain loop (ring8, CPU)", "", *step_tables(reps(11, 5), report), ""]
    if "run" in suites:
        lines += ["## Recording overhead at default settings", "",
                  *run_table(reps(3, 2), 500 if args.quick else 1000, report), ""]
    if "seeds" in suites:
        lines += [f"## {args.seeds} seeds in one vectorised pass", "", *seeds_table(reps(3, 2), args.seeds, report), ""]
    if "presets" in suites:
        lines += ["## The other presets: reference and fast engine side by side (CPU)", "",
                  *presets_report(list(CONFIGS), reps(7, 3), 10, report), ""]
    if "cuda" in suites:
        lines += ["## CUDA", "", *cuda_table(reps(11, 5), args.seeds, report), ""]
    if "threads" in suites:
        counts = [int(n) for n in args.thread_counts.split(",")]
        steps = 100 if args.quick else 600
        report["threads_it_per_s"] = threads_suite(counts, steps, reps(5, 2))
        lines += [f"## Threads: {steps}-step `gandiag run ring8`, iterations per second", "",
                  *threads_table(report["threads_it_per_s"], counts), ""]
    lines.append(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("\n".join(["# gandiag speed suite", "", *lines]))
    if args.write:
        write_results("suite", "benchmarks", argv, lines)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "args": vars(args), "seconds_per_iteration": report}, f, indent=1)


if __name__ == "__main__":
    main()
