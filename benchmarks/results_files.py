"""Where `--write` keeps a benchmark's printed tables: benchmarks/results/KIND-<date>T<time>.md, a new file
each time, headed by the command that printed them.

The names sort by time, an older name without the time (KIND-<date>.md) before those of its day ('.' sorts
before 'T'), so the newest file is the largest name: the one docs/generate.py shows in docs/benchmarks.md.
Each file's tables are headed by `machine()`, the line that says what they were measured on.
"""
from __future__ import annotations

import datetime
import os
import platform
import shlex
import sys
from pathlib import Path

import torch

from gandiag.engine import products

RESULTS = Path(__file__).parent / "results"


def write_results(kind: str, module: str, argv: list[str] | None, lines: list[str], folder: Path | None = None,
                  now: datetime.datetime | None = None) -> Path:
    """Write `lines`, printed by `python -m MODULE ARGV` (None: this process's arguments), to a new
    FOLDER/KIND-<date>T<time>.md (FOLDER: benchmarks/results), say where, and return its path."""
    folder = folder or RESULTS
    now = now or datetime.datetime.now()
    folder.mkdir(parents=True, exist_ok=True)
    command = f"python -m {module} {shlex.join(sys.argv[1:] if argv is None else argv)}".rstrip()
    while True:
        path = folder / f"{kind}-{now:%Y-%m-%dT%H%M%S}.md"
        try:
            with open(path, "x", encoding="utf-8") as f:   # "x": a file already there is never overwritten
                f.write("\n".join([f"# `{command}`", "", *lines, ""]))
            break
        except FileExistsError:   # a second run in the same second: the next second's name still sorts after it
            now += datetime.timedelta(seconds=1)
    print(f"written to {path}; docs/benchmarks.md shows the newest {kind}-*.md: run `python docs/generate.py`")
    return path


def print_and_keep(kind: str, module: str, argv: list[str] | None, lines: list[str], keep: bool) -> None:
    """Print a benchmark's `lines` and, where `keep` (its --write), write them as write_results does."""
    print("\n".join(lines))
    if keep:
        write_results(kind, module, argv, lines)


def machine() -> str:
    """The processor with its family and model (a virtual machine's model name can be as bare as "AMD
    EPYC", whatever the generation), the instruction set torch's CPU kernels use, the fast paths' float32
    products' kernel (chosen from it), torch, threads."""
    cpu = platform.processor()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            first = f.read().split("\n\n")[0]   # the first processor's fields
        fields = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in first.splitlines())}
        cpu = f"{fields.get('model name', cpu)} (family {fields.get('cpu family')}, model {fields.get('model')})"
    load = " ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    kernel = "oneDNN" if products.ONEDNN_PRODUCTS else "torch's mm"
    return (f"{cpu}, {torch.backends.cpu.get_cpu_capability()} (float32 products on {kernel}), "
            f"{os.cpu_count()} cores, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads; load average {load}")
