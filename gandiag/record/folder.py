"""The run folder on disk: atomic writes, the one-writer lock, and the reader.

    RUN/.lock                  held (flock) by the one process writing the folder, for its whole life
    RUN/config.json            the run's record: its config, target, id, versions          (atomic write)
    RUN/metrics.jsonl          one JSON object per logged step                               (append + flush)
    RUN/snapshots/step_XXXXXXXX.npz   fixed-z fakes, D grid, arrows, probes                  (atomic write)
    RUN/checkpoints/step_XXXXXXXX.pt  players, optimisers, RNG and stabilizer state          (atomic write)
    RUN/status.json            running, finished, diverged, interrupted or failed            (atomic write)

Readers take what is there: they work on a run that crashed or is still running, and skip a truncated
last metrics line (or a garbled one, or one without a sane step); a known key's value of the wrong type
reads as null. A snapshot is checked against SNAPSHOT_SHAPES when it is opened. Writing goes through
gandiag.record.Recorder, which holds the lock.
"""
from __future__ import annotations

import errno
import fcntl
import io
import json
import math
import numbers
import os
import re
import secrets
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

from .errors import RunError
from .keys import (CHECKPOINT_DIR, CONFIG_FILE, COUNTS, GANDIAG_TRAINER, LOCK_FILE, METRIC_TYPES, METRICS_FILE,
                   MODE_COUNTS, NEAR_COUNTS, NUMBER, OWN_LOOP, RUNNING, SATURATION_PROBE, SNAP_D_GRID, SNAP_STEP,
                   SNAPSHOT_DIR, SNAPSHOT_SHAPES, STATUS_FILE, STEP, STOPPED, TARGET_FILE, TRAINER)


# --- atomic writes ---------------------------------------------------------------------------

def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder and rename, so a reader never sees half a file.

    A writer killed before the rename leaves only `.<name>.<pid>.<random>.tmp`, which
    discard_partial_writes removes; the file under its real name is the old one or the new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
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


def temp_path(path: Path) -> Path:
    """A name beside `path` that no other writer of it uses, this process or another (two animations of
    one run to one file each write their own, and the last rename wins whole)."""
    path = Path(path)
    return path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"


def discard_partial_writes(root: Path) -> list[Path]:
    """Delete the temp files a killed writer left in a run folder; returns what it deleted.

    Only the recorder's own files are touched (config, status, snapshots, checkpoints), so another
    tool writing its results into the folder at the same time keeps its temp file.
    """
    root = Path(root)
    stale = [*root.glob(f".{CONFIG_FILE}.*.tmp"), *root.glob(f".{STATUS_FILE}.*.tmp"),
             *(root / SNAPSHOT_DIR).glob(".step_*.tmp"), *(root / CHECKPOINT_DIR).glob(".step_*.tmp")]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def jsonable(v):
    """A value as JSON can hold it: numpy scalars and arrays as Python numbers and lists, and the
    non-finite floats JSON has no word for as null (so every reader, pandas included, parses it)."""
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.ndarray):
        return jsonable(v.tolist())
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return v


def json_text(obj, indent: int | None = 2) -> str:
    """JSON of obj via `jsonable` (never NaN or Infinity, which are not JSON)."""
    return json.dumps(jsonable(obj), indent=indent, allow_nan=False)


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, (json_text(obj) + "\n").encode())


def snapshot_name(step: int) -> str:
    return f"step_{step:08d}.npz"


def checkpoint_name(step: int) -> str:
    return f"step_{step:08d}.pt"


def saturation_probe_stem(step: int, d_steps: int, d_lr: float) -> str:
    """The probe's files are named by the settings that make it (a probe of the same checkpoint at another
    --d-lr or --d-steps is another experiment, kept beside the first rather than written over it)."""
    return f"{SATURATION_PROBE}_step_{step:08d}_dsteps_{d_steps}_dlr_{d_lr:g}"


def run_folders_in(root) -> list[Path]:
    """The run folders directly inside root (a `--seeds N` pass, or a folder the user keeps runs in),
    sorted by name; empty when root is not a folder or is itself a run."""
    root = Path(root)
    if not root.is_dir() or (root / CONFIG_FILE).is_file():
        return []
    return sorted(p for p in root.iterdir() if (p / CONFIG_FILE).is_file())


def snapshot_bytes(step: int, arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **{SNAP_STEP: np.asarray(step)}, **arrays)
    return buf.getvalue()


# --- one writer per folder -------------------------------------------------------------------

#: how long a writer waits for a reader's brief shared lock (RunReader.status) before it gives up
LOCK_PATIENCE_S = 1.0


class FolderLock:
    """An exclusive flock on RUN/.lock, held for the life of the one process that writes the folder.

    The operating system releases it when that process ends, however it ends (kill -9 included), so a
    stale "running" status never blocks a resume, on this host or another one sharing the disk, and a
    reused pid never passes for a live writer. The file stays empty (taking the lock changes nothing in
    the folder); the writer's status.json names it, for the refusal."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.path = self.root / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> "FolderLock":
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        deadline = time.monotonic() + LOCK_PATIENCE_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:   # perhaps a reader's probe: it lets go at once
                    time.sleep(0.02)
                    continue
                holder = _holder(self.root)
                os.close(fd)
                raise RunError(f"{self.root} is being written by another process ({holder}): wait until it "
                               "ends, or stop it (Ctrl-C saves a checkpoint), then try again") from None
            except OSError as e:
                os.close(fd)
                raise RunError(f"{self.root} cannot be locked for writing ({e.strerror}): use a folder on "
                               "a local disk") from None
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)   # closing the descriptor drops the lock
            self._fd = None


def _holder(root: Path) -> str:
    """Who holds the folder, as its status.json says (the writer writes it once its checks pass; until then
    the file is absent, or is the previous session's, which names no process)."""
    try:
        status = json.loads((root / STATUS_FILE).read_text(encoding="utf-8"))
        return f"pid {status['pid']} on {status['host']} since {status['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "it is starting: its status.json does not name it yet"


def writer_alive(root: Path) -> bool:
    """Whether some process holds RUN's writer lock now (it is training or recording into it)."""
    try:
        fd = os.open(Path(root) / LOCK_FILE, os.O_RDONLY)
    except OSError:   # no lock file: no writer ever took it
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError as e:   # a file system without locks cannot tell: trust status.json
        return e.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL)
    finally:
        os.close(fd)
    return False


# --- reading -----------------------------------------------------------------------------------

def number(v) -> float:
    """A row's value as a float: null (how metrics.jsonl writes a non-finite value), a bool or text is NaN."""
    return float(v) if isinstance(v, numbers.Real) and not isinstance(v, bool) else np.nan


def series(rows: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of one metrics key over the rows that hold it, values as `number` reads them."""
    pairs = [(r[STEP], number(r[key])) for r in rows if key in r]
    steps, values = zip(*pairs) if pairs else ((), ())
    return np.asarray(steps, dtype=np.int64), np.asarray(values, dtype=np.float64)


#: config.json's entries that readers rely on, with the JSON type each must have where present
RECORD_TYPES = {"config": dict, "target": dict, "modes": dict, "losses": dict, "engine": dict, "pass": dict,
                "versions": dict, "recorder": dict, "resumed_from": list, "method": str, "device": str}
_JSON_TYPES = {dict: "a table", list: "a list", str: "a string"}


def damaged_snapshot(path: Path, what: str) -> RunError:
    return RunError(f"snapshot {path} {what}: it is damaged or not a gandiag snapshot of this run; delete it "
                    "and try again")


def snapshot_problem(arrays: dict) -> str | None:
    """What is wrong with a snapshot's arrays (None: nothing): the first array not of the shape and a numeric
    dtype SNAPSHOT_SHAPES gives its key, as "has a 'fakes' array of shape (10, 3), not (S, 2)"."""
    sizes: dict[str, int] = {}   # each letter's size, as the first array naming it has it
    for key, spec in SNAPSHOT_SHAPES.items():
        if key not in arrays:
            continue
        a = arrays[key]
        if a.dtype.kind not in "iuf":
            return f"has a {key!r} array of {a.dtype} values, not numbers"
        fixed = spec[:-1] if spec[-1:] == (...,) else spec
        ok = a.ndim >= len(fixed) if fixed != spec else a.ndim == len(fixed)
        for axis, want in enumerate(fixed if ok else ()):
            size = sizes.setdefault(want, a.shape[axis]) if isinstance(want, str) else want
            ok = ok and a.shape[axis] == size >= 1
        if not ok:
            shape = ", ".join("..." if d is ... else f"{d} = {sizes[d]}" if d in sizes else str(d) for d in spec)
            return f"has a {key!r} array of shape {a.shape}, not ({shape})"
    return None


class Snapshot(dict):
    """A snapshot's arrays by name, each of the shape and a numeric dtype SNAPSHOT_SHAPES gives its key (else a
    one-line RunError when it is opened); an array it lacks (a damaged or foreign file) is a one-line RunError
    where a reader asks for it, not a KeyError."""

    def __init__(self, arrays: dict, path: Path):
        super().__init__(arrays)
        self.path = path
        problem = snapshot_problem(self)
        if problem:
            raise damaged_snapshot(path, problem)

    def __missing__(self, key):
        raise damaged_snapshot(self.path, f"has no {key!r} array (it holds {', '.join(sorted(self)) or 'none'})")


class RunReader:
    """Reads whatever a run folder holds; never imports training code."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._grid: tuple[Path, tuple] | None = None   # the first D grid this reader opened: (snapshot, shape)
        # a folder that lost its config.json but holds checkpoints is still a run: they hold its config
        if not (self.root / CONFIG_FILE).is_file() and not self.checkpoint_steps():
            raise FileNotFoundError(f"{self.root} is not a gandiag run folder (no {CONFIG_FILE}): "
                                    "give the folder that `gandiag run` printed")

    def trainer(self) -> str:
        """Who trained the run: gandiag's trainer (whose folders before "trainer" was written name their
        engine) or a user's own loop."""
        record = self.record
        return record.get(TRAINER) or (GANDIAG_TRAINER if "engine" in record else OWN_LOOP)

    @property
    def record(self) -> dict:
        """config.json, checked for the structure every reader relies on."""
        path = self.root / CONFIG_FILE
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, UnicodeDecodeError, json.JSONDecodeError) as e:
            what = "missing" if isinstance(e, FileNotFoundError) else f"damaged ({type(e).__name__})"
            repair = " (`gandiag resume RUN` rebuilds it from the newest checkpoint)" if self.checkpoint_steps() else ""
            raise RunError(f"{path} is {what}{repair}: restore it or start a new run") from None
        if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
            raise RunError(f"{path} is not a gandiag run record (no config table): give the folder that "
                           "`gandiag run` printed")
        for key, kind in RECORD_TYPES.items():
            if record.get(key) is not None and not isinstance(record[key], kind):   # null: none (image runs' modes)
                raise RunError(f"{path} is damaged: its {key!r} entry is {type(record[key]).__name__}, not "
                               f"{_JSON_TYPES[kind]}; restore it from a copy, or rerun the scenario")
        return record

    @property
    def config(self) -> dict:
        return self.record["config"]

    @property
    def status(self) -> dict:
        """How the run ended; "unknown" when status.json is missing or unreadable (a status never blocks
        reading). A "running" status whose writer no longer holds the folder reads as STOPPED."""
        try:
            status = json.loads((self.root / STATUS_FILE).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return {"status": "unknown"}
        if not (isinstance(status, dict) and "status" in status):
            return {"status": "unknown"}
        if status["status"] == RUNNING and not writer_alive(self.root):
            return {**status, "status": STOPPED,
                    "detail": "status.json says running, but no process holds the folder (killed?): "
                              "gandiag resume RUN continues from the last checkpoint"}
        return status

    def metrics(self) -> list[dict]:
        """All complete metrics rows; a truncated or garbled line (a killed writer) is skipped, and a known
        key's value of the wrong type reads as null (metrics_lines), as do a row's counts over another
        number of modes than the run's target has (an image target's: its classes)."""
        rows = [row for _, row in metrics_lines(self.root / METRICS_FILE)]
        try:
            m = self._counted()
        except RunError:   # a damaged config.json is for the reader that needs it to say
            m = None
        if m is None:
            return rows
        return [_nulled(row, [k for k in (MODE_COUNTS, NEAR_COUNTS) if isinstance(row.get(k), list)
                              and len(row[k]) != m]) for row in rows]

    def _counted(self) -> int | None:
        """How many entries a row's mode counts have: the toy target's modes, an image target's classes
        (10 for each digit of its stack); None where the record does not say (a user's points without
        modes have no counts)."""
        if self.record.get("modes"):
            return self.mixture().n_modes
        if self.target_kind == "image":
            from ..data.mnist import STACKS
            stack = STACKS.get((self.record.get("target") or {}).get("name"))
            return None if stack is None else 10 ** stack
        return None

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        return series(self.metrics(), key)

    def snapshot_steps(self) -> list[int]:
        return _steps(self.root / SNAPSHOT_DIR, ".npz")

    def snapshot(self, step: int) -> dict:
        path = self.root / SNAPSHOT_DIR / snapshot_name(step)
        try:
            with np.load(path) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise RunError(f"snapshot {path} cannot be read ({type(e).__name__}): delete it and try again") from None
        snap = Snapshot(arrays, path)
        if SNAP_D_GRID in snap:
            self._same_grid(path, snap[SNAP_D_GRID].shape)
        return snap

    def _same_grid(self, path: Path, shape: tuple) -> None:
        """Every snapshot of a run has D's grid at one resolution (pictures stack them): gandiag's trainer
        records it (grid_res), a user's loop's first snapshot read here stands for it."""
        res = self.config.get("grid_res") if self.trainer() == GANDIAG_TRAINER else None
        if isinstance(res, int) and not isinstance(res, bool):
            if shape != (res, res):
                raise damaged_snapshot(path, f"has a {'x'.join(map(str, shape))} d_grid, the run's grid is "
                                             f"{res}x{res} (grid_res)")
        elif self._grid is None:
            self._grid = (path, shape)
        elif shape != self._grid[1]:
            raise RunError(f"snapshot {path} has a {'x'.join(map(str, shape))} d_grid and snapshot {self._grid[0]} "
                           f"a {'x'.join(map(str, self._grid[1]))} one: one of them is damaged or not a snapshot "
                           "of this run; delete it and try again")

    def checkpoint_steps(self) -> list[int]:
        return _steps(self.root / CHECKPOINT_DIR, ".pt")

    @property
    def target_kind(self) -> str:
        """"2d" (a mixture or a user's points) or "image", as config.json's target says (older folders:
        by whether they hold modes)."""
        kind = (self.record.get("target") or {}).get("kind")
        if kind in ("mixture", "points"):
            return "2d"
        if kind == "image" or "data_source" in self.record:
            return "image"
        return "2d" if self.record.get("modes") else "image"

    def points(self) -> np.ndarray | None:
        """A user's own target points (TARGET_FILE), or None when the target is not a set of points."""
        path = self.root / TARGET_FILE
        if not path.is_file():
            return None
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise RunError(f"{path} cannot be read ({type(e).__name__}): restore it from your points file") from None

    def window(self) -> tuple[float, float, float, float] | None:
        """The square the 2D pictures show, the one the target's D grid covers (its window): around a
        user's points, modes fitted to them or not, else around the mixture's modes."""
        points = self.points()
        if points is not None:
            from ..data.toy import points_window
            return points_window(points)
        mixture = self.mixture()
        return mixture.window() if mixture is not None else None

    def mixture(self):
        """The target's modes as recorded (toy scenarios), or None for image scenarios."""
        from ..data.toy import Mixture
        modes = self.record.get("modes")
        if not modes:
            return None
        try:
            return Mixture.from_dict(modes)
        except (KeyError, TypeError, ValueError):
            raise RunError(f"{self.root / CONFIG_FILE} has a damaged modes table: restore it from a copy, "
                           "or rerun the scenario") from None


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
        if line.endswith(b"\n") and isinstance(row, dict) and is_step(row.get(STEP)):
            pairs.append((line, _nulled(row, [k for k, kind in METRIC_TYPES.items() if not _fits(row.get(k), kind)])))
    return pairs


def cut_rows(path: Path, upto: int) -> tuple[list[tuple[bytes, dict]], list[bytes]]:
    """Keep the metrics rows up to step `upto` byte for byte and drop the rest (the steps a resumed loop
    trains again; a damaged line goes too); (the rows there were, the lines kept)."""
    lines = metrics_lines(path)
    kept = [line for line, row in lines if row[STEP] <= upto]
    atomic_write_bytes(path, b"".join(kept))
    return lines, kept


#: steps past it do not fit the int64 arrays readers make of them
MAX_STEP = 2 ** 63 - 1


def is_step(v) -> bool:
    """A metrics row's step: a whole number from 0 to MAX_STEP (JSON's 150.0, a bool or text is none)."""
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_STEP


def is_number(v) -> bool:
    """A JSON number a float holds (not a bool; an integer past float's 1.8e308 overflows float())."""
    return isinstance(v, float) or (isinstance(v, int) and not isinstance(v, bool) and abs(v) <= sys.float_info.max)


def _fits(v, kind: str) -> bool:
    """Whether a value (None: absent or null, which fits any key) is of METRIC_TYPES' kind."""
    return v is None or (is_number(v) if kind == NUMBER else
                         kind == COUNTS and isinstance(v, list) and all(map(is_number, v)))


def _nulled(row: dict, keys: list[str]) -> dict:
    """row with those keys' values as null, as metrics.jsonl writes a value it has no number for."""
    return {**row, **dict.fromkeys(keys)} if keys else row


def _steps(folder: Path, suffix: str) -> list[int]:
    """Steps of the step_XXXXXXXX<suffix> files in folder; other names (a user's copy, a temp file) are not ours."""
    pattern = re.compile(r"step_(\d+)" + re.escape(suffix))
    matches = (pattern.fullmatch(p.name) for p in folder.glob("step_*" + suffix))
    return sorted(int(m.group(1)) for m in matches if m)
