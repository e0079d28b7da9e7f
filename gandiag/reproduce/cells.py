"""A protocol's cells (one run folder per scenario, method and seed) and how they get trained.

    OUT/cells/<scenario>/<method>/seed_<s>/     an ordinary run folder: analyze, report, resume work on it

A cell is trained by gandiag.train's public run / resume, here in this process, in --jobs worker
processes, or as scheduler jobs through submitit (--launcher slurm); fresh seeds of one scenario and
method can be trained together, as one stacked pass (run_pass) that writes each cell's own folder
(on a GPU, where a step's cost is mostly per-operation overhead). Whatever trained it, a cell is
done when its folder says finished (or diverged) at the protocol's steps with the protocol's config; an
interrupted or killed cell resumes from its newest checkpoint, so rerunning the same command goes on
where it stopped and never retrains a finished cell.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from .. import record as R
from ..config import from_dict, to_dict
from ..machine import cpu_share

#: how a cell stands before anything is trained
TODO, RESUME, DONE, BUSY = "todo", "resume", "done", "busy"
#: config fields that do not change what a cell trains or measures (steps are compared on their own)
NOT_COMPARED = ("steps", "checkpoint_every", "keep_checkpoints", "threads", "seed_workers", "device")
#: RunReader.status of a folder whose status.json is missing or unreadable
UNREADABLE = "unknown"


@dataclass(frozen=True)
class Cell:
    scenario: str
    method: str
    seed: int
    config: dict      # to_dict of the cell's Config
    folder: Path

    @property
    def name(self) -> str:
        return f"{self.scenario}/{self.method}/seed {self.seed}"


class ConfigDiffers(R.RunError):
    """A cell's folder holds a run whose config differs from the cell's in `key` (the first such field):
    `there` in the folder, `wanted` now. The reproduction says where each value came from."""

    def __init__(self, folder: Path, key: str, there, wanted):
        super().__init__(f"{folder} holds a run of another configuration ({key} = {there!r} there, {wanted!r} now): "
                         "give another --out, or delete the folder to train it anew")
        self.folder, self.key, self.there, self.wanted = folder, key, there, wanted


def cell_folder(out: Path, scenario: str, method: str, seed: int) -> Path:
    return Path(out) / "cells" / scenario / method / f"seed_{seed}"


def state(cell: Cell) -> str:
    """TODO (no run yet), RESUME (interrupted, killed, or finished short of the steps), DONE, or BUSY (another
    process trains it now); a folder holding another configuration is a RunError."""
    folder = cell.folder
    if not (folder / R.CONFIG_FILE).is_file():
        return TODO
    reader = R.RunReader(folder)
    recorded, wanted = to_dict(from_dict(reader.config)), cell.config   # fields added since: their defaults
    differs = sorted(k for k in wanted if k not in NOT_COMPARED and recorded.get(k) != wanted[k])
    status = reader.status
    step, steps = status.get("step", 0), cell.config["steps"]
    if differs or recorded["steps"] > steps:
        what = differs[0] if differs else "steps"
        raise ConfigDiffers(folder, what, recorded[what], wanted[what])
    if status["status"] == R.RUNNING:
        return BUSY
    if status["status"] == R.DIVERGED or (status["status"] == R.FINISHED and step >= steps):
        return DONE
    return _by_checkpoint(reader, status, steps)


def _by_checkpoint(reader: R.RunReader, status: dict, steps: int) -> str:
    """A cell neither done nor training: interrupted, killed, finished short of the steps, or of a status.json
    emptied, truncated or lost (a write killed mid-way, a full disk). Its newest checkpoint says where it
    stands. Short of the steps, it resumes from there. At them, with its last metrics row too, its run ended
    (a Ctrl-C or a kill after its last step) and status.json is written anew: resuming would refuse it as
    already at its steps. At them with its metrics short of them, it cannot be told from a damaged cell: a
    RunError."""
    folder, ckpts = reader.root, reader.checkpoint_steps()
    if R.writer_alive(folder):
        return BUSY
    if not ckpts or ckpts[-1] != steps:
        return RESUME
    now = status["status"]
    said, was = ("is unreadable", "was unreadable") if now == UNREADABLE else (f"says {now}", f"said {now}")
    rows = reader.metrics()
    if not rows or rows[-1].get(R.STEP) != steps:
        raise R.RunError(f"{folder / R.STATUS_FILE} {said} and the cell's {R.METRICS_FILE} ends short of its "
                         f"checkpoint at step {steps:,}: delete the folder {folder} and rerun to train the cell again")
    R.atomic_write_json(folder / R.STATUS_FILE, {
        **status, "status": R.FINISHED, "step": steps,
        "detail": f"written anew by gandiag reproduce: {R.STATUS_FILE} {was}, and the "
                  f"newest checkpoint and the last metrics row are at the run's {steps:,} steps"})
    return DONE


def train_cell(cell: Cell) -> str:
    """Bring one cell to its steps (a fresh run, or a resume), in this process; returns its status
    (finished, diverged, interrupted; BUSY when another process holds it). Safe to call twice: a done cell
    returns at once, which is what makes a rerun, or a duplicate scheduler job, harmless."""
    from ..train import resume, run
    now = state(cell)
    if now in (DONE, BUSY):
        return R.RunReader(cell.folder).status["status"] if now == DONE else BUSY
    try:
        if now == TODO:
            _clear_a_start(cell.folder)
            return run(from_dict(cell.config), cell.folder, quiet=True).status
        return resume(cell.folder, cell.config["steps"], quiet=True).status
    except R.RunError as e:
        if "being written by another process" in str(e):   # it started elsewhere since we looked
            return BUSY
        raise


#: cells trained together: one, or fresh seeds of one scenario and method as one pass
Unit = tuple[Cell, ...]


def units(cells: list[Cell], fresh: set[str], per_pass) -> list[Unit]:
    """The cells in their order, those named in `fresh` (nothing trained yet) grouped by scenario and method
    into passes of up to per_pass(cell) seeds, each at its group's first cell; every other cell alone."""
    out, open_passes = [], {}
    for cell in cells:
        key = (cell.scenario, cell.method)
        if cell.name not in fresh or per_pass(cell) <= 1:
            out.append([cell])
            continue
        if key not in open_passes:
            open_passes[key] = []
            out.append(open_passes[key])
        open_passes[key].append(cell)
        if len(open_passes[key]) == per_pass(cell):
            del open_passes[key]
    return [tuple(unit) for unit in out]


def seeds_per_pass(cell: Cell, seeds: int, jobs: int = 1) -> int:
    """How many fresh seeds of a cell's scenario and method one pass trains where --seeds-per-pass is not
    given: on a CUDA device as many as fit in its memory (there a step's cost is mostly per-operation
    overhead, which a stacked pass shares); on the CPU as many as the pass has seed threads (config
    seed_workers; under auto, its worker's share of the CPUs at the run's intra-op threads each): a step
    there is arithmetic, which stacking does not share, so the seeds of a pass go side by side on the
    cores, and a pass of more would only queue them."""
    import torch

    from .. import memory
    from ..train import resolve_device, run_threads
    cfg = from_dict(cell.config)
    device = resolve_device(cfg.device)
    if device.type == "cuda":
        return max(memory.most_seeds(cfg, seeds, device), 1)
    threads = run_threads(cfg) or torch.get_num_threads()
    return min(seeds, cfg.seed_workers or max(1, cpu_share(jobs) // threads))


def train_unit(unit: Unit) -> list[str]:
    """Bring a unit's cells to their steps: one as train_cell does, several as one pass; their statuses.
    A cell of a pass that another process started since the plan, or finished, has each cell go alone."""
    if len(unit) == 1:
        return [train_cell(unit[0])]
    from ..train import run_pass
    if any(state(cell) != TODO for cell in unit):
        return [train_cell(cell) for cell in unit]
    for cell in unit:
        _clear_a_start(cell.folder)
    try:
        return [r.status for r in run_pass([from_dict(c.config) for c in unit], [c.folder for c in unit], quiet=True)]
    except R.RunError as e:
        if "being written by another process" in str(e):
            return [train_cell(cell) for cell in unit]
        raise


def _clear_a_start(folder: Path) -> None:
    """A run killed before its config.json was written left empty folders and perhaps the temp file of that
    write: remove them, so the cell starts afresh (anything else stays, and the run refuses it in one line)."""
    if folder.is_dir():
        R.discard_partial_writes(folder)
        for p in folder.iterdir():
            if p.is_dir() and not any(p.iterdir()):
                p.rmdir()


def train_local(work: list[Unit], jobs: int, on_done=None) -> dict[str, str]:
    """Train the units here (jobs = 1) or in `jobs` worker processes; {cell name: status}. Ctrl-C (here or
    in a worker) stops every cell in flight at a checkpoint and starts no other, and once the workers have
    stopped raises KeyboardInterrupt: a rerun resumes from there."""
    results = {}

    def collect(unit: Unit, statuses: list[str]) -> None:
        for cell, status in zip(unit, statuses):
            results[cell.name] = status
            if on_done:
                on_done(cell, status)
        if R.INTERRUPTED in statuses:   # the cells' training loop took the Ctrl-C and checkpointed
            raise KeyboardInterrupt

    if jobs <= 1:
        for unit in work:
            collect(unit, train_unit(unit))
        return results
    # spawn, not fork: a forked child of a process that has run torch's thread pool can hang
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker, initargs=(stop, jobs))
    try:
        with _sigterm_as_ctrl_c():
            with _ctrl_c_held():   # the workers start now (ProcessPoolExecutor spawns them as cells are submitted)
                futures = [(pool.submit(_train_in_worker, unit), unit) for unit in work]
            for future, unit in futures:
                collect(unit, future.result())
    except KeyboardInterrupt:
        stop.set()
        raise
    finally:
        pool.shutdown(cancel_futures=True)   # waits for the cells in flight: after a Ctrl-C, their checkpoints
    return results


@contextmanager
def _sigterm_as_ctrl_c():
    """SIGTERM (a scheduler's or `kill`'s stop) taken as a Ctrl-C in this process: by default it ends the
    command at once and leaves its workers training, unwatched. (A handler can be set in the main thread only.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _ctrl_c_held():
    """SIGINT held back in this thread: a process started meanwhile starts with it held, and this one gets
    a Ctrl-C pressed meanwhile on leaving."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


#: in a worker process: set once a Ctrl-C reached any process of the pool
_stop = None
#: in a worker: the seed threads of its passes where a cell leaves them to auto (config seed_workers = 0),
#: the machine's CPUs shared among the --jobs workers (auto alone would take them all in every worker)
_seed_workers = 1


def _start_worker(stop, jobs: int) -> None:
    """A worker's start. Between cells it ignores Ctrl-C (it has nothing to stop, and would print a
    traceback); held since its start (_ctrl_c_held), one pressed while it started is dropped here. Once
    `stop` is set it interrupts itself, so that a Ctrl-C that reached only the parent, or came while this
    worker was between cells, still stops its cell. Its passes take a 1 / jobs share of the CPUs."""
    global _stop, _seed_workers
    _stop, _seed_workers = stop, cpu_share(jobs)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    threading.Thread(target=_interrupt_when, args=(stop,), daemon=True).start()


def _interrupt_when(stop) -> None:
    stop.wait()
    os.kill(os.getpid(), signal.SIGINT)


def _train_in_worker(unit: Unit) -> list[str]:
    """train_unit in a worker: a Ctrl-C stops its cells as it stops a `gandiag run`, and the other workers
    with it; a unit not begun when one came stays TODO."""
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if _stop.is_set():
            return [TODO] * len(unit)
        statuses = train_unit(tuple(replace(cell, config={**cell.config, "seed_workers": _seed_workers})
                                    if cell.config["seed_workers"] == 0 else cell for cell in unit))
    except KeyboardInterrupt:   # before or after the training loop: the runs' Recorders marked them interrupted
        statuses = [R.INTERRUPTED] * len(unit)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if R.INTERRUPTED in statuses:
        _stop.set()
    return statuses


def train_group(unit: Unit) -> list[str]:
    """A scenario and method's fresh seeds, as a job trains them: in passes of seeds_per_pass on the machine
    that runs it, one after another; their statuses."""
    size = seeds_per_pass(unit[0], len(unit))
    return [status for start in range(0, len(unit), size) for status in train_unit(unit[start:start + size])]


def submit(work: list[Unit], executor, by_node: bool = False) -> list:
    """Submit each unit as a job of a submitit executor (slurm, or its local executor): as one pass, or
    (by_node) as train_group's passes. The jobs (each one's result: its cells' statuses)."""
    train = train_group if by_node else train_unit
    with executor.batch():
        jobs = [executor.submit(train, unit) for unit in work]
    return jobs


def slurm_executor(folder: Path, parameters: dict):
    """submitit's executor for a Slurm cluster, its logs under `folder`; parameters are its own
    (slurm_partition, timeout_min, gpus_per_node, ...)."""
    try:
        import submitit
    except ImportError:
        raise R.RunError("--launcher slurm submits through submitit: pip install 'gandiag[slurm]'") from None
    try:
        executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
    except RuntimeError as e:   # submitit's own words: no srun on this machine
        raise R.RunError(f"--launcher slurm: {e} (run on the cluster's login node, or use --launcher local)") from None
    executor.update_parameters(**parameters)
    return executor
