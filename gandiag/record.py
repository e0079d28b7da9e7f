"""The run folder: the one place that knows file names and result keys.

    RUN/config.json            resolved config, the target's modes, seed, versions   (atomic write)
    RUN/metrics.jsonl          one JSON object per logged step                        (append + flush)
    RUN/snapshots/step_XXXXXXXX.npz   fixed-z fakes, D grid, arrows, probes           (atomic write)
    RUN/checkpoints/step_XXXXXXXX.pt  models, optimisers, RNG and stabilizer state    (atomic write)
    RUN/status.json            how the run ended: running, finished, diverged, interrupted

Writers and readers use the constants below, so a key is spelled once. Readers take what is there:
they work on a run that crashed or is still running, and skip a truncated last metrics line.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

# --- file names ------------------------------------------------------------------------------
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
STATUS_FILE = "status.json"
SNAPSHOT_DIR = "snapshots"
CHECKPOINT_DIR = "checkpoints"
ANALYSIS_FILE = "analysis.json"
DIAGNOSIS_FILE = "diagnosis.json"

# --- metrics.jsonl keys ----------------------------------------------------------------------
STEP = "step"
TIME = "time_s"                      # seconds since the run (or resume) started
D_LOSS = "d_loss"
G_LOSS = "g_loss"
D_REAL = "d_real"                    # mean D output on reals (probability, or critic score)
D_FAKE = "d_fake"                    # mean D output on fakes
D_GRAD_NORM = "d_grad_norm"
G_GRAD_NORM = "g_grad_norm"
MODES = "modes"                      # modes with >= 1 HQ sample (PacGAN)
MODES_STRICT = "modes_strict"        # modes with >= MIN_MODE_SHARE of the samples
HQ = "hq"                            # share of high-quality samples
REVERSE_KL = "reverse_kl"            # KL(p_gen || uniform) over modes, nats
MODE_COUNTS = "mode_counts"          # HQ samples per mode
# saturation probe, at snapshot steps only (gandiag.train.probes)
SAT_SHARE = "sat_share"              # share of fakes with D(G(z)) < 1e-3
SAT_DLOGIT_MINIMAX = "sat_dlogit_minimax"      # mean |dL_G/dlogit| under the saturating loss
SAT_DLOGIT_NONSAT = "sat_dlogit_nonsat"        # ... under the non-saturating loss
SAT_GNORM_MINIMAX = "sat_g_grad_norm_minimax"  # G's gradient norm under the saturating loss
SAT_GNORM_NONSAT = "sat_g_grad_norm_nonsat"    # ... under the non-saturating loss

#: the stricter coverage count: a mode needs this share of the evaluation samples
MIN_MODE_SHARE = 0.01

# --- snapshot keys ---------------------------------------------------------------------------
SNAP_STEP = "step"
SNAP_FAKES = "fakes"                 # (S, 2) G(z_fixed), the same z in every snapshot
SNAP_ARROWS = "arrows"               # (S, 2) -dL_G/dx at each fake: where G is pushed
SNAP_FAKE_LOGITS = "fake_logits"     # (S,) D's logits on the fakes
SNAP_GRID_X = "grid_x"               # (R,) x coordinates of D's grid
SNAP_GRID_Y = "grid_y"               # (R,) y coordinates
SNAP_D_GRID = "d_grid"               # (R, R) D output, row i is y = grid_y[i], column j is x = grid_x[j]
SNAP_MANIFOLD = "manifold"           # (Q, Q, 2) a z-grid pushed through G, only when z_dim == 2
SNAP_IMAGES = "images"               # (S, C, H, W) fixed-z samples for image scenarios

# --- status ----------------------------------------------------------------------------------
RUNNING, FINISHED, DIVERGED, INTERRUPTED = "running", "finished", "diverged", "interrupted"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder and rename, so a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, default=_jsonable) + "\n").encode())


def _jsonable(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def _clean(v):
    """JSON has no NaN/inf: write them as null so every reader (pandas included) parses the line."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def snapshot_name(step: int) -> str:
    return f"step_{step:08d}.npz"


def checkpoint_name(step: int) -> str:
    return f"step_{step:08d}.pt"


class RunWriter:
    """Appends to a run folder as training goes."""

    def __init__(self, root: Path):
        self.root = Path(root)
        (self.root / SNAPSHOT_DIR).mkdir(parents=True, exist_ok=True)
        (self.root / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
        self._metrics = open(self.root / METRICS_FILE, "a", encoding="utf-8")

    def write_config(self, record: dict) -> None:
        atomic_write_json(self.root / CONFIG_FILE, record)

    def write_status(self, status: str, **details) -> None:
        atomic_write_json(self.root / STATUS_FILE, {"status": status, **details})

    def append_metrics(self, row: dict) -> None:
        self._metrics.write(json.dumps({k: _clean(v) for k, v in row.items()}, default=_jsonable) + "\n")
        self._metrics.flush()

    def write_snapshot(self, step: int, arrays: dict) -> None:
        import io
        buf = io.BytesIO()
        np.savez(buf, **{SNAP_STEP: np.asarray(step)}, **arrays)
        atomic_write_bytes(self.root / SNAPSHOT_DIR / snapshot_name(step), buf.getvalue())

    def close(self) -> None:
        self._metrics.close()


class RunReader:
    """Reads whatever a run folder holds; never imports training code."""

    def __init__(self, root: Path):
        self.root = Path(root)
        if not (self.root / CONFIG_FILE).is_file():
            raise FileNotFoundError(f"{self.root} is not a gandiag run folder (no {CONFIG_FILE}): "
                                    "give the folder that `gandiag run` printed")

    @property
    def record(self) -> dict:
        return json.loads((self.root / CONFIG_FILE).read_text())

    @property
    def config(self) -> dict:
        return self.record["config"]

    @property
    def status(self) -> dict:
        path = self.root / STATUS_FILE
        return json.loads(path.read_text()) if path.is_file() else {"status": "unknown"}

    def metrics(self) -> list[dict]:
        """All complete metrics rows; a truncated or garbled line (a killed writer) is skipped."""
        rows = []
        path = self.root / METRICS_FILE
        if not path.is_file():
            return rows
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and STEP in row:
                rows.append(row)
        return rows

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of one metrics key over the rows that have it (null -> NaN)."""
        pairs = [(r[STEP], np.nan if r[key] is None else r[key]) for r in self.metrics() if key in r]
        if not pairs:
            return np.zeros(0, dtype=int), np.zeros(0)
        steps, values = zip(*pairs)
        return np.asarray(steps), np.asarray(values, dtype=np.float64)

    def snapshot_steps(self) -> list[int]:
        return sorted(int(p.stem.split("_")[1]) for p in (self.root / SNAPSHOT_DIR).glob("step_*.npz"))

    def snapshot(self, step: int) -> dict:
        with np.load(self.root / SNAPSHOT_DIR / snapshot_name(step)) as z:
            return {k: z[k] for k in z.files}

    def checkpoint_steps(self) -> list[int]:
        return sorted(int(p.stem.split("_")[1]) for p in (self.root / CHECKPOINT_DIR).glob("step_*.pt"))

    def mixture(self):
        """The target's modes as recorded (toy scenarios), or None for image scenarios."""
        from .data.toy import Mixture
        modes = self.record.get("modes")
        return Mixture.from_dict(modes) if modes else None
