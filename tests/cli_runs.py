"""Real runs for the reliability tests: a CLI call in-process, a CLI call as its own process (to kill it
or send it Ctrl-C), and the comparisons that define "the same run"."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import torch
from click.testing import CliRunner, Result

from gandiag.cli import main
from gandiag import record as R

from tiny import QUIET, RUN, flags

#: tiny.RUN as flags: 60 steps of a tiny ring8 GAN
TINY = flags(RUN, *QUIET)


def with_steps(steps: int) -> list[str]:
    return flags(RUN, *QUIET, steps=steps)


def cli(*args) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def run_tiny(out: Path, *extra) -> Path:
    result = cli("run", "ring8", "--out", out, *TINY, *extra)
    assert result.exit_code == 0, result.output
    return out


def start(*args) -> subprocess.Popen:
    """`gandiag ARGS` as a separate process, as a user starts it."""
    return subprocess.Popen([sys.executable, "-m", "gandiag", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_row(proc: subprocess.Popen, run: Path, step: int, timeout: float = 60) -> None:
    """Return as soon as metrics.jsonl holds the row of `step` (the process is then mid-run)."""
    deadline = time.monotonic() + timeout
    while not any(row[R.STEP] >= step for _, row in R.metrics_lines(run / R.METRICS_FILE)):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"no row {step} after {timeout} s"
        time.sleep(0.002)


def checkpoint(run: Path, step: int) -> dict:
    return torch.load(run / R.CHECKPOINT_DIR / R.checkpoint_name(step), weights_only=True)


def assert_same_run(a: Path, b: Path, step: int) -> None:
    """Byte-identical metrics.jsonl and bit-identical state (players, optimisers, stabilizers, RNG) at `step`."""
    assert (a / R.METRICS_FILE).read_bytes() == (b / R.METRICS_FILE).read_bytes()
    ca, cb = checkpoint(a, step), checkpoint(b, step)
    # the total step count may differ, and each run has its own id; everything trained must not
    for key in ("config", R.RUN_ID):
        ca.pop(key), cb.pop(key)
    la, lb = dict(_leaves(ca)), dict(_leaves(cb))
    assert la.keys() == lb.keys()
    for key, value in la.items():
        if isinstance(value, torch.Tensor):
            torch.testing.assert_close(value, lb[key], rtol=0, atol=0, msg=key)
        else:
            assert value == lb[key], key


def _leaves(obj, path: str = ""):
    """(path, value) for every tensor, number or string in a nested checkpoint."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, f"{path}/{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _leaves(v, f"{path}/{i}")
    else:
        yield path, obj
