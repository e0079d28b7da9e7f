"""The analyzer: a run folder -> analysis.json (coverage over time, oscillation, saturation) and
diagnosis.json (verdicts with evidence and remedies), plus a short text report.

Also the entry points the CLI and the training loop use: `live_warnings` (the loop's per-row check),
`score_samples` (`gandiag metrics`) and `probe_saturation` (`gandiag probe saturation`).
Everything here reads the run folder through record.RunReader, so it works on any run, even a crashed
one; only the saturation probe needs model code (gandiag.nets and the trainer's probe).
"""
from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path

import numpy as np

from . import record as R
from .diagnose import RULES, RunView, Verdict, diagnose
from .metrics import coverage, oscillation as osc, saturation

#: rows the live check looks back over, so each call stays cheap however long the run
LIVE_ROWS = 200


# --- the run folder -> analysis.json + diagnosis.json -------------------------------------------

def coverage_section(rows: list[dict], snaps: list[tuple[int, np.ndarray]], mixture) -> dict:
    """Coverage over time from the metrics rows, plus every metric on each snapshot's fixed-z fakes."""
    keys = (R.STEP, R.MODES, R.MODES_STRICT, R.HQ, R.REVERSE_KL)
    series = {key: [r.get(key) for r in rows if R.MODES in r] for key in keys}
    reference = coverage.reference_samples(mixture)
    reports = [{R.STEP: step, **coverage.coverage_report(fakes, mixture, reference)} for step, fakes in snaps]
    return {R.SERIES: series, R.SNAPSHOTS: reports, R.FINAL: reports[-1] if reports else None}


def row_mode_sequence(rows: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, HQ counts (T, M), samples per row) from the metrics rows; the trainer's hq is
    counts / samples, so the sample count comes back from it."""
    rows = [r for r in rows if r.get(R.MODE_COUNTS)]
    counts = np.asarray([r[R.MODE_COUNTS] for r in rows], dtype=np.float64).reshape(len(rows), -1 if rows else 0)
    # image runs (no hq) count every sample: the classifier gives each one a class
    n = np.asarray([c.sum() / r[R.HQ] if r.get(R.HQ) else max(c.sum(), 1.0) for c, r in zip(counts, rows)])
    return np.asarray([r[R.STEP] for r in rows]), counts, n


def oscillation_section(rows: list[dict], snaps: list[tuple[int, np.ndarray]], mixture) -> dict:
    """Oscillation from the snapshots' fixed-z fakes when there are two or more (toy runs), else from
    the rows' mode counts (image runs: classifier classes), else from the losses alone."""
    view = RunView(rows)
    loss_steps, d_loss = view.series(R.D_LOSS)
    _, g_loss = view.series(R.G_LOSS)
    losses = dict(loss_steps=loss_steps, d_loss=d_loss if len(d_loss) else None,
                  g_loss=g_loss if len(g_loss) else None)
    if mixture is not None and len(snaps) >= 2:
        steps = np.asarray([s for s, _ in snaps])
        masses = osc.nearest_mode_masses([f for _, f in snaps], mixture.centres, mixture.stds)
        same_z = len({f.shape for _, f in snaps}) == 1   # a resume may change snapshot_samples
        fakes = np.stack([f for _, f in snaps]) if same_z else None
        return {R.OSC_SOURCE: "snapshots", **osc.oscillation(steps, masses, fakes, mixture.centres, **losses)}
    steps, counts, n = row_mode_sequence(rows)
    if not len(steps):
        return {R.OSC_SOURCE: None, **osc.oscillation(**losses)}
    return {R.OSC_SOURCE: "metrics", **osc.oscillation(steps, osc.hq_masses(counts, n), **losses)}


def analyze_run(path) -> tuple[dict, list[Verdict]]:
    """Analyse a run folder, write analysis.json and diagnosis.json into it, return both."""
    reader = R.RunReader(path)
    rows, mixture = reader.metrics(), reader.mixture()
    status, loss = reader.status["status"], reader.config.get("loss")
    snaps = [(s, reader.snapshot(s)[R.SNAP_FAKES]) for s in reader.snapshot_steps()] if mixture else []
    oscill = oscillation_section(rows, snaps, mixture)
    analysis = {R.A_RUN: str(reader.root), R.A_STATUS: status, R.A_LOSS: loss,
                R.A_COVERAGE: coverage_section(rows, snaps, mixture) if mixture else None,
                R.A_OSCILLATION: oscill,
                R.A_SATURATION: saturation.summary(rows)}
    verdicts = diagnose(RunView(rows, loss, status, osc.late(oscill.get(R.OSC_WINDOWS) or [])))
    R.atomic_write_json(reader.root / R.ANALYSIS_FILE, analysis)
    R.atomic_write_json(reader.root / R.DIAGNOSIS_FILE, {R.VERDICTS: [v.to_dict() for v in verdicts],
                                                         R.RULES_CHECKED: [r.name for r in RULES]})
    return analysis, verdicts


# --- the short report ----------------------------------------------------------------------------

def _g(v, fmt: str = ".3g") -> str:
    return "n/a" if v is None else format(v, fmt)


def format_report(analysis: dict, verdicts: list[Verdict], lines: int = 6) -> str:
    out = [f"run {analysis[R.A_RUN]}  status {analysis[R.A_STATUS]}  loss {analysis[R.A_LOSS]}"]
    cov = analysis[R.A_COVERAGE]
    if cov and cov[R.SERIES][R.STEP]:
        s = cov[R.SERIES]
        out.append("coverage over time (metrics rows):")
        for i in np.unique(np.linspace(0, len(s[R.STEP]) - 1, lines).round().astype(int)):
            out.append(f"  step {s[R.STEP][i]:>8}  modes {_g(s[R.MODES][i])}  strict {_g(s[R.MODES_STRICT][i])}  "
                       f"high quality {_g(s[R.HQ][i], '.1%')}  reverse KL {_g(s[R.REVERSE_KL][i], '.3f')}")
    if cov and cov[R.FINAL]:
        f = cov[R.FINAL]
        out.append(f"last snapshot (step {f[R.STEP]}, {f[R.N_SAMPLES]} fixed-z fakes): modes {f[R.MODES]} "
                   f"(strict {f[R.MODES_STRICT]}), high quality {f[R.HQ]:.1%}, reverse KL {f[R.REVERSE_KL]:.3f}, "
                   f"JS to uniform {f[R.JS_UNIFORM]:.3f}, log-likelihood {f[R.LOG_LIKELIHOOD]:.2f}, grid KL "
                   f"{f[R.GRID_KL]:.3f} / JS {f[R.GRID_JS]:.3f}, k-NN precision {f[R.KNN_PRECISION]:.2f} recall "
                   f"{f[R.KNN_RECALL]:.2f} density {f[R.KNN_DENSITY]:.2f} coverage {f[R.KNN_COVERAGE]:.2f}")
    out.extend(_oscillation_lines(analysis[R.A_OSCILLATION]))
    sat = analysis[R.A_SATURATION]
    if sat:
        last = sat[R.SAT_LAST]
        out.append(f"saturation: at most {sat[R.SAT_MAX_SHARE]:.1%} of fakes had D(G(z)) < 1e-3; at step "
                   f"{last[R.STEP]} G's gradient norm is {_g(last[R.SAT_GNORM_MINIMAX])} under the saturating "
                   f"loss vs {_g(last[R.SAT_GNORM_NONSAT])} under -log D")
    out.append("diagnosis: " + (f"{len(verdicts)} finding(s)" if verdicts else "no failure found"))
    for v in verdicts:
        steps = v.evidence[R.EV_STEPS]
        out.append(f"  [{v.severity}] {v.title}  (steps {steps[0]}-{steps[1]})")
        out.append(f"      {v.message}")
        out.append("      try: " + "; ".join(v.remedies))
    return "\n".join(out)


def _oscillation_lines(o: dict) -> list[str]:
    if o[R.OSC_INDEX] is None:
        return []
    out = [f"oscillation index {o[R.OSC_INDEX]:.2f} (mode part {_g(o[R.OSC_MODE_INDEX], '.2f')}, "
           f"loss part {_g(o[R.OSC_LOSS_INDEX], '.2f')})"]
    if o[R.OSC_MODE_INDEX] is not None:
        out.append(f"  from the {o[R.OSC_SOURCE]}: the dominant mode switched in {o[R.OSC_SWITCH_RATE]:.0%} of "
                   f"consecutive pairs; later windows visited {o[R.OSC_VISITED]:.1f} modes and covered "
                   f"{o[R.OSC_COVERED]:.1f} at once")
    if o[R.OSC_DRIFT]:
        drift = o[R.OSC_DRIFT][R.DRIFT_MEAN]
        # a turn is seen modulo a full turn: past a quarter turn per snapshot, sign and speed may be aliased
        aliased = "; over a quarter turn per snapshot: snapshot more often to rule out aliasing" \
            if abs(drift) > np.pi / 2 else ""
        out.append(f"  ring drift {drift:+.3f} rad per snapshot ({o[R.OSC_DRIFT][R.DRIFT_TURNS]:+.2f} turns in all"
                   f"{aliased})")
    for name, key in (("D", R.OSC_D_CYCLE), ("G", R.OSC_G_CYCLE)):
        c = o[key]
        if c and c[R.CYCLE_PERIOD] is not None:
            out.append(f"  {name} loss: dominant period {c[R.CYCLE_PERIOD]:.0f} steps, amplitude "
                       f"{c[R.CYCLE_AMPLITUDE]:.3g}, cycle strength {c[R.CYCLE_STRENGTH]:.2f}")
    return out


# --- live, during training -----------------------------------------------------------------------

def live_verdicts(rows: list[dict], loss: str | None = None) -> list[Verdict]:
    """The diagnosis on the last LIVE_ROWS metrics rows (mode hopping from their mode counts)."""
    recent = rows[-LIVE_ROWS:]
    steps, counts, n = row_mode_sequence(recent)
    windows = osc.late(osc.windows(steps, osc.hq_masses(counts, n))) if len(steps) else []
    return diagnose(RunView(recent, loss, windows=windows))


def live_warnings(loss: str | None = None):
    """The training loop's per-row callback: remembers the rows, returns the titles of the verdicts
    that hold now (the progress line shows them)."""
    rows: list[dict] = []

    def on_row(row: dict) -> list[str]:
        rows.append(row)
        return [v.title for v in live_verdicts(rows, loss)]

    return on_row


# --- `gandiag metrics`: a user's own samples ------------------------------------------------------

def load_samples(path) -> np.ndarray:
    """An N x 2 float array from .npy, .npz (its only array, or `fakes` in a snapshot) or .csv
    (an optional header line); a one-line ValueError for anything else."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: give a .npy, .npz or .csv file of N x 2 samples")
    try:
        x = _read_array(path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"{path} cannot be read as {path.suffix or 'a samples file'} ({why}): "
                         "save N x 2 numbers with numpy.save, numpy.savez or as CSV") from None
    if x.ndim != 2 or x.shape[1] != 2 or len(x) == 0:
        raise ValueError(f"{path} holds an array of shape {x.shape}: expected N x 2 samples (one x, y per row)")
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise ValueError(f"{path} has NaN or infinite values in {bad.sum()} rows (first: row "
                         f"{np.flatnonzero(bad)[0]}): remove them and try again")
    return x


def _read_array(path: Path) -> np.ndarray:
    suffix = path.suffix.lower()
    if suffix == ".npy":
        with open(path, "rb") as f:  # np.load given a path leaves it open when the file is damaged
            return np.asarray(np.load(f, allow_pickle=False), dtype=np.float64)
    if suffix == ".npz":
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
            if R.SNAP_FAKES in z.files or len(z.files) == 1:
                return np.asarray(z[R.SNAP_FAKES if R.SNAP_FAKES in z.files else z.files[0]], dtype=np.float64)
            raise ValueError(f"several arrays ({', '.join(z.files)}) and none named {R.SNAP_FAKES!r}")
    if suffix in (".csv", ".txt"):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        has_header = bool(lines) and not _numeric_line(lines[0])
        with warnings.catch_warnings():  # no rows: numpy warns and returns an empty array, refused above
            warnings.simplefilter("ignore", UserWarning)
            return np.loadtxt(io.StringIO("\n".join(lines[has_header:])), delimiter=",", ndmin=2)
    raise ValueError(f"unknown file type {suffix!r}")


def _numeric_line(line: str) -> bool:
    try:
        [float(v) for v in line.split(",")]
    except ValueError:
        return False
    return True


def score_samples(path, scenario: str) -> dict:
    """`gandiag metrics`: every coverage metric of a samples file against a scenario's modes."""
    from .config import load_config
    from .data.toy import mixture_from_config
    mixture = mixture_from_config(load_config(scenario))
    return coverage.coverage_report(load_samples(path), mixture)


# --- `gandiag probe saturation` -------------------------------------------------------------------

def probe_saturation(path, checkpoint: int | None = None, d_steps: int = 2000,
                     d_lr: float | None = None) -> tuple[list[dict], list[Path]]:
    """Load G from a checkpoint (default: the newest), freeze it, train a fresh D of the run's
    architecture and optimiser (learning rate d_lr, default the run's) for d_steps and record G's
    gradient norm under both losses; writes RUN/saturation_probe_step_XXXXXXXX.json and .png;
    returns the rows and the two paths."""
    from .config import from_dict
    from .train.checkpoints import load_checkpoint
    from .train.session import Session
    from .train.probes import saturation as measure_saturation

    reader = R.RunReader(path)
    steps = reader.checkpoint_steps()
    if not steps:
        raise R.RunError(f"{reader.root} has no checkpoint: the probe needs a trained G (let the run reach "
                         "--checkpoint-every)")
    step = steps[-1] if checkpoint is None else checkpoint
    if step not in steps:
        raise R.RunError(f"{reader.root} has no checkpoint at step {step}: choose one of {steps}")
    ckpt = load_checkpoint(reader.root / R.CHECKPOINT_DIR / R.checkpoint_name(step))
    cfg = from_dict(ckpt["config"])
    s = Session.for_config(cfg)   # D as the run began: a fresh one
    s.players.G.load_state_dict(ckpt["G"])
    for group in s.players.opt_d.param_groups:
        group["lr"] = d_lr or cfg.d_lr
    rows = saturation.frozen_g_probe(s.players.G, s.players.D, s.sample_real, s.sample_z,
                                     lambda g, d, z: measure_saturation(g, d, z)[0], d_steps, cfg.batch,
                                     s.players.opt_d)
    stem = reader.root / f"{R.SATURATION_PROBE}_{Path(R.checkpoint_name(step)).stem}"
    R.atomic_write_json(stem.with_suffix(".json"), {R.STEP: step, R.PROBE_D_LR: d_lr or cfg.d_lr, R.SERIES: rows})
    _probe_figure(rows, step, stem.with_suffix(".png"))
    return rows, [stem.with_suffix(".json"), stem.with_suffix(".png")]


def _probe_figure(rows: list[dict], step: int, path: Path) -> None:
    from matplotlib.figure import Figure
    fig = Figure(figsize=(6, 4), dpi=120, layout="constrained")
    ax = fig.add_subplot()
    x = np.asarray([r[R.PROBE_D_STEP] for r in rows]) + 1   # log axis: D step 0 at 1
    ax.loglog(x, [r[R.SAT_GNORM_MINIMAX] for r in rows], "o-", label="saturating: log(1 - D(G(z)))")
    ax.loglog(x, [r[R.SAT_GNORM_NONSAT] for r in rows], "s-", label="non-saturating: -log D(G(z))")
    ax.set(xlabel="D training steps + 1 (G frozen)", ylabel="G's gradient norm",
           title=f"G frozen at step {step}, fresh D trained (Arjovsky & Bottou 2017)")
    ax.legend()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    R.atomic_write_bytes(path, buf.getvalue())
