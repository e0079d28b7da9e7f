#!/usr/bin/env python3
"""Batch norm and the probes: how a run's checkpoints score in eval mode and in train mode.

    python -m benchmarks.bn_modes RUN [RUN ...]

For each checkpoint of each toy run: G's eval-mode samples (its running statistics) against its train-mode
samples (batch statistics, over one batch of the 2,500 evaluation z and over batches of the training
size), scored as the live metrics score them; and, for a batch-norm D, the mean D(G(z)) on the
snapshot's fakes in eval mode against train mode (the fakes' own statistics, as in G's step). The
numbers behind the decisions in docs/analyzer.md ("Batch norm"). Checkpoints are read, never changed.
"""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import torch

from gandiag import record as R
from gandiag.config import from_dict
from gandiag.metrics import coverage
from gandiag.train.checkpoints import load_checkpoint
from gandiag.train.session import Session


def session_at(path: Path) -> Session:
    ckpt = load_checkpoint(path)
    s = Session.for_config(from_dict(ckpt["config"]), "cpu")
    s.load_state(ckpt)
    return s


@torch.no_grad()
def g_samples(s: Session, train: bool, chunk: int) -> dict:
    G = copy.deepcopy(s.players.G).train(train)   # a copy: a train-mode forward moves the running statistics
    return coverage.row_entries(torch.cat([G(b) for b in s.z_eval.split(chunk)]).numpy(), s.target.mixture)


@torch.no_grad()
def mean_d_of_fakes(s: Session, train: bool) -> float:
    fakes = copy.deepcopy(s.players.G).eval()(s.z_snapshot)
    return float(torch.sigmoid(copy.deepcopy(s.players.D).train(train)(fakes)).mean())


def describe(entries: dict) -> str:
    return f"modes {entries[R.MODES]} strict {entries[R.MODES_STRICT]} HQ {entries[R.HQ]:.1%}"


def main(runs: list[str]) -> None:
    for run in runs:
        reader = R.RunReader(run)
        for step in reader.checkpoint_steps():
            s = session_at(reader.root / R.CHECKPOINT_DIR / R.checkpoint_name(step))
            parts = [f"{reader.root.name} step {step}"]
            if s.cfg.g_norm == "batch":
                n = len(s.z_eval)
                for name, train, chunk in (("G eval", False, n), ("G train, one batch", True, n),
                                           (f"G train, batches of {s.cfg.batch}", True, s.cfg.batch)):
                    parts.append(f"{name}: {describe(g_samples(s, train, chunk))}")
            if s.cfg.d_norm == "batch":
                parts.append(f"mean D(G(z)): D eval {mean_d_of_fakes(s, False):.3f}, "
                             f"D train {mean_d_of_fakes(s, True):.3f}")
            print("; ".join(parts), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
