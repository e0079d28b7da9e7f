"""A protocol's table from its cells' run folders: per scenario, method and metric our mean ± the paper's
kind of error over the seeds, the published value, and whether the published orderings hold.

Everything here reads run folders (and the analyzer's verdicts on them); nothing trains.
"""
from __future__ import annotations

import csv
import io
import math

import numpy as np

from .. import record as R
from .cells import Cell
from .protocol import ERRORS, Claim, Metric, Protocol

#: the analyzer's verdicts behind the outcomes
HOPPING, COLLAPSE = "mode_hopping", "mode_collapse"
#: what the published ± is, in the table's words
PRINTED = {"sem": "the standard error, as ours", "std": "the standard deviation, as ours",
           "none": "not printed (ours: the standard error)"}
CSV_COLUMNS = ("scenario", "method", "label", "metric", "n", "mean", "error", "error_kind", "published",
               "published_error", "ordering", "holds")


def final_row(folder) -> dict:
    """The last metrics row that has mode metrics (the evaluation on the protocol's samples)."""
    rows = [r for r in R.RunReader(folder).metrics() if r.get(R.MODE_COUNTS) is not None]
    return rows[-1] if rows else {}


def outcome(folder) -> str:
    """The cell's outcome from the analyzer's verdicts (diagnosis.json, made here when missing or older
    than the metrics): hops, collapsed, spread (every mode held at the last row) or partial."""
    from ..analysis import analyze_run
    diagnosis, metrics = folder / R.DIAGNOSIS_FILE, folder / R.METRICS_FILE
    if diagnosis.is_file() and diagnosis.stat().st_mtime >= metrics.stat().st_mtime:
        import json
        names = {v[R.V_RULE] for v in json.loads(diagnosis.read_text(encoding="utf-8"))[R.VERDICTS]}
    else:
        names = {v.rule for v in analyze_run(folder)[1]}
    if HOPPING in names:
        return R.OUTCOME_HOPS
    if COLLAPSE in names:
        return R.OUTCOME_COLLAPSED
    last = final_row(folder)
    held = last.get(R.MODES_STRICT)
    return R.OUTCOME_SPREAD if held is not None and held == len(last[R.MODE_COUNTS]) else R.OUTCOME_PARTIAL


def cell_values(protocol: Protocol, cell: Cell) -> dict:
    """{metric key: value} of one cell: the final row's numbers (None when not finite), 1/0 per outcome."""
    last = final_row(cell.folder)
    values = {m.key: last.get(m.key) for m in protocol.metrics if not m.counted}
    if any(m.counted for m in protocol.metrics):
        found = outcome(cell.folder)
        values.update({m.key: float(found == m.key) for m in protocol.metrics if m.counted})
    return values


def statistics(values: list, error: str) -> dict:
    """Mean, the paper's kind of error (sem: s.d. with n - 1 over sqrt(n); std: that s.d.; a paper with
    no ± gets the s.e.) and n over the values that are numbers; None where n is too small."""
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    sd = float(v.std(ddof=1)) if len(v) > 1 else None
    err = None if sd is None else sd if error == "std" else sd / math.sqrt(len(v))
    return {"n": len(v), "mean": float(v.mean()) if len(v) else None, "error": err}


def build_table(protocol: Protocol, cells: list[Cell]) -> list[dict]:
    """One row per scenario, method and metric, in the protocol's order (values in the metric's scale)."""
    per_cell = {c.name: cell_values(protocol, c) for c in cells}
    stats = {}
    for s in protocol.scenarios:
        for m in protocol.methods:
            mine = [c for c in cells if (c.scenario, c.method) == (s.id, m.id)]
            for metric in protocol.metrics:
                stats[s.id, m.id, metric.key] = statistics([per_cell[c.name][metric.key] for c in mine], protocol.error)
    claims = protocol.claims()
    rows = []
    for s in protocol.scenarios:
        for m in protocol.methods:
            for metric in protocol.metrics:
                st, pub = stats[s.id, m.id, metric.key], protocol.published.get((s.id, m.id, metric.key))
                mine = [c for c in claims if (c.scenario, c.row, c.metric) == (s.id, m.id, metric.key)]
                checks = [_check(protocol, c, stats) for c in mine]
                rows.append({"scenario": s.id, "method": m.id, "label": m.label, "metric": metric.key,
                             "n": st["n"], "mean": _scaled(st["mean"], metric), "error": _scaled(st["error"], metric),
                             "error_kind": "count" if metric.counted else ERRORS[protocol.error],
                             "published": pub[0] if isinstance(pub, tuple) else pub,
                             "published_error": pub[1] if isinstance(pub, tuple) else None,
                             "ordering": "; ".join(text for text, _ in checks),
                             "holds": None if not checks else all(ok for _, ok in checks)})
    return rows


def _scaled(v, metric: Metric):
    return None if v is None else v * metric.scale


def _check(protocol: Protocol, claim: Claim, stats: dict) -> tuple[str, bool]:
    """('> GAN: yes', True): whether our means order the two methods as the paper does; 'within ±' when
    our gap is inside our two errors combined; 'tie' when our means are equal (the order does not hold,
    and neither does the reverse one that 'no' would say)."""
    hi, lo = (stats[claim.scenario, m, claim.metric] for m in (claim.higher, claim.lower))
    other = claim.lower if claim.row == claim.higher else claim.higher
    sign = ">" if claim.row == claim.higher else "<"
    if hi["mean"] is None or lo["mean"] is None:
        return f"{sign} {protocol.method(other).label}: not measured", False
    # equal values summed in another order may differ in their last bit
    if math.isclose(hi["mean"], lo["mean"], rel_tol=1e-12):
        return f"{sign} {protocol.method(other).label}: tie", False
    gap, width = hi["mean"] - lo["mean"], math.hypot(hi["error"] or 0.0, lo["error"] or 0.0)
    ok = gap > 0
    return f"{sign} {protocol.method(other).label}: {'yes' if ok else 'no'}" + \
        (" (within ±)" if abs(gap) <= width and width > 0 else ""), ok


# --- text ----------------------------------------------------------------------------------------

def _number(v, digits: int) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def ours_text(row: dict, metric: Metric) -> str:
    if metric.counted:
        return "-" if row["mean"] is None else f"{round(row['mean'] * row['n'])} of {row['n']}"
    if row["error"] is None:
        return _number(row["mean"], metric.digits)
    return f"{_number(row['mean'], metric.digits)} ± {_number(row['error'], metric.digits)}"


def published_text(row: dict) -> str:
    pub, err = row["published"], row["published_error"]
    if pub is None:
        return "-"
    if isinstance(pub, str):
        return pub
    return f"{pub:g}" + ("" if err is None else f" ± {err:g}")


def markdown(protocol: Protocol, rows: list[dict], title: str, notes: list[str]) -> str:
    metrics = {m.key: m for m in protocol.metrics}
    kind = ERRORS[protocol.error]
    lines = [f"# {title}", "",
             f"Published: {protocol.source}; its ± is {PRINTED[protocol.error]}.", "",
             f"| scenario | method | metric | ours (mean ± {kind}) | seeds | published | published ordering holds |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        m = metrics[r["metric"]]
        lines.append(f"| {r['scenario']} | {r['label']} | {m.label} | {ours_text(r, m)} | {r['n']} | "
                     f"{published_text(r)} | {r['ordering'] or '-'} |")
    return "\n".join([*lines, "", *notes]) + "\n"


def csv_text(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if r[k] is None else r[k]) for k in CSV_COLUMNS} for r in rows)
    return buf.getvalue()
