"""Where `--write` keeps a benchmark's printed tables: benchmarks/results/KIND-<date>T<time>.md, a new file
each time, headed by the command that printed them.

The names sort by time, an older name without the time (KIND-<date>.md) before those of its day ('.' sorts
before 'T'), so the newest file is the largest name: the one docs/generate.py shows in docs/benchmarks.md.
"""
from __future__ import annotations

import datetime
import shlex
import sys
from pathlib import Path

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
