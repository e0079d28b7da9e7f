"""Metrics over time as a table: one row per (step, run), for comparisons and the report."""
from __future__ import annotations

import csv
import io
import math

import numpy as np

from .. import record as R
from .source import RunView

COLUMNS = (R.MODES, R.MODES_STRICT, R.HQ, R.REVERSE_KL, R.D_LOSS, R.G_LOSS, R.SAT_SHARE)
#: the column of how many modes (an image run: classes) each run's target has, after the modes captured,
#: where the runs' targets differ in it: 3 modes of 8 and 3 of 25 would read alike
TARGET_MODES = "target_modes"
DEFAULT_ROWS = 11


def table_steps(views: list[RunView], n_rows: int = DEFAULT_ROWS) -> list[int]:
    """About n_rows logged steps, evenly spread from the first to the last logged step of any run, and each
    run's last logged step: the spread over the longest run would miss where a shorter one ended, and the
    table would show none of its final values."""
    logged = sorted({int(r[R.STEP]) for v in views for r in v.rows})
    if len(logged) <= n_rows:
        return logged
    targets = np.linspace(logged[0], logged[-1], n_rows)
    ends = {max(int(r[R.STEP]) for r in v.rows) for v in views if v.rows}
    return sorted({max(s for s in logged if s <= t) for t in targets} | ends)


def metrics_table(views: list[RunView], labels: list[str], n_rows: int = DEFAULT_ROWS):
    """(header, rows): per step and run, each metric from the run's last row at or before that step;
    None where the run has not logged it yet, or has ended (a shorter or crashed run's last values are
    not repeated as if it went on). Only metrics some run logs get a column."""
    columns = [k for k in COLUMNS if any(k in r for v in views for r in v.rows)]
    targets = [target_modes(v) for v in views]
    if R.MODES in columns and len(set(targets)) > 1:
        at = columns.index(R.MODES) + 1
        columns = [*columns[:at], TARGET_MODES, *columns[at:]]

    def cell(v: RunView, step: int, target, key: str):
        if key == TARGET_MODES:   # the target's, whatever the step
            return target
        return v.row_at(step, key) if step <= v.last_step else None
    rows = [[step, label, *(cell(v, step, target, k) for k in columns)]
            for step in table_steps(views, n_rows) for v, label, target in zip(views, labels, targets)]
    return ["step", "run", *columns], rows


def target_modes(view: RunView) -> int | None:
    """How many modes the run's target has (its classes for an image run, as its rows count them)."""
    if view.mixture is not None:
        return view.mixture.n_modes
    counts = [r[R.MODE_COUNTS] for r in view.rows if isinstance(r.get(R.MODE_COUNTS), list)]
    return len(counts[-1]) if counts else None


def fmt(value) -> str:
    """A table cell: integers as is, reals to 4 significant digits, missing as empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.4g}"
    return str(int(value)) if isinstance(value, float) else str(value)


def to_csv(header: list[str], rows: list[list]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[fmt(v) for v in row] for row in rows])
    return buf.getvalue()


def to_markdown(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
