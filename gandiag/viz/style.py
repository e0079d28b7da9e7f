"""One look for every picture gandiag draws: fonts, a colour-blind-safe palette, D's colour map.

Colours are Okabe & Ito's palette (distinguishable under the common colour-vision deficiencies); D's
heatmap is ColorBrewer's PuOr, also colour-blind safe, lightened so dots, arrows and contours stay
readable on top of it, and cut into bands so frames compress well as GIFs.

Pictures are drawn on Figure objects with their own Agg canvas, never through pyplot: matplotlib's
backend is the user's (a notebook's inline plots keep working after gandiag draws).
"""
from __future__ import annotations

import functools

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

# Okabe-Ito
BLACK, ORANGE, SKY, GREEN, YELLOW, BLUE, VERMILLION, PURPLE = (
    "#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")
GREY = "#7f7f7f"

#: one colour per run in side-by-side comparisons and overlaid curves
RUN_COLOURS = (BLUE, VERMILLION, GREEN, ORANGE, PURPLE, SKY, BLACK)

FAKE_COLOUR = BLUE          # fixed-z fakes
ARROW_COLOUR = BLACK        # where G is pushed
DENSITY_COLOUR = GREEN      # target contours
MANIFOLD_COLOUR = GREY      # the z-grid pushed through G
CURSOR_COLOUR = GREY       # the current step on curves

#: bands of D's heatmap: few enough for small GIFs, enough to read D's slope
HEATMAP_BANDS = 12

RC = {
    "font.family": "DejaVu Sans",  # ships with matplotlib: the same glyphs on every machine
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": matplotlib.cycler(color=RUN_COLOURS),
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "svg.fonttype": "none",   # real text in SVG, editable in a vector editor
    "pdf.fonttype": 42,       # TrueType in PDF, as journals ask
}


def heatmap_cmap(bands: int = HEATMAP_BANDS) -> ListedColormap:
    """PuOr banded and mixed with white: purple where D says fake, orange where it says real."""
    base = matplotlib.colormaps["PuOr_r"](np.linspace(0.0, 1.0, bands))[:, :3]
    return ListedColormap(0.45 * base + 0.55, name="gandiag_d")


def styled(fn):
    """Run fn under gandiag's rc settings. Matplotlib reads them when artists are made *and* when they
    are drawn or saved, so every public entry point that draws is wrapped, and the user's global
    settings are left as they were."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(RC):
            return fn(*args, **kwargs)
    return wrapper


def figure(width_px: int, height_px: int, dpi: int) -> Figure:
    """A figure of width_px x height_px pixels at dpi, outside pyplot's registry (thousands of frames
    never pile up as open figures)."""
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig
