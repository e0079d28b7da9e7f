"""Several runs side by side: one synchronized GIF (every run at the same step, labelled by what differs
between their configs), their metric curves overlaid, and a table of their metrics over time."""
from __future__ import annotations

from pathlib import Path

from . import DEFAULT_DPI, DEFAULT_FPS, DEFAULT_MAX_FRAMES, DEFAULT_SIZE, style
from .animate import Timeline, check_output, write_animation
from .figures import compare_figure, save_figure
from .source import RunView, VizError, labels_for, runs_named
from .table import metrics_table, to_csv, to_markdown


@style.styled
def compare_runs(run_dirs, out_dir, fmt: str = "gif", fps: int = DEFAULT_FPS, dpi: int = DEFAULT_DPI,
                 size: tuple[int, int] = DEFAULT_SIZE, layers: str | None = None,
                 max_frames: int = DEFAULT_MAX_FRAMES, labels: list[str] | None = None) -> list[Path]:
    """Write OUT/compare.gif (or .mp4), compare.png/.pdf/.svg, compare.csv and compare.md; return them.
    `size` is the size of each run's panel; `labels` name the runs (default: what differs between them).
    All panels share one colour scale for D."""
    check_output(fmt, fps)
    run_dirs = runs_named(run_dirs)
    if len(run_dirs) < 2:
        raise VizError("compare needs at least two run folders")
    views = [RunView(d) for d in run_dirs]
    if len({v.is_image for v in views}) > 1:
        raise VizError("compare needs runs of one kind: all 2D toy runs or all image runs")
    labels = labels_for(views, labels)
    # the renderers check the size and the layers: a bad one is refused before any file is written
    tl = Timeline(views, max_frames)
    renderers = tl.renderers(layers, size, dpi, labels)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = save_figure(compare_figure(views, labels), out / "compare")
    animation = out / f"compare.{fmt}"
    write_animation(tl, renderers, animation, fmt, fps)
    header, rows = metrics_table(views, labels)
    (out / "compare.csv").write_text(to_csv(header, rows), encoding="utf-8")
    (out / "compare.md").write_text(to_markdown(header, rows), encoding="utf-8")
    return [animation, *figures, out / "compare.csv", out / "compare.md"]

