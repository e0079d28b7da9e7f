"""The training loop: one loop over S seed slots (a single run is S = 1), an engine behind one interface.

    for each step:  the engine trains every slot one iteration (device work, no host sync)
    when due:       each slot's state is exported to its modules, checked for non-finite values, and
                    its metrics row (with a snapshot) and checkpoint go to its run folder's Recorder

What it promises (docs/reliability.md):
- A checkpoint holds everything the next step reads, so on CPU a resumed run repeats the uninterrupted
  one bit for bit, metrics.jsonl included.
- Every step is checked for non-finite values on the device without a host sync; the flag is read only
  when the loop is about to record or checkpoint, so nothing from the first bad step on is written.
- Ctrl-C (or SIGTERM) finishes the current step, checkpoints it and ends the run as interrupted (as
  finished when that step was the last).
"""
from __future__ import annotations

import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import record as R
from ..engine import Choice, build
from .device import compiles
from .guards import DeferInterrupt, DivergenceWatch
from .progress import COMPILING, Progress
from .session import Session

#: exit codes of `gandiag run` / `gandiag resume` besides 0 (finished) and 1 (a one-line error)
EXIT_DIVERGED = 3
EXIT_INTERRUPTED = 130   # the shell's code for a SIGINT


@dataclass
class RunResult:
    path: Path
    status: str          # record.FINISHED, DIVERGED or INTERRUPTED
    step: int            # the last step trained, or the first non-finite one
    last: dict           # the last metrics row
    detail: str = ""     # why a run diverged


@dataclass
class RunSlot:
    """One seed slot of the loop: its session and the recorder of its folder (None: a DDP rank other than
    0, which trains in step with rank 0 and writes nothing)."""

    session: Session
    recorder: R.Recorder | None
    root: Path
    last: dict = field(default_factory=dict)
    result: RunResult | None = None      # set once the slot has stopped (diverged)


def due(cfg, step: int, stop: bool) -> tuple[bool, bool, bool]:
    """(log, snap, save): what `step` owes the run folder; a stop request always saves."""
    snap = step % cfg.snapshot_every == 0 or step == cfg.steps
    log = snap or step % cfg.log_every == 0
    save = step % cfg.checkpoint_every == 0 or step == cfg.steps or stop
    return log, snap, save


def record_step(x: RunSlot, step: int, stats: dict, log: bool, snap: bool, save: bool) -> dict | None:
    """Write what `step` owes: its metrics row (the statistics, the target's metrics on the evaluation z,
    a snapshot when due) and a checkpoint. Returns the row, or None when the step logs nothing."""
    s, rec, row = x.session, x.recorder, None
    if log:
        rec.log(step, **{k: float(v) for k, v in stats.items()})
        rec.evaluate(step, s.players.G, s.z_eval)
        if snap:
            rec.snapshot(step, s.players.G, s.players.D, s.z_snapshot)
        row = rec.flush()
    if save:
        rec.checkpoint(step, s.state(step))
    return row


def train(slots: list[RunSlot], choice: Choice, start: int, progress: Progress, on_row=None) -> list[RunResult]:
    """Train every slot from step `start` to cfg.steps; returns each slot's result. on_row(row) -> the
    warnings the progress line shows (a single run's live diagnosis)."""
    cfg, device = slots[0].session.cfg, slots[0].session.device
    recorded = [x for x in slots if x.recorder is not None]
    watch = DivergenceWatch(device, start, seeds=len(slots))
    if compiles(cfg, choice):   # on the first call of a compiled player (step 0's snapshot) or engine
        progress.note(COMPILING)
    with DeferInterrupt() as interrupt:
        if start == 0:
            for x in recorded:
                x.last = record_step(x, 0, {}, log=True, snap=True, save=False)
        # closed however the loop ends: a traceback the caller keeps (a notebook's last error) holds the
        # engine, and its seed threads would live on with it
        with closing(build(choice, cfg, [x.session for x in slots], start, watch.observe)) as engine:
            t0, step = time.perf_counter(), start
            progress.begin()
            for step in range(start + 1, cfg.steps + 1):
                stats = engine.step()
                stop = interrupt.hit  # read once: a signal may land anywhere in this step
                log, snap, save = due(cfg, step, stop)
                if not (log or save):
                    continue
                for i, x in enumerate(slots):
                    if x.result is None and x.recorder is not None:
                        engine.export(i)
                        bad = watch.first_bad(step, x.session.players, i)
                        if bad:
                            x.result = _diverged(x, *bad)
                            continue
                        written = record_step(x, step, {k: v[i] for k, v in stats.items()}, log, snap, save)
                        x.last = written or x.last
                live = [x for x in recorded if x.result is None]
                if log and live:
                    row = live[0].last if len(slots) == 1 else _mean_row([x.last for x in live])
                    progress.update(step, row, on_row(row) if on_row and len(slots) == 1 else [])
                if stop or (recorded and not live):
                    break
    progress.close()
    elapsed = time.perf_counter() - t0
    done = step == cfg.steps   # Ctrl-C in the last step still finishes the run
    for x in slots:
        if x.result is None:
            status = R.FINISHED if done else R.INTERRUPTED
            if x.recorder is not None:
                x.recorder.end(status, step=step, **({"seconds": round(elapsed, 3), "iterations_per_second":
                               round((step - start) / elapsed, 2) if elapsed > 0 else None} if done else {}))
            x.result = RunResult(x.root, status, step, x.last)
    return [x.result for x in slots]


def _diverged(x: RunSlot, step: int, stats: dict, what: str) -> RunResult:
    """Record the first non-finite step (its values become null) and end the slot's run there."""
    rec = x.recorder
    if stats:
        rec.log(step, **stats)
    detail = f"non-finite {what} at step {step}"
    rec.end(R.DIVERGED, step=step, detail=detail)
    return RunResult(rec.root, R.DIVERGED, step, {R.STEP: step, **stats}, detail)


def _mean_row(rows: list[dict]) -> dict:
    """The progress line's row for several seeds: losses averaged over the live seeds, modes as the mean."""
    mean = {k: float(np.mean([r[k] for r in rows if r.get(k) is not None] or [np.nan])) for k in (R.D_LOSS, R.G_LOSS)}
    return {**mean, R.MODES: round(float(np.mean([r.get(R.MODES) or 0 for r in rows])), 1),
            R.MODE_COUNTS: rows[0].get(R.MODE_COUNTS, [])}
