"""Many seeds of one config (`gandiag run --seeds N`): one pass of the training loop over N seed slots.

    OUT/seeds.json          the pass: its config, seeds and engine (what `gandiag resume OUT` reads)
    OUT/seed_<s>/           an ordinary run folder per seed: analyze, report, resume work on it alone
    OUT/summary.json        each seed's final mode metrics with their mean and standard error

On the fast engine the seeds are stacked and trained together; on the reference engine the loop steps
them one after another. Either way seed s of the pass trains exactly what `gandiag run --seed s` does
(tests/test_seeds.py). `gandiag resume OUT` continues every unfinished seed from their newest common
checkpoint, in one pass again, and then writes summary.json.
"""
from __future__ import annotations

import json
import math
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from .. import memory, record as R
from ..config import FIELDS, IMAGE_DATA, Config, ConfigError, from_dict, to_dict
from ..engine import choose
from ..record.recorder import refuse_a_used_folder
from .device import threads
from .loop import EXIT_DIVERGED, EXIT_INTERRUPTED, RunResult, RunSlot, train
from .progress import Progress
from .runs import default_out, locked, out_folder, prepare_resume, recorder_for, run_record, run_target
from .session import Session, resolve_device

SUMMARY_FILE = "summary.json"
#: final-row metrics summarised over seeds; image runs have no high-quality share but the classifier's measures
SUMMARY_KEYS = (R.MODES, R.MODES_STRICT, R.HQ, R.REVERSE_KL)
IMAGE_SUMMARY_KEYS = (R.MODES, R.MODES_STRICT, R.CLASSIFIER_SCORE, R.FRECHET_DISTANCE, R.REVERSE_KL)
#: the summary table's columns: title, scale, digits of a seed's value, digits of the mean and s.e.
COLUMNS = {R.MODES: ("modes", 1, 0, 2), R.MODES_STRICT: ("strict", 1, 0, 2), R.HQ: ("HQ %", 100, 1, 2),
           R.REVERSE_KL: ("reverse KL", 1, 3, 3), R.CLASSIFIER_SCORE: ("clf score", 1, 2, 2),
           R.FRECHET_DISTANCE: ("Frechet", 1, 1, 1)}


def seed_folder(root: Path, seed: int) -> Path:
    return Path(root) / f"seed_{seed}"


def seed_configs(cfg: Config, n: int) -> list[Config]:
    """Seeds cfg.seed, cfg.seed + 1, ..., cfg.seed + n - 1 of one config; a last seed beyond the largest
    seed is refused as the pass's (--seed is within its range, the seeds it derives may not be)."""
    top = FIELDS["seed"].metadata["hi"]
    if cfg.seed + n - 1 > top:
        raise ConfigError(f"--seed {cfg.seed} with --seeds {n} is not allowed: the pass's last seed, --seed + --seeds "
                          f"- 1 = {cfg.seed + n - 1}, exceeds {top}; give a smaller --seed (at most {top - n + 1})")
    return [from_dict({**to_dict(cfg), "seed": cfg.seed + i}) for i in range(n)]


def is_pass(root: Path) -> bool:
    return (Path(root) / R.SEEDS_FILE).is_file()


def run_seeds(cfg: Config, n: int, out: Path | None = None, quiet: bool = False) -> dict:
    """Train n seeds of cfg into `out` (default runs/<scenario>-<method>-seeds<n>-<time>), a new or empty
    folder; returns the summary."""
    if n < 1:
        raise R.RunError(f"--seeds {n} is not allowed: give a number of seeds >= 1")
    root = out_folder(out) if out is not None else Path(f"{default_out(cfg)}-seeds{n}")
    device = resolve_device(cfg.device)
    memory.check_fits(cfg, n, device=device)   # before n configs are even made
    cfgs, choice = seed_configs(cfg, n), choose(cfg)
    with locked(root) as lock:
        try:
            refuse_a_used_folder(root)
            R.atomic_write_json(root / R.SEEDS_FILE, {"config": to_dict(cfg), "seeds": [c.seed for c in cfgs],
                                                    "engine": choice.record()})
            results = _train_pass(cfgs, [seed_folder(root, c.seed) for c in cfgs], device, choice, quiet,
                                  {"folder": ".."})
            return write_summary(root, cfgs, results)
        finally:
            lock.release()


def run_pass(cfgs: list[Config], folders: list[Path], quiet: bool = False) -> list[RunResult]:
    """Train configs that differ in their seed only as one pass (stacked on the fast engine), each into its
    own new or empty folder: an ordinary run folder, as `run` writes it (what seed s of a pass trains is
    what it trains alone). What `gandiag reproduce` stacks its cells with."""
    if len({json.dumps({**to_dict(c), "seed": 0}, sort_keys=True) for c in cfgs}) != 1:
        raise ValueError("a pass trains seeds of one config: these configs differ in more than their seed")
    device, choice = resolve_device(cfgs[0].device), choose(cfgs[0])
    memory.check_fits(cfgs[0], len(cfgs), device=device)
    return _train_pass(cfgs, [Path(f) for f in folders], device, choice, quiet, {})


def _train_pass(cfgs: list[Config], folders: list[Path], device, choice, quiet: bool, record: dict) -> list[RunResult]:
    """The pass: a session and recorder per folder, one training loop over them all. record: what the
    folders' config.json holds of the pass besides its seeds."""
    with ExitStack() as stack:
        slots = []
        for c, folder in zip(cfgs, folders):
            lock = stack.enter_context(locked(folder))
            refuse_a_used_folder(folder)
            session = Session(c, device, run_target(c, device), choice)
            extra = {**run_record(c, device, choice), "pass": {**record, "seeds": [x.seed for x in cfgs]}}
            rec = stack.enter_context(recorder_for(c, folder, session, extra, lock))
            slots.append(RunSlot(session, rec, folder))
        with threads(cfgs[0]):
            return train(slots, choice, 0, Progress(cfgs[0].steps, quiet=quiet))


def resume_seeds(root: Path, steps: int | None = None, quiet: bool = False) -> dict:
    """Continue a multi-seed pass: every seed that has not finished or diverged resumes from the newest
    checkpoint all of them hold, in one pass; then summary.json is written (again)."""
    root = Path(root)
    with locked(root) as lock:
        try:
            spec = _read_pass(root)
            cfgs = [from_dict({**spec["config"], "seed": s}) for s in spec["seeds"]]
            memory.check_fits(cfgs[0], len(cfgs), device=resolve_device(cfgs[0].device))
            progress = Progress(0, quiet=quiet)
            with ExitStack() as stack:
                folder_locks = {c.seed: stack.enter_context(_held(seed_folder(root, c.seed))) for c in cfgs}
                todo, results = _unfinished(root, cfgs, steps)
                if not todo:
                    _refuse_a_finished_pass(root, cfgs, results)
                slots = []
                if todo:
                    common = _common_checkpoint([seed_folder(root, c.seed) for c in todo])
                    for c in todo:
                        folder = seed_folder(root, c.seed)
                        _keep_checkpoints_up_to(folder, common)
                        start = prepare_resume(folder, steps, progress, who=f"resume {folder.name}")
                        rec = stack.enter_context(recorder_for(start.cfg, folder, start.session, start.record,
                                                               folder_locks[c.seed], reopen=True))
                        slots.append((c.seed, RunSlot(start.session, rec, folder), start))
                    first = slots[0][2]
                    with threads(first.cfg):
                        trained = train([x for _, x, _ in slots], first.choice, first.step,
                                        Progress(first.cfg.steps, start=first.step, quiet=quiet))
                    results.update({seed: r for (seed, _, _), r in zip(slots, trained)})
            return write_summary(root, cfgs, [results[c.seed] for c in cfgs])
        finally:
            lock.release()


class _held:
    """A seed folder's writer lock as a context manager (the Recorder that reopens it takes it over)."""

    def __init__(self, folder: Path):
        self.lock = R.FolderLock(folder)

    def __enter__(self) -> R.FolderLock:
        return self.lock.acquire()

    def __exit__(self, *exc) -> None:
        self.lock.release()


def _read_pass(root: Path) -> dict:
    try:
        spec = json.loads((root / R.SEEDS_FILE).read_text(encoding="utf-8"))
        from_dict(spec["config"])
        assert isinstance(spec["seeds"], list) and spec["seeds"] and all(isinstance(s, int) for s in spec["seeds"])
    except (OSError, ValueError, KeyError, TypeError, AssertionError):
        raise R.RunError(f"{root / R.SEEDS_FILE} is damaged: resume the seeds one by one (gandiag resume "
                         f"{root}/seed_<s>)") from None
    return spec


def _unfinished(root: Path, cfgs: list[Config], steps: int | None) -> tuple[list[Config], dict[int, RunResult]]:
    """(the seeds to train on, the results of those that are done: finished at the total, or diverged)."""
    todo, done = [], {}
    for c in cfgs:
        folder = seed_folder(root, c.seed)
        total = steps if steps is not None else c.steps
        status = R.RunReader(folder).status if (folder / R.CONFIG_FILE).is_file() else {"status": "unknown"}
        reader = R.RunReader(folder) if (folder / R.CONFIG_FILE).is_file() else None
        last = reader.metrics()[-1] if reader and reader.metrics() else {}
        at = status.get("step", 0)
        if status["status"] == R.DIVERGED:
            done[c.seed] = RunResult(folder, R.DIVERGED, at, last, status.get("detail", ""))
        elif status["status"] in (R.FINISHED, R.INTERRUPTED) and at >= total:   # Ctrl-C in its last step
            done[c.seed] = RunResult(folder, R.FINISHED, at, last)
        else:
            todo.append(c)
    return todo, done


def _refuse_a_finished_pass(root: Path, cfgs: list[Config], results: dict[int, RunResult]) -> None:
    """Nothing to train: every seed is at the total (or diverged). summary.json is brought up to date (a
    kill may have come before it was written), then refused as a finished single run is."""
    finished = sorted({r.step for r in results.values() if r.status == R.FINISHED})
    if not finished:
        return   # every seed diverged: the summary says so, with the diverged exit code
    write_summary(root, cfgs, [results[c.seed] for c in cfgs])
    at = f"step {finished[0]}" if len(finished) == 1 else f"steps {', '.join(map(str, finished))}"
    diverged = [c.seed for c in cfgs if results[c.seed].status == R.DIVERGED]
    who = f"every seed but the diverged (seed {', '.join(map(str, diverged))})" if diverged else "every seed"
    raise R.RunError(f"{root}: {who} is already at {at}: pass --steps larger than {finished[-1]} (a total, not extra); "
                     f"{root / SUMMARY_FILE} is up to date")


def _common_checkpoint(folders: list[Path]) -> int | None:
    """The newest checkpoint step every folder holds (the stacked engine needs one step count), or None."""
    common = set.intersection(*(set(R.RunReader(f).checkpoint_steps()) for f in folders))
    return max(common) if common else None


def _keep_checkpoints_up_to(folder: Path, step: int | None) -> None:
    """Set aside a seed's checkpoints newer than the pass's common one (a kill can land between two
    seeds' writes), so it resumes from the common step; with none in common, from the start."""
    for s in R.RunReader(folder).checkpoint_steps():
        if step is None or s > step:
            (folder / R.CHECKPOINT_DIR / R.checkpoint_name(s)).unlink()


def write_summary(root: Path, cfgs: list[Config], results: list[RunResult]) -> dict:
    summary = summarize(cfgs, results, choose(cfgs[0]).record())
    R.atomic_write_json(Path(root) / SUMMARY_FILE, summary)
    return summary


def summarize(cfgs: list[Config], results: list[RunResult], engine: dict) -> dict:
    """Each seed's status and final metrics, and per metric the mean and standard error over the seeds
    that have it (standard deviation with n - 1, over sqrt(n); null for a single seed)."""
    keys = IMAGE_SUMMARY_KEYS if cfgs[0].data in IMAGE_DATA else SUMMARY_KEYS
    runs = [{"seed": c.seed, "folder": str(r.path), "status": r.status, "step": r.step,
             **{k: r.last.get(k) for k in keys}} for c, r in zip(cfgs, results)]
    stats = {}
    for key in keys:
        values = np.asarray([row[key] for row in runs if row[key] is not None], dtype=np.float64)
        sem = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else None
        stats[key] = {"mean": float(values.mean()) if len(values) else None, "sem": sem, "n": len(values)}
    return {"config": to_dict(cfgs[0]), "seeds": [c.seed for c in cfgs], "engine": engine, "runs": runs,
            "summary": stats}


def format_summary(summary: dict) -> str:
    """A plain-text table: one row per seed, then the mean and the standard error over the seeds."""
    cols = [(k, *COLUMNS[k]) for k in summary["summary"]]
    cell = lambda v, scale, digits: f"{'-' if v is None else f'{v * scale:.{digits}f}':>12}"  # noqa: E731
    lines = [f"{'seed':>6}  {'status':<12}" + "".join(f"{title:>12}" for _, title, *_ in cols)]
    for row in summary["runs"]:
        lines.append(f"{row['seed']:>6}  {row['status']:<12}" + "".join(
            cell(row[k], scale, digits) for k, _, scale, digits, _ in cols))
    for stat in ("mean", "sem"):
        lines.append(f"{'s.e.' if stat == 'sem' else stat:>6}  {'':<12}" + "".join(
            cell(summary["summary"][k][stat], scale, digits) for k, _, scale, _, digits in cols))
    root = Path(summary["runs"][0]["folder"]).parent
    lines.append(f"run folders: {root}/seed_<seed>   summary: {root / SUMMARY_FILE}")
    lines.append(f"next: gandiag analyze {root}   |   gandiag report {root}")
    return "\n".join(lines)


def exit_code(summary: dict) -> int:
    """gandiag run's exit code for a multi-seed run: as a single run's, from the worst seed."""
    statuses = {row["status"] for row in summary["runs"]}
    return EXIT_DIVERGED if R.DIVERGED in statuses else EXIT_INTERRUPTED if R.INTERRUPTED in statuses else 0
