"""The run folder: the one place that knows file names and result keys.

    RUN/config.json            resolved config, the target's modes, seed, versions   (atomic write)
    RUN/metrics.jsonl          one JSON object per logged step                        (append + flush)
    RUN/snapshots/step_XXXXXXXX.npz   fixed-z fakes, D grid, arrows, probes           (atomic write)
    RUN/checkpoints/step_XXXXXXXX.pt  models, optimisers, RNG and stabilizer state    (atomic write)
    RUN/status.json            how the run ended: running, finished, diverged, interrupted, failed

Writers and readers use the constants below, so a key is spelled once. Readers take what is there:
they work on a run that crashed or is still running, and skip a truncated last metrics line.
"""
from __future__ import annotations

import io
import json
import math
import os
import re
import secrets
import socket
import zipfile
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
MODES_STRICT = "modes_strict"        # modes with >= STRICT_FAIR_SHARE of their fair share 1/M of the samples
HQ = "hq"                            # share of high-quality samples
REVERSE_KL = "reverse_kl"            # KL(p_gen || uniform) over modes, nats
MODE_COUNTS = "mode_counts"          # HQ samples per mode; image runs: generated samples per classifier class
NEAR_COUNTS = "near_counts"          # toy runs: samples in each mode's neighbourhood, HQ or not (where the mass is)
# N_SAMPLES (below): the samples behind a row's mode metrics
CLASSIFIER_SCORE = "classifier_score"  # image runs: Inception-score formula with gandiag's MNIST classifier
FRECHET_DISTANCE = "frechet_distance"  # image runs: Frechet distance in that classifier's feature space
# saturation probe, at snapshot steps only (gandiag.train.probes)
SAT_SHARE = "sat_share"              # share of fakes with D(G(z)) < metrics.saturation.SATURATED_BELOW
SAT_DLOGIT_MINIMAX = "sat_dlogit_minimax"      # mean |dL_G/dlogit| under the saturating loss
SAT_DLOGIT_NONSAT = "sat_dlogit_nonsat"        # ... under the non-saturating loss
SAT_GNORM_MINIMAX = "sat_g_grad_norm_minimax"  # G's gradient norm under the saturating loss
SAT_GNORM_NONSAT = "sat_g_grad_norm_nonsat"    # ... under the non-saturating loss

#: the stricter coverage count: a mode needs this fraction of its fair share 1/M of the samples
#: (1.25 % for ring8's 8 modes, 0.4 % for grid25, 0.01 % for Stacked MNIST's 1000 classes)
STRICT_FAIR_SHARE = 0.1

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
FAILED = "failed"                    # an unexpected error (a bug, out of memory); status.json names it
STOPPED = "stopped"                  # read only: status.json says running, but its process is gone (killed)

# --- analysis.json, diagnosis.json, `gandiag metrics` (gandiag.analyze; definitions: README.md)
# a coverage report has MODES, MODES_STRICT, HQ, REVERSE_KL, MODE_COUNTS (above) and these:
N_SAMPLES, JS_UNIFORM, ENTROPY = "n_samples", "js_uniform", "entropy"
LOG_LIKELIHOOD, GRID_KL, GRID_JS = "log_likelihood", "grid_kl", "grid_js"
KNN_PRECISION, KNN_RECALL, KNN_DENSITY, KNN_COVERAGE = "knn_precision", "knn_recall", "knn_density", "knn_coverage"
N_NONFINITE = "n_nonfinite"          # samples with a NaN or infinite coordinate (on no mode, infinitely far)
NOT_COMPUTED = "not_computed"        # {key: why} for each metric of a report that could not be computed (its value: null)
# analysis.json sections; coverage holds SERIES (metrics rows), SNAPSHOTS (a report per snapshot), FINAL
A_RUN, A_STATUS, A_LOSS = "run", "status", "loss"
A_COVERAGE, A_OSCILLATION, A_SATURATION = "coverage", "oscillation", "saturation"
SERIES, SNAPSHOTS, FINAL = "series", "snapshots", "final"
# oscillation section
OSC_INDEX, OSC_MODE_INDEX, OSC_LOSS_INDEX = "index", "mode_index", "loss_index"
OSC_SOURCE, OSC_STEPS, OSC_DOMINANT = "source", "steps", "dominant_modes"
OSC_SWITCH_RATE, OSC_DOMINANT_SHARE = "switch_rate", "dominant_share"
OSC_WINDOWS, OSC_VISITED, OSC_COVERED = "windows", "visited", "covered"  # window: {steps, visited, covered, hq_covered, index}
OSC_HQ_COVERED, OSC_WINDOW = "hq_covered", "window"   # modes held at high quality at once; entries per window
OSC_DRIFT, OSC_D_CYCLE, OSC_G_CYCLE = "angular_drift", "d_loss_cycle", "g_loss_cycle"
DRIFT_PER_SNAPSHOT, DRIFT_MEAN, DRIFT_TURNS = "per_snapshot", "mean", "turns"
CYCLE_PERIOD, CYCLE_AMPLITUDE, CYCLE_PEAK_SHARE = "period_steps", "amplitude", "peak_share"
CYCLE_PERSISTENCE, CYCLE_STRENGTH = "persistence", "strength"
# saturation section: SAT_* and D_GRAD_NORM series under SERIES, plus
SAT_MAX_SHARE, SAT_LAST, SAT_GNORM_RATIO = "max_sat_share", "last", "g_grad_norm_ratio"
# diagnosis.json: {VERDICTS: [{RULE, TITLE, SEVERITY, MESSAGE, EVIDENCE, REMEDIES}], RULES_CHECKED: [...]}
VERDICTS, RULES_CHECKED = "verdicts", "rules_checked"
V_RULE, V_TITLE, V_SEVERITY, V_MESSAGE, V_EVIDENCE, V_REMEDIES = (
    "rule", "title", "severity", "message", "evidence", "remedies")
EV_STEPS = "steps"                   # every verdict's evidence: [first, last] step it rests on
# `gandiag probe saturation`: RUN/<SATURATION_PROBE>_step_XXXXXXXX.json and .png
SATURATION_PROBE = "saturation_probe"
PROBE_D_STEP = "d_step"               # rows also hold D_LOSS and the SAT_* keys at that D step
PROBE_D_LR = "d_lr"                   # the fresh D's learning rate (the file: {STEP, PROBE_D_LR, SERIES: rows})


class RunError(ValueError):
    """A user-facing, one-line error about a run folder or one of its files (the CLI prints it as is)."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder and rename, so a reader never sees half a file.

    A writer killed before the rename leaves only `.<name>.<pid>.<random>.tmp`, which
    discard_partial_writes removes; the file under its real name is the old one or the new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    # os.open with 0o666 lets the umask decide the mode, as for any other file the user writes
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def discard_partial_writes(root: Path) -> list[Path]:
    """Delete the temp files a killed trainer left in a run folder; returns what it deleted.

    Only the trainer's own files are touched (config, status, snapshots, checkpoints), so another
    tool writing its results into the folder at the same time keeps its temp file.
    """
    root = Path(root)
    stale = [*root.glob(f".{CONFIG_FILE}.*.tmp"), *root.glob(f".{STATUS_FILE}.*.tmp"),
             *(root / SNAPSHOT_DIR).glob(".step_*.tmp"), *(root / CHECKPOINT_DIR).glob(".step_*.tmp")]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


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


def _alive(pid, host) -> bool:
    """Whether process `pid` on `host` still exists; True when that cannot be known (another host, no pid)."""
    if not isinstance(pid, int) or host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # it exists, under another user
        return True
    return True


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
        # a running status names its process, so a reader can tell a live run from a killed one
        owner = {"pid": os.getpid(), "host": socket.gethostname()} if status == RUNNING else {}
        atomic_write_json(self.root / STATUS_FILE, {"status": status, **details, **owner})

    def append_metrics(self, row: dict) -> None:
        self._metrics.write(json.dumps({k: _clean(v) for k, v in row.items()}, default=_jsonable) + "\n")
        self._metrics.flush()

    def write_snapshot(self, step: int, arrays: dict) -> None:
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
        path = self.root / CONFIG_FILE
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise RunError(f"{path} is damaged ({type(e).__name__}): restore it or start a new run") from None
        if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
            raise RunError(f"{path} is not a gandiag run record: give the folder that `gandiag run` printed")
        return record

    @property
    def config(self) -> dict:
        return self.record["config"]

    @property
    def status(self) -> dict:
        """How the run ended; "unknown" when status.json is missing or unreadable (a status never blocks reading)."""
        try:
            status = json.loads((self.root / STATUS_FILE).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return {"status": "unknown"}
        if not (isinstance(status, dict) and "status" in status):
            return {"status": "unknown"}
        if status["status"] == RUNNING and not _alive(status.get("pid"), status.get("host")):
            return {**status, "status": STOPPED,
                    "detail": f"status.json says running, but process {status['pid']} is gone (killed?): "
                              "gandiag resume RUN continues from the last checkpoint"}
        return status

    def metrics(self) -> list[dict]:
        """All complete metrics rows; a truncated or garbled line (a killed writer) is skipped."""
        return [row for _, row in metrics_lines(self.root / METRICS_FILE)]

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of one metrics key over the rows that have it (null -> NaN)."""
        pairs = [(r[STEP], np.nan if r[key] is None else r[key]) for r in self.metrics() if key in r]
        if not pairs:
            return np.zeros(0, dtype=int), np.zeros(0)
        steps, values = zip(*pairs)
        return np.asarray(steps), np.asarray(values, dtype=np.float64)

    def snapshot_steps(self) -> list[int]:
        return _steps(self.root / SNAPSHOT_DIR, ".npz")

    def snapshot(self, step: int) -> dict:
        path = self.root / SNAPSHOT_DIR / snapshot_name(step)
        try:
            with np.load(path) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise RunError(f"snapshot {path} cannot be read ({type(e).__name__}): delete it and try again") from None

    def checkpoint_steps(self) -> list[int]:
        return _steps(self.root / CHECKPOINT_DIR, ".pt")

    def mixture(self):
        """The target's modes as recorded (toy scenarios), or None for image scenarios."""
        from .data.toy import Mixture
        modes = self.record.get("modes")
        return Mixture.from_dict(modes) if modes else None


def metrics_lines(path: Path) -> list[tuple[bytes, dict]]:
    """(line as written, parsed row) for each complete metrics row in order; a truncated or garbled line
    (a writer killed mid-line, a stray edit) is skipped, so a crashed run reads like a shorter one."""
    path = Path(path)
    if not path.is_file():
        return []
    pairs = []
    for line in path.read_bytes().splitlines(keepends=True):
        try:
            row = json.loads(line)
        except ValueError:  # JSONDecodeError and UnicodeDecodeError both
            continue
        if line.endswith(b"\n") and isinstance(row, dict) and isinstance(row.get(STEP), int):
            pairs.append((line, row))
    return pairs


def _steps(folder: Path, suffix: str) -> list[int]:
    """Steps of the step_XXXXXXXX<suffix> files in folder; other names (a user's copy, a temp file) are not ours."""
    pattern = re.compile(r"step_(\d+)" + re.escape(suffix))
    matches = (pattern.fullmatch(p.name) for p in folder.glob("step_*" + suffix))
    return sorted(int(m.group(1)) for m in matches if m)
