"""One frame of a run at a step, as an RGB array: the figure is built once, then each frame only swaps
the data of its artists and redraws (Agg) into a pixel buffer.

    toy run:    [ D heatmap + target contours + fakes + push arrows + G manifold ] [ mode bars ]
                                                                                  [ curves    ]
    image run:  [ fixed-z sample grid ]                                          [ class bars ]
                                                                                  [ curves     ]
    and a title with the run, the step and any verdicts from diagnosis.json.
"""
from __future__ import annotations

import numpy as np

from .. import record as R
from . import DEFAULT_DPI, DEFAULT_SIZE, style
from .describe import curve_groups
from .panels import BarsPanel, CurvesPanel, ImagePanel, Ranges, ToyPanel, held_layers, mode_share, ranges
from .source import RunView, VizError, check_pixels

#: the layers drawn on a frame's snapshot panel (a figure's panels draw these only), then those beside it
TOY_PANEL_LAYERS, IMAGE_PANEL_LAYERS = ("heatmap", "density", "fakes", "arrows", "manifold"), ("samples",)
TOY_LAYERS = (*TOY_PANEL_LAYERS, "bars", "curves", "title")
IMAGE_LAYERS = (*IMAGE_PANEL_LAYERS, "classes", "curves", "title")
#: the metric groups (of describe.curve_groups) a frame has room for
FRAME_CURVES = ("losses", "modes captured", "k-NN scores", "saturated share", "classes generated", "classifier score")

# frame margins in pixels at DEFAULT_DPI (they grow with dpi, as the text in them does)
_TOP_TITLE, _TOP_BARE, _BOTTOM, _LEFT, _RIGHT, _GAP, _VGAP = 46, 10, 30, 34, 20, 80, 24
_CBAR_OFFSET, _CBAR_WIDTH = 8, 7  # D's colour bar, in the gap right of the main panel


def parse_layers(spec: str | list[str] | None, available: tuple[str, ...],
                 default: tuple[str, ...] | None = None) -> frozenset:
    """'heatmap,fakes' (or, from Python, ['heatmap', 'fakes']) keeps only those; '-arrows,-bars' drops
    those from the default layers (`default`, else all: dropping one never adds another); None is the
    default, 'all' is all."""
    default = frozenset(default or available)
    if isinstance(spec, (list, tuple)):   # a list failed with "'list' object has no attribute 'strip'"
        spec = ",".join(map(str, spec))
    if spec is not None and not isinstance(spec, str):
        raise VizError(f"layers = {spec!r} is not allowed: name them, e.g. 'heatmap,fakes' or ['heatmap', 'fakes']")
    if spec is None or not spec.strip():
        return default
    if spec.strip() == "all":
        return frozenset(available)
    items = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [s for s in items if s.lstrip("-") not in available]
    if unknown:
        raise VizError(f"unknown layer {unknown[0].lstrip('-')!r}: choose from {', '.join(available)} "
                       "(prefix with - to drop one)")
    keep = [s for s in items if not s.startswith("-")]
    drop = {s[1:] for s in items if s.startswith("-")}
    chosen = frozenset(keep or default) - drop
    if not chosen:  # an empty picture would be written as if it were one
        raise VizError(f"--layers {spec} leaves nothing to draw: keep at least one of {', '.join(available)}")
    return chosen


def parse_size(text: str) -> tuple[int, int]:
    """'800x450' -> (800, 450)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise VizError(f"size {text!r} is not WIDTHxHEIGHT in pixels, e.g. 800x450") from None
    if w < 120 or h < 120:
        raise VizError(f"size {text!r} is too small: give at least 120x120 pixels")
    check_pixels(w, h, f"a frame of size {text}")
    return w, h


class FrameRenderer:
    """Renders one run's frames at a fixed size. `snaps` are the snapshots that will be drawn: they fix
    colour and bar ranges for the whole animation unless `rng` is given (runs side by side share one).
    `last_step` ends the curves' step axis (runs shown side by side share it, so their cursors line
    up); default: the run's last step."""

    def __init__(self, view: RunView, snaps: list[dict], layers: str | frozenset | None = None,
                 size: tuple[int, int] = DEFAULT_SIZE, dpi: int = DEFAULT_DPI, label: str | None = None,
                 last_step: int | None = None, rng: Ranges | None = None):
        available = IMAGE_LAYERS if view.is_image else TOY_LAYERS
        self.layers = held_layers(layers if isinstance(layers, frozenset) else parse_layers(layers, available), snaps)
        self.view, self.label, self.size = view, label, size
        self.verdicts = view.verdicts()
        self.fig = style.figure(*size, dpi)
        groups = [g for g in curve_groups(view.is_image) if g[0] in FRAME_CURVES]
        curve_series = CurvesPanel.groups(view, groups) if "curves" in self.layers else []
        rng = rng or ranges([view], [snaps])[0]
        bars = self._bars_spec(rng)
        main, bar_rect, curve_rects = _layout(size, dpi / DEFAULT_DPI, "title" in self.layers, bars is not None,
                                              len(curve_series))
        ax = self.fig.add_axes(main)
        if view.is_image:
            ax.set_axis_off()
            self.main = ImagePanel(ax, snaps[0]) if "samples" in self.layers else None
        else:
            x, y, w, h = main
            k = dpi / DEFAULT_DPI / size[0]
            cbar = self.fig.add_axes((x + w + _CBAR_OFFSET * k, y + 0.25 * h, _CBAR_WIDTH * k, 0.5 * h)) \
                if "heatmap" in self.layers else None
            self.main = ToyPanel(ax, view, self.layers, snaps[0], rng, cbar)
        self.bars = BarsPanel(self.fig.add_axes(bar_rect), *bars) if bars else None
        self.curves = CurvesPanel([self.fig.add_axes(r) for r in curve_rects], view, curve_series,
                                  last_step or view.last_step) \
            if curve_series else None
        self.title = None if "title" not in self.layers else \
            self.fig.text(main[0], 1 - 6 * dpi / DEFAULT_DPI / size[1], "", va="top", ha="left", fontsize=9)
        self.animated = [a for panel in (self.main, self.bars, self.curves) if panel for a in panel.artists] \
            + ([self.title] if self.title is not None else [])
        for artist in self.animated:
            artist.set_animated(True)
        self.fig.canvas.draw()  # everything that never changes, once
        self.background = self.fig.canvas.copy_from_bbox(self.fig.bbox)

    def _bars_spec(self, rng):
        """(bins, top, title, uniform line) of the histogram panel, or None when it has nothing to show."""
        view = self.view
        if view.is_image:
            counts = [r[R.MODE_COUNTS] for r in view.rows if isinstance(r.get(R.MODE_COUNTS), list)]
            if "classes" not in self.layers or not counts:
                return None
            n = len(counts[-1])
            top = 1.15 * max(max(c) / max(sum(c), 1) for c in counts)
            return n, max(top, 1.5 / n), "samples per class", 1.0 / n
        if "bars" not in self.layers or view.mixture is None:  # no modes known: no share per mode
            return None
        m = view.mixture.n_modes
        return m, rng.share_hi, "fakes per mode", 1.0 / m

    def render(self, step: int, snap: dict) -> np.ndarray:
        """The frame at `step` showing snapshot `snap` (the last one at or before step), (H, W, 3) uint8."""
        if self.main:
            self.main.update(snap)
        shown = int(snap[R.SNAP_STEP])
        if self.bars:
            self.bars.update(*self._bar_heights(step, snap))
        if self.curves:
            self.curves.update(step)
        if self.title is not None:
            fit_text(self.title, self._title(step, shown), self.size[0] - self.title.get_position()[0] * self.size[0])
        canvas = self.fig.canvas
        canvas.restore_region(self.background)
        for artist in self.animated:
            self.fig.draw_artist(artist)
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()

    def _bar_heights(self, step: int, snap: dict) -> tuple[np.ndarray, str]:
        if self.view.is_image:
            n = len(self.bars.bars)
            counts = np.zeros(n)
            logged = np.asarray(self.view.row_at(step, R.MODE_COUNTS) or [], dtype=np.float64)[:n]
            counts[:len(logged)] = logged
            heights = counts / max(counts.sum(), 1.0)
            return heights, f"({int((heights > 0).sum())} of {n} present)"
        share = mode_share(self.view.mixture, snap[R.SNAP_FAKES])
        return share, f"(HQ in {int((share > 0).sum())} of {len(share)})"

    def _title(self, step: int, shown: int) -> str:
        head = f"{self.label}  ·  {self.view.title()}" if self.label else self.view.title()
        at = f"step {step:,}" + (f" (snapshot {shown:,})" if shown != step else "")
        found = [title for title, since in self.verdicts if since <= step]  # once the evidence begins
        return f"{head}\n{at}" + (f"   ·   {'; '.join(found)}" if found else "")


def fit_text(text, content: str, width_px: float) -> None:
    """Set text's content, cutting each line that would run past width_px with an ellipsis (a long label
    must not run into the next panel or off the frame)."""
    lines = content.split("\n")
    renderer = text.figure.canvas.get_renderer()
    for i, line in enumerate(lines):
        text.set_text("\n".join(lines[:i] + [line]))
        if text.get_window_extent(renderer).width <= width_px:
            continue
        lo, hi = 0, len(line)  # the longest prefix that fits, by bisection
        while lo < hi:
            mid = (lo + hi + 1) // 2
            text.set_text("\n".join(lines[:i] + [line[:mid].rstrip() + "..."]))
            lo, hi = (mid, hi) if text.get_window_extent(renderer).width <= width_px else (lo, mid - 1)
        lines[i] = line[:lo].rstrip() + "..."
    text.set_text("\n".join(lines))


def _layout(size, scale: float, title: bool, bars: bool, n_curves: int):
    """Axes rectangles (figure fractions): a square main panel on the left and, when there are side
    panels, a column on the right with the histogram on top and the curves stacked below it.
    `scale` grows the margins with the dpi."""
    w, h = size
    top, bottom, left, right, gap, vgap = (scale * m for m in (
        _TOP_TITLE if title else _TOP_BARE, _BOTTOM, _LEFT, _RIGHT, _GAP, _VGAP))
    side = h - top - bottom
    has_column = bars or n_curves
    column_w = w - left - side - gap - right
    if has_column and column_w < 100 * scale:
        raise VizError(f"size {w}x{h} leaves no room for the side panels: make it wider (about "
                       f"{round(left + side + gap + right + 200 * scale)} px) or drop them with "
                       "--layers -bars,-curves")
    if side < 60:
        raise VizError(f"size {w}x{h} is too small at dpi {round(scale * DEFAULT_DPI)}: make it larger "
                       "or lower the dpi")
    x_main = left if has_column else (w - side) / 2
    main = (x_main / w, bottom / h, side / w, side / h)
    x0 = (left + side + gap) / w
    slots = [0.9] * bool(bars) + [1.0] * n_curves  # the histogram a little shorter than each curve
    gaps = [vgap + 12 * scale * (bars and i == 0) for i in range(len(slots) - 1)] + [0]  # room for bin labels
    usable = side - sum(gaps)
    rects, y = [], h - top
    for share, g in zip(slots, gaps):
        hh = usable * share / sum(slots)
        rects.append((x0, (y - hh) / h, column_w / w, hh / h))
        y -= hh + g
    return main, (rects.pop(0) if bars else None), rects
