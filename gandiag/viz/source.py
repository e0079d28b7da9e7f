"""What the pictures read from a run folder, and how frames line up with steps.

Everything comes from the run folder through RunReader (never from training code), so a crashed run,
a run still in progress or one copied from another machine draws the same way.
"""
from __future__ import annotations

import json
from bisect import bisect_right
from pathlib import Path

import numpy as np

from .. import record as R
from ..losses import PROBABILISTIC
from ..methods import stabilizer_words
from .describe import short_labels, verdict_items


#: a user's own target points drawn in the plane, at most (an even subset of them)
TARGET_POINTS_SHOWN = 1500


class VizError(R.RunError):
    """A one-line, user-facing reason why a picture cannot be drawn. A RunError, so every caller that
    reports a bad run folder as one line (the CLI) reports these the same way."""


def check_folder_of(out) -> None:
    """Refuse a picture whose folder cannot hold it, before any rendering: missing, or a file."""
    folder = Path(out).parent
    if folder.is_dir():
        return
    blocking = next((p for p in (folder, *folder.parents) if p.exists()), None)
    why = f"{blocking} is a file, not a folder" if blocking is not None and not blocking.is_dir() else \
        f"the folder {folder} does not exist"
    raise VizError(f"cannot write {out}: {why}")


def check_pixels(width: float, height: float, what: str) -> None:
    """Refuse a picture too large to draw (matplotlib's limit per side, a 1 GB RGBA buffer) in one line."""
    from . import MAX_PIXELS, MAX_SIDE_PX
    if max(width, height) > MAX_SIDE_PX or width * height > MAX_PIXELS:
        raise VizError(f"{what} would be {width:,.0f} x {height:,.0f} pixels, more than the {MAX_SIDE_PX:,} per side "
                       f"and {MAX_PIXELS:,} in all that gandiag draws: lower --dpi or --size")


class RunView:
    """One run folder as the pictures see it: config, target, snapshot steps, curves, verdicts."""

    def __init__(self, run_dir):
        self.root = Path(run_dir)
        self.reader = open_reader(self.root)
        self.record = self.reader.record
        self.config: dict = self.record.get("config") or {}
        self.is_image = self.reader.target_kind == "image"
        self.mixture = self.reader.mixture()
        # a user's own points stand in for the modes where none are known (drawn, never scored here)
        self.points = None if self.is_image or self.mixture is not None else self.reader.points()
        self.steps: list[int] = self.reader.snapshot_steps()
        if not self.steps:
            raise VizError(self._no_snapshots())
        self.rows: list[dict] = self.reader.metrics()

    def _no_snapshots(self) -> str:
        """Why there is nothing to draw, and what to do: wait for a live run's first snapshot, or (a run
        that ended without any) record some."""
        if self.reader.status.get("status") == R.RUNNING:
            every = self.config.get("snapshot_every")
            when = f"they are written every {every} steps" if every else "none has been written"
            return f"{self.root} has no snapshots yet: {when}, try again later"
        how = "rec.snapshot(step, ...) in your loop" if self.reader.trainer() == R.OWN_LOOP else \
            "a run with --snapshot-every below its --steps"
        return f"{self.root} holds no snapshots to draw: record some ({how})"

    @property
    def probabilistic(self) -> bool:
        """D's grid holds probabilities (else raw critic scores)."""
        return self.config.get("loss", "nonsaturating") in PROBABILISTIC

    @property
    def last_step(self) -> int:
        return max([self.steps[-1]] + [int(r[R.STEP]) for r in self.rows[-1:]])

    def window(self) -> tuple[float, float, float, float]:
        window = self.reader.window()
        if window is None:
            raise VizError(f"{self.root} records neither the target's modes nor its points "
                           f"({R.TARGET_FILE}): pictures of the plane need one of them")
        return window

    def target_points(self, most: int = TARGET_POINTS_SHOWN) -> np.ndarray:
        """An even subset of a user's own points for drawing (all of them would hide the fakes)."""
        keep = np.unique(np.linspace(0, len(self.points) - 1, min(most, len(self.points))).astype(int))
        return self.points[keep]

    def snapshot(self, step: int) -> dict:
        return self.reader.snapshot(step)

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        return R.series(self.rows, key)   # the rows read once, not the file again per curve

    def row_at(self, step: int, key: str):
        """The value of key in the last metrics row at or before step that has it, else None."""
        value = None
        for r in self.rows:
            if int(r[R.STEP]) > step:
                break
            if r.get(key) is not None:
                value = r[key]
        return value

    def title(self) -> str:
        """The run in a few words: scenario (a user's own points: theirs), loss and the stabilizers that are on."""
        c = self.config
        target = self.record.get("target") or {}
        # a run on your points keeps its scenario's name, which is not what it trained on
        named = target.get("name") not in (None, "points")   # an array's target is named "points"
        what = ("your points" + (f" ({target['name']})" if named else "")) if target.get("kind") == "points" else \
            str(c.get("scenario", self.root.name))
        # a user's own loop records its own config: its loss is not one gandiag knows by name
        loss = f"{c['loss']} loss" if c.get("loss") else "own training loop"
        return " · ".join([what, loss, *stabilizer_words(c)])

    def verdicts(self) -> list[tuple[str, int]]:
        """(short title, first step of its evidence) per verdict in diagnosis.json; [] when the analyzer
        has not run or wrote something unreadable (a picture never fails over a diagnosis)."""
        if not diagnosis_is_current(self.root):   # verdicts of fewer steps than the pictures show (a resumed run)
            return []
        return [(v["title"].split(":")[0], v["steps"][0] if v["steps"] else 0)
                for v in verdict_items(read_diagnosis(self.root))]


def open_reader(root) -> R.RunReader:
    """A reader of the run folder `root`, or a one-line VizError naming what the folder is instead."""
    try:
        return R.RunReader(Path(root))
    except FileNotFoundError as e:
        raise VizError(_runs_inside(Path(root)) or str(e)) from None


def runs_named(run_dirs) -> list[Path]:
    """The run folders that `run_dirs` name: a folder of runs (a `--seeds` pass, or a folder the user keeps
    runs in) stands for the runs inside it, side by side."""
    return [run for d in run_dirs for run in (R.run_folders_in(d) or [Path(d)])]


def _runs_inside(root: Path) -> str | None:
    """What to say of a folder that holds run folders rather than being one: a pass of `--seeds N`
    (whose folder is the one `gandiag run` printed) or a folder of runs. None when it holds none."""
    runs = [p.name for p in R.run_folders_in(root)]
    if not runs:
        return None
    named = ", ".join(runs[:3]) + (", ..." if len(runs) > 3 else "")
    return (f"{root} holds {len(runs)} run folder{'s' if len(runs) > 1 else ''} ({named}), not one run: give one "
            f"of them, e.g. {root / runs[0]} (gandiag report {root} shows them side by side)")


def diagnosis_is_current(root: Path) -> bool:
    """diagnosis.json exists and is not older than the metrics it was drawn from."""
    diagnosis, metrics = Path(root) / R.DIAGNOSIS_FILE, Path(root) / R.METRICS_FILE
    return diagnosis.is_file() and (not metrics.is_file() or diagnosis.stat().st_mtime >= metrics.stat().st_mtime)


def ensure_diagnosis(view: RunView) -> None:
    """Run the analyzer (it reads the folder, it never trains) when diagnosis.json is missing or older
    than the metrics, so a report or figure states the run's verdicts as they are. A folder that cannot be
    written (a copied, read-only run) is shown without them."""
    if diagnosis_is_current(view.root):
        return
    from ..analysis import analyze_run
    try:
        analyze_run(view.root)
    except OSError:
        pass


def read_diagnosis(root: Path):
    """diagnosis.json as parsed JSON, or None when it is missing or unreadable (a half-written file)."""
    try:
        return json.loads((Path(root) / R.DIAGNOSIS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def at_or_before(steps: list[int], step: int) -> int:
    """The snapshot to show at `step`: the last one at or before it (the first one if none is)."""
    i = bisect_right(steps, step)
    return steps[max(i - 1, 0)]


def timeline(views: list[RunView], max_frames: int) -> list[int]:
    """Frame steps for one or more runs: every snapshot step of any run, thinned evenly to at most
    max_frames while keeping the first and the last."""
    if isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 1:
        raise VizError(f"max_frames = {max_frames!r} is not allowed: give a whole number of frames >= 1")
    steps = sorted(set().union(*(v.steps for v in views)))
    if len(steps) <= max_frames:
        return steps
    keep = np.unique(np.round(np.linspace(0, len(steps) - 1, max_frames)).astype(int))
    return [steps[i] for i in keep]


def labels_for(views: list[RunView], labels: list[str] | None) -> list[str]:
    """The labels of runs side by side: as given (one per run), else as short as tells them apart; two
    runs under one label (their rows in a table, their panels) are refused."""
    if labels is None:
        labels = short_labels([v.config for v in views], [v.root.name for v in views])
        why = "nothing tells them apart (settings nor folder names): give --labels"
    else:
        if len(labels) != len(views):
            raise VizError(f"{len(labels)} labels for {len(views)} runs: give one label per run, comma-separated")
        blank = next((v for v, label in zip(views, labels) if not str(label).strip()), None)
        if blank is not None:   # --labels "a," named the second run '' in its panel, legend and table
            raise VizError(f"the label of {blank.root} is empty: give each run its own label")
        why = "give each run its own label"
    twice = next((label for i, label in enumerate(labels) if label in labels[:i]), None)
    if twice is not None:
        raise VizError(f"two runs would be labelled {twice!r}: {why}")
    return list(labels)
