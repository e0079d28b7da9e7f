"""Animations of a run (or of several runs side by side) as GIF, or MP4 through the ffmpeg that the
imageio-ffmpeg package ships (a system ffmpeg is not needed).

Frames are rendered one at a time and turned into palette images at once, so memory holds one byte per
pixel per frame, never the RGB stream. The GIF palette is shared by all frames (taken from the first,
middle and last frame), which lets the GIF encoder store each frame as its changes from the previous.
"""
from __future__ import annotations

import itertools
import numbers
import subprocess
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

from .. import record as R
from . import DEFAULT_DPI, DEFAULT_FPS, DEFAULT_MAX_FRAMES, DEFAULT_SIZE, MAX_DPI, MIN_DPI, style
from .frames import FrameRenderer, parse_size
from .panels import ranges
from .source import RunView, VizError, at_or_before, check_folder_of, timeline

FORMATS = ("gif", "mp4")
#: the last frame stays up this long before the GIF loops, so the end state can be read
HOLD_LAST_S = 1.5
#: a GIF's frame delay is in hundredths of a second, and browsers show a delay under 2 of them as 10
#: (the 1990s' busy-loop guard): faster GIFs would play at 10 frames per second
GIF_MAX_FPS = 50


class Timeline:
    """What each of several runs shows at each frame step: its last snapshot at or before that step.
    Holds each needed snapshot once (loaded up front: the renderers need them all to fix ranges)."""

    def __init__(self, views: list[RunView], max_frames: int):
        self.views = views
        self.steps = timeline(views, max_frames)
        self.shown = [[at_or_before(v.steps, s) for s in self.steps] for v in views]
        self.snaps = [{s: v.snapshot(s) for s in sorted(set(shown))} for v, shown in zip(views, self.shown)]

    def renderers(self, layers, size, dpi, labels=None) -> list[FrameRenderer]:
        """One renderer per run: one step axis and one colour scale for all of them."""
        labels = labels or [None] * len(self.views)
        last = max(v.last_step for v in self.views)
        snap_lists = [list(snaps.values()) for snaps in self.snaps]
        return [FrameRenderer(v, snaps, layers, size, dpi, label, last, rng)
                for v, snaps, label, rng in zip(self.views, snap_lists, labels, ranges(self.views, snap_lists))]

    def frame(self, renderers: list[FrameRenderer], k: int) -> np.ndarray:
        """Frame k: every run's panel at step steps[k], side by side."""
        panels = [r.render(self.steps[k], snaps[shown[k]])
                  for r, snaps, shown in zip(renderers, self.snaps, self.shown)]
        return np.concatenate(panels, axis=1)

    def frames(self, renderers: list[FrameRenderer]) -> Iterator[np.ndarray]:
        return (self.frame(renderers, k) for k in range(len(self.steps)))


@style.styled
def animate_run(run_dir, fmt: str | None = None, fps: int = DEFAULT_FPS, dpi: int = DEFAULT_DPI,
                size: tuple[int, int] = DEFAULT_SIZE, layers: str | None = None,
                max_frames: int = DEFAULT_MAX_FRAMES, out=None) -> Path:
    """Render a run's snapshots into `out` (default RUN/animation.gif, or .mp4; a path without a
    suffix gets the format's) and return its path. The format is `fmt`, else out's suffix, else GIF."""
    check_numbers(fps, dpi, size)
    fmt = output_format(fmt, out)
    check_output(fmt, fps, out)
    view = RunView(run_dir)
    out = view.root / f"animation.{fmt}" if out is None else Path(out)
    if not out.suffix:   # a stem, as for figure: --out NOTES overwrote a file of that name with the GIF
        out = out.with_name(f"{out.name}.{fmt}")
    tl = Timeline([view], max_frames)
    write_animation(tl, tl.renderers(layers, size, dpi), out, fmt, fps)
    return out


def check_numbers(fps, dpi, size) -> None:
    """What the CLI's option types refuse, refused as one line for a caller in Python (gandiag.animate,
    gandiag.show): fps='fast' failed in a comparison, dpi=0 in a division and size='big' inside matplotlib."""
    if isinstance(fps, bool) or not isinstance(fps, numbers.Real):
        raise VizError(f"fps = {fps!r} is not allowed: give a number of frames per second, e.g. {DEFAULT_FPS}")
    if isinstance(dpi, bool) or not isinstance(dpi, numbers.Integral) or not MIN_DPI <= dpi <= MAX_DPI:
        raise VizError(f"dpi = {dpi!r} is not allowed: give a whole number from {MIN_DPI} to {MAX_DPI}")
    if not (isinstance(size, (tuple, list)) and len(size) == 2
            and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in size)):
        raise VizError(f"size = {size!r} is not allowed: give (WIDTH, HEIGHT) in pixels, e.g. {DEFAULT_SIZE}")
    parse_size("{}x{}".format(*size))   # as large as matplotlib draws and at least 120 x 120, as the CLI's


def output_format(fmt: str | None, out) -> str:
    """The animation format: as asked, else the suffix of `out`, else GIF; a conflict is an error."""
    suffix = Path(out).suffix.lower().lstrip(".") if out is not None else ""
    if fmt and suffix and suffix != fmt:
        raise VizError(f"--out {out} ends in .{suffix} but the format is {fmt}: make them agree")
    return fmt or suffix or "gif"


def check_output(fmt: str, fps: int, out=None) -> None:
    """Refuse an animation that cannot be written before spending time on rendering it."""
    if fmt not in FORMATS:
        raise VizError(f"format {fmt!r} is not supported: choose one of {', '.join(FORMATS)}")
    if fps < 1:
        raise VizError(f"fps = {fps} is not allowed: give a positive number of frames per second")
    if fmt == "gif" and fps > GIF_MAX_FPS:
        raise VizError(f"fps = {fps} is too fast for a GIF: browsers would play it at 10 frames per second; "
                       f"give --fps {GIF_MAX_FPS} or less, or use --format mp4")
    if out is not None:
        check_folder_of(out)
    if fmt == "mp4":
        ffmpeg()


def ffmpeg() -> str:
    """The ffmpeg binary: imageio-ffmpeg's own (it ships one in its wheel), or the one its
    IMAGEIO_FFMPEG_EXE variable or the PATH names where no wheel fits the platform."""
    try:
        import imageio_ffmpeg
        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        raise VizError("MP4 needs ffmpeg: pip install imageio-ffmpeg (it ships one), or install ffmpeg, "
                       "or use --format gif") from None


def write_animation(tl: Timeline, renderers: list[FrameRenderer], out: Path, fmt: str, fps: int) -> None:
    """Write the timeline's frames to out (checked by check_output first)."""
    if fmt == "mp4":
        write_mp4(tl.frames(renderers), out, fps)
        return
    n = len(tl.steps)
    palette = gif_palette([tl.frame(renderers, k) for k in sorted({0, n // 2, n - 1})])
    write_gif((to_palette(f, palette) for f in tl.frames(renderers)), out, fps)


def gif_palette(samples: list[np.ndarray]) -> Image.Image:
    """A 255-colour palette for all frames, from a few sample frames (one index stays free: the GIF
    encoder uses it to mark pixels unchanged since the previous frame)."""
    montage = Image.fromarray(np.concatenate(samples, axis=0))
    return montage.quantize(colors=255, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def to_palette(rgb: np.ndarray, palette: Image.Image) -> Image.Image:
    # no dithering: dithered noise differs between frames and defeats the GIF's frame differencing
    return Image.fromarray(rgb).quantize(palette=palette, dither=Image.Dither.NONE)


def write_gif(frames: Iterator[Image.Image], out: Path, fps: int) -> None:
    images = list(frames)
    durations = [round(1000 / fps)] * len(images)
    durations[-1] = max(durations[-1], round(1000 * HOLD_LAST_S))
    tmp = R.temp_path(out)
    try:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=durations,
                       loop=0, optimize=True, disposal=1)
        tmp.replace(out)  # a reader (the report, a browser) never sees half a GIF
    finally:
        tmp.unlink(missing_ok=True)


def _hold_last(frames: Iterator[np.ndarray], extra: int) -> Iterator[np.ndarray]:
    last = None
    for last in frames:
        yield last
    if last is not None:
        yield from itertools.repeat(last, extra)


def write_mp4(frames: Iterator[np.ndarray], out: Path, fps: int) -> None:
    """Pipe raw RGB frames into ffmpeg (H.264, yuv420p so every player opens it); the last frame is
    repeated for HOLD_LAST_S, as the GIF holds it, since players stop or loop at the end."""
    first = next(frames)
    frames = _hold_last(itertools.chain([first], frames), max(round(HOLD_LAST_S * fps) - 1, 0))
    h, w, _ = first.shape
    tmp = R.temp_path(out)
    cmd = [ffmpeg(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
           "-r", str(fps), "-i", "-", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", "-f", "mp4", str(tmp)]
    # unbuffered stdin: closing it after ffmpeg quit early must not raise while flushing
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0) as proc:
        try:
            for frame in frames:
                proc.stdin.write(frame.tobytes())
        except BrokenPipeError:
            pass  # ffmpeg quit early: its exit code and message below say why
        proc.stdin.close()
        err = proc.stderr.read().decode(errors="replace").strip()
    try:
        if proc.returncode:
            raise VizError(f"ffmpeg failed ({err.splitlines()[-1] if err else f'exit {proc.returncode}'}): "
                           "use --format gif")
        tmp.replace(out)  # a player never opens half a video
    finally:
        tmp.unlink(missing_ok=True)
