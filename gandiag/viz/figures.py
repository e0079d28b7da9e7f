"""Static figures for papers: a strip of snapshots at chosen steps over the run's metric curves (like
Figure 1 of the Unrolled GAN paper), and metric curves of several runs overlaid. Saved as PNG for
slides and as PDF and SVG (vector) for papers.
"""
from __future__ import annotations

import io
from pathlib import Path

from matplotlib.figure import Figure

from .. import record as R
from . import FIGURE_DPI, STRIP_LAYERS, style
from .frames import IMAGE_LAYERS, TOY_LAYERS, parse_layers
from .panels import ImagePanel, ToyPanel, ranges
from .source import RunView, VizError, at_or_before, timeline

FORMATS = ("png", "pdf", "svg")
#: (title, ((key, line label), ...)) per metric axes
FIGURE_METRICS = (
    ("loss", ((R.D_LOSS, "D"), (R.G_LOSS, "G"))),
    ("modes captured", ((R.MODES, None),)),
    ("high-quality share", ((R.HQ, None),)),
    ("reverse KL (nats)", ((R.REVERSE_KL, None),)),
    ("saturated share", ((R.SAT_SHARE, None),)),
)
DEFAULT_STRIP = 6
PANEL_IN = 2.0  # inches per strip panel


def parse_steps(text: str | None) -> list[int] | None:
    """'0,5000,10000' -> [0, 5000, 10000]; None or '' -> None (evenly spaced snapshots)."""
    if not text:
        return None
    try:
        steps = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise VizError(f"steps {text!r} is not a comma-separated list of step numbers, e.g. 0,5000,10000") from None
    if not steps or min(steps) < 0:
        raise VizError(f"steps {text!r} is not allowed: give one or more steps >= 0")
    return steps


def plot_metrics(slot, views: list[RunView], labels: list[str | None], marks=()) -> list:
    """One small axes per metric that some run logged, side by side in `slot` (a gridspec cell), each
    run a colour; dotted lines at `marks` (the strip's steps)."""
    present = [(title, keys) for title, keys in FIGURE_METRICS
               if any(len(v.series(key)[0]) for v in views for key, _ in keys)]
    if not present:
        return []
    axes = slot.subgridspec(1, len(present), wspace=0.45).subplots(squeeze=False)[0]
    for ax, (title, keys) in zip(axes, present):
        for i, (view, label) in enumerate(zip(views, labels)):
            for j, (key, part) in enumerate(keys):
                # runs differ by colour, D and G by line style (and by colour too when there is one run)
                colour = style.RUN_COLOURS[i if len(views) > 1 else j]
                name = " ".join(p for p in (label, part) if p) or None
                ax.plot(*view.series(key), color=colour, linestyle=("-", "--")[j % 2], linewidth=1.0,
                        label=name)
        for step in marks:
            ax.axvline(step, color=style.GREY, linewidth=0.6, linestyle=":")
        ax.set_title(title, loc="left")
        ax.set_xlabel("step")
        if any(line.get_label() and not line.get_label().startswith("_") for line in ax.get_lines()):
            ax.legend(loc="best")
    return list(axes)


def strip_figure(view: RunView, steps: list[int] | None = None, layers: str | None = None) -> Figure:
    """Snapshots at `steps` (each the last snapshot at or before it) in a row, the metric curves below."""
    wanted = steps if steps is not None else timeline([view], DEFAULT_STRIP)
    shown = [at_or_before(view.steps, s) for s in wanted]
    snaps = {s: view.snapshot(s) for s in sorted(set(shown))}
    available = IMAGE_LAYERS if view.is_image else TOY_LAYERS
    chosen = parse_layers(layers if layers is not None else (None if view.is_image else STRIP_LAYERS), available)
    n = len(wanted)
    fig = Figure(figsize=(max(PANEL_IN * n, 7.0), PANEL_IN + 2.2), layout="constrained")
    grid = fig.add_gridspec(2, 1, height_ratios=[PANEL_IN, 1.6])
    rng = ranges(view, list(snaps.values()))
    row = grid[0].subgridspec(1, n).subplots(squeeze=False)[0]
    for k, (ax, step, at) in enumerate(zip(row, wanted, shown)):
        if view.is_image:
            ImagePanel(ax, snaps[at])
        else:
            panel = ToyPanel(ax, view, chosen, snaps[at], rng)
            ax.tick_params(labelleft=k == 0)  # one y-axis for the row: the window is the same in all
        ax.set_title(f"step {step:,}" + (f" (snapshot {at:,})" if at != step else ""))
    if not view.is_image and panel.heat is not None:  # one colour bar: all panels share the range
        fig.colorbar(panel.heat, ax=list(row), shrink=0.8, aspect=15, pad=0.01,
                     label="D(x)" if view.probabilistic else "critic score")
    plot_metrics(grid[1], [view], [None], marks=wanted)
    verdicts = [title for title, _ in view.verdicts()]
    fig.suptitle(view.title() + (f"  ·  {'; '.join(verdicts)}" if verdicts else ""), x=0.01, ha="left")
    return fig


def compare_figure(views: list[RunView], labels: list[str]) -> Figure:
    """The runs' metric curves overlaid, one colour per run."""
    fig = Figure(figsize=(11.0, 3.0), layout="constrained")
    if not plot_metrics(fig.add_gridspec(1, 1)[0], views, labels):
        raise VizError("none of the runs has logged metrics yet: nothing to compare over time")
    fig.suptitle("  vs  ".join(labels), x=0.01, ha="left")
    return fig


def save_figure(fig: Figure, stem: Path, dpi: int = FIGURE_DPI) -> list[Path]:
    """stem.png, stem.pdf and stem.svg."""
    paths = [stem.with_suffix(f".{ext}") for ext in FORMATS]
    freeze_layout(fig)
    for path in paths:
        fig.savefig(path, dpi=dpi)
    return paths


@style.styled
def write_figure(run_dir, steps: list[int] | None = None, layers: str | None = None,
                 dpi: int = FIGURE_DPI) -> list[Path]:
    """RUN/figure.png, .pdf and .svg: the snapshot strip and the metric curves."""
    view = RunView(run_dir)
    return save_figure(strip_figure(view, steps, layers), view.root / "figure", dpi)


def freeze_layout(fig: Figure) -> None:
    """Lay the figure out once and keep it: constrained layout would otherwise run again (slowly) for
    every file saved."""
    fig.draw_without_rendering()
    fig.set_layout_engine("none")


def png_bytes(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes (for pages that embed it)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
