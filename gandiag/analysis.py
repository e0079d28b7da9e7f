"""The analyzer: a run folder -> analysis.json (coverage over time, oscillation, saturation) and
diagnosis.json (verdicts with evidence and remedies), plus a short text report.

Also the entry points the CLI and the training loop use: `live_warnings` (the loop's per-row check,
the same diagnosis on the rows the live view has) and `score_samples` (`gandiag metrics`).
Everything here reads the run folder through record.RunReader, so it works on any run, even a crashed
one; nothing here trains (the frozen-G saturation probe lives in gandiag.train.saturation_probe).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from . import record as R
from .diagnose import Verdict, diagnose, judgement, rules_need, shortfall, summary, verdict_head
from .facts import RunFacts, Spread, row_samples
from .data.points import load_samples
from .metrics import coverage, oscillation as osc, saturation

#: rows the live check looks back over, so each call stays cheap however long the run
LIVE_ROWS = 200


# --- where the mass sits over time -----------------------------------------------------------------

def row_masses(rows: list[dict]) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, bool]:
    """(steps, near masses, hq masses, whether the rows had near counts) from the rows with mode
    counts. Toy rows carry near counts (where the mass is) besides the HQ counts; older toy rows only
    their HQ counts, which then stand for both. Image rows' counts are classes (every sample has one)
    and they have no quality measure: their counts are the near masses, and there are no hq masses."""
    rows = [r for r in rows if r.get(R.MODE_COUNTS)]
    if not rows:
        return np.zeros(0, dtype=np.int64), None, None, False
    counts = np.asarray([r[R.MODE_COUNTS] for r in rows], dtype=np.float64)
    n = np.asarray([row_samples(r, total) for r, total in zip(rows, counts.sum(axis=1))])
    masses = osc.mode_masses(counts, n)
    hq = masses if all(R.HQ in r for r in rows) else None
    has_near = all(r.get(R.NEAR_COUNTS) for r in rows)
    near = osc.mode_masses([r[R.NEAR_COUNTS] for r in rows], n) if has_near else masses
    return np.asarray([r[R.STEP] for r in rows]), near, hq, has_near


def mode_sequence(rows: list[dict], snaps: list[tuple[int, np.ndarray]], mixture) -> tuple:
    """(source, steps, near masses, hq masses) behind the oscillation windows: the metrics rows when they
    have near counts (the live check reads the same), else two or more snapshots' fixed-z fakes (toy
    runs), else the rows' mode counts (image runs: classifier classes); (None, ...) without any."""
    steps, near, hq, has_near = row_masses(rows)
    if has_near:
        return "metrics", steps, near, hq
    if mixture is not None and len(snaps) >= 2:
        return ("snapshots", np.asarray([s for s, _ in snaps]),
                *osc.snapshot_masses([f for _, f in snaps], mixture.centres, mixture.stds))
    return ("metrics" if near is not None else None), steps, near, hq


# --- the run folder -> analysis.json + diagnosis.json -------------------------------------------

def coverage_section(rows: list[dict], snaps: list[tuple[int, np.ndarray]], mixture, points=None,
                     window=None) -> dict:
    """Coverage over time from the metrics rows, plus every metric on each snapshot's fixed-z fakes
    (against a user's points with fitted modes, the distribution's against the points: fitted_report)."""
    keys = (R.STEP, R.N_SAMPLES, R.MODES, R.MODES_STRICT, R.HQ, R.REVERSE_KL)
    series = {key: [r.get(key) for r in rows if R.MODES in r] for key in keys}
    if points is None:
        reference = coverage.reference_samples(mixture)
        reports = [{R.STEP: step, **coverage.coverage_report(fakes, mixture, reference)} for step, fakes in snaps]
    else:
        reports = [{R.STEP: step, **coverage.fitted_report(fakes, mixture, points, window)} for step, fakes in snaps]
    return {R.SERIES: series, R.SNAPSHOTS: reports, R.FINAL: reports[-1] if reports else None}


def points_section(snaps: list[tuple[int, np.ndarray]], points: np.ndarray, window) -> dict:
    """Coverage of a user's own points (no modes known): the metrics that need none, on each snapshot."""
    reports = [{R.STEP: step, **coverage.points_report(fakes, points, window)} for step, fakes in snaps]
    return {R.SERIES: {R.STEP: []}, R.SNAPSHOTS: reports, R.FINAL: reports[-1] if reports else None}


def classes_section(rows: list[dict]) -> dict:
    """Class coverage of an image run over time, from the rows the classifier scored."""
    keys = (R.STEP, R.MODES, R.MODES_STRICT, R.CLASSIFIER_SCORE, R.FRECHET_DISTANCE, R.REVERSE_KL)
    scored = [r for r in rows if isinstance(r.get(R.MODE_COUNTS), list)]
    series = {key: [r.get(key) for r in scored] for key in keys}
    series[R.N_CLASSES] = [len(r[R.MODE_COUNTS]) for r in scored]
    return {R.SERIES: series, R.SNAPSHOTS: [], R.FINAL: None}


def oscillation_section(rows: list[dict], snaps: list[tuple[int, np.ndarray]], mixture) -> dict:
    """Oscillation from mode_sequence, the ring drift from the snapshots' fixed-z fakes, the loss cycles."""
    view = RunFacts(rows)
    loss_steps, d_loss = view.series(R.D_LOSS)
    _, g_loss = view.series(R.G_LOSS)
    losses = dict(loss_steps=loss_steps, d_loss=d_loss if len(d_loss) else None,
                  g_loss=g_loss if len(g_loss) else None)
    source, steps, near, hq = mode_sequence(rows, snaps, mixture)
    same_z = len(snaps) >= 2 and len({f.shape for _, f in snaps}) == 1   # a resume may change snapshot_samples
    fakes = np.stack([f for _, f in snaps]) if same_z else None
    centres = mixture.centres if mixture is not None else None
    return {R.OSC_SOURCE: source, **osc.oscillation(steps, near, fakes, centres, hq=hq, **losses)}


def analyze_run(path) -> tuple[dict, list[Verdict]]:
    """Analyse a run folder, write analysis.json and diagnosis.json into it, return both."""
    reader = R.RunReader(path)
    rows, mixture, config = reader.metrics(), reader.mixture(), reader.config
    status, points = reader.status["status"], reader.points()
    snaps = fixed_z_fakes(reader)
    oscill = oscillation_section(rows, snaps, mixture)
    cover = coverage_section(rows, snaps, mixture, points, reader.window()) if mixture else \
        points_section(snaps, points, reader.window()) if points is not None else \
        classes_section(rows) if reader.target_kind == "image" else None
    analysis = json_ready({R.A_RUN: str(reader.root), R.A_STATUS: status, R.A_LOSS: config.get("loss"),
                           R.A_TRAINER: reader.trainer(),
                           R.A_COVERAGE: cover,
                           R.A_OSCILLATION: oscill,
                           R.A_SATURATION: saturation.summary(rows)})
    facts = RunFacts(rows, config, status, osc.late(oscill.get(R.OSC_WINDOWS) or []), *spreads(points, mixture, snaps))
    verdicts = diagnose(facts)
    analysis[R.A_JUDGED] = judgement(facts, verdicts)
    R.atomic_write_json(reader.root / R.ANALYSIS_FILE, analysis)
    R.atomic_write_json(reader.root / R.DIAGNOSIS_FILE, json_ready({R.VERDICTS: [v.to_dict() for v in verdicts],
                                                                    **analysis[R.A_JUDGED]}))
    return analysis, verdicts


def fixed_z_fakes(reader: R.RunReader) -> list[tuple[int, np.ndarray]]:
    """(step, fixed-z fakes) of each snapshot of a 2D run that holds them ([] for image runs)."""
    if reader.target_kind != "2d":
        return []
    return [(s, snap[R.SNAP_FAKES]) for s in reader.snapshot_steps() if R.SNAP_FAKES in (snap := reader.snapshot(s))]


def spreads(points, mixture, snaps: list[tuple[int, np.ndarray]]) -> tuple[Spread | None, list]:
    """Where the run's data sit (its points, else its mixture's modes; None for image runs) and (step,
    Spread) of each snapshot's finite fakes: RunFacts' data and fakes."""
    data = Spread.of_points(points) if points is not None else Spread.of_mixture(mixture) if mixture else None
    return data, [(step, spread) for step, f in snaps if (spread := Spread.of_points(f)) is not None]


def analyze_runs(root) -> list[tuple[Path, tuple[dict, list[Verdict]] | str]]:
    """analyze_run on every run folder inside root (a `--seeds N` pass, or a folder of runs): each folder
    with its (analysis, verdicts), or the one line saying why it cannot be analysed, so one damaged seed
    does not hide the others' verdicts; [] where root is itself a run or holds none."""
    results = []
    for folder in R.run_folders_in(root):
        try:
            results.append((folder, analyze_run(folder)))
        except (R.RunError, FileNotFoundError) as e:
            results.append((folder, str(e)))
    return results


def json_ready(obj):
    """obj with every non-finite float as None (JSON has no NaN or infinity; where a metric can be
    undefined, its report says why under NOT_COMPUTED)."""
    if isinstance(obj, dict):
        return {k: json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


# --- the short report ----------------------------------------------------------------------------

def _g(v, fmt: str = ".3g") -> str:
    return "n/a" if v is None else format(v, fmt)


def format_report(analysis: dict, verdicts: list[Verdict], lines: int = 6) -> str:
    # a user's own loop names no loss gandiag knows (its probe's assumption is in config.json's "recorder")
    loss = f"loss {analysis[R.A_LOSS]}" if analysis[R.A_LOSS] else "own training loop"
    out = [f"run {analysis[R.A_RUN]}  status {analysis[R.A_STATUS]}  {loss}"]
    cov = analysis[R.A_COVERAGE]
    if cov and cov[R.SERIES][R.STEP]:
        out.extend(_series_lines(cov[R.SERIES], lines))
    if cov and cov[R.FINAL]:
        out.extend(_final_lines(cov[R.FINAL], analysis.get(R.A_TRAINER) == R.OWN_LOOP))
    out.extend(_oscillation_lines(analysis[R.A_OSCILLATION]))
    sat = analysis[R.A_SATURATION]
    if sat:
        last = sat[R.SAT_LAST]
        out.append(f"saturation: at most {sat[R.SAT_MAX_SHARE]:.1%} of fakes had D(G(z)) < "
                   f"{saturation.SATURATED_BELOW:g}; at step {last[R.STEP]} G's gradient norm is "
                   f"{_g(last[R.SAT_GNORM_MINIMAX])} under the saturating loss vs {_g(last[R.SAT_GNORM_NONSAT])} "
                   "under -log D")
    out.append("diagnosis: " + summary(analysis.get(R.A_JUDGED) or {}, len(verdicts), analysis[R.A_RUN]))
    for v in verdicts:
        steps = v.evidence[R.EV_STEPS]
        out.append(f"  [{v.severity}] {v.title}  (steps {steps[0]}-{steps[1]})")
        out.append(f"      {v.message}")
        if v.remedies:
            out.append("      try: " + "; ".join(v.remedies))
    if verdicts and analysis.get(R.A_TRAINER) == R.OWN_LOOP and any(v.remedies for v in verdicts):
        # the remedies are spelled as gandiag's flags; a user's loop applies the technique itself
        digits = bool(cov) and R.CLASSIFIER_SCORE in cov[R.SERIES]   # an image loop has no points file to give
        on = "the digits with gandiag run mnist FLAG (or stacked-mnist)" if digits else \
            "your data with gandiag run SCENARIO FLAG, --data-file points.npy for your own points"
        out.append(f"  (the flags are gandiag's trainer's: apply the technique in your loop, or see what it does on "
                   f"{on})")
    return "\n".join(out)


def format_runs(root, results: list[tuple[Path, tuple[dict, list[Verdict]] | str]]) -> str:
    """analyze_runs' results as a table, a run a line, and how many runs each finding was drawn for: the
    comparison a stabilizer study over seeds makes (is mode hopping gone in every seed, or in most?)."""
    width = max([len(folder.name) for folder, _ in results] + [3]) + 2
    out = [f"{len(results)} runs in {root}, each analysed into its own analysis.json and diagnosis.json:",
           f"  {'run':<{width}}{'status':<11}{'modes':>5}  findings"]
    found: dict[str, list[str]] = {}
    short: list[Path] = []
    analysed = [(folder, result) for folder, result in results if not isinstance(result, str)]
    for folder, result in results:
        if isinstance(result, str):
            out.append(f"  {folder.name:<{width}}cannot be analysed: {result}")
            continue
        analysis, verdicts = result
        for v in verdicts:
            found.setdefault(v.title, []).append(folder.name)
        judged = analysis.get(R.A_JUDGED) or {}
        unjudged = judged.get(R.RULES_UNJUDGED)
        if unjudged:
            short.append(folder)
        too_short = f" ({rules_need(len(unjudged))} more rows than its {judged[R.DIAGNOSED_ROWS]})" if unjudged else ""
        modes = ((analysis[R.A_COVERAGE] or {}).get(R.SERIES) or {}).get(R.MODES) or [None]
        out.append(f"  {folder.name:<{width}}{analysis[R.A_STATUS]:<11}{_g(modes[-1]):>5}  "
                   + (", ".join(v.rule for v in verdicts) or verdict_head(judged, 0)) + too_short)
    out.append(f"findings over the {len(analysed)} runs analysed:" if found else
               f"no failure found in any of the {len(analysed)} runs analysed"
               + (" by the rules that could judge them" if short else ""))
    for title, names in found.items():
        out.append(f"  {len(names)} of {len(analysed)}  {title}  ({', '.join(names)})")
    if short:
        names = ", ".join(f.name for f in short)
        out.append(f"{len(short)} of {len(analysed)} runs too short for some rules ({names}): gandiag analyze "
                   f"{short[0]} names them and how long to train on")
    if found:
        out.append(f"each run's evidence and remedies: gandiag analyze {analysed[0][0]}")
    return "\n".join(out)


def _series_lines(s: dict, lines: int) -> list[str]:
    if R.CLASSIFIER_SCORE in s:
        return _class_lines(s, lines)
    counts = {n for n in s.get(R.N_SAMPLES, []) if n}
    each = f", {counts.pop():,} samples each" if len(counts) == 1 else ""
    out = [f"coverage over time (metrics rows{each}):"]
    for i in np.unique(np.linspace(0, len(s[R.STEP]) - 1, lines).round().astype(int)):
        out.append(f"  step {s[R.STEP][i]:>8}  modes {_g(s[R.MODES][i])}  strict {_g(s[R.MODES_STRICT][i])}  "
                   f"high quality {_g(s[R.HQ][i], '.1%')}  reverse KL {_g(s[R.REVERSE_KL][i], '.3f')}")
    return out


def _class_lines(s: dict, lines: int) -> list[str]:
    out = ["classes over time (the classifier on each scored row's samples):"]
    for i in np.unique(np.linspace(0, len(s[R.STEP]) - 1, lines).round().astype(int)):
        out.append(f"  step {s[R.STEP][i]:>8}  classes {_g(s[R.MODES][i])} / {s[R.N_CLASSES][i]}  strict "
                   f"{_g(s[R.MODES_STRICT][i])}  classifier score {_g(s[R.CLASSIFIER_SCORE][i], '.2f')}  Frechet "
                   f"distance {_g(s[R.FRECHET_DISTANCE][i], '.1f')}  reverse KL {_g(s[R.REVERSE_KL][i], '.3f')}")
    return out


def _final_lines(f: dict, own_loop: bool) -> list[str]:
    papers = coverage.N_REFERENCE
    # a user's loop has no --snapshot-samples, and its rows score the z it snapshots, not the papers' count
    match = f"a fixed z of {papers:,} in rec.snapshot matches them" if own_loop else \
        f"--snapshot-samples {papers} matches them"
    count = f"{f[R.N_SAMPLES]:,} fixed-z fakes" + (
        f"; the papers score {papers:,} samples{'' if own_loop else ', as the metrics rows do'}: k-NN and grid "
        f"scores depend on the count, {match}" if f[R.N_SAMPLES] != papers else "")
    if R.MODES not in f:   # a user's own points: no modes known
        return [f"last snapshot (step {f[R.STEP]}, {f[R.N_SAMPLES]:,} fixed-z fakes, against your points; no modes "
                f"known): grid KL {_g(f[R.GRID_KL], '.3f')} / JS {_g(f[R.GRID_JS], '.3f')}, k-NN precision "
                f"{_g(f[R.KNN_PRECISION], '.2f')} recall {_g(f[R.KNN_RECALL], '.2f')} density "
                f"{_g(f[R.KNN_DENSITY], '.2f')} coverage {_g(f[R.KNN_COVERAGE], '.2f')}"]
    out = [f"last snapshot (step {f[R.STEP]}, {count}):",
           f"  modes {f[R.MODES]} (strict {f[R.MODES_STRICT]}), high quality {f[R.HQ]:.1%}, reverse KL "
           f"{_g(f[R.REVERSE_KL], '.3f')}, JS to the target's mode weights {_g(f[R.JS_UNIFORM], '.3f')}, "
           f"log-likelihood {_g(f[R.LOG_LIKELIHOOD], '.2f')}, grid KL {_g(f[R.GRID_KL], '.3f')} / JS "
           f"{_g(f[R.GRID_JS], '.3f')}",
           f"  k-NN precision {_g(f[R.KNN_PRECISION], '.2f')} recall {_g(f[R.KNN_RECALL], '.2f')} density "
           f"{_g(f[R.KNN_DENSITY], '.2f')} coverage {_g(f[R.KNN_COVERAGE], '.2f')}"]
    if f.get(R.N_NONFINITE):
        out.append(f"  {f[R.N_NONFINITE]} of the fakes are not finite (NaN or infinite): they count as on no mode")
    out.extend(f"  {key} not computed: {why}" for key, why in _distinct(f.get(R.NOT_COMPUTED) or {}))
    return out


def _distinct(why: dict) -> list[tuple[str, str]]:
    """(keys, reason) with the keys that share a reason joined."""
    by_reason: dict[str, list[str]] = {}
    for key, reason in why.items():
        by_reason.setdefault(reason, []).append(key)
    return [(", ".join(keys), reason) for reason, keys in by_reason.items()]


def _oscillation_lines(o: dict) -> list[str]:
    if o[R.OSC_INDEX] is None:
        return []
    pairs = (("D", o[R.OSC_D_CYCLE]), ("G", o[R.OSC_G_CYCLE]))
    cycles = [f"{name} {c[R.CYCLE_STRENGTH]:.2f}" for name, c in pairs if c]
    loss = f"loss cycle strength {', '.join(cycles)}" if cycles else "no loss cycle measured"
    part = "mode part" if o[R.OSC_MODE_INDEX] is not None else "from the losses alone"
    out = [f"oscillation index {o[R.OSC_INDEX]:.2f} ({part}; {loss})"]
    if o[R.OSC_MODE_INDEX] is not None:
        hq = "" if o[R.OSC_HQ_COVERED] is None else f", {o[R.OSC_HQ_COVERED]:.1f} at high quality"
        out.append(f"  from the {o[R.OSC_SOURCE]}: the dominant mode switched in {o[R.OSC_SWITCH_RATE]:.0%} of "
                   f"consecutive pairs; later windows of {o[R.OSC_WINDOW]}: mass near {o[R.OSC_VISITED]:.1f} modes "
                   f"over a window and near {o[R.OSC_COVERED]:.1f} at once{hq}")
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
            out.append(f"  {name} loss: strongest cycle {c[R.CYCLE_PERIOD]:.0f} steps, amplitude "
                       f"{c[R.CYCLE_AMPLITUDE]:.3g}, cycle strength {c[R.CYCLE_STRENGTH]:.2f}")
    return out


# --- live, during training -----------------------------------------------------------------------

def config_dict(config) -> dict:
    """A run's config as the rules read it: a Config, config.json's "config" dict, a loss name (all
    that older callers pass) or None (unknown: every rule with its defaults)."""
    if config is None:
        return {}
    if isinstance(config, str):
        return {"loss": config}
    if isinstance(config, dict):
        return config
    from .config import to_dict
    return to_dict(config)


def live_verdicts(rows: list[dict], config=None) -> list[Verdict]:
    """The diagnosis on the last LIVE_ROWS metrics rows, as `analyze` reaches it on those rows: the
    same rules, config and oscillation windows (from the rows' mode counts)."""
    return diagnose(_live_facts(rows, config_dict(config)))


def _live_facts(rows: list[dict], config: dict, data: Spread | None = None, fakes: list | None = None) -> RunFacts:
    recent = rows[-LIVE_ROWS:]
    _, steps, near, hq = mode_sequence(recent, [], None)
    windows = osc.late(osc.windows(steps, near, hq)) if near is not None else []
    return RunFacts(recent, config, R.RUNNING, windows, data, fakes or [])


def live_warnings(config=None):
    """The training loop's per-row callback for a run with this config (see config_dict): remembers the
    rows, returns the titles of the verdicts that hold now (the progress line shows them)."""
    rows: list[dict] = []
    known = config_dict(config)

    def on_row(row: dict) -> list[str]:
        rows.append(row)
        del rows[:-LIVE_ROWS]
        return [v.title for v in live_verdicts(rows, known)]

    return on_row


def diagnosis_at_end(path) -> list[str]:
    """The diagnosis lines for the end of `gandiag run` ([]: nothing to add to its metrics): a lost run's
    errors and the first thing to try, or the rules too short a run leaves unjudged. The live check on the
    folder's rows, whose first (step-0) row the loop never passes it."""
    reader = R.RunReader(path)
    # and its snapshots, which the loop does not pass: the rules that read them would count as finding nothing
    where = spreads(reader.points(), reader.mixture(), fixed_z_fakes(reader))
    facts = _live_facts(reader.metrics(), reader.config, *where)
    verdicts = diagnose(facts)
    judged = judgement(facts, verdicts)
    line = f"diagnosis: {summary(judged, len(verdicts), str(reader.root))}"
    errors = [v for v in verdicts if v.severity == "error"]
    if errors:
        lost = f"{line}, the run is lost: {'; '.join(v.title for v in errors)}"
        return [lost, *(f"try: {r}" for r in errors[0].remedies[:1])]
    return [line] if shortfall(judged) else []


# --- `gandiag metrics`: a user's own samples ------------------------------------------------------

def score_samples(path, scenario: str) -> dict:
    """`gandiag metrics`: every coverage metric of a samples file against a scenario's modes."""
    from .config import IMAGE_DATA, load_config, scenario_names
    from .data.toy import mixture_from_config
    cfg = load_config(scenario)
    if cfg.data in IMAGE_DATA:   # its modes are digit classes, which N x 2 samples cannot hold
        toys = [name for name in scenario_names() if load_config(name).data not in IMAGE_DATA]
        raise ValueError(f"{scenario} is an image scenario (data = {cfg.data!r}): gandiag metrics scores N x 2 "
                         f"samples against a 2D scenario's modes: give one of {', '.join(toys)} or a .toml of yours")
    return coverage.coverage_report(load_samples(path), mixture_from_config(cfg))
