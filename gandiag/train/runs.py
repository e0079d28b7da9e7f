"""Starting and continuing a run: `run` (a fresh run folder) and `resume` (from its newest checkpoint).

Both take the folder's writer lock before anything is written and hold it to the end, so one folder
has one writer; a second `run` or `resume` of the folder is refused in one line.
"""
from __future__ import annotations

import shutil
import sys
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import torch

from .. import memory, record as R, targets, user_losses
from ..config import Config, from_dict, to_dict
from ..engine import Choice, choose
from ..methods import method_name
from ..record.recorder import Recorder, refuse_a_used_folder, versions
from . import ddp
from .checkpoints import check_belongs, load_checkpoint, refuse_own_loop
from .classifier import load_or_train
from .device import threads
from .loop import RunResult, RunSlot, due, train
from .progress import Progress
from .session import Session, resolve_device


def out_folder(out) -> Path:
    """The run folder a user named (an empty name would be the current directory: refused)."""
    if not str(out).strip():
        raise R.RunError("the run folder's name is empty: give a path, e.g. runs/mine")
    return Path(out)


def default_out(cfg: Config) -> Path:
    return Path("runs") / f"{cfg.scenario}-{method_name(to_dict(cfg))}-{datetime.now():%Y%m%d-%H%M%S}"


def run_target(cfg: Config, device: torch.device):
    """The target a run of cfg trains against (image runs: the cached classifier, trained once if missing)."""
    # training the classifier first takes minutes on a CPU, before any progress line: the run says so
    def note(line: str) -> None:
        print(line, file=sys.stderr, flush=True)
    with ddp.main_first():   # rank 0 may train and cache the classifier that the others then load
        return targets.from_config(cfg, device, load_classifier=lambda: load_or_train(cfg.data_dir, log=note))


def recorder_for(cfg: Config, root: Path, session: Session, record: dict, lock: R.FolderLock,
                 reopen: bool = False) -> Recorder:
    """The Recorder of a trainer's run folder (the lock already held); its arrows follow G's own loss."""
    target = session.target
    options = dict(loss=session.objective.g if cfg.g_loss else cfg.loss, grid_res=cfg.grid_res, grid_chunk=cfg.batch,
                   keep_checkpoints=cfg.keep_checkpoints, lock=lock)
    if reopen:
        return Recorder.reopen(root, record, target, **options)
    return Recorder(root, target, to_dict(cfg), record=record, **options)


def run_record(cfg: Config, device: torch.device, choice: Choice) -> dict:
    """config.json entries of a trainer's run besides the config and target: enough to understand and
    rerun it without the scenario file."""
    own = user_losses.describe(cfg)
    return {"seed": cfg.seed, "method": method_name(to_dict(cfg)), "device": str(device), "engine": choice.record(),
            R.TRAINER: R.GANDIAG_TRAINER, **({"losses": own} if own else {}), **ddp.describe()}


@contextmanager
def locked(root: Path):
    """The folder's writer lock for the block; the Recorder made inside takes it over (and releases it).
    A folder made here that holds no file but the lock when the block fails (a full disk, a refused
    config) is removed again."""
    made = not root.exists()
    lock = R.FolderLock(root).acquire()
    try:
        yield lock
    except BaseException:
        lock.release()
        if made and all(p.is_dir() or p.name == R.LOCK_FILE for p in root.rglob("*")):   # nothing written yet
            shutil.rmtree(root, ignore_errors=True)
        raise


def run(cfg: Config, out: Path | None = None, quiet: bool = False, on_row=None) -> RunResult:
    """Train a fresh run into `out` (default runs/<scenario>-<method>-<time>), a new or empty folder;
    under torchrun, data-parallel over its processes (gandiag.train.ddp)."""
    with ddp.process_group(resolve_device(cfg.device)) as device:
        choice = choose(cfg)   # a config the requested engine cannot run fails before any write
        memory.check_fits(cfg, device=device)   # and so does one that does not fit in memory
        objective = user_losses.objective(cfg)   # a broken loss of the user's fails before any write
        root = ddp.from_main(out_folder(out) if out is not None else default_out(cfg))
        if not ddp.is_main():
            return _follow(cfg, device, choice, root)
        with locked(root) as lock:
            refuse_a_used_folder(root)
            session = Session(cfg, device, run_target(cfg, device), choice, objective)
            ddp.join(session.players, session.gen, cfg.seed)
            with recorder_for(cfg, root, session, run_record(cfg, device, choice), lock) as rec, threads(cfg):
                return train([RunSlot(session, rec, root)], choice, 0,
                             Progress(cfg.steps, quiet=quiet), on_row)[0]


def _follow(cfg: Config, device: torch.device, choice: Choice, root: Path) -> RunResult:
    """A DDP rank other than 0: train in step with rank 0 (the gradient averaging syncs), write nothing."""
    session = Session(cfg, device, run_target(cfg, device), choice)
    ddp.join(session.players, session.gen, cfg.seed)
    with threads(cfg):
        return train([RunSlot(session, None, root)], choice, 0, Progress(cfg.steps, quiet=True))[0]


def resume(root: Path, steps: int | None = None, quiet: bool = False, on_row=None) -> RunResult:
    """Continue a run from its newest checkpoint up to `steps` in total (not extra).

    A run killed before its first checkpoint starts again from step 0: a Session built from the
    recorded config is exactly the state the run began in. Nothing in the folder changes until the
    lock is held and the checkpoint, config and device have all been checked."""
    root = Path(root)
    R.RunReader(root)   # a folder that is no run folder says so first
    with locked(root) as lock:
        progress = Progress(0, quiet=quiet)
        start = prepare_resume(root, steps, progress)
        cfg, session, record = start.cfg, start.session, start.record
        with recorder_for(cfg, root, session, record, lock, reopen=True) as rec, threads(cfg):
            return train([RunSlot(session, rec, root)], start.choice, start.step,
                         Progress(cfg.steps, start=start.step, quiet=quiet), on_row)[0]


class Start:
    """What resuming one folder needs, checked: its config, session (state restored), record and step."""

    def __init__(self, cfg: Config, choice: Choice, session: Session, record: dict, step: int):
        self.cfg, self.choice, self.session, self.record, self.step = cfg, choice, session, record, step


def prepare_resume(root: Path, steps: int | None, progress: Progress, allow_done: bool = False,
                   who: str = "resume") -> Start:
    """Check and load a folder for resuming (the caller holds its lock): the newest checkpoint, which must
    belong to the folder's run; the config it holds with `steps` as the new total; a session restored
    from it; metrics.jsonl cut back to the checkpoint. A damaged config.json is rebuilt from the
    checkpoint, which holds the whole config. allow_done: a run already at `steps` is returned as it is
    (a multi-seed pass resumes its unfinished seeds only). who: what its notes begin with (a pass's seeds
    name their folders)."""
    reader = R.RunReader(root)
    refuse_own_loop(reader, "gandiag's trainer cannot continue it; your loop can, with "
                            "gandiag.Recorder.resume(folder, step, ...)")
    ckpts = reader.checkpoint_steps()
    path = root / R.CHECKPOINT_DIR / R.checkpoint_name(ckpts[-1]) if ckpts else None
    ckpt = load_checkpoint(path) if path else None
    repaired = False
    try:
        record = reader.record
    except R.RunError:
        if ckpt is None:
            raise
        repaired = True
        record = {R.RUN_ID: ckpt.get(R.RUN_ID), "config": ckpt["config"], "repaired": "from " + path.name}
        was = "damaged" if (root / R.CONFIG_FILE).is_file() else "missing"
        progress.note(f"{root / R.CONFIG_FILE} was {was}: rebuilt from checkpoint {path.name}")
    if ckpt is not None:
        check_belongs(ckpt, record, path)
    done = ckpt["step"] if ckpt else 0
    saved = ckpt["config"] if ckpt else record["config"]
    cfg = from_dict({**saved, **({"steps": steps} if steps is not None else {})})
    if cfg.steps <= done and not allow_done:
        if reader.status.get("status") == R.INTERRUPTED and done == cfg.steps:
            R.atomic_write_json(root / R.STATUS_FILE, {**reader.status, "status": R.FINISHED})
            raise R.RunError(f"{root} had trained all its {done} steps when it was interrupted: it is finished "
                             "(status.json now says so); pass a larger --steps to train on")
        raise R.RunError(f"{root} is already at step {done}: pass --steps larger than that (a total, not extra)")
    device = _resume_device(cfg, ckpt, path)
    choice = choose(cfg)
    memory.check_fits(cfg, device=device)
    trained_on = reader.points()   # the folder's copy: the points file may since have changed or moved
    target = run_target(cfg, device) if trained_on is None else \
        targets.points_target(trained_on, cfg.target_modes or None, name=Path(cfg.data_file).stem)
    changed = (target.changed_since(record) if isinstance(target, targets.ImageTarget) else None) or \
        user_losses.changed_since(record)
    if changed:
        raise R.RunError(f"{root} cannot go on as the same run: {changed}, or start a new run")
    session = Session(cfg, device, target, choice, user_losses.objective(cfg, record))   # its files where it started
    if ckpt:
        _restore(session, ckpt, path)
    _cut_metrics(root, done if ckpt else None, from_dict(saved), progress, who)
    # a rebuilt record names gandiag's trainer again (and the engine, seed, device): without it the folder
    # would read as a user's own loop's, which the next resume refuses
    rebuilt = run_record(cfg, device, choice) if repaired else {}
    record = {**rebuilt, **record, "config": to_dict(cfg), **target.record(), "versions": versions(),
              "resumed_from": [*record.get("resumed_from", []), done]}
    return Start(cfg, choice, session, record, done)


def _resume_device(cfg: Config, ckpt: dict | None, path: Path | None) -> torch.device:
    """The device the checkpoint was written on: random streams differ between devices."""
    if ckpt is None:
        return resolve_device(cfg.device)
    if ckpt["device"] == "cuda" and not torch.cuda.is_available():
        raise R.RunError(f"checkpoint {path} was written on CUDA and this machine has none: "
                         "resume it on a machine with CUDA")
    return torch.device(ckpt["device"])


def _restore(s: Session, ckpt: dict, path: Path) -> None:
    try:
        s.load_state(ckpt)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise R.RunError(f"checkpoint {path} does not fit its own config ({type(e).__name__}): it is damaged "
                         "or foreign; delete it to resume from an earlier one") from None


def _cut_metrics(root: Path, step: int | None, saved: Config, progress: Progress, who: str) -> None:
    """Keep the rows up to the checkpoint at `step` byte for byte and drop the rest (a killed run wrote them,
    the last maybe half; the resumed run writes them again), saying what was dropped or is missing (saved:
    the config the checkpoint was written under, which says which steps owe a row).
    step None: no checkpoint yet, every row is trained again from step 0."""
    path = root / R.METRICS_FILE
    data = path.read_bytes() if path.is_file() else None
    raw = 0 if data is None else data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    upto = -1 if step is None else step   # the last step kept
    lines, kept = R.cut_rows(path, upto)
    garbled, dropped = raw - len(lines), len(lines) - len(kept)
    if step is None:
        again = f" ({dropped} metrics row{'s' if dropped != 1 else ''} trained again)" if dropped else ""
        progress.note(f"{who}: no checkpoint yet: starting again from step 0{again}")
    elif dropped:
        progress.note(f"{who}: {dropped} metrics rows after the checkpoint (step {step}) are trained again")
    if garbled and path.stat().st_size:
        progress.note(f"{who}: {garbled} damaged line(s) of {path.name} (a killed write) left out")
    last = max([row[R.STEP] for _, row in lines if row[R.STEP] <= upto], default=None)
    if step and last is not None:
        # a checkpoint between log steps (Ctrl-C's, or checkpoint_every off the log grid) owes no row of its own;
        # the search ends within log_every steps, at a multiple of it
        owed = next(s for s in range(step, -1, -1) if due(saved, s, False)[0])
        if last < owed:
            progress.note(f"{who}: {path.name} holds rows only up to step {last}, the checkpoint is at step {step}: "
                          f"the rows after step {last} up to step {owed} are lost (the run itself continues exactly)")
