"""The training loop: set up from a config, step, record, checkpoint; resume from a checkpoint."""
from __future__ import annotations

import io
import json
import platform
import signal
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

from .. import __version__, record as R
from ..config import DEFAULTS, Config, ConfigError, from_dict, to_dict
from ..data.toy import mixture_from_config
from ..nets import build_nets
from .probes import generate, mode_metrics, toy_snapshot
from .progress import Progress
from .step import Players, train_step

#: exit codes of `gandiag run` / `gandiag resume`, documented in README
EXIT_DIVERGED = 3
EXIT_INTERRUPTED = 130


class RunError(RuntimeError):
    """A user-facing, one-line error about a run folder or checkpoint."""


@dataclass
class RunResult:
    path: Path
    status: str          # record.FINISHED, DIVERGED or INTERRUPTED
    step: int
    last: dict           # the last metrics row


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
    for name in ("minibatch_disc", "spectral_norm", "noisy_labels"):
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
        torch.manual_seed(cfg.seed)  # network init
        G, D = build_nets(cfg)
        G, D = G.to(device), D.to(device)
        self.players = Players(G, D, _optimizer(cfg.g_opt, G, cfg.g_lr, cfg.g_beta1, cfg.g_beta2, cfg.eps),
                               _optimizer(cfg.d_opt, D, cfg.d_lr, cfg.d_beta1, cfg.d_beta2, cfg.eps))
        self.mixture = mixture_from_config(cfg)
        # Training draws come from their own generator on the run's device; the fixed batches come from
        # another, so recording more or less often never changes the training stream.
        self.gen = torch.Generator(device=device).manual_seed(cfg.seed)
        fixed = torch.Generator(device=device).manual_seed(cfg.seed + 1_000_003)
        self.z_snapshot = self._z(cfg.snapshot_samples, fixed)
        self.z_eval = self._z(cfg.eval_samples, fixed)
        self.z_manifold = _z_grid(24, device) if cfg.z_dim == 2 else None
        self.window = self.mixture.window()

    def _z(self, n: int, gen: torch.Generator) -> torch.Tensor:
        if self.cfg.z_dist == "uniform":
            return torch.rand(n, self.cfg.z_dim, generator=gen, device=self.device) * 2 - 1
        return torch.randn(n, self.cfg.z_dim, generator=gen, device=self.device)

    def sample_z(self, n: int) -> torch.Tensor:
        return self._z(n, self.gen)

    def sample_real(self, n: int) -> torch.Tensor:
        return self.mixture.sample(n, self.gen, self.device)

    # --- checkpoints: everything needed to continue bit for bit --------------------------------
    def state(self, step: int) -> dict:
        p = self.players
        return {"step": step, "config": to_dict(self.cfg),
                "G": p.G.state_dict(), "D": p.D.state_dict(),
                "opt_g": p.opt_g.state_dict(), "opt_d": p.opt_d.state_dict(),
                "rng": {"torch": torch.get_rng_state(), "gen": self.gen.get_state(),
                        "cuda": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else []}}

    def load_state(self, ckpt: dict) -> int:
        p = self.players
        p.G.load_state_dict(ckpt["G"])
        p.D.load_state_dict(ckpt["D"])
        p.opt_g.load_state_dict(ckpt["opt_g"])
        p.opt_d.load_state_dict(ckpt["opt_d"])
        torch.set_rng_state(ckpt["rng"]["torch"])
        self.gen.set_state(ckpt["rng"]["gen"])
        if self.device.type == "cuda" and ckpt["rng"]["cuda"]:
            torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])
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
    return {"config": to_dict(cfg), "modes": s.mixture.to_dict(), "seed": cfg.seed, "method": method_name(cfg),
            "device": str(s.device),
            "versions": {"gandiag": __version__, "torch": torch.__version__, "numpy": np.__version__,
                         "python": platform.python_version()},
            "created": datetime.now().isoformat(timespec="seconds")}


def _save_checkpoint(root: Path, s: Session, step: int, keep: int) -> None:
    buf = io.BytesIO()
    torch.save(s.state(step), buf)
    R.atomic_write_bytes(root / R.CHECKPOINT_DIR / R.checkpoint_name(step), buf.getvalue())
    if keep:
        for old in sorted((root / R.CHECKPOINT_DIR).glob("step_*.pt"))[:-keep]:
            old.unlink()


def _snapshot(writer: R.RunWriter, s: Session, step: int) -> dict:
    p = s.players
    arrays, sat_row = toy_snapshot(p.G, p.D, s.cfg, s.z_snapshot, s.window, s.z_manifold)
    writer.write_snapshot(step, arrays)
    return sat_row


def _row(step: int, stats: dict, s: Session) -> dict:
    row = {R.STEP: step, **{k: float(v) for k, v in stats.items()}}
    row.update(mode_metrics(generate(s.players.G, s.z_eval), s.mixture))
    return row


def _finite(row: dict) -> bool:
    return all(np.isfinite(row[k]) for k in (R.D_LOSS, R.G_LOSS, R.D_GRAD_NORM, R.G_GRAD_NORM))


class _DeferInterrupt:
    """Turns Ctrl-C into a flag checked between steps, so the checkpoint it leads to is a whole step."""

    def __enter__(self):
        self.hit = False
        self.main = threading.current_thread() is threading.main_thread()
        if self.main:
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        self.hit = True

    def __exit__(self, *exc):
        if self.main:
            signal.signal(signal.SIGINT, self.previous)


def _loop(s: Session, writer: R.RunWriter, start: int, progress: Progress, on_row=None) -> RunResult:
    cfg, root, last = s.cfg, writer.root, {}
    writer.write_status(R.RUNNING, step=start)
    if start == 0:
        last = {R.STEP: 0, **mode_metrics(generate(s.players.G, s.z_eval), s.mixture), **_snapshot(writer, s, 0)}
        writer.append_metrics(last)
    t0 = time.perf_counter()
    with _DeferInterrupt() as interrupt:
        for step in range(start + 1, cfg.steps + 1):
            stats = train_step(s.players, cfg, s.sample_real, s.sample_z, s.gen)
            if step % cfg.log_every == 0 or step % cfg.snapshot_every == 0 or step == cfg.steps:
                last = _row(step, stats, s)
                if step % cfg.snapshot_every == 0 or step == cfg.steps:
                    last.update(_snapshot(writer, s, step))
                writer.append_metrics(last)
                progress.update(step, last, on_row(last) if on_row else [])
                if not _finite(last):
                    progress.close()
                    writer.write_status(R.DIVERGED, step=step,
                                        detail="non-finite loss or gradient norm at this step")
                    return RunResult(root, R.DIVERGED, step, last)
            if step % cfg.checkpoint_every == 0 or step == cfg.steps or interrupt.hit:
                _save_checkpoint(root, s, step, cfg.keep_checkpoints)
            if interrupt.hit:
                progress.close()
                writer.write_status(R.INTERRUPTED, step=step)
                return RunResult(root, R.INTERRUPTED, step, last)
    progress.close()
    elapsed = time.perf_counter() - t0
    writer.write_status(R.FINISHED, step=cfg.steps, seconds=round(elapsed, 3),
                        iterations_per_second=round((cfg.steps - start) / elapsed, 2) if elapsed > 0 else None)
    return RunResult(root, R.FINISHED, cfg.steps, last)


def run(cfg: Config, out: Path | None = None, quiet: bool = False, on_row=None) -> RunResult:
    """Train a fresh run into `out` (default runs/<scenario>-<method>-<time>)."""
    device = resolve_device(cfg.device)
    root = Path(out) if out else default_out(cfg)
    if (root / R.CONFIG_FILE).exists():
        raise RunError(f"{root} already holds a run: choose another --out or `gandiag resume {root}`")
    s = Session(cfg, device)
    writer = R.RunWriter(root)
    try:
        writer.write_config(run_record(cfg, s))
        return _loop(s, writer, 0, Progress(cfg.steps, quiet=quiet), on_row)
    finally:
        writer.close()


def load_checkpoint(path: Path) -> dict:
    """A checkpoint as written by the loop, or a one-line RunError for a truncated or foreign file."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for bad files; all mean "not a usable checkpoint"
        raise RunError(f"checkpoint {path} cannot be read ({type(e).__name__}): "
                       "it is truncated or not a gandiag checkpoint; delete it to resume from an earlier one") from None
    if not isinstance(ckpt, dict) or not {"step", "config", "G", "D"} <= set(ckpt):
        raise RunError(f"checkpoint {path} is not a gandiag checkpoint: delete it or pick another run")
    return ckpt


def resume(root: Path, steps: int | None = None, quiet: bool = False, on_row=None) -> RunResult:
    """Continue a run from its newest checkpoint up to `steps` in total (not extra)."""
    reader = R.RunReader(root)
    ckpts = reader.checkpoint_steps()
    if not ckpts:
        raise RunError(f"{root} has no checkpoint to resume from: start a new run with `gandiag run`")
    ckpt = load_checkpoint(Path(root) / R.CHECKPOINT_DIR / R.checkpoint_name(ckpts[-1]))
    cfg = from_dict({**ckpt["config"], **({"steps": steps} if steps is not None else {})})
    if cfg.steps <= ckpt["step"]:
        raise RunError(f"{root} is already at step {ckpt['step']}: pass --steps larger than that (a total, not extra)")
    s = Session(cfg, resolve_device(cfg.device))
    start = s.load_state(ckpt)
    _truncate_metrics(Path(root) / R.METRICS_FILE, start)
    writer = R.RunWriter(root)
    try:
        writer.write_config({**reader.record, "config": to_dict(cfg)})
        return _loop(s, writer, start, Progress(cfg.steps, start=start, quiet=quiet), on_row)
    finally:
        writer.close()


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop rows past the checkpoint (a killed run wrote them) so the resumed log reads as one run."""
    kept = [line for line in R.RunReader(path.parent).metrics() if line[R.STEP] <= step]
    R.atomic_write_bytes(path, "".join(json.dumps(row) + "\n" for row in kept).encode())
