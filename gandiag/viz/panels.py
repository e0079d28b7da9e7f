"""The panels a frame is made of. Each builds its artists once on an axes, lists in `artists` (in
drawing order) those a frame changes, and then only updates their data (set_data / set_offsets /
set_UVC / set_height). The renderer draws everything else once and per frame redraws only `artists`
over that background: axes, ticks and labels are most of matplotlib's drawing time.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.collections import LineCollection, PolyCollection

from .. import record as R
from ..metrics.coverage import HQ_RADIUS, mode_counts
from . import style

#: arrows drawn per frame (an even subset of the fixed-z fakes: more would hide the points)
ARROWS_SHOWN = 128
#: an arrow of typical size (the 90th percentile of the frame's gradient norms) spans this share of the
#: window; only directions and relative sizes within a frame carry meaning
ARROW_LENGTH = 0.07
#: a fake outside the window is marked by a triangle on the window's edge pointing at it, this share of
#: the window long
EDGE_MARK = 0.035
#: the classes or modes beyond which a histogram gets no per-bin tick labels
MAX_TICKED_BINS = 12


@dataclass(frozen=True)
class Ranges:
    """Value ranges fixed over all frames, so colours and bar heights mean the same in every frame."""
    d_lo: float
    d_hi: float
    share_hi: float


#: the arrays each toy layer draws that a snapshot may lack: one recorded as given fakes, or of a G without
#: D (Recorder.snapshot), holds the fakes alone
LAYER_ARRAYS = {"heatmap": (R.SNAP_D_GRID, R.SNAP_GRID_X, R.SNAP_GRID_Y), "arrows": (R.SNAP_ARROWS,)}


def held_layers(layers: frozenset, snaps) -> frozenset:
    """`layers` less those that some of the snapshots to be drawn hold no arrays for."""
    return frozenset(layer for layer in layers
                     if all(key in snap for snap in snaps for key in LAYER_ARRAYS.get(layer, ())))


def ranges(views: list, snap_lists: list[list[dict]]) -> list[Ranges]:
    """One Ranges per run over the snapshots that will be drawn, shared by runs whose D speaks the same
    units (probabilities, or critic scores), so one colour means one D value in every panel side by
    side. Probabilities span 0.5 +- the largest departure from 0.5 (at least 0.05), so an undecided D
    is white and the weak preferences of early training still show; critic scores span their 2nd-98th
    percentile (one outlier frame must not wash out the others). Bar heights share one top."""
    toy = [(v, s) for v, s in zip(views, snap_lists) if not v.is_image]
    if not toy:
        return [Ranges(0.0, 1.0, 1.0) for _ in views]
    moded = [(v, snaps) for v, snaps in toy if v.mixture is not None]
    shares = [mode_share(v.mixture, snap[R.SNAP_FAKES]).max() for v, snaps in moded for snap in snaps]
    share_hi = min(1.0, 1.15 * max(shares + [2.0 / v.mixture.n_modes for v, _ in moded] + [0.0])) or 1.0
    by_kind = {}
    for probabilistic in {v.probabilistic for v, _ in toy}:
        values = np.concatenate([snap[R.SNAP_D_GRID].ravel() for v, snaps in toy for snap in snaps
                                 if v.probabilistic == probabilistic and R.SNAP_D_GRID in snap] or [np.empty(0)])
        by_kind[probabilistic] = _d_range(values[np.isfinite(values)], probabilistic)
    return [Ranges(*by_kind[v.probabilistic], share_hi) if not v.is_image else Ranges(0.0, 1.0, 1.0)
            for v in views]


def _d_range(values: np.ndarray, probabilistic: bool) -> tuple[float, float]:
    if probabilistic:
        reach = max(0.05, float(np.percentile(np.abs(values - 0.5), 98))) if len(values) else 0.5
        return 0.5 - reach, 0.5 + reach
    lo, hi = np.percentile(values, [2, 98]) if len(values) else (0.0, 1.0)
    return float(lo), float(hi if hi > lo else lo + 1.0)


def off_window(fakes: np.ndarray, window) -> tuple[np.ndarray, np.ndarray]:
    """(mask of the finite fakes outside the window, where each of them leaves it): the point on the
    window's edge on the ray from the window's centre to the fake, so a mark there points at it."""
    x0, x1, y0, y1 = window
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    half = np.array([(x1 - x0) / 2, (y1 - y0) / 2])
    fakes = np.asarray(fakes, dtype=np.float64)
    d = fakes - centre
    finite = np.all(np.isfinite(d), axis=1)
    outside = finite & np.any(np.abs(np.where(finite[:, None], d, 0.0)) > half, axis=1)
    d = d[outside]
    t = np.min(half / np.maximum(np.abs(d), 1e-300), axis=1)  # < 1 for a point outside
    return outside, centre + d * t[:, None]


def edge_marks(fakes: np.ndarray, window, length: float) -> list[np.ndarray]:
    """One triangle per fake outside the window: its tip on the edge where the fake left, pointing out."""
    outside, exits = off_window(fakes, window)
    x0, x1, y0, y1 = window
    out = np.asarray(fakes, dtype=np.float64)[outside] - [(x0 + x1) / 2, (y0 + y1) / 2]
    u = out / np.linalg.norm(out, axis=1, keepdims=True)
    n = np.stack([-u[:, 1], u[:, 0]], axis=1)
    base = exits - length * u
    return list(np.stack([exits, base + 0.4 * length * n, base - 0.4 * length * n], axis=1))


def off_window_note(fakes: np.ndarray, window, short: bool = False) -> str:
    """'off-window: 498 of 512 fakes, farthest 9.3 away' (from the window's centre), or for a small
    panel '498/512 off-window'; empty when no fake is off the window."""
    outside, _ = off_window(fakes, window)
    n = int(outside.sum())
    if not n or short:
        return f"{n}/{len(fakes)}\noff-window" if n else ""
    x0, x1, y0, y1 = window
    far = float(np.max(np.linalg.norm(np.asarray(fakes, dtype=np.float64)[outside]
                                      - [(x0 + x1) / 2, (y0 + y1) / 2], axis=1)))
    return f"off-window: {n} of {len(fakes)} fakes, farthest {far:.3g} away"


def mode_share(mixture, fakes: np.ndarray) -> np.ndarray:
    """Share of the fakes that are high-quality samples of each mode."""
    return mode_counts(fakes, mixture.centres, mixture.stds) / max(len(fakes), 1)


def push_vectors(arrows: np.ndarray, length: float) -> np.ndarray:
    """Gradient arrows scaled for drawing: the frame's 90th-percentile norm becomes `length`, longer
    ones are capped at 1.5 x length; NaN (a diverged step) and all-zero gradients draw nothing."""
    arrows = np.nan_to_num(np.asarray(arrows, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    norms = np.linalg.norm(arrows, axis=1)
    ref = np.percentile(norms, 90)
    if ref <= 0:
        return np.zeros_like(arrows)
    scaled = arrows * (length / ref)
    cap = np.minimum(1.0, 1.5 * length / np.maximum(np.linalg.norm(scaled, axis=1), 1e-300))
    return scaled * cap[:, None]


def nearest_mode_distance(mixture, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """min over modes of the std-scaled distance d_j (the HQ metric's geometry) on a grid, one mode at
    a time so a fine grid over many modes stays small in memory."""
    best = np.full((len(ys), len(xs)), np.inf)
    for (cx, cy), s in zip(mixture.centres, mixture.stds):
        d = np.sqrt(((xs[None, :] - cx) / s) ** 2 + ((ys[:, None] - cy) / s) ** 2)
        np.minimum(best, d, out=best)
    return best


class ToyPanel:
    """The 2D plane: D's heatmap, the target's contours, the fakes, the push arrows, G's manifold."""

    def __init__(self, ax, view, layers: frozenset, first: dict, rng: Ranges, colorbar_ax=None,
                 short_note: bool = False):
        self.artists = []
        self.heat = self.manifold = self.fakes = self.quiver = None  # the layers that change per frame
        x0, x1, y0, y1 = view.window()
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect("equal")
        ax.tick_params(length=2, pad=1)
        self.arrow_len = ARROW_LENGTH * (x1 - x0)
        if "heatmap" in layers:
            self.heat = ax.imshow(first[R.SNAP_D_GRID], origin="lower", extent=_extent(first),
                                  cmap=style.heatmap_cmap(), vmin=rng.d_lo, vmax=rng.d_hi,
                                  interpolation="bilinear", zorder=0)
            self.artists.append(self.heat)
            if colorbar_ax is not None:
                bar = ax.figure.colorbar(self.heat, cax=colorbar_ax, ticks=np.linspace(rng.d_lo, rng.d_hi, 3))
                bar.ax.set_title("D(x)" if view.probabilistic else "critic", loc="left")
                bar.ax.tick_params(length=2, pad=1)
                bar.outline.set_linewidth(0.5)
        if "density" in layers and view.mixture is not None:
            # fine enough that a 3-std circle spans several cells even for the narrowest mode
            n = int(np.clip((x1 - x0) / (0.5 * view.mixture.stds.min()), 100, 800))
            xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
            # static, but it lies over the heatmap, so it is redrawn with it
            self.artists.append(ax.contour(xs, ys, nearest_mode_distance(view.mixture, xs, ys),
                                           levels=[1.0, 2.0, HQ_RADIUS], colors=style.DENSITY_COLOUR,
                                           linewidths=[0.9, 0.6, 0.4], zorder=2))
        elif "density" in layers and view.points is not None:
            self.artists.append(ax.scatter(*view.target_points().T, s=1.5, c=style.DENSITY_COLOUR, alpha=0.35,
                                           linewidths=0, zorder=2))
        if "manifold" in layers and R.SNAP_MANIFOLD in first:
            self.manifold = LineCollection(_grid_lines(first[R.SNAP_MANIFOLD]), colors=style.MANIFOLD_COLOUR,
                                           linewidths=0.5, alpha=0.8, zorder=1)
            self.artists.append(ax.add_collection(self.manifold))
        if "fakes" in layers:
            self.fakes = ax.scatter(*first[R.SNAP_FAKES].T, s=3, c=style.FAKE_COLOUR, linewidths=0, zorder=3)
            # fakes that left the window would vanish: a mark on the edge says where they went, a note how many
            self.window, self.mark_len, self.short = (x0, x1, y0, y1), EDGE_MARK * (x1 - x0), short_note
            self.edge = PolyCollection(edge_marks(first[R.SNAP_FAKES], self.window, self.mark_len),
                                       facecolors=style.FAKE_COLOUR, edgecolors="white", linewidths=0.3, zorder=5)
            self.note = ax.text(0.015, 0.015, off_window_note(first[R.SNAP_FAKES], self.window, self.short),
                                transform=ax.transAxes, ha="left", va="bottom", fontsize=7, zorder=6,
                                bbox=dict(boxstyle="square,pad=0.2", facecolor="white", alpha=0.75, linewidth=0))
            self.note.set_in_layout(False)  # drawn inside the plane: it must not push the layout about
            self.artists += [self.fakes, ax.add_collection(self.edge)]
        if "arrows" in layers:
            self.idx = np.unique(np.linspace(0, len(first[R.SNAP_FAKES]) - 1, ARROWS_SHOWN).astype(int))
            u, v = push_vectors(first[R.SNAP_ARROWS][self.idx], self.arrow_len).T
            self.quiver = ax.quiver(*first[R.SNAP_FAKES][self.idx].T, u, v, angles="xy", scale_units="xy",
                                    scale=1, color=style.ARROW_COLOUR, width=0.0025, headwidth=4,
                                    headlength=4.5, headaxislength=4, minlength=0, zorder=4)
            self.artists.append(self.quiver)
        self.artists += list(ax.spines.values())  # the frame line, over the heatmap's edge
        if self.fakes is not None:
            self.artists.append(self.note)  # over everything

    def update(self, snap: dict) -> None:
        if self.heat is not None:
            self.heat.set_data(snap[R.SNAP_D_GRID])
        if self.manifold is not None and R.SNAP_MANIFOLD in snap:
            self.manifold.set_segments(_grid_lines(snap[R.SNAP_MANIFOLD]))
        if self.fakes is not None:
            self.fakes.set_offsets(snap[R.SNAP_FAKES])
            self.edge.set_verts(edge_marks(snap[R.SNAP_FAKES], self.window, self.mark_len))
            self.note.set_text(off_window_note(snap[R.SNAP_FAKES], self.window, self.short))
        if self.quiver is not None:
            self.quiver.set_offsets(snap[R.SNAP_FAKES][self.idx])
            self.quiver.set_UVC(*push_vectors(snap[R.SNAP_ARROWS][self.idx], self.arrow_len).T)


def _extent(snap: dict) -> tuple[float, float, float, float]:
    """imshow extent putting row i at y = grid_y[i] and column j at x = grid_x[j] (cell centres);
    a descending grid gives a reversed extent, which imshow draws the right way round."""
    gx, gy = snap[R.SNAP_GRID_X], snap[R.SNAP_GRID_Y]
    hx = (gx[-1] - gx[0]) / (2 * max(len(gx) - 1, 1))
    hy = (gy[-1] - gy[0]) / (2 * max(len(gy) - 1, 1))
    return float(gx[0] - hx), float(gx[-1] + hx), float(gy[0] - hy), float(gy[-1] + hy)


def _grid_lines(manifold: np.ndarray) -> list[np.ndarray]:
    """The (Q, Q, 2) pushed-forward z-grid as its Q rows and Q columns."""
    return list(manifold) + list(manifold.transpose(1, 0, 2))


class ImagePanel:
    """The fixed-z samples of an image run tiled into one grid picture."""

    def __init__(self, ax, first: dict):
        ax.set_axis_off()
        self.image = ax.imshow(tile(first[R.SNAP_IMAGES]), cmap="gray", vmin=0.0, vmax=1.0,
                               interpolation="nearest")
        self.artists = [self.image]

    def update(self, snap: dict) -> None:
        self.image.set_data(tile(snap[R.SNAP_IMAGES]))


def tile(images: np.ndarray, max_side: int = 8) -> np.ndarray:
    """(S, C, H, W) in [-1, 1] -> one (rows*H, cols*W[, 3]) picture in [0, 1] of up to max_side^2
    samples, with a one-pixel gap; 3-channel runs (Stacked MNIST) come out in colour."""
    x = np.clip((np.asarray(images[: max_side ** 2], dtype=np.float64) + 1.0) / 2.0, 0.0, 1.0)
    n, c, h, w = x.shape
    cols = min(max_side, n)
    rows = -(-n // cols)
    out = np.ones((rows * (h + 1) - 1, cols * (w + 1) - 1, c))
    for k in range(n):
        r, q = divmod(k, cols)
        out[r * (h + 1): r * (h + 1) + h, q * (w + 1): q * (w + 1) + w] = x[k].transpose(1, 2, 0)
    return out[..., 0] if c == 1 else out


class BarsPanel:
    """A histogram that changes per frame: per-mode shares of the fakes (toy runs) or, for image runs,
    the class counts of the last metrics row at or before the frame's step."""

    def __init__(self, ax, n_bins: int, top: float, title: str, uniform: float | None):
        self.ax, self.title = ax, title
        self.bars = ax.bar(np.arange(n_bins), np.zeros(n_bins), width=0.8, color=style.SKY, linewidth=0)
        if uniform is not None:
            ax.axhline(uniform, color=style.BLACK, linewidth=0.6, linestyle="--")
        ax.set_ylim(0, top)
        ax.set_xlim(-0.6, n_bins - 0.4)
        ax.set_xticks(np.arange(n_bins) if n_bins <= MAX_TICKED_BINS else [])
        ax.tick_params(length=2, pad=1)
        self.label = ax.set_title(title, loc="left")
        self.artists = [*self.bars, self.label]

    def update(self, heights: np.ndarray, note: str) -> None:
        for bar, h in zip(self.bars, np.nan_to_num(heights)):
            bar.set_height(h)
        self.label.set_text(f"{self.title}  {note}")


class CurvesPanel:
    """Metric curves on stacked axes sharing the step axis: the whole run faint, the part up to the
    frame's step solid, and a cursor at that step."""

    @staticmethod
    def groups(view, groups) -> list:
        """The groups (describe.curve_groups entries) this run has data for, each with its (key, label,
        steps, values) series."""
        out = []
        for title, keys in groups:
            series = [(k, label, *view.series(k)) for k, label in keys]
            series = [s for s in series if len(s[2])]
            if series:
                out.append((title, series))
        return out

    def __init__(self, axes: list, view, groups: list, last_step: int):
        self.solid, self.cursors, self.artists = [], [], []
        for ax, (title, series) in zip(axes, groups):
            for i, (key, label, steps, values) in enumerate(series):
                colour = style.RUN_COLOURS[i]
                ax.plot(steps, values, color=colour, linewidth=0.8, alpha=0.25)
                (line,) = ax.plot([], [], color=colour, linewidth=1.0, label=label or "_")
                self.solid.append((line, steps, values))
                self.artists.append(line)
            self.cursors.append(ax.axvline(0, color=style.CURSOR_COLOUR, linewidth=0.8))
            self.artists.append(self.cursors[-1])
            ax.set_xlim(0, max(last_step, 1))
            ax.set_ylim(*_limits(np.concatenate([s[3] for s in series]), modes=_n_modes(view) if key == R.MODES_STRICT
                                 or key == R.MODES else None))
            ax.set_title(title, loc="left")
            ax.tick_params(length=2, pad=1)
            if len(series) > 1:  # above the axes, level with the title, clear of the curves
                ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=len(series), handlelength=1.2,
                          borderaxespad=0.0, borderpad=0.0)
        for ax in axes[:-1]:
            ax.tick_params(labelbottom=False)
        axes[-1].set_xlabel("step")

    def update(self, step: int) -> None:
        for line, steps, values in self.solid:
            k = np.searchsorted(steps, step, side="right")
            line.set_data(steps[:k], values[:k])
        for cursor in self.cursors:
            cursor.set_xdata([step, step])


def _n_modes(view) -> int | None:
    """Modes of the target, or classes of an image run (from its logged class counts)."""
    if view.mixture is not None:
        return view.mixture.n_modes
    counts = [r[R.MODE_COUNTS] for r in view.rows if isinstance(r.get(R.MODE_COUNTS), list)]
    return len(counts[-1]) if counts else None


def _limits(values: np.ndarray, modes: int | None) -> tuple[float, float]:
    """y-limits fixed over the run: all modes for mode counts, else the 1st-99th percentile padded
    (a diverging step's spike would otherwise flatten every other value)."""
    if modes:
        return -0.3, modes + 0.5
    finite = values[np.isfinite(values)]
    if not len(finite):
        return 0.0, 1.0
    lo, hi = np.percentile(finite, [1, 99])
    pad = 0.08 * (hi - lo) if hi > lo else 0.5
    # shares, counts and most losses are never negative: do not draw a negative range for them
    return float(max(lo - pad, 0.0) if lo >= 0 else lo - pad), float(hi + pad)
