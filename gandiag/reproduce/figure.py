"""The figure of a reproduced table: per scenario and metric, our mean ± error per method beside the
published value; and, where the protocol asks for it, the strip of snapshots of each method's first seed."""
from __future__ import annotations

import textwrap
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..viz import style
from ..viz.figures import save_figure, write_figure
from .protocol import Protocol

PANEL_IN = (3.2, 2.4)
CHARS_PER_IN = 14      # of the 9 pt title
#: of a panel's 8 pt title, centred over its axes: the panel's width less its y tick labels and margins (a
#: wider one runs past the figure's edge in the last column)
PANEL_CHARS = int((PANEL_IN[0] - 1.2) * CHARS_PER_IN * 9 / 8)


@style.styled
def table_figure(protocol: Protocol, rows: list[dict], title: str, stem: Path) -> list[Path]:
    """stem.png: one panel per scenario and metric (counted outcomes as bars of seeds)."""
    return save_figure(results_figure(protocol, rows, title), stem, formats=("png",))


@style.styled
def results_figure(protocol: Protocol, rows: list[dict], title: str) -> Figure:
    """table_figure's figure."""
    metrics = {m.key: m for m in protocol.metrics}
    panels = [(s, m) for s in protocol.scenarios for m in protocol.metrics]
    cols = min(len(protocol.metrics), 4)
    nrows = -(-len(panels) // cols)
    fig = Figure(figsize=(PANEL_IN[0] * cols, PANEL_IN[1] * nrows + 0.5), layout="constrained")
    fig.suptitle(textwrap.fill(title, int(PANEL_IN[0] * cols * CHARS_PER_IN)), fontsize=9)
    axes = fig.subplots(nrows, cols, squeeze=False).ravel()
    labels = [m.label for m in protocol.methods]
    for ax, (s, metric) in zip(axes, panels):
        mine = {r["method"]: r for r in rows if (r["scenario"], r["metric"]) == (s.id, metric.key)}
        x = list(range(len(protocol.methods)))
        ours = [mine[m.id] for m in protocol.methods]
        if metric.counted:
            ax.bar(x, [0 if r["mean"] is None else r["mean"] * r["n"] for r in ours], color="C0", label="ours (seeds)")
            # the axis counts seeds, from none to all: a count of 0 would otherwise sit on an axis of +-0.04
            ax.set_ylim(0, max(max(r["n"] for r in ours), 1))
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        else:
            ax.errorbar([i - 0.1 for i in x], [r["mean"] for r in ours], yerr=[r["error"] or 0 for r in ours],
                        fmt="o", color="C0", capsize=3, label="ours")
            pub = [(i + 0.1, r["published"], r["published_error"] or 0) for i, r in zip(x, ours)
                   if isinstance(r["published"], float)]
            if pub:
                ax.errorbar(*zip(*[(i, v) for i, v, _ in pub]), yerr=[e for _, _, e in pub], fmt="s", mfc="none",
                            color="C3", capsize=3, label="published")
        ax.set_title(textwrap.fill(f"{s.label}: {metrics[metric.key].label}", PANEL_CHARS), fontsize=8)
        ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        if ax is axes[0]:
            ax.legend(fontsize=6)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    return fig


def strip_figures(protocol: Protocol, cells: list, folder: Path) -> list[Path]:
    """folder/<scenario>-<method>.png: the snapshot strip and curves of each method's first seed."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in protocol.scenarios:
        for m in protocol.methods:
            first = min((c for c in cells if (c.scenario, c.method) == (s.id, m.id)), key=lambda c: c.seed)
            paths += write_figure(first.folder, out=folder / f"{s.id}-{m.id}.png")
    return paths
