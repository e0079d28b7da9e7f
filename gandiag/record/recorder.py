"""The Recorder: the one way anything writes a run folder, gandiag's own trainer and a user's loop alike.

    import gandiag
    target = gandiag.target("ring8")              # a scenario, or an (N, 2) array of your own data
    with gandiag.Recorder("runs/mine", target=target, config={"lr": 2e-4}) as rec:
        for step in range(n_steps):
            ...                                   # your own D and G updates
            rec.log(step, d_loss=d_loss, g_loss=g_loss)      # floats or 0-d tensors; extra keys are kept
            if step % 100 == 0:
                rec.snapshot(step, generator=G, discriminator=D, z=z_fixed)

What it assumes of your players (docs/own-loop.md): G maps a batch of z (N, z_dim) to samples (N, 2) or
images (N, C, 28, 28); D maps a batch of samples to one logit per sample, shape (N,) or (N, 1). A D that
returns a probability is declared once: Recorder(..., discriminator_output="probability").
Snapshots never change training: G is sampled in eval mode and D scored in train mode (as G's step
sees it, gandiag.record.snapshot), every buffer, mode and layer's generator put back, the global random
streams forked and restored, and no .grad written.

The recorder holds the folder's lock (record.folder.FolderLock) from the moment it opens until it
closes, so one folder has one writer. A metrics row is written when the next step's values arrive,
at flush(), before a checkpoint and at close: a loop that crashes keeps every row but the one in hand.
"""
from __future__ import annotations

import io
import json
import numbers
import os
import platform
import shutil
import socket
import uuid
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .. import __version__
from ..config import FIELDS, LOSSES
from .folder import (FolderLock, RunError, RunReader, atomic_write_bytes, atomic_write_json, checkpoint_name,
                     cut_rows, discard_partial_writes, json_text, metrics_lines, snapshot_bytes, snapshot_name,
                     snapshot_problem, _steps)
from .keys import (CHECKPOINT_DIR, CONFIG_FILE, FAILED, FINISHED, GANDIAG_TRAINER, INTERRUPTED, LOCK_FILE,
                   METRICS_FILE, MODES, RUN_ID, RUNNING, SEEDS_FILE, SNAP_FAKES, SNAP_IMAGES, SNAPSHOT_DIR, STATUS_FILE,
                   STEP, TARGET_FILE)

#: D's output kinds a recorder accepts
D_OUTPUTS = ("logit", "probability")
#: the generator-manifold view of a 2D latent space: a SIDE x SIDE grid of z over [-REACH, REACH]^2
MANIFOLD_SIDE, MANIFOLD_REACH = 24, 2.0
DEFAULT_GRID_RES = 64


class Recorder:
    """Writes one run folder (see the module's docstring); a context manager that ends the run's status
    as finished, interrupted (Ctrl-C) or failed (an exception)."""

    def __init__(self, root, target=None, config: dict | None = None, *, loss: str = "nonsaturating",
                 discriminator_output: str = "logit", grid_res: int = DEFAULT_GRID_RES, grid_chunk: int | None = None,
                 keep_checkpoints: int = 0, record: dict | None = None, lock: FolderLock | None = None):
        if not str(root).strip():
            raise RunError("the run folder's name is empty: give a path, e.g. runs/mine")
        _refuse_bad_options(target, loss, discriminator_output, grid_res, grid_chunk, keep_checkpoints)
        if not isinstance(config, (dict, type(None))):
            raise RunError(f"config is {_kind(config)}: give a dict (e.g. vars(args) for argparse's arguments)")
        config = _value("config", dict(config or {}))
        self.root = Path(root)
        self.target, self.loss, self.d_output = target, loss, discriminator_output
        self.grid_res, self.grid_chunk, self.keep_checkpoints = grid_res, grid_chunk, keep_checkpoints
        with _as_found_on_failure(self.root, lock) as self._lock:
            refuse_a_used_folder(self.root)
            self.run_id = uuid.uuid4().hex
            self.record = {RUN_ID: self.run_id, "config": config,
                           **(target.record() if target is not None else {}),
                           "recorder": {"loss": _loss_name(loss), "discriminator_output": discriminator_output},
                           "versions": versions(), "created": datetime.now().isoformat(timespec="seconds"),
                           **(record or {})}
            if getattr(target, "points", None) is not None:
                buf = io.BytesIO()
                np.save(buf, target.points)
                atomic_write_bytes(self.root / TARGET_FILE, buf.getvalue())
            self._start()

    @classmethod
    def reopen(cls, root, record: dict, target=None, *, loss: str = "nonsaturating",
               discriminator_output: str = "logit", grid_res: int = DEFAULT_GRID_RES, grid_chunk: int | None = None,
               keep_checkpoints: int = 0, lock: FolderLock | None = None) -> "Recorder":
        """Continue writing a folder (a resumed run): the lock first (or the caller's, already held),
        then `record` as its config.json. The caller has checked that the folder's run and its
        checkpoint belong together."""
        self = cls.__new__(cls)
        self.root, self.target, self.loss, self.d_output = Path(root), target, loss, discriminator_output
        self.grid_res, self.grid_chunk, self.keep_checkpoints = grid_res, grid_chunk, keep_checkpoints
        self._lock = lock or FolderLock(self.root).acquire()
        try:
            self.run_id, self.record = record.get(RUN_ID), record
            discard_partial_writes(self.root)
            self._start()
        except BaseException:
            self._lock.release()
            raise
        return self

    @classmethod
    def resume(cls, root, step, target=None, *, loss: str = "nonsaturating", discriminator_output: str = "logit",
               grid_res: int = DEFAULT_GRID_RES, grid_chunk: int | None = None,
               keep_checkpoints: int = 0) -> "Recorder":
        """Continue recording the folder of your own loop after `step`, the step of the checkpoint your loop
        resumes from: its rows and snapshots after `step` are dropped (your loop trains those steps again;
        its checkpoints are kept), and config.json notes the resumption. Give the target, loss and
        discriminator_output it was recorded with."""
        root = Path(root)
        reader = RunReader(root)   # a folder that is no run folder says so first
        if reader.trainer() == GANDIAG_TRAINER:
            raise RunError(f"{root} is a run of gandiag's trainer: continue it with `gandiag resume {root}`")
        _refuse_bad_options(target, loss, discriminator_output, grid_res, grid_chunk, keep_checkpoints)
        step, record = _step(step), reader.record
        _refuse_another_setting(root, record, target, loss, discriminator_output)
        lock = FolderLock(root).acquire()
        try:
            cut_rows(root / METRICS_FILE, step)
            for later in [t for t in _steps(root / SNAPSHOT_DIR, ".npz") if t > step]:
                (root / SNAPSHOT_DIR / snapshot_name(later)).unlink()
        except BaseException:
            lock.release()
            raise
        return cls.reopen(root, {**record, "resumed_from": [*record.get("resumed_from", []), step]}, target,
                          loss=loss, discriminator_output=discriminator_output, grid_res=grid_res,
                          grid_chunk=grid_chunk, keep_checkpoints=keep_checkpoints, lock=lock)

    def _start(self) -> None:
        (self.root / SNAPSHOT_DIR).mkdir(parents=True, exist_ok=True)
        (self.root / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.root / CONFIG_FILE, self.record)
        self._row: dict | None = None
        self._last_step = max([row[STEP] for _, row in metrics_lines(self.root / METRICS_FILE)], default=-1)
        self.ended: str | None = None
        self._since = datetime.now().isoformat(timespec="seconds")
        self.write_status(RUNNING, step=max(self._last_step, 0))
        # opened last: nothing after it can fail, so a failed start leaves no file open
        self._metrics = open(self.root / METRICS_FILE, "a", encoding="utf-8")

    # --- a metrics row per step ----------------------------------------------------------------
    def log(self, step: int, **values) -> None:
        """Add values to the row of `step`: numbers, strings, bools, 0-d tensors, numpy scalars and arrays,
        lists and dicts of those. Steps must not go back."""
        self._need_open("log")
        self._merge(step, {k: _value(k, v) for k, v in values.items()})

    def evaluate(self, step: int, generator, z: torch.Tensor) -> dict:
        """The target's metrics of G(z) (modes, high quality, reverse KL, ...; image targets: classifier
        metrics) into the row of `step`; returns them."""
        from .snapshot import fakes_of
        self._need_open("evaluate")
        self._need_target("evaluate")
        step = self._next(step)
        with untouched(generator):
            fakes = fakes_of(self._samples(generator), z)
        entries = self.target.metrics(fakes)
        self._merge(step, entries)
        return entries

    def snapshot(self, step: int, generator=None, discriminator=None, z: torch.Tensor | None = None, *,
                 eval_z: torch.Tensor | None = None, **arrays) -> None:
        """Write RUN/snapshots/step_XXXXXXXX.npz. Given the players and a fixed z batch it holds what
        gandiag's own snapshots hold: the fakes G(z), D on a grid over the target's window with the
        gradient arrows of G's loss at each fake (2D targets), the samples (image targets), the
        generator manifold (a 2D z), and the saturation probe, whose entries join the row of `step`
        together with the target's metrics of G(eval_z or z) (unless evaluate() gave them already).
        Arrays you computed yourself (e.g. fakes=..., from any framework) are written as given.
        A step out of order is refused before anything is computed or written."""
        from .snapshot import fakes_of, image_snapshot, toy_snapshot
        self._need_open("snapshot")
        step = self._next(step)
        entries = {}
        if generator is not None:
            if z is None:
                raise RunError("snapshot needs z, a fixed batch of G's inputs, with the generator")
            self._need_target("snapshot")
            D = as_logits(discriminator, self.d_output) if discriminator is not None else None
            G = self._samples(generator)
            with untouched(generator, discriminator):
                if self.target.kind == "image":
                    computed, entries = image_snapshot(G, D, z)
                else:
                    computed, entries = toy_snapshot(G, D, z, loss=self.loss, window=self.target.window(),
                                                     grid_res=self.grid_res, manifold_z=_manifold_z(z),
                                                     grid_chunk=self.grid_chunk)
            arrays = {**computed, **arrays}
        arrays = {k: np.asarray(v.detach().cpu() if isinstance(v, torch.Tensor) else v) for k, v in arrays.items()}
        problem = snapshot_problem(arrays)
        if problem:   # the readers would refuse the file as damaged: refused here, before anything is written
            raise RunError(f"the snapshot of step {step} {problem}: give each array in its shape (fakes: N x 2, "
                           "one x, y per row; all of them: docs/reference/keys.md)")
        if generator is not None and (MODES not in (self._row or {}) or self._row[STEP] != step):
            fakes = fakes_of(G, eval_z) if eval_z is not None else torch.as_tensor(
                arrays[SNAP_IMAGES if self.target.kind == "image" else SNAP_FAKES])
            entries = {**entries, **self.target.metrics(fakes)}
        elif generator is None and self.target is not None and SNAP_FAKES in arrays:
            entries = self.target.metrics(arrays[SNAP_FAKES])
        atomic_write_bytes(self.root / SNAPSHOT_DIR / snapshot_name(step), snapshot_bytes(step, arrays))
        self._merge(step, entries)

    def _samples(self, generator) -> Callable:
        return as_samples(generator, getattr(self.target, "sample_shape", None))

    def _next(self, step) -> int:
        """`step` as a whole number, refused if it goes back: before the row in hand, or to a row written."""
        step = _step(step)
        current = self._row[STEP] if self._row is not None else self._last_step
        if step < current or (step == current and self._row is None):
            raise RunError(f"step {step} comes after step {current}: record steps in increasing order")
        return step

    def _merge(self, step: int, entries: dict) -> None:
        step = self._next(step)
        if self._row is not None and self._row[STEP] != step:
            self.flush()
        if self._row is None:
            self._row = {STEP: step}
        self._row.update(entries)

    def flush(self) -> dict | None:
        """Write the row in hand (if any) and return it."""
        row, self._row = self._row, None
        if row is not None:
            self._metrics.write(json_text(row, indent=None) + "\n")
            self._metrics.flush()
            self._last_step = row[STEP]
        return row

    def _need_open(self, what: str) -> None:
        # a closed recorder no longer holds the folder's lock: what it wrote now could mix with another writer's
        if self._lock is None:
            raise RunError(f"{what} after the recorder closed: {self.root} is no longer written by it; "
                           "record inside the `with` block (before close()), or into a new Recorder's folder")

    def _need_target(self, what: str) -> None:
        if self.target is None:
            raise RunError(f"{what} needs a target: Recorder(..., target=gandiag.target('ring8') or your points)")

    # --- checkpoints and status ----------------------------------------------------------------
    def checkpoint(self, step: int, state: dict) -> Path:
        """Write RUN/checkpoints/step_XXXXXXXX.pt (state, tagged with this run's id; rows up to `step`
        are written first), then keep only the newest keep_checkpoints (0: all)."""
        self._need_open("checkpoint")
        self.flush()
        buf = io.BytesIO()
        torch.save({**state, RUN_ID: self.run_id}, buf)
        path = self.root / CHECKPOINT_DIR / checkpoint_name(step)
        atomic_write_bytes(path, buf.getvalue())
        if self.keep_checkpoints:   # only files named like ours, oldest first; the new one is written first
            for old in _steps(self.root / CHECKPOINT_DIR, ".pt")[:-self.keep_checkpoints]:
                (self.root / CHECKPOINT_DIR / checkpoint_name(old)).unlink(missing_ok=True)
        return path

    def write_status(self, status: str, **details) -> None:
        self._need_open("writing a status")
        # a running status names its process: who holds the folder, for a second writer's refusal
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "since": self._since} if status == RUNNING else {}
        atomic_write_json(self.root / STATUS_FILE, {"status": status, **details, **owner})

    def end(self, status: str, **details) -> None:
        """The run's final status (finished, diverged, interrupted, failed), after the last row."""
        self.flush()
        self.write_status(status, **details)
        self.ended = status

    def close(self) -> None:
        """Write the row in hand and let go of the folder (its status stays as it is)."""
        if self._lock is None:
            return
        try:
            self.flush()
            self._metrics.close()
        finally:
            self._lock.release()
            self._lock = None

    def __del__(self) -> None:
        # a recorder the loop never closed (no `with`, no close()) still writes the row in hand, and lets go
        # of the folder, when it is collected; its status stays running, which readers show as stopped.
        # One that failed to start (no metrics file opened) has already let go of it
        if hasattr(self, "_metrics") and self._lock is not None:
            self.close()

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, kind, error, tb) -> None:
        try:
            if self.ended is None and self._lock is not None:   # closed in the block: its status stays as it is
                last = (self._row or {}).get(STEP, self._last_step)
                if kind is None or (issubclass(kind, SystemExit) and error.code in (0, None)):   # sys.exit(0)
                    self.end(FINISHED, step=max(last, 0))
                elif issubclass(kind, KeyboardInterrupt):
                    self.end(INTERRUPTED, step=max(last, 0))
                else:
                    self.end(FAILED, step=max(last, 0), detail=f"{kind.__name__}: {error}")
        finally:
            self.close()


def _refuse_bad_options(target, loss, d_output: str, grid_res: int, grid_chunk: int | None,
                       keep_checkpoints: int) -> None:
    """A bad option is refused when the recorder is made, before it writes anything: not at the first
    snapshot, nor in the pictures that read the folder later."""
    if target is not None and not all(hasattr(target, a) for a in ("kind", "record", "metrics")):
        spec = repr(str(target)) if isinstance(target, (str, Path)) else "your_points"
        raise RunError(f"target is {_kind(target)}, not a gandiag target: pass target=gandiag.target({spec})")
    if not callable(loss) and loss not in LOSSES:
        raise RunError(f"loss = {loss!r} is not allowed: expected one of {', '.join(LOSSES)}, or your own "
                       "function of D's logits on the fakes")
    if d_output not in D_OUTPUTS:
        raise RunError(f"discriminator_output = {d_output!r} is not allowed: expected one of " + ", ".join(D_OUTPUTS))
    # the bounds gandiag's own runs have for the same options
    _whole("grid_res", grid_res, FIELDS["grid_res"].metadata["lo"], " (the points per side of D's grid)")
    if grid_chunk is not None:
        _whole("grid_chunk", grid_chunk, 1, " (the grid points D scores at once) or None (as many as z holds)")
    _whole("keep_checkpoints", keep_checkpoints, FIELDS["keep_checkpoints"].metadata["lo"], " (0 keeps all)")


def _refuse_another_setting(root: Path, record: dict, target, loss, d_output: str) -> None:
    """A resumed recording scores and draws as the folder's first one did: the same target (its points
    too), loss and D output, or its rows would mean two things."""
    changed_since = getattr(target, "changed_since", None)   # an image target: its digits and classifier
    changed = changed_since(record) if changed_since else None
    if changed:
        raise RunError(f"{root} cannot go on as the same recording: {changed}, or record into a new folder")
    given = json.loads(json_text(target.record())) if target is not None else {}
    if changed_since:   # the rest of its record was compared just now, all but where the digits lie (a venv, a cache)
        given = {"target": given["target"]}
    if given != {k: record[k] for k in {*given, "target"} if k in record}:
        was = (record.get("target") or {}).get("name")
        raise RunError(f"{root} was recorded against the target {was!r}: resume it with the same one" if was else
                       f"{root} was recorded without a target: resume it with target=None")
    points = getattr(target, "points", None)
    if points is not None and not np.array_equal(np.load(root / TARGET_FILE), points):
        raise RunError(f"{root} was recorded against other points than the target given: give the same points")
    recorded = record.get("recorder", {})
    for key, value in (("loss", _loss_name(loss)), ("discriminator_output", d_output)):
        if recorded.get(key, value) != value:
            raise RunError(f"{root} was recorded with {key} = {recorded[key]!r}, not {value!r}: resume it with the "
                           "same")


def _loss_name(loss) -> str:
    """How config.json names G's loss: gandiag's by its name, your own function by its __name__."""
    return loss if isinstance(loss, str) else getattr(loss, "__name__", "custom")


def _whole(name: str, value, least: int, meaning: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
        raise RunError(f"{name} = {value!r} is not allowed: expected a whole number >= {least}{meaning}")


@contextmanager
def _as_found_on_failure(root: Path, lock: FolderLock | None):
    """The folder's lock (the caller's, or taken here) for the block; if the block fails, the folder is left
    as it was found, so the corrected retry is not refused as "not empty": the entries added while the lock
    was held, the lock file if it was made here and the folders made for it (while empty) are removed.
    Nothing that was there before the lock was held is touched, another writer's run included."""
    made = [p for p in (root, *root.parents) if not p.exists()]   # innermost first
    lock_made = not (root / LOCK_FILE).exists()
    lock = lock or FolderLock(root).acquire()
    before = set(root.iterdir())
    try:
        yield lock
    except BaseException:
        for path in set(root.iterdir()) - before:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        if lock_made:
            (root / LOCK_FILE).unlink(missing_ok=True)
        lock.release()
        for folder in made:
            try:
                folder.rmdir()   # only while empty: another process may have written there meanwhile
            except OSError:
                break
        raise


def refuse_a_used_folder(root: Path) -> None:
    """A new run starts in a new or empty folder: appending to another run's files would mix them."""
    used = sorted(p.name for p in root.iterdir() if p.name != LOCK_FILE)
    if (root / CONFIG_FILE).exists():
        try:
            ours = RunReader(root).trainer() == GANDIAG_TRAINER
        except RunError:   # a damaged config.json: resume rebuilds it where the run is gandiag's
            ours = True
        resume = f"`gandiag resume {root}`" if ours else "gandiag.Recorder.resume(folder, step, ...) in your loop"
        raise RunError(f"{root} already holds a run: choose another folder ({resume} continues it)")
    if (root / SEEDS_FILE).exists():   # the rerun of an interrupted pass goes on with resume, not here
        raise RunError(f"{root} already holds a --seeds pass: choose another folder (`gandiag resume {root}` "
                       "continues it)")
    if used:
        raise RunError(f"{root} is not empty ({', '.join(used[:3])}{', ...' if len(used) > 3 else ''}): "
                       "choose a new or empty folder for the run")


def versions() -> dict:
    # the instruction set of torch's CPU kernels: a float32 CPU run's rounding follows it, and the fast
    # paths choose their products' kernel from it (gandiag.engine.products)
    return {"gandiag": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "cpu_kernels": torch.backends.cpu.get_cpu_capability()}


def _step(step) -> int:
    if isinstance(step, torch.Tensor):
        step = step.item()
    if isinstance(step, bool) or not float(step).is_integer() or step < 0:
        raise RunError(f"step {step!r} is not allowed: expected a whole number >= 0")
    return int(step)


def _value(key: str, v):
    """A value as JSON holds it: a 0-d tensor or numpy scalar as a number, an array as a list. Anything else
    JSON cannot hold is refused here, where it arrives: at the write it would lose the rows in hand."""
    if isinstance(v, torch.Tensor):
        if v.numel() != 1:
            raise RunError(f"{key} is a tensor of shape {tuple(v.shape)}: give one number per key (or .tolist())")
        return v.item()
    if isinstance(v, (np.ndarray, np.generic)):
        v = v.tolist()
    if isinstance(v, dict):
        return {k: _value(f"{key}.{k}", x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_value(f"{key}[{i}]", x) for i, x in enumerate(v)]
    if v is None or isinstance(v, (str, int, float)):
        return v
    raise RunError(f"{key} is {_kind(v)}, which a run folder cannot hold: give a number, a string, a bool or "
                   "a 0-d tensor/array instead")


def _kind(v) -> str:
    return f"the class {v.__qualname__}" if isinstance(v, type) else f"of type {type(v).__qualname__}"


@contextmanager
def untouched(*modules):
    """The players exactly as they were after the block: each module's train/eval mode, and the global
    random streams (CPU and the modules' CUDA device), which a user's dropout or noise might draw from."""
    nets = [m for m in modules if isinstance(m, torch.nn.Module)]
    modes = [[(sub, sub.training) for sub in m.modules()] for m in nets]
    devices = sorted({p.device.index or 0 for m in nets for p in m.parameters() if p.is_cuda})
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        for pairs in modes:
            for sub, was in pairs:
                sub.train(was)


def as_logits(D, output: str) -> Callable:
    """D as x -> one logit per sample, whatever it returns: (N,) from (N, 1), the logit of a probability."""
    from .snapshot import described

    def logits(x):
        out = D(x)
        if not isinstance(out, torch.Tensor) or out.shape not in ((len(x),), (len(x), 1)):
            raise RunError(f"D(x) gave {described(out)} for {len(x)} samples: the recorder needs one score per "
                           "sample, shape (N,) or (N, 1); pass discriminator=lambda x: D(x)[0] where D returns more")
        out = out.reshape(len(x))
        if output == "probability":
            eps = torch.finfo(out.dtype).eps
            out = torch.logit(out.clamp(eps, 1 - eps))
        return out
    if isinstance(D, torch.nn.Module):
        logits.module = D      # snapshots set its mode (eval) through this
    return logits


def as_samples(G, shape: tuple[int, ...] | None) -> Callable:
    """G as z -> its samples, refused in one line where a sample's shape is not `shape` (the target's) or
    where z's dtype is not G's parameters' (which torch refuses inside G's first layer, naming neither)."""
    module = G if isinstance(G, torch.nn.Module) else None
    dtype = next((p.dtype for p in module.parameters() if p.is_floating_point()), None) if module else None

    def samples(z):
        try:
            out = G(z)
        except RuntimeError as e:
            if dtype is not None and z.dtype != dtype:
                raise RunError(f"z is {z.dtype} and G's parameters are {dtype}: pass z.to({dtype})") from e
            raise
        if shape is not None and isinstance(out, torch.Tensor) and out.dim() >= 2 and out.shape[1:] != shape:
            raise RunError(f"G(z) gave samples of shape {tuple(out.shape[1:])}, the target's are {tuple(shape)}: "
                           f"the recorder needs G(z) of shape {('N', *shape)} (pass generator=lambda z: ... where G's "
                           "output needs reshaping)".replace("'N'", "N"))
        return out
    if module is not None:
        samples.module = module   # snapshots set its mode (eval) through this
    return samples


def _manifold_z(z: torch.Tensor) -> torch.Tensor | None:
    """A MANIFOLD_SIDE^2 grid of 2D z on z's device, when G's input is 2D."""
    if z.dim() != 2 or z.shape[1] != 2:
        return None
    axis = torch.linspace(-MANIFOLD_REACH, MANIFOLD_REACH, MANIFOLD_SIDE, device=z.device, dtype=z.dtype)
    zy, zx = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([zx.ravel(), zy.ravel()], 1)
