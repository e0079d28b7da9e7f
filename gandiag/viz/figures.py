"""Static figures for papers: a strip of snapshots at chosen steps over the run's metric curves (like
Figure 1 of the Unrolled GAN paper), and metric curves of several runs overlaid. Saved as PNG for
slides and as PDF and SVG (vector) for papers.

A figure is laid out for its print size (`--size column|page|WxH`, in inches): text is set in points,
so at that size no text is smaller than 7 pt, and panels and curves wrap into rows rather than shrink.
"""
from __future__ import annotations

import io
import math
import textwrap
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator

from .. import record as R
from . import FIGURE_DPI, STRIP_LAYERS, style
from .describe import curve_groups
from .frames import IMAGE_PANEL_LAYERS, TOY_PANEL_LAYERS, parse_layers
from .panels import ImagePanel, ToyPanel, held_layers, ranges
from .source import RunView, VizError, at_or_before, check_folder_of, check_pixels, ensure_diagnosis, timeline

FORMATS = ("png", "pdf", "svg")
#: print widths in inches: a journal column and a full page (two-column journals: ~3.3-3.5 and ~7)
SIZES = {"column": 3.5, "page": 7.0}
DEFAULT_SIZE = "page"
DEFAULT_STRIP = 6
MIN_PANEL_IN = 0.9    # a snapshot panel is never narrower: more panels wrap into another row
MIN_CURVE_IN = 1.3    # nor is a metric's axes
CURVE_IN = 1.25       # height of a row of metric curves
MIN_SQUEEZE = 0.6     # a fixed height keeps at least this share of the height the content needs
#: the groups a figure draws (of describe.curve_groups), in this order
FIGURE_METRICS = ("losses", "modes captured", "k-NN scores", "high-quality share", "reverse KL (nats)",
                  "saturated share", "classes generated", "classifier score", "Frechet distance")


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


def parse_figure_size(text: str | None) -> tuple[float, float | None]:
    """'column' -> (3.5, None), 'page' -> (7.0, None), '7x4.5' -> (7.0, 4.5): width and height in inches
    (None: as tall as the content needs)."""
    text = (text or DEFAULT_SIZE).strip().lower()
    if text in SIZES:
        return SIZES[text], None
    try:
        w, h = (float(v) for v in text.split("x"))
    except ValueError:
        raise VizError(f"size {text!r} is not column, page or WIDTHxHEIGHT in inches, e.g. 7x4") from None
    if not (2.0 <= w <= 40 and 1.5 <= h <= 40):
        raise VizError(f"size {text!r} is not allowed: give a width of 2-40 and a height of 1.5-40 inches")
    return w, h


def _metric_groups(views: list[RunView]) -> list:
    groups = {title: keys for title, keys in curve_groups(views[0].is_image)}
    return [(t, groups[t]) for t in FIGURE_METRICS
            if t in groups and any(len(v.series(k)[0]) for v in views for k, _ in groups[t])]


def plot_metrics(slot, views: list[RunView], labels: list[str | None], width_in: float, marks=()) -> list:
    """One small axes per metric that some run logged, wrapped into rows of axes at least MIN_CURVE_IN
    wide, in `slot` (a gridspec cell); each run a colour; dotted lines at `marks` (the strip's steps)."""
    present = _metric_groups(views)
    if not present:
        return []
    per_row = max(1, min(len(present), int(width_in // MIN_CURVE_IN)))
    rows = math.ceil(len(present) / per_row)
    grid = slot.subgridspec(rows, per_row)
    axes = []
    for i, (title, keys) in enumerate(present):
        ax = slot.get_gridspec().figure.add_subplot(grid[i // per_row, i % per_row])
        for r, (view, label) in enumerate(zip(views, labels)):
            for j, (key, part) in enumerate(keys):
                # runs differ by colour, series by line style (and by colour too when there is one run)
                colour = style.RUN_COLOURS[r if len(views) > 1 else j]
                name = part if len(views) == 1 else label if j == 0 else None
                ax.plot(*view.series(key), color=colour, linestyle=("-", "--")[j % 2], linewidth=1.0,
                        label=name or "_")
        for step in marks:
            ax.axvline(step, color=style.GREY, linewidth=0.6, linestyle=":")
        ax.set_title(title, loc="left")
        ax.set_xlabel("step")
        ax.xaxis.set_major_formatter(FuncFormatter(_kilo))
        ax.xaxis.set_major_locator(MaxNLocator(4, steps=[1, 2, 5, 10]))
        ax.tick_params(length=2, pad=1)
        if len(keys) > 1:  # which line is which series (several runs: by line style, in grey)
            styles = [Line2D([], [], color=style.GREY if len(views) > 1 else style.RUN_COLOURS[j],
                             linestyle=("-", "--")[j % 2], linewidth=1.0) for j in range(len(keys))]
            ax.legend(styles, [part for _, part in keys], loc="best", handlelength=1.5)
        axes.append(ax)
    return axes


def strip_figure(view: RunView, steps: list[int] | None = None, layers: str | None = None,
                 size: tuple[float, float | None] = (SIZES[DEFAULT_SIZE], None)) -> Figure:
    """Snapshots at `steps` (each the last snapshot at or before it) in rows, the metric curves below,
    laid out for a print size of `size` inches (height None: as much as the content needs)."""
    wanted = steps if steps is not None else timeline([view], DEFAULT_STRIP)
    shown = [at_or_before(view.steps, s) for s in wanted]
    snaps = {s: view.snapshot(s) for s in sorted(set(shown))}
    # a frame's side panels and title are the figure's curves and title, always drawn: only the
    # snapshot panel's layers can be chosen
    available = IMAGE_PANEL_LAYERS if view.is_image else TOY_PANEL_LAYERS
    default = None if view.is_image else tuple(STRIP_LAYERS.split(","))
    chosen = held_layers(parse_layers(layers, available, default), snaps.values())
    width, height = size
    n = len(wanted)
    most = max(1, min(n, int((width - 0.7) // MIN_PANEL_IN)))  # 0.7 in: the y labels and colour bar
    strip_rows = math.ceil(n / most)
    per_row = math.ceil(n / strip_rows)  # rows as even as they go: 4 panels as 2 + 2, not 3 + 1
    panel_in = (width - 0.7) / per_row
    n_metrics = len(_metric_groups([view]))
    curve_rows = math.ceil(n_metrics / max(1, min(n_metrics, int(width // MIN_CURVE_IN)))) if n_metrics else 0
    title = _wrap(view.title() + "".join(f"  ·  {t}" for t, _ in view.verdicts()), width)
    head_in = 0.2 + 0.14 * title.count("\n")
    strip_h, curves_h = strip_rows * (panel_in + 0.3), curve_rows * CURVE_IN
    if height is not None:
        refuse_a_short_figure(size, head_in + 0.1, strip_h + curves_h)
    fig = Figure(figsize=(width, height or head_in + strip_h + curves_h + 0.1), layout="constrained")
    fig.get_layout_engine().set(w_pad=0.02, h_pad=0.02, wspace=0.04, hspace=0.04)
    grid = fig.add_gridspec(2 if curve_rows else 1, 1, height_ratios=[strip_h, curves_h] if curve_rows else None)
    rng = ranges([view], [list(snaps.values())])[0]
    cells = grid[0].subgridspec(strip_rows, per_row)
    row_axes, panel = [], None
    two_line = panel_in < 1.6  # "step 12,000 (snapshot 11,500)" does not fit on one line of a narrow panel
    for k, (step, at) in enumerate(zip(wanted, shown)):
        ax = fig.add_subplot(cells[k // per_row, k % per_row])
        if view.is_image:
            ImagePanel(ax, snaps[at])
        else:
            panel = ToyPanel(ax, view, chosen, snaps[at], rng, short_note=True)
            ax.tick_params(labelleft=k % per_row == 0, labelbottom=k >= n - per_row)
            for axis in (ax.xaxis, ax.yaxis):  # -2, 0, 2: labels of neighbouring panels must not touch
                axis.set_major_locator(MaxNLocator(nbins=3, steps=[1, 2, 2.5, 5, 10]))
        ax.set_title(f"step {step:,}" + (("\n" if two_line else " ") + f"(snapshot {at:,})" if at != step else ""))
        row_axes.append(ax)
    if panel is not None and panel.heat is not None:  # one colour bar: all panels share the range
        fig.colorbar(panel.heat, ax=row_axes, shrink=0.8, aspect=15, pad=0.01, fraction=0.04,
                     label="D(x)" if view.probabilistic else "critic")
    if curve_rows:
        plot_metrics(grid[1], [view], [None], width, marks=wanted)
    fig.suptitle(title, x=0.01, ha="left", fontsize=8)
    return fig


def refuse_a_short_figure(size: tuple[float, float], fixed_in: float, content_in: float) -> None:
    """A fixed height scales the strip and the curves alike: refuse one that squeezes them below
    MIN_SQUEEZE of the height they need, where tick labels run into each other and, shorter still,
    matplotlib gives up the layout with a warning, not an error."""
    width, height = size
    least = math.ceil(10 * (fixed_in + MIN_SQUEEZE * content_in)) / 10
    if height < least:
        raise VizError(f"size {width:g}x{height:g} is too short for this figure: give a height of at least "
                       f"{least:g} in (or --size column or page: as tall as it needs)")


def _kilo(x, _pos=None) -> str:
    """Step ticks: 0, 500, 10k, 25k (fewer, shorter labels than 25000 or a x10^4 offset)."""
    return f"{x / 1000:g}k" if abs(x) >= 1000 else f"{x:g}"


def _wrap(text: str, width_in: float, pt: float = 8.0) -> str:
    """Text wrapped to a width in inches at a font size (DejaVu Sans: about 0.55 em per character)."""
    return "\n".join(textwrap.wrap(text, max(20, int(width_in * 72 / (0.58 * pt)))))


def compare_figure(views: list[RunView], labels: list[str],
                   size: tuple[float, float | None] = (SIZES[DEFAULT_SIZE], None)) -> Figure:
    """The runs' metric curves overlaid, one colour per run, named in one legend above them."""
    width, height = size
    n_metrics = len(_metric_groups(views))
    if not n_metrics:
        raise VizError("none of the runs has logged metrics yet: nothing to compare over time")
    rows = math.ceil(n_metrics / max(1, min(n_metrics, int(width // MIN_CURVE_IN))))
    fig = Figure(figsize=(width, height or rows * CURVE_IN + 0.35), layout="constrained")
    axes = plot_metrics(fig.add_gridspec(1, 1)[0], views, labels, width)
    handles = [line for line in axes[0].get_lines() if not line.get_label().startswith("_")]
    names = [_wrap(h.get_label(), width - 0.5, 7.0) for h in handles]
    # side by side when the names fit on one line (about 0.58 em a character, 3 em of line and gaps each)
    one_line = sum(len(n) * 0.58 * 7 / 72 + 3 * 7 / 72 for n in names) <= 0.95 * width
    fig.legend(handles, names, loc="outside upper left", ncols=len(names) if one_line else 1, handlelength=1.5)
    return fig


def save_figure(fig: Figure, stem: Path, dpi: int = FIGURE_DPI, formats=FORMATS) -> list[Path]:
    """stem.png, stem.pdf and stem.svg (or those of `formats`)."""
    # the suffix added, not swapped: a stem's own dot (fig-v1.2) is part of its name
    paths = [stem.with_name(f"{stem.name}.{ext}") for ext in formats]
    width, height = fig.get_size_inches()
    check_pixels(width * dpi, height * dpi, f"a {width:.1f} x {height:.1f} in figure at {dpi} dpi")
    freeze_layout(fig)
    for path in paths:   # whole or not at all, as every file gandiag writes
        buf = io.BytesIO()
        fig.savefig(buf, format=path.suffix[1:], dpi=dpi)
        R.atomic_write_bytes(path, buf.getvalue())
    return paths


def figure_targets(out, default_stem: Path) -> tuple[Path, tuple[str, ...]]:
    """(stem, formats) to write: `out` with a .png/.pdf/.svg suffix is that one file, without one it is
    a stem for all three; None: default_stem."""
    if out is None:
        return default_stem, FORMATS
    out = Path(out)
    check_folder_of(out)
    suffix = out.suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return out.with_suffix(""), (suffix,)
    if suffix:
        raise VizError(f"--out {out}: a figure is written as .png, .pdf or .svg (or give no suffix for all three)")
    return out, FORMATS


@style.styled
def write_figure(run_dir, steps: list[int] | None = None, layers: str | None = None,
                 dpi: int = FIGURE_DPI, size: str | tuple = DEFAULT_SIZE, out=None) -> list[Path]:
    """The snapshot strip and the metric curves as RUN/figure.png, .pdf and .svg, or to `out` (a
    file with one of those suffixes, or a stem for all three). `size`: column, page, 'WxH' inches."""
    view = RunView(run_dir)
    stem, formats = figure_targets(out, view.root / "figure")
    size = parse_figure_size(size) if isinstance(size, str) else size
    ensure_diagnosis(view)   # the title names the verdicts
    return save_figure(strip_figure(view, steps, layers, size), stem, dpi, formats)


def freeze_layout(fig: Figure) -> None:
    """Lay the figure out once and keep it: constrained layout would otherwise run again (slowly) for
    every file saved."""
    fig.draw_without_rendering()
    fig.set_layout_engine("none")


def png_bytes(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes (for pages that embed it)."""
    buf = io.BytesIO()
    freeze_layout(fig)
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
