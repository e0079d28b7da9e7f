"""The training loop: set up from a config, step, record, checkpoint; resume from a checkpoint.

What it promises (README.md):
- A checkpoint holds everything the next step reads: players, optimisers, stabilizer state and the
  run's random stream (a generator it owns: the global ones of Python, numpy and torch are never read).
  On CPU a resumed run repeats the uninterrupted one bit for bit, metrics.jsonl included.
- Every step is checked for non-finite values on the device without a host sync; the flag is read only
  when the loop is about to record or checkpoint, so nothing from the first bad step on is ever written.
- Ctrl-C finishes the current step, checkpoints it and ends the run as INTERRUPTED.
"""
from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .. import __version__, record as R
from ..config import DEFAULTS, IMAGE_DATA, Config, ConfigError, from_dict, to_dict
from ..data.toy import mixture_from_config
from ..engine import choose as choose_engine, fast_step  # engine dispatch (README.md)
from ..nets import build_nets
from ..record import RunError
from ..stabilizers import build_stabilizers
from . import ddp
from .checkpoints import load_checkpoint, save_checkpoint
from .classes import uses_labels
from .device import batch_format, compiles, prepare, threads
from .guards import DeferInterrupt, DivergenceWatch
from .images import ImageRecorder
from .probes import generate, mode_metrics, toy_snapshot
from .progress import COMPILING, Progress
from .step import Players, train_step

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


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device = 'cuda' is not available on this machine: use --device cpu or --device auto")
    return torch.device(name)


def method_name(cfg: Config) -> str:
    """A short name of what differs from a vanilla GAN, for folder names and figure labels."""
    parts = []
    if cfg.unrolled:
        parts.append(f"unrolled{cfg.unrolled}" + ("-first-order" if cfg.unrolled_first_order else ""))
    for name in ("minibatch_disc", "spectral_norm", "noisy_labels", "conditional", "aux_classifier"):
        if getattr(cfg, name):
            parts.append(name.replace("_", "-"))
    for name in ("hist_avg", "label_flip", "instance_noise", "replay_size", "swap_every", "g_dropout", "r1"):
        if getattr(cfg, name) != DEFAULTS[name]:
            parts.append(f"{name.replace('_', '-')}{getattr(cfg, name):g}")
    if cfg.label_smoothing != 1.0:
        parts.append(f"smooth{cfg.label_smoothing:g}")
    if cfg.pack > 1:
        parts.append(f"pack{cfg.pack}")
    return "-".join(parts) or "vanilla"


def default_out(cfg: Config) -> Path:
    return Path("runs") / f"{cfg.scenario}-{method_name(cfg)}-{datetime.now():%Y%m%d-%H%M%S}"


class Session:
    """Everything a run needs between steps: players, target, random streams and fixed batches."""

    def __init__(self, cfg: Config, device: torch.device):
        self.cfg, self.device = cfg, device
        # Every draw of the run comes from generators it owns (the init from cfg.seed, gandiag.nets), never
        # from the global ones of Python, numpy or torch: a run repeats whatever the caller's process did
        # before, and leaves those streams as it found them.
        G, D = (prepare(net.to(device), cfg, device) for net in build_nets(cfg))
        self.batch_format = batch_format(cfg)   # of the real batches D sees
        self.players = Players(G, D, _optimizer(cfg.g_opt, G, cfg.g_lr, cfg.g_beta1, cfg.g_beta2, cfg.eps),
                               _optimizer(cfg.d_opt, D, cfg.d_lr, cfg.d_beta1, cfg.d_beta2, cfg.eps))
        # Stabilizers that carry state from step to step (averages, replay buffer, swapped-out players)
        # register an object with state_dict()/load_state_dict() here under a fixed name: checkpoints
        # hold it, so resume stays exact.
        self.stateful: dict[str, object] = {}
        # image runs have digits and classifier metrics (gandiag.train.images) where toy runs have a mixture
        self.images = ImageRecorder(cfg, device) if cfg.data in IMAGE_DATA else None
        self.mixture = None if self.images else mixture_from_config(cfg)
        self.target = self.images.target if self.images else self.mixture
        # Training draws come from their own generator on the run's device; the fixed batches come from
        # another, so recording more or less often never changes the training stream.
        self.gen = torch.Generator(device=device).manual_seed(cfg.seed)
        fixed = torch.Generator(device=device).manual_seed(cfg.seed + 1_000_003)
        self.z_snapshot = self._z(cfg.snapshot_samples, fixed)
        self.z_eval = self._z(cfg.eval_samples, fixed)
        self.z_manifold = _z_grid(24, device) if cfg.z_dim == 2 else None
        self.window = self.mixture.window() if self.mixture else None
        self.stabilizers = build_stabilizers(cfg, self.players, self.sample_real, self.gen)
        self.stateful.update(self.stabilizers.stateful())

    def _z(self, n: int, gen: torch.Generator) -> torch.Tensor:
        if self.cfg.z_dist == "uniform":
            return torch.rand(n, self.cfg.z_dim, generator=gen, device=self.device) * 2 - 1
        return torch.randn(n, self.cfg.z_dim, generator=gen, device=self.device)

    def sample_z(self, n: int) -> torch.Tensor:
        return self._z(n, self.gen)

    def sample_real(self, n: int) -> torch.Tensor:
        return self.target.sample(n, self.gen, self.device).contiguous(memory_format=self.batch_format)

    def sample_labeled(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Reals and their classes (image data only)."""
        images, labels = self.target.sample_labeled(n, self.gen, self.device)
        return images.contiguous(memory_format=self.batch_format), labels

    def eval_metrics(self) -> dict:
        """Live mode metrics of G on the fixed evaluation z."""
        if self.images:
            return self.images.metrics(self.players.G, self.z_eval)
        return mode_metrics(generate(self.players.G, self.z_eval), self.mixture)

    # --- checkpoints: everything needed to continue bit for bit --------------------------------
    def state(self, step: int) -> dict:
        p = self.players
        return {"step": step, "config": to_dict(self.cfg), "device": self.device.type,
                "G": p.G.state_dict(), "D": p.D.state_dict(),
                "opt_g": p.opt_g.state_dict(), "opt_d": p.opt_d.state_dict(),
                "stabilizers": {name: obj.state_dict() for name, obj in self.stateful.items()},
                "rng": {"gen": self.gen.get_state()}}

    def load_state(self, ckpt: dict) -> int:
        p = self.players
        p.G.load_state_dict(ckpt["G"])
        p.D.load_state_dict(ckpt["D"])
        p.opt_g.load_state_dict(ckpt["opt_g"])
        p.opt_d.load_state_dict(ckpt["opt_d"])
        for name, obj in self.stateful.items():
            obj.load_state_dict(ckpt["stabilizers"][name])
        # older checkpoints also hold the global streams of Python, numpy and torch: no draw reads them, and
        # restoring them would reseed the caller's process
        self.gen.set_state(ckpt["rng"]["gen"])
        return int(ckpt["step"])


def _optimizer(kind: str, net, lr: float, beta1: float, beta2: float, eps: float) -> torch.optim.Optimizer:
    if kind == "sgd":
        return torch.optim.SGD(net.parameters(), lr=lr, momentum=beta1)
    return torch.optim.Adam(net.parameters(), lr=lr, betas=(beta1, beta2), eps=eps)


def _z_grid(q: int, device) -> torch.Tensor:
    """A q x q grid over [-2, 2]^2 in noise space, for the generator-manifold view (z_dim == 2)."""
    axis = torch.linspace(-2, 2, q, device=device)
    zy, zx = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([zx.ravel(), zy.ravel()], 1)


def run_record(cfg: Config, s: Session) -> dict:
    """config.json: enough to understand and rerun the run without the scenario file."""
    return {"config": to_dict(cfg), **({"modes": s.mixture.to_dict()} if s.mixture else s.images.record()),
            "seed": cfg.seed, "method": method_name(cfg),
            "device": str(s.device),
            "versions": {"gandiag": __version__, "torch": torch.__version__, "numpy": np.__version__,
                         "python": platform.python_version()},
            "created": datetime.now().isoformat(timespec="seconds")}


def _snapshot(writer: R.RunWriter, s: Session, step: int) -> dict:
    p = s.players
    arrays, sat_row = s.images.snapshot(p.G, p.D, s.z_snapshot) if s.images else \
        toy_snapshot(p.G, p.D, s.cfg, s.z_snapshot, s.window, s.z_manifold)
    writer.write_snapshot(step, arrays)
    return sat_row


def _row(step: int, stats: dict, s: Session) -> dict:
    row = {R.STEP: step, **{k: float(v) for k, v in stats.items()}}
    row.update(s.eval_metrics())
    return row


def due(cfg: Config, step: int, stop: bool) -> tuple[bool, bool, bool]:
    """(log, snap, save): what `step` owes the run folder; a stop request always saves."""
    snap = step % cfg.snapshot_every == 0 or step == cfg.steps
    log = snap or step % cfg.log_every == 0
    save = step % cfg.checkpoint_every == 0 or step == cfg.steps or stop
    return log, snap, save


def record_step(s: Session, writer: R.RunWriter, step: int, stats: dict, log: bool, snap: bool,
                save: bool) -> dict | None:
    """Write what `step` owes: its metrics row (with a snapshot when due) and a checkpoint. Returns the
    row, or None when the step logs nothing."""
    row = None
    if log:
        row = _row(step, stats, s)
        if snap:
            row.update(_snapshot(writer, s, step))
        writer.append_metrics(row)
    if save:
        save_checkpoint(writer.root, s.state(step), step, s.cfg.keep_checkpoints)
    return row


def _trainer(s: Session, watch: DivergenceWatch) -> Callable[[int], dict]:
    """Step `step` -> its statistics, each step observed by the watch: the fast engine where it applies
    (on CUDA the step and the watch replay as one graph), else the reference step."""
    fast = fast_step(s, watch.observe)  # engine dispatch (gandiag.engine)
    if fast:
        return fast

    def reference(step: int) -> dict:
        stats = _reference_step(s, step)
        watch.observe(stats)
        return stats
    return reference


def _reference_step(s: Session, step: int) -> dict:
    return train_step(s.players, s.stabilizers, s.cfg, s.sample_real, s.sample_z, s.gen, step,
                      s.sample_labeled if uses_labels(s.cfg) else None)


def _loop(s: Session, writer: R.RunWriter, start: int, progress: Progress, on_row=None) -> RunResult:
    cfg, root, last = s.cfg, writer.root, {}
    watch = DivergenceWatch(s.device, start)
    if compiles(cfg):   # on the first call of a compiled player (step 0's snapshot) or engine
        progress.note(COMPILING)
    with DeferInterrupt() as interrupt:
        writer.write_status(R.RUNNING, step=start)
        if start == 0:
            last = {R.STEP: 0, **s.eval_metrics(), **_snapshot(writer, s, 0)}
            writer.append_metrics(last)
        train = _trainer(s, watch)
        t0 = time.perf_counter()
        progress.begin()
        for step in range(start + 1, cfg.steps + 1):
            stats = train(step)
            stop = interrupt.hit  # read once: a signal may land anywhere in this step
            log, snap, save = due(cfg, step, stop)
            if not (log or save):
                continue
            bad = watch.first_bad(step, s.players)
            if bad:
                progress.close()
                return _diverged(writer, *bad)
            row = record_step(s, writer, step, stats, log, snap, save)
            if row is not None:
                last = row
                progress.update(step, last, on_row(last) if on_row else [])
            if stop:
                progress.close()
                writer.write_status(R.INTERRUPTED, step=step)
                return RunResult(root, R.INTERRUPTED, step, last)
    progress.close()
    elapsed = time.perf_counter() - t0
    writer.write_status(R.FINISHED, step=cfg.steps, seconds=round(elapsed, 3),
                        iterations_per_second=round((cfg.steps - start) / elapsed, 2) if elapsed > 0 else None)
    return RunResult(root, R.FINISHED, cfg.steps, last)


def _diverged(writer: R.RunWriter, step: int, stats: dict, what: str) -> RunResult:
    """Record the first non-finite step (its values become null) and end the run there."""
    row = {R.STEP: step, **stats}
    if stats:
        writer.append_metrics(row)
    detail = f"non-finite {what} at step {step}"
    writer.write_status(R.DIVERGED, step=step, detail=detail)
    return RunResult(writer.root, R.DIVERGED, step, row, detail)


def _train(s: Session, root: Path, record: dict, start: int, quiet: bool, on_row) -> RunResult:
    """Write config.json, then train from `start`; an unexpected error is noted in status.json and re-raised."""
    writer = R.RunWriter(root)
    try:
        writer.write_config({**record, "engine": choose_engine(s.cfg).record()})  # engine dispatch
        with threads(s.cfg):
            return _loop(s, writer, start, Progress(s.cfg.steps, start=start, quiet=quiet), on_row)
    except Exception as e:
        writer.write_status(R.FAILED, detail=f"{type(e).__name__}: {e}")
        raise
    finally:
        writer.close()


def run(cfg: Config, out: Path | None = None, quiet: bool = False, on_row=None) -> RunResult:
    """Train a fresh run into `out` (default runs/<scenario>-<method>-<time>); under torchrun, data-parallel
    over its processes (gandiag.train.ddp)."""
    with ddp.process_group(resolve_device(cfg.device)) as device:
        root = ddp.from_main(Path(out) if out else default_out(cfg))
        if (root / R.CONFIG_FILE).exists():
            raise RunError(f"{root} already holds a run: choose another --out or `gandiag resume {root}`")
        choose_engine(cfg)  # engine dispatch: engine = fast on a config it cannot run fails before any write
        with ddp.main_first():
            s = Session(cfg, device)
        ddp.join(s.players, s.gen, cfg.seed)
        if not ddp.is_main():
            return _follow(s, root)
        return _train(s, root, {**run_record(cfg, s), **ddp.describe()}, 0, quiet, on_row)


def _follow(s: Session, root: Path) -> RunResult:
    """A DDP rank other than 0: train in step with rank 0 (the gradient averaging syncs), write nothing."""
    cfg = s.cfg
    with threads(cfg):
        for step in range(1, cfg.steps + 1):
            _reference_step(s, step)
    return RunResult(root, R.FINISHED, cfg.steps, {})


def resume(root: Path, steps: int | None = None, quiet: bool = False, on_row=None) -> RunResult:
    """Continue a run from its newest checkpoint up to `steps` in total (not extra).

    A run killed before its first checkpoint starts again from step 0: a Session built from the
    recorded config is exactly the state the run began in. Nothing in the folder changes until the
    checkpoint, config and device have all been checked.
    """
    root = Path(root)
    reader = R.RunReader(root)
    record = reader.record
    owner = reader.status
    if owner["status"] == R.RUNNING:   # two writers would interleave one metrics log
        raise RunError(f"{root} is still being trained by process {owner.get('pid')}: stop it first "
                       "(Ctrl-C saves a checkpoint), then resume")
    ckpts = reader.checkpoint_steps()
    path = root / R.CHECKPOINT_DIR / R.checkpoint_name(ckpts[-1]) if ckpts else None
    ckpt = load_checkpoint(path) if path else None
    done = ckpt["step"] if ckpt else 0
    recorded = ckpt["config"] if ckpt else record["config"]
    cfg = from_dict({**recorded, **({"steps": steps} if steps is not None else {})})
    if cfg.steps <= done:
        raise RunError(f"{root} is already at step {done}: pass --steps larger than that (a total, not extra)")
    s = Session(cfg, _resume_device(cfg, ckpt, path))
    if ckpt:
        _restore(s, ckpt, path)
    _truncate_metrics(root / R.METRICS_FILE, done if ckpt else -1)  # starting over rewrites row 0 too
    R.discard_partial_writes(root)
    record = {**record, "config": to_dict(cfg), "resumed_from": [*record.get("resumed_from", []), done]}
    return _train(s, root, record, done, quiet, on_row)


def _resume_device(cfg: Config, ckpt: dict | None, path: Path | None) -> torch.device:
    """The device the checkpoint was written on: random streams differ between devices."""
    if ckpt is None:
        return resolve_device(cfg.device)
    if ckpt["device"] == "cuda" and not torch.cuda.is_available():
        raise RunError(f"checkpoint {path} was written on CUDA and this machine has none: "
                       "resume it on a machine with CUDA")
    return torch.device(ckpt["device"])


def _restore(s: Session, ckpt: dict, path: Path) -> None:
    try:
        s.load_state(ckpt)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise RunError(f"checkpoint {path} does not fit its own config ({type(e).__name__}): it is damaged "
                       "or foreign; delete it to resume from an earlier one") from None


def _truncate_metrics(path: Path, step: int) -> None:
    """Keep the rows up to the checkpoint byte for byte and drop the rest (a killed run wrote them,
    the last maybe half), so the resumed log reads as one run."""
    kept = b"".join(line for line, row in R.metrics_lines(path) if row[R.STEP] <= step)
    R.atomic_write_bytes(path, kept)
