"""Many seeds of one config (`gandiag run --seeds N`): trained in one vectorised pass on the fast path.

Seed s gets the folder OUT/seed_<s>, an ordinary run folder (config.json with that seed, metrics,
snapshots, checkpoints), so analyze, report and resume work on it alone; seed s of the pass computes
the run `gandiag run --seed s` makes. OUT/summary.json holds each seed's final mode metrics with
their mean and standard error. Where the fast path does not apply the seeds run one after another on
the reference path, with the same folders and summary.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import record as R
from ..config import Config, from_dict, to_dict
from ..record import RunError
from ..train.guards import DeferInterrupt, DivergenceWatch
from ..train.loop import (RunResult, Session, _diverged, _snapshot, default_out, due, record_step, resolve_device,
                          run, run_record)
from ..train.device import compiles, threads
from ..train.progress import COMPILING, Progress
from .graphed import iteration
from .step import FastStep
from .support import choose

SUMMARY_FILE = "summary.json"
#: final-row metrics summarised over seeds
SUMMARY_KEYS = (R.MODES, R.MODES_STRICT, R.HQ, R.REVERSE_KL)


def seed_folder(root: Path, seed: int) -> Path:
    return Path(root) / f"seed_{seed}"


def seed_configs(cfg: Config, n: int) -> list[Config]:
    """Seeds cfg.seed, cfg.seed + 1, ..., cfg.seed + n - 1 of one config."""
    return [from_dict({**to_dict(cfg), "seed": cfg.seed + i}) for i in range(n)]


def run_seeds(cfg: Config, n: int, out: Path | None = None, quiet: bool = False) -> dict:
    """Train n seeds of cfg into `out` (default runs/<scenario>-<method>-seeds<n>-<time>); returns the summary."""
    if n < 1:
        raise RunError(f"--seeds {n} is not allowed: give a number of seeds >= 1")
    root = Path(out) if out else Path(f"{default_out(cfg)}-seeds{n}")
    cfgs = seed_configs(cfg, n)
    taken = [c.seed for c in cfgs if (seed_folder(root, c.seed) / R.CONFIG_FILE).exists()]
    if taken or (root / SUMMARY_FILE).exists():
        raise RunError(f"{root} already holds runs: choose another --out")
    if choose(cfg).name == "fast":
        results = _vectorised(cfgs, root, quiet)
    else:
        results = [run(c, seed_folder(root, c.seed), quiet=quiet) for c in cfgs]
    summary = summarize(cfgs, results)
    R.atomic_write_json(root / SUMMARY_FILE, summary)
    return summary


def summarize(cfgs: list[Config], results: list[RunResult]) -> dict:
    """Each seed's status and final metrics, and per metric the mean and standard error over the seeds
    that have it (standard deviation with n - 1, over sqrt(n); null for a single seed)."""
    runs = [{"seed": c.seed, "folder": str(r.path), "status": r.status, "step": r.step,
             **{k: r.last.get(k) for k in SUMMARY_KEYS}} for c, r in zip(cfgs, results)]
    stats = {}
    for key in SUMMARY_KEYS:
        values = np.asarray([row[key] for row in runs if row[key] is not None], dtype=np.float64)
        sem = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else None
        stats[key] = {"mean": float(values.mean()) if len(values) else None, "sem": sem, "n": len(values)}
    return {"config": to_dict(cfgs[0]), "seeds": [c.seed for c in cfgs], "engine": choose(cfgs[0]).record(),
            "runs": runs, "summary": stats}


@dataclass
class _Seed:
    """One seed's share of the vectorised pass: its session and folder writer."""

    session: Session
    writer: R.RunWriter
    last: dict = field(default_factory=dict)
    result: RunResult | None = None      # set once the seed has stopped (diverged)


def _vectorised(cfgs: list[Config], root: Path, quiet: bool) -> list[RunResult]:
    device = resolve_device(cfgs[0].device)
    seeds = []
    for c in cfgs:
        s = Session(c, device)
        seeds.append(_Seed(s, R.RunWriter(seed_folder(root, c.seed))))
    engine = FastStep(cfgs[0], [x.session.players for x in seeds])
    try:
        for x in seeds:
            x.writer.write_config({**run_record(x.session.cfg, x.session),
                                   "engine": {**choose(x.session.cfg).record(), "seeds": [c.seed for c in cfgs]}})
            x.writer.write_status(R.RUNNING, step=0)
            x.last = {R.STEP: 0, **x.session.eval_metrics(), **_snapshot(x.writer, x.session, 0)}
            x.writer.append_metrics(x.last)
        with threads(cfgs[0]):
            _steps(engine, seeds, Progress(cfgs[0].steps, quiet=quiet))
    except Exception as e:
        for x in seeds:
            x.writer.write_status(R.FAILED, detail=f"{type(e).__name__}: {e}")
        raise
    finally:
        for x in seeds:
            x.writer.close()
    return [x.result for x in seeds]


def _steps(engine: FastStep, seeds: list[_Seed], progress: Progress) -> None:
    """The loop of gandiag.train.loop for all seeds in lockstep: a seed that diverges stops recording
    (its slice of the pass goes on, isolated from the others); Ctrl-C checkpoints every seed."""
    cfg = seeds[0].session.cfg
    if compiles(cfg):
        progress.note(COMPILING)
    watch = DivergenceWatch(engine.device, seeds=len(seeds))
    train = iteration(engine, [(x.session.sample_real, x.session.sample_z) for x in seeds],
                      [x.session.gen for x in seeds], watch.observe)
    t0 = time.perf_counter()
    progress.begin()
    with DeferInterrupt() as interrupt:
        for step in range(1, cfg.steps + 1):
            stats = train()
            stop = interrupt.hit
            log, snap, save = due(cfg, step, stop)
            if not (log or save):
                continue
            for i, x in enumerate(seeds):
                if x.result is None:
                    engine.export(i, x.session.players)
                    bad = watch.first_bad(step, x.session.players, i)
                    _record(x, step, {k: v[i] for k, v in stats.items()}, bad, log, snap, save)
            rows = [x.last for x in seeds if x.result is None]
            if log and rows:
                progress.update(step, _mean_row(rows))
            if stop or not rows:
                break
    progress.close()
    elapsed = time.perf_counter() - t0
    for x in seeds:
        if x.result is None:
            status = R.INTERRUPTED if interrupt.hit else R.FINISHED
            x.writer.write_status(status, step=step, **({} if interrupt.hit else {
                "seconds": round(elapsed, 3), "iterations_per_second": round(step / elapsed, 2)}))
            x.result = RunResult(x.writer.root, status, step, x.last)


def _record(x: _Seed, step: int, stats: dict, bad: tuple | None, log: bool, snap: bool, save: bool) -> None:
    if bad:
        x.result = _diverged(x.writer, *bad)
        return
    row = record_step(x.session, x.writer, step, stats, log, snap, save)
    if row is not None:
        x.last = row


def _mean_row(rows: list[dict]) -> dict:
    """The progress line's row: losses averaged over the live seeds, modes as the mean count."""
    mean = {k: float(np.mean([r[k] for r in rows])) for k in (R.D_LOSS, R.G_LOSS)}
    return {**mean, R.MODES: round(float(np.mean([r[R.MODES] for r in rows])), 1),
            R.MODE_COUNTS: rows[0].get(R.MODE_COUNTS, [])}


def format_summary(summary: dict) -> str:
    """A plain-text table: one row per seed, then the mean and the standard error over the seeds."""
    cols = ((R.MODES, "modes", 1), (R.MODES_STRICT, "strict", 1), (R.HQ, "HQ %", 100), (R.REVERSE_KL, "reverse KL", 1))
    cell = lambda v, scale, digits: f"{'-' if v is None else f'{v * scale:.{digits}f}':>12}"  # noqa: E731
    lines = [f"{'seed':>6}  {'status':<12}" + "".join(f"{title:>12}" for _, title, _ in cols)]
    for row in summary["runs"]:
        lines.append(f"{row['seed']:>6}  {row['status']:<12}" + "".join(
            cell(row[k], scale, 3 if k == R.REVERSE_KL else 1 if k == R.HQ else 0) for k, _, scale in cols))
    for stat in ("mean", "sem"):
        lines.append(f"{'s.e.' if stat == 'sem' else stat:>6}  {'':<12}" + "".join(
            cell(summary["summary"][k][stat], scale, 3 if k == R.REVERSE_KL else 2) for k, _, scale in cols))
    root = Path(summary["runs"][0]["folder"]).parent
    lines.append(f"run folders: {root}/seed_<seed>   summary: {root / SUMMARY_FILE}")
    return "\n".join(lines)


def exit_code(summary: dict) -> int:
    """gandiag run's exit code for a multi-seed run: as a single run's, from the worst seed."""
    from ..train import EXIT_DIVERGED, EXIT_INTERRUPTED
    statuses = {row["status"] for row in summary["runs"]}
    return EXIT_DIVERGED if R.DIVERGED in statuses else EXIT_INTERRUPTED if R.INTERRUPTED in statuses else 0
