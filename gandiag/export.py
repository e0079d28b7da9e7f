"""Run folders as TensorBoard events (`gandiag export RUN [RUN ...] --tensorboard DIR`, the gandiag[tensorboard] extra).

Every number of every metrics row becomes a scalar at its step (mode counts a histogram), and every
snapshot the animation's frame at its step as an image, so TensorBoard's step slider scrubs through
training beside the curves. Reads the run folders only, so it works on a run that crashed or is still
running, and on runs of your own loop. Several runs (or a `--seeds` pass) go one per subfolder of DIR,
which TensorBoard shows as runs side by side.
"""
from __future__ import annotations

import numbers
from pathlib import Path

import numpy as np

from . import record as R
from .viz.animate import Timeline
from .viz.source import RunView, open_reader
from .viz.style import styled

#: the frame size of the images, pixels (TensorBoard shows them at their own size)
IMAGE_SIZE = (640, 360)


@styled
def export_runs(run_dirs, out, max_frames: int = 200) -> list[tuple[Path, int, int]]:
    """Write each run's events (a folder of runs, such as a `--seeds` pass, stands for the runs in it) into
    its own subfolder of `out`, named after it, or one run alone into `out` itself; returns (folder, scalars
    written, images written) per run. Every run is opened and every folder checked before the first event is
    written, so a damaged run or a used folder writes nothing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:   # torch's writer needs the tensorboard package
        raise R.RunError("TensorBoard export needs the tensorboard package: "
                         "pip install 'gandiag[tensorboard]'") from None
    named, out = _named_runs([Path(r) for r in run_dirs]), Path(out)
    folders = [out] if len(named) == 1 else [out / name for name, _ in named]
    readers = [open_reader(run) for _, run in named]   # a folder that is no run: its one-line error
    for folder in folders:
        _refuse_used(folder)
    return [(folder, *_write_events(SummaryWriter, reader, run, folder, max_frames))
            for (_, run), reader, folder in zip(named, readers, folders)]


def _named_runs(run_dirs: list[Path]) -> list[tuple[str, Path]]:
    """(subfolder name, run folder) per run: a run is named by its folder; the runs of a folder of runs by
    theirs, under the folder's name when other arguments sit beside it. Two runs of one name are refused:
    their events would land in one subfolder, which TensorBoard reads as one run."""
    named = []
    for run in run_dirs:
        inside = R.run_folders_in(run)
        prefix = run.resolve().name + "/" if len(run_dirs) > 1 else ""
        named += [(prefix + r.name, r) for r in inside] if inside else [(run.resolve().name, run)]
    seen: dict[str, Path] = {}
    for name, run in named:
        if name in seen:
            raise R.RunError(f"{seen[name]} and {run} would both be exported to the subfolder {name}: export "
                             "them in two commands, each into its own --tensorboard folder")
        seen[name] = run
    return named


def _write_events(SummaryWriter, reader, run_dir, out: Path, max_frames: int) -> tuple[int, int]:
    scalars = images = 0
    writer = SummaryWriter(log_dir=str(out))
    try:
        for row in reader.metrics():
            for key, value in row.items():
                if key == R.STEP:
                    continue
                if isinstance(value, numbers.Real) and not isinstance(value, bool):
                    writer.add_scalar(key, value, row[R.STEP])
                    scalars += 1
                elif key == R.MODE_COUNTS and sum(value):   # a histogram of no sample is empty
                    writer.add_histogram(key, np.repeat(np.arange(len(value)), value), row[R.STEP])
        if reader.snapshot_steps():
            view = RunView(run_dir)
            timeline = Timeline([view], max_frames)
            renderers = timeline.renderers(None, IMAGE_SIZE, 100)
            for k, step in enumerate(timeline.steps):
                writer.add_image("snapshot", timeline.frame(renderers, k), step, dataformats="HWC")
                images += 1
    finally:
        writer.close()
    return scalars, images


def _refuse_used(out: Path) -> None:
    """A folder that holds events already is refused: TensorBoard reads every events file of a folder as one
    run, so a second export there would interleave two runs' curves (or one run's twice) step by step."""
    if out.is_dir() and any(out.glob("events.out.tfevents.*")):
        raise R.RunError(f"{out} holds TensorBoard events already (an earlier export?): give a new folder, e.g. one "
                         f"beside it per run (tensorboard --logdir {out.parent} shows them side by side), or delete "
                         "its events files to export anew")
