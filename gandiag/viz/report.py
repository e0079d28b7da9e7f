"""The report: one self-contained HTML file that is an interactive viewer of one run, or of several side
by side. Everything is inside the file (style sheet, script, data, a static figure for printing): it
opens offline in any browser and can be mailed as one file.

Python writes the words (headline, command line, verdicts as sentences, settings) as plain HTML, and the
arrays as one JSON block (float16 / uint8, base64); viewer.js draws the frames from those arrays on
canvases, so layers toggle and the step slider scrubs without re-rendering anything here.

    headline        per run: final modes and quality, verdict, method, the command that made it
    viewer          step slider + play, layer toggles, the planes (or sample grids), mode bars,
                    metric curves with a cursor and the verdicts' step ranges shaded, metrics at the step
    diagnosis       each verdict as a sentence with its step range, message and what to try
    settings        the settings that differ from the defaults; the full configuration folded away
    print fallback  a static figure per run, shown only when printing
"""
from __future__ import annotations

import base64
import io
import json
import math
from html import escape
from importlib import resources
from pathlib import Path

import numpy as np

from .. import config as C, record as R
from ..diagnose import shortfall, verdict_head
from ..methods import stabilizer_words
from . import style
from .describe import command_line, curve_groups, settings_table, verdict_items, verdict_sentence
from .figures import png_bytes, strip_figure
from .panels import ARROWS_SHOWN, ARROW_LENGTH, LAYER_ARRAYS, held_layers, mode_share, push_vectors, ranges, tile
from .source import (RunView, VizError, check_folder_of, ensure_diagnosis, labels_for, open_reader, read_diagnosis,
                     runs_named, timeline)
from .table import target_modes

#: metrics shown in the "at this step" table, with the words for them (toy, image)
TOY_METRICS = ((R.MODES, "modes with ≥ 1 high-quality sample"), (R.MODES_STRICT, "modes with ≥ 1 % of the samples"),
               (R.HQ, "high-quality share"), (R.REVERSE_KL, "reverse KL (nats)"), (R.KNN_PRECISION, "k-NN precision"),
               (R.KNN_RECALL, "k-NN recall"), (R.KNN_COVERAGE, "k-NN coverage"), (R.D_LOSS, "D loss"),
               (R.G_LOSS, "G loss"), (R.SAT_SHARE, f"saturated share, D(G(z)) < {R.SATURATED_BELOW:g}"))
IMAGE_METRICS = ((R.MODES, "classes with ≥ 1 sample"), (R.MODES_STRICT, "classes with ≥ 10 % of a fair share"),
                 (R.CLASSIFIER_SCORE, "classifier score"), (R.FRECHET_DISTANCE, "Frechet distance"),
                 (R.REVERSE_KL, "reverse KL (nats)"), (R.D_LOSS, "D loss"), (R.G_LOSS, "G loss"))
#: the final results the headline states (toy, image, own points)
FINAL_KEYS = (R.MODES, R.MODES_STRICT, R.HQ, R.REVERSE_KL, R.CLASSIFIER_SCORE, R.FRECHET_DISTANCE, R.KNN_PRECISION,
              R.KNN_RECALL, R.KNN_COVERAGE)
#: colours of D's heatmap, over the colour bar's range
LUT_LEVELS = 255
FALLBACK_DPI = 90


def write_report(run_dirs, out=None, labels: list[str] | None = None) -> Path:
    """Write the viewer of one run (default RUN/report.html) or of several side by side (default
    ./report-A-vs-B.html) and return its path."""
    given = [run_dirs] if isinstance(run_dirs, (str, Path)) else list(run_dirs)
    if not given:
        raise VizError("report needs at least one run folder")
    run_dirs = runs_named(given)
    for d in run_dirs:  # a wrong folder is named as such before anything else is checked
        open_reader(d)
    if out is None:   # one folder given, a run or a pass of several: its report sits in it
        out = Path(given[0]) / "report.html" if len(given) == 1 else \
            Path("report-" + "-vs-".join(Path(d).resolve().name for d in given)[:120] + ".html")
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        # any other name may be a file of the run's own (--out RUN/metrics.jsonl would replace the metrics)
        raise VizError(f"--out {out}: the report is an HTML file: give a path ending in .html")
    check_folder_of(out)
    R.atomic_write_bytes(out, report_html(run_dirs, labels).encode("utf-8"))
    return out


@style.styled
def report_html(run_dirs, labels: list[str] | None = None) -> str:
    """The viewer as one HTML page (what write_report writes and gandiag.show displays)."""
    views = [RunView(d) for d in run_dirs]
    if len({v.is_image for v in views}) > 1:
        raise VizError("a report shows runs of one kind side by side: all 2D toy runs or all image runs")
    labels = labels_for(views, labels) if labels is not None or len(views) > 1 else [view_title(views[0])]
    for view in views:
        ensure_diagnosis(view)
    # a run that diverged, or a loop that logs past its last snapshot, ends after that snapshot: the slider
    # reaches each run's last step too (its plane holding the last snapshot), so the table shows how it ended
    steps = sorted(set(timeline(views, 10 ** 9)) | {v.last_step for v in views})
    snaps = [[v.snapshot(s) for s in v.steps] for v in views]
    rngs = ranges(views, snaps)
    runs = [_run_payload(v, label, s, rng, i) for i, (v, label, s, rng) in enumerate(zip(views, labels, snaps, rngs))]
    data = {"steps": steps, "last_step": steps[-1], "runs": runs,
            "image": views[0].is_image, "colours": list(style.RUN_COLOURS),
            "fake_colour": style.FAKE_COLOUR, "arrow_colour": style.ARROW_COLOUR,
            "target_colour": style.DENSITY_COLOUR, "manifold_colour": style.MANIFOLD_COLOUR,
            "lut": _lut(),
            "groups": [[t, [[k, lbl] for k, lbl in keys]] for t, keys in curve_groups(views[0].is_image)],
            "metrics": [list(m) for m in (IMAGE_METRICS if views[0].is_image else TOY_METRICS)],
            # one CSV of every run's rows, with a run column, for the download (one run: its own CSV)
            "csv": metrics_csv([row for v, label in zip(views, labels) for row in _labelled(v.rows, label)])
            if len(views) > 1 else None}
    title = " vs ".join(labels) if len(views) > 1 else labels[0]
    body = "\n".join([
        f"<header><h1>{escape(title)}</h1>",
        *(_headline(v, run, len(views) > 1) for v, run in zip(views, runs)), "</header>",
        _viewer(views, runs),
        "<section><h2>Diagnosis</h2>", *(_diagnosis(v, run, len(views) > 1) for v, run in zip(views, runs)),
        "</section>",
        "<section><h2>Settings</h2>", *(_settings(v, run, len(views) > 1) for v, run in zip(views, runs)),
        "</section>",
        _print_fallback(views, labels),
    ])
    # a diagnosis.json of another writer (Python's json) may hold NaN, which JSON has no word for
    blob = json.dumps(R.jsonable(data), separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    return ("<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width, initial-scale=1'>"
            f"<title>gandiag: {escape(title)}</title><style>{_asset('viewer.css')}</style></head>\n"
            f"<body class={'several' if len(views) > 1 else 'one'}>\n"
            f"{body}\n<script type=application/json id=gd-data>{blob}</script>\n"
            f"<script>{_asset('viewer.js')}</script>\n</body></html>\n")


def view_title(view: RunView) -> str:
    return f"{view.title()} ({view.root.name})"


def _asset(name: str) -> str:
    return (resources.files("gandiag.viz") / name).read_text(encoding="utf-8")


def _lut() -> list[str]:
    rgb = style.heatmap_cmap()(np.linspace(0.0, 1.0, LUT_LEVELS))[:, :3]
    return ["#%02x%02x%02x" % tuple(int(round(255 * c)) for c in row) for row in rgb]


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def _f16(a) -> str:
    """float16 little-endian, clipped to its range (a fake far off the window stays far, not inf)."""
    a = np.asarray(a, dtype=np.float64)
    return _b64(np.clip(a, -6e4, 6e4).astype("<f2"))


def _run_payload(view: RunView, label: str, snaps: list[dict], rng, index: int) -> dict:
    """Everything viewer.js needs to draw one run: its steps, arrays, curves (as CSV) and verdicts."""
    run = {"label": label, "folder": view.root.name, "steps": view.steps, "last_step": view.last_step,
           "csv": metrics_csv(view.rows), "colour": style.RUN_COLOURS[index % len(style.RUN_COLOURS)],
           "verdicts": [{**v, "sentence": verdict_sentence(v)} for v in verdict_items(read_diagnosis(view.root))],
           "final": final_row(view.rows)}
    if view.is_image:
        run["n_classes"] = target_modes(view)
        run["images"] = ["data:image/png;base64," + base64.b64encode(_png(tile(s[R.SNAP_IMAGES]))).decode("ascii")
                         for s in snaps]
        return run
    fakes = np.stack([s[R.SNAP_FAKES] for s in snaps])
    x0, x1, y0, y1 = view.window()
    run.update({"window": [x0, x1, y0, y1], "n_fakes": int(fakes.shape[1]), "fakes": _f16(fakes),
                "share_hi": rng.share_hi})
    held = held_layers(frozenset(LAYER_ARRAYS), snaps)   # a snapshot of fakes alone has no D grid or arrows
    if "heatmap" in held:
        d_levels, d_scale = _levels(np.stack([s[R.SNAP_D_GRID] for s in snaps]))
        gx, gy = snaps[0][R.SNAP_GRID_X], snaps[0][R.SNAP_GRID_Y]
        run.update({"d_range": [rng.d_lo, rng.d_hi], "d_label": "D(x)" if view.probabilistic else "critic score",
                    "grid": [float(gx[0]), float(gx[-1]), len(gx), float(gy[0]), float(gy[-1]), len(gy)],
                    "d": _b64(d_levels), "d_scale": d_scale})
    if "arrows" in held:
        idx = np.unique(np.linspace(0, fakes.shape[1] - 1, ARROWS_SHOWN).astype(int))
        run.update({"arrow_index": idx.tolist(), "arrows": _f16(np.stack(
            [push_vectors(s[R.SNAP_ARROWS][idx], ARROW_LENGTH * (x1 - x0)) for s in snaps]))})
    if view.mixture is not None:
        run.update({"centres": view.mixture.centres.tolist(), "stds": view.mixture.stds.tolist(),
                    "share": _f16(np.stack([mode_share(view.mixture, s[R.SNAP_FAKES]) for s in snaps]))})
    else:  # a user's own points: drawn where the modes would be, and no share per mode
        run["points"] = _f16(view.target_points())
    if all(R.SNAP_MANIFOLD in s for s in snaps):
        manifold = np.stack([s[R.SNAP_MANIFOLD] for s in snaps])
        run.update({"manifold": _f16(manifold), "manifold_side": int(manifold.shape[1])})
    return run


def final_row(rows: list[dict]) -> dict:
    """The headline's numbers and their step: from the last row that holds any of them. A loop that logs
    its losses every step and is evaluated only at snapshots ends on rows without them, and its last
    row would read "n/a" though the run was scored a few steps before."""
    scored = [r for r in rows if any(r.get(k) is not None for k in FINAL_KEYS)]
    last = scored[-1] if scored else rows[-1] if rows else {}
    return {k: last.get(k) for k in (R.STEP, *FINAL_KEYS)}


def _levels(d: np.ndarray) -> tuple[np.ndarray, list[list[float]]]:
    """D's grids as uint8 levels, each snapshot over its own [min, max] (so a D that varies little in
    one frame still shades smoothly), 255 marking a missing value; and those ranges."""
    d = np.asarray(d, dtype=np.float64)
    levels, scale = np.full(d.shape, 255, dtype=np.uint8), []
    for k, grid in enumerate(d):
        finite = np.isfinite(grid)
        lo, hi = (float(grid[finite].min()), float(grid[finite].max())) if finite.any() else (0.0, 0.0)
        span = hi - lo if hi > lo else 1.0
        levels[k][finite] = np.round((grid[finite] - lo) / span * 254).astype(np.uint8)
        scale.append([lo, span])
    return levels, scale


def _png(picture: np.ndarray) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(np.round(255 * picture).astype(np.uint8)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _labelled(rows: list[dict], label: str) -> list[dict]:
    return [{"run": label, **r} for r in rows]


def metrics_csv(rows: list[dict]) -> str:
    """Every metrics row, every key (step first, then in the order they first appear); lists (class
    counts) as space-separated numbers in one cell; floats to 7 significant digits (float32's). A key
    a row lacks is an empty cell, and a value it holds no number for (null: how metrics.jsonl writes
    a NaN or infinite one) is "nan": the viewer carries the last value over an empty cell (a metric
    logged less often), never over a diverged step's."""
    first = ["run", R.STEP] if rows and "run" in rows[0] else [R.STEP]
    keys = first + [k for k in dict.fromkeys(k for r in rows for k in r) if k not in first]

    def text(v) -> str:
        if v is None:
            return "nan"
        if isinstance(v, float):
            return format(v, ".7g") if math.isfinite(v) else str(v).lower()
        if isinstance(v, list):
            return " ".join(text(x) for x in v)
        return json.dumps(v) if isinstance(v, dict) else str(v)

    def cell(v) -> str:
        # a loop may log any words (phase="warm, up") or a dict: unquoted, their commas split the row
        t = text(v)
        return '"' + t.replace('"', '""') + '"' if any(c in t for c in ',"\n') else t
    lines = [",".join(keys)] + [",".join(cell(r[k]) if k in r else "" for k in keys) for r in rows]
    return "\n".join(lines) + "\n"


# --- the HTML parts ------------------------------------------------------------------------------

def _fmt(v, spec: str) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def _final_words(view: RunView, run: dict) -> str:
    f = run["final"]
    if f.get(R.STEP) is None:
        return "no metrics logged yet"
    if view.is_image:
        n = run.get("n_classes") or "?"
        return (f"classes {_fmt(f[R.MODES], 'd')} / {n} (strict {_fmt(f[R.MODES_STRICT], 'd')}) · classifier score "
                f"{_fmt(f[R.CLASSIFIER_SCORE], '.2f')} · Frechet distance {_fmt(f[R.FRECHET_DISTANCE], '.1f')}")
    if view.mixture is None:
        return (f"k-NN precision {_fmt(f[R.KNN_PRECISION], '.2f')} · recall {_fmt(f[R.KNN_RECALL], '.2f')} · "
                f"coverage {_fmt(f[R.KNN_COVERAGE], '.2f')} (against your points; no modes known)")
    return (f"modes {_fmt(f[R.MODES], 'd')} / {view.mixture.n_modes} (strict {_fmt(f[R.MODES_STRICT], 'd')}) · "
            f"high quality {_fmt(None if f[R.HQ] is None else 100 * f[R.HQ], '.1f')} % · reverse KL "
            f"{_fmt(f[R.REVERSE_KL], '.3f')}")


def _headline(view: RunView, run: dict, several: bool) -> str:
    verdicts, diagnosis = run["verdicts"], read_diagnosis(view.root)
    if isinstance(diagnosis, dict):
        # the analyzer's own wording for a run too short for some rules, from diagnosis.json's fields
        short = shortfall(diagnosis, str(view.root))
        verdict = "; ".join([escape(v["title"]) for v in verdicts] or [escape(verdict_head(diagnosis, 0))]
                            + ([escape(short)] if short else []))
    else:
        verdict = "not analysed (the folder could not be written)"
    status = view.reader.status.get("status", "unknown")
    severity = "error" if any(v["severity"] == "error" for v in verdicts) else "warning" if verdicts else "ok"
    return (f"<div class=headline style='border-color:{run['colour']}'>"
            + (f"<div class=label style='color:{run['colour']}'>{escape(run['label'])}</div>" if several else "")
            + f"<div class=final><b>{escape(_final_words(view, run))}</b> at step "
            f"{_fmt(run['final'].get(R.STEP), ',')} <span class=muted>(run {escape(str(status))}, "
            f"{len(view.steps)} snapshots, folder {escape(view.root.name)})</span></div>"
            f"<div class='verdict {severity}'>verdict: {verdict}</div>{_provenance(view)}</div>")


def _provenance(view: RunView) -> str:
    """The method and the command that made the run. A user's own loop was made by no gandiag command
    (and its config is the user's own, not gandiag's settings): it is named as such, never given a
    `gandiag run` line that would make some other run."""
    if view.reader.trainer() == R.OWN_LOOP:
        loss = (view.record.get("recorder") or {}).get("loss")
        target = (view.record.get("target") or {}).get("name")
        parts = [f"{loss} loss (as declared to the Recorder)" if loss else None, f"target {target}" if target else None]
        return (f"<div>method: <b>{escape(R.OWN_LOOP)}</b>{''.join(f' · {escape(str(p))}' for p in parts if p)}"
                "</div><div class=command>made by your own training loop, recorded with gandiag.Recorder</div>")
    command, scenario_file = command_line(view.config, view.record, view.root)
    # the file is shown whole: the command reads it, and the folder records no scenario file to point to
    file_note = "" if scenario_file is None else \
        f", with {escape(scenario_file[0])} holding<pre>{escape(scenario_file[1])}</pre>"
    # the loss is named after the method, so the method is its other settings' words (its slug holds the loss)
    words = ", ".join(stabilizer_words(view.config)) or "vanilla"
    return (f"<div>method: <b>{escape(words)}</b> · {escape(str(view.config.get('loss', '?')))} loss"
            f" · {escape(str(view.config.get('scenario', '?')))}</div>"
            f"<div class=command>made by <code>{escape(command)}</code>{file_note}</div>")


def _viewer(views: list[RunView], runs: list[dict]) -> str:
    toy_layers = [("heatmap", "D's output"), ("fakes", "the fixed-z fakes; those off the window as marks on its edge"),
                  ("arrows", "where G is pushed (-dL_G/dx)"), ("manifold", "a z-grid pushed through G (z of 2 dims)"),
                  ("target", "the target's modes: 1, 2, 3 standard deviations" if views[0].mixture is not None
                   else "your target points (an even subset)")]
    has_manifold = any("manifold" in r for r in runs)
    toggles = "" if views[0].is_image else "<fieldset class=layers><legend>layers</legend>" + "".join(
        f"<label title='{escape(tip)}'><input type=checkbox data-layer={name} checked"
        f"{'' if name != 'manifold' or has_manifold else ' disabled'}> {name}</label>"
        for name, tip in toy_layers) + "</fieldset>"
    panels = "".join(
        f"<figure class=panel data-run={i}>"
        + (f"<figcaption style='color:{r['colour']}'>{escape(r['label'])}</figcaption>" if len(views) > 1 else "")
        + "<div class=plane-box>"
        + ("<img class=samples alt='generated samples'>" if v.is_image else
           "<canvas class=plane width=440 height=440></canvas><canvas class=cbar width=64 height=440></canvas>")
        + "</div><div class=note></div><canvas class=bars width=440 height=110></canvas></figure>"
        for i, (v, r) in enumerate(zip(views, runs)))
    return ("<section id=viewer><div class=controls>"
            "<button id=play type=button title='play / pause (space)'>▶ play</button>"
            "<input id=slider type=range min=0 value=0 step=1 aria-label='training step'>"
            f"<output id=step-label>step 0</output></div>{toggles}"
            f"<div class=stage><div class=panels>{panels}</div><div id=curves class=curves></div></div>"
            "<div class=tables><table id=at-step></table>"
            "<p><a id=csv-link download>Download the metrics (CSV, every logged row)</a></p></div>"
            "<noscript><p>The interactive viewer needs JavaScript; the figure below shows the run.</p></noscript>"
            "</section>")


def _diagnosis(view: RunView, run: dict, several: bool) -> str:
    head = f"<h3 style='color:{run['colour']}'>{escape(run['label'])}</h3>" if several else ""
    if not run["verdicts"]:
        diagnosed = isinstance(read_diagnosis(view.root), dict)
        return head + ("<p>No failure found by the analyzer's rules.</p>" if diagnosed else
                       "<p class=muted>No diagnosis: run <code>gandiag analyze RUN</code>.</p>")
    parts = [head]
    for v in run["verdicts"]:
        evidence = "".join(f"<li>{escape(str(k).replace('_', ' '))}: {escape(_evidence_value(e))}</li>"
                           for k, e in v["evidence"].items())
        parts.append(
            f"<div class='finding {escape(v['severity'])}'><p class=sentence><b>{escape(v['sentence'])}</b></p>"
            f"<p>{escape(v['message'])}</p>"
            + (f"<p>What to try: {'; '.join(escape(r) for r in v['remedies'])}.</p>" if v["remedies"] else "")
            + (f"<details><summary>evidence</summary><ul>{evidence}</ul></details>" if evidence else "")
            + "</div>")
    return "\n".join(parts)


def _evidence_value(v) -> str:
    if isinstance(v, float):
        return format(v, ".4g")
    if isinstance(v, list):
        return ", ".join(_evidence_value(x) for x in v)
    if isinstance(v, dict):
        return "; ".join(f"{k} {_evidence_value(x)}" for k, x in v.items())
    return str(v)


def _value(v) -> str:
    if isinstance(v, (list, tuple)):
        return ",".join(_value(x) for x in v) if not any(isinstance(x, (list, tuple)) for x in v) else json.dumps(v)
    if isinstance(v, float):
        return format(v, "g")
    return str(v).lower() if isinstance(v, bool) else str(v)


def _settings(view: RunView, run: dict, several: bool) -> str:
    head = f"<h3 style='color:{run['colour']}'>{escape(run['label'])}</h3>" if several else ""
    if view.reader.trainer() == R.OWN_LOOP:   # the user's own settings: no gandiag default or flag set them
        return head + _own_settings(view.config)
    rows = settings_table(view.config)
    table = ("<table class=settings><tr><th>setting</th><th>this run</th><th>default</th><th>set by</th></tr>"
             + "".join(f"<tr><td>{escape(k)}</td><td>{escape(_value(v))}</td>"
                       f"<td>{escape(_value(d)) if d is not None else '—'}</td><td>{escape(src)}</td></tr>"
                       for k, v, d, src in rows) + "</table>") if rows else "<p>Every setting is at its default.</p>"
    full = "".join(f"<tr><td>{escape(k)}</td><td>{escape(_value(v))}</td>"
                   f"<td class=muted>{escape(C.FIELDS[k].metadata['help']) if k in C.FIELDS else ''}</td></tr>"
                   for k, v in sorted(view.config.items()))
    return (f"{head}<p>Settings that differ from gandiag's defaults:</p>{table}"
            f"<details><summary>Full configuration ({len(view.config)} settings)</summary>"
            f"<table class=settings>{full}</table></details>")


def _own_settings(config: dict) -> str:
    if not config:
        return "<p>Your loop recorded no settings (<code>Recorder(..., config={...})</code> keeps them).</p>"
    rows = "".join(f"<tr><td>{escape(str(k))}</td><td>{escape(_value(v))}</td></tr>" for k, v in config.items())
    return ("<p>The settings your loop recorded (<code>Recorder(..., config={...})</code>):</p>"
            f"<table class=settings><tr><th>setting</th><th>this run</th></tr>{rows}</table>")


def _print_fallback(views: list[RunView], labels: list[str]) -> str:
    """A static figure per run (snapshots over the curves): what a printout or a reader without
    JavaScript sees."""
    imgs = "".join(f"<img alt='{escape(label)}: snapshots and metric curves' src='data:image/png;base64,"
                   f"{base64.b64encode(png_bytes(strip_figure(v), dpi=FALLBACK_DPI)).decode('ascii')}'>"
                   for v, label in zip(views, labels))
    return f"<section class=fallback><h2>Snapshots and curves</h2>{imgs}</section>"
