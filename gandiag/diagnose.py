"""Failure diagnosis: one table of rules over a run's metrics rows -> verdicts with evidence and remedies.

Each rule has a name, a title, its thresholds, the rows it needs (from its thresholds), a check and
its remedies (gandiag.remedies). A check looks at RunFacts (the rows, the run's config, how it ended,
the oscillation windows, where the data and the snapshots' fakes sit) and returns a Finding (a message
and its evidence: the step range it rests on and the values) or None. RULES is the table;
`rules_table()` prints it (the docs' rule table is generated from it). Reads what a run folder records
only, so it works on any run folder, on a crashed run, and live during training (on the rows alone:
off_the_data, which reads the snapshots, finds nothing there).
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import count
from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import record as R
from . import remedies as X
from .metrics import oscillation as osc
from .facts import FAR_OFF, RunFacts, row_samples, tail as _tail
from .metrics.coverage import strict_share
from .metrics.saturation import SATURATED_BELOW

#: keys whose non-finite value means the run diverged
WATCHED = (R.D_LOSS, R.G_LOSS, R.D_GRAD_NORM, R.G_GRAD_NORM)
#: mass near more than this share of the modes at once is spread out; near at most this share, a hop
SPREAD_SHARE = 0.5
#: a rule's severities: "error" (the run is lost), "warning" (a failure), "note" (not a failure yet)
SEVERITIES = ("error", "warning", "note")
#: the trainer's first row (step 0, before any training step) has coverage but no losses nor gradient norms
STEP0 = 1
#: rows that make a short run's lasting state: at least this many, to the run's end (see _lasting)
SHORT_STATE = 2


@dataclass(frozen=True)
class Finding:
    message: str
    evidence: dict


@dataclass(frozen=True)
class Rule:
    name: str
    title: str
    severity: str                     # one of SEVERITIES
    when: str                         # the condition in words, naming the thresholds
    thresholds: dict
    # the metrics rows (STEP0 included) the check needs before it can find its failure, from the
    # thresholds: a run with fewer that it finds nothing in was not judged by it
    rows: Callable[[dict], int]
    check: Callable[[RunFacts, dict], Finding | None]
    remedies: tuple[X.Remedy, ...]

    @property
    def needs(self) -> int:
        return self.rows(self.thresholds)


@dataclass(frozen=True)
class Verdict:
    rule: str
    title: str
    severity: str
    message: str
    evidence: dict
    remedies: tuple[str, ...]

    def to_dict(self) -> dict:
        return {R.V_RULE: self.rule, R.V_TITLE: self.title, R.V_SEVERITY: self.severity,
                R.V_MESSAGE: self.message, R.V_EVIDENCE: self.evidence, R.V_REMEDIES: list(self.remedies)}


# --- helpers -----------------------------------------------------------------------------------

def _span(steps) -> list[int]:
    return [int(np.min(steps)), int(np.max(steps))]


def _longest_run(mask: np.ndarray) -> slice:
    """The longest stretch of consecutive True values (empty slice when none)."""
    best, start = slice(0, 0), None
    for i, hit in enumerate(np.append(mask, False)):
        if hit and start is None:
            start = i
        elif not hit and start is not None:
            if i - start > best.stop - best.start:
                best = slice(start, i)
            start = None
    return best


def _rank_corr(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (0 when either side is constant)."""
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    if np.ptp(ra) == 0 or np.ptp(rb) == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


# --- the checks ----------------------------------------------------------------------------------

def _divergence(run: RunFacts, t: dict) -> Finding | None:
    bad = {}
    for key in WATCHED:
        steps, v = run.series(key)
        if not np.isfinite(v).all():
            bad[key] = steps[~np.isfinite(v)]
    # a loop without gandiag's guards (a user's own) may go on past the step its G turned NaN
    steps, v = run.series(R.N_NONFINITE)
    if (v > 0).any():
        bad["fakes"] = steps[v > 0]
    if not bad and run.status != R.DIVERGED:
        return None
    steps = np.concatenate(list(bad.values())) if bad else [run.rows[-1][R.STEP] if run.rows else 0]
    where = f"non-finite {', '.join(sorted(bad))} from step {min(steps)}" if bad else "status.json says diverged"
    return Finding(f"training diverged: {where}",
                   {R.EV_STEPS: _span(steps), "non_finite": sorted(bad), "status": run.status})


def _lasting(stretch: slice, rows: int, t: dict) -> bool:
    """A stretch of rows long enough to be a state, not a spike: min_rows of them, or (a short run) at
    least two that last to the run's end and make up most of it."""
    n = stretch.stop - stretch.start
    return n >= t["min_rows"] or (n >= SHORT_STATE and stretch.stop == rows and 2 * n > rows)


def _exploded(run: RunFacts, t: dict) -> Finding | None:
    found, spans, evidence = [], [], {}
    for key, name in ((R.D_LOSS, "D loss"), (R.G_LOSS, "G loss")):
        steps, v = run.series(key)
        stretch = _longest_run(np.abs(v) >= t["max_loss"])
        if _lasting(stretch, len(v), t):
            found.append(f"{name} stayed at {np.median(v[stretch]):.3g} (median) from step {steps[stretch][0]} to "
                         f"{steps[stretch][-1]}, where a GAN loss starts near 1")
            spans.append(steps[stretch])
            evidence[key] = float(np.median(v[stretch]))
    steps, g = run.series(R.G_GRAD_NORM)
    dead = _longest_run(g == 0)
    if _lasting(dead, len(g), t):
        found.append(f"G's gradient norm was exactly 0 in {dead.stop - dead.start} rows in a row (G learns nothing)")
        spans.append(steps[dead])
        evidence["zero_g_grad_rows"] = dead.stop - dead.start
    if not found:
        return None
    hq = run.late_hq(0.2)
    quality = "" if hq is None else f"; {hq:.1%} of the samples are high quality"
    return Finding("training blew up without a NaN: " + "; ".join(found) + quality,
                   {R.EV_STEPS: _span(np.concatenate(spans)), **evidence, "hq": hq})


def _d_loss_zero(run: RunFacts, t: dict) -> Finding | None:
    floor = run.d_loss_floor()
    if floor is None:
        return None
    steps, d = run.series(R.D_LOSS)
    stretch = _longest_run(d - floor < t["max_above_floor"])
    if stretch.stop - stretch.start < t["min_rows"]:
        return None
    s, v = steps[stretch], d[stretch]
    where = f"its floor {floor:.3g} (what a perfect D scores with this run's targets)" if floor else "0"
    return Finding(f"D loss stayed within {t['max_above_floor']} of {where} from step {s[0]} to {s[-1]} "
                   f"(min {v.min():.3g}): D wins outright and G learns little",
                   {R.EV_STEPS: _span(s), "rows": len(v), "min": float(v.min()), "median": float(np.median(v)),
                    "floor": floor})


def _exploding_gradients(run: RunFacts, t: dict) -> Finding | None:
    hits = {}
    for key in (R.D_GRAD_NORM, R.G_GRAD_NORM):
        steps, v = run.series(key)
        over = v > t["max_grad_norm"]
        if over.any():
            hits[key] = (steps[over], v[over])
    if not hits:
        return None
    all_steps = np.concatenate([s for s, _ in hits.values()])
    worst = {key: float(v.max()) for key, (_, v) in hits.items()}
    return Finding(f"gradient norms above {t['max_grad_norm']:g} in {len(all_steps)} rows (max "
                   + ", ".join(f"{k} {v:.3g}" for k, v in worst.items()) + ")",
                   {R.EV_STEPS: _span(all_steps), "rows": len(all_steps), "max": worst})


def _spiky_d_loss(run: RunFacts, t: dict) -> Finding | None:
    if run.d_loss_floor() is None:
        return None
    steps, d = run.series(R.D_LOSS)
    keep = np.isfinite(d)
    steps, d = steps[keep], d[keep]
    w = t["window"]
    if len(d) <= w:
        return None
    past = sliding_window_view(d, w)[:-1]                      # the w rows before each row
    med = np.median(past, axis=1)
    mad = np.median(np.abs(past - med[:, None]), axis=1)
    now = d[w:]
    spikes = (now > med * (1 + t["rise"])) & (now - med > t["robust_z"] * 1.4826 * mad)
    late = d[len(d) // 2:]
    cv = float(late.std() / late.mean()) if late.mean() > 0 else 0.0
    # the message names only the clauses that fired: "spikes 0 times" beside a variation read as a contradiction
    seen = []
    if spikes.sum() >= t["min_spikes"]:
        seen.append(f"spikes {int(spikes.sum())} times (jumps above {1 + t['rise']:g}x its running median)")
    if cv >= t["max_cv"]:
        seen.append(f"varies by {100 * cv:.0f} % over the later half")
    if not seen:
        return None
    at = steps[w:][spikes]
    span = _span(at) if len(at) else _span(steps[len(d) // 2:])
    return Finding(f"D loss {' and '.join(seen)}: healthy D losses are smooth",
                   {R.EV_STEPS: span, "spikes": int(spikes.sum()), "spike_steps": at[:10].tolist(),
                    "late_cv": cv})


def _g_loss_falls_without_progress(run: RunFacts, t: dict) -> Finding | None:
    steps, g, hq, modes = run.columns(R.G_LOSS, R.HQ, R.MODES_STRICT)   # toy runs only
    keep = np.isfinite(g) & np.isfinite(hq) & np.isfinite(modes)
    if keep.sum() < t["min_rows"]:
        return None
    steps, g, hq, modes = steps[keep], g[keep], hq[keep], modes[keep]
    # first fifth against last fifth of the rows, by medians so a few noisy rows do not decide
    first, last = slice(0, max(1, len(g) // 5)), _tail(len(g), 0.2)
    g0, g1 = float(np.median(g[first])), float(np.median(g[last]))
    hq0, hq1 = float(np.median(hq[first])), float(np.median(hq[last]))
    m0, m1 = float(np.median(modes[first])), float(np.median(modes[last]))
    corr = _rank_corr(steps, g)
    falling = corr <= t["max_rank_corr"] and g0 - g1 >= t["min_drop"] * abs(g0)
    improving = hq1 - hq0 >= t["min_hq_gain"] or m1 - m0 >= t["min_mode_gain"]
    # samples already on every mode at high quality are not garbage, whatever G's loss does
    on_target = hq1 >= t["good_hq"] and m1 >= run.n_modes()
    if not falling or improving or on_target:
        return None
    return Finding(f"G loss fell from {g0:.3g} to {g1:.3g} while the high-quality share went {hq0:.2f} -> {hq1:.2f} "
                   f"and strict modes {m0:g} -> {m1:g}: G fools D without getting better",
                   {R.EV_STEPS: _span(steps), "g_loss": [g0, g1], "hq": [hq0, hq1], "modes_strict": [m0, m1],
                    "rank_corr": corr})


def _mode_collapse(run: RunFacts, t: dict) -> Finding | None:
    rows = [r for r in run.rows if r.get(R.MODE_COUNTS) and r.get(R.MODES_STRICT) is not None]
    if not rows:
        return None
    tail = rows[_tail(len(rows), t["tail"])]
    if len(tail) < t["min_tail_rows"]:   # one row's blip is not a state
        return None
    n_modes = run.n_modes()
    # image runs have no quality measure: every sample has a class, and coverage alone decides
    hq = float(np.median([r[R.HQ] for r in tail])) if all(r.get(R.HQ) is not None for r in tail) else None
    modes = float(np.median([r[R.MODES_STRICT] for r in tail]))
    if (hq is not None and hq < t["min_hq"]) or modes > t["max_modes_share"] * n_modes:
        return None
    counts = np.asarray(tail[-1][R.MODE_COUNTS], dtype=np.float64)
    held = np.flatnonzero(counts >= max(1.0, strict_share(n_modes) * row_samples(tail[-1])))
    which = f"modes {held.tolist()}" if len(held) <= 10 else f"{len(held)} modes at the last row"
    quality = "" if hq is None else f"{hq:.0%} of samples are high quality but "
    return Finding(f"{quality}they hold only {modes:g} of {n_modes} modes ({which})",
                   {R.EV_STEPS: _span([r[R.STEP] for r in tail]), "modes_strict": modes, "n_modes": n_modes,
                    "hq": hq, "held_modes": held.tolist(), "reverse_kl": tail[-1].get(R.REVERSE_KL)})


def _mode_hopping(run: RunFacts, t: dict) -> Finding | None:
    n_modes = run.n_modes()
    # a hop goes from one mode to another: mass that moves between one mode and none is not hopping
    hot = [w for w in run.windows if w[R.OSC_INDEX] >= t["min_index"] and w[R.OSC_VISITED] >= t["min_visited"]
           and w[R.OSC_COVERED] <= t["max_near_share"] * n_modes]
    if not hot or len(hot) < t["min_hot_share"] * len(run.windows):
        return None
    # a generator that hopped and has since settled onto the modes is not hopping now, and the remedies
    # would change a run that works (image runs have no quality measure: their classes held at once count)
    last = run.windows[-1]
    held = last[R.OSC_HQ_COVERED] if last.get(R.OSC_HQ_COVERED) is not None else last[R.OSC_COVERED]
    if held > t["max_near_share"] * n_modes:
        return None
    top = max(hot, key=lambda w: w[R.OSC_INDEX])
    return Finding(f"the generator hops between modes: over {top[R.OSC_STEPS][1] - top[R.OSC_STEPS][0]} steps its "
                   f"mass passed near {top[R.OSC_VISITED]} modes but sat near {top[R.OSC_COVERED]:.1f} at once "
                   f"(window index {top[R.OSC_INDEX]:.2f}; {len(hot)} of {len(run.windows)} later windows)",
                   {R.EV_STEPS: [hot[0][R.OSC_STEPS][0], hot[-1][R.OSC_STEPS][1]], "windows": len(hot),
                    "max_index": top[R.OSC_INDEX], "visited": top[R.OSC_VISITED], "covered": top[R.OSC_COVERED]})


def _spreading(run: RunFacts, t: dict) -> Finding | None:
    n_modes, hq = run.n_modes(), run.late_hq(t["tail"])
    if not run.windows or hq is None or hq >= t["max_hq"]:
        return None
    near = float(np.mean([w[R.OSC_COVERED] for w in run.windows]))
    if near <= t["min_near_share"] * n_modes:
        return None
    at_hq = [w[R.OSC_HQ_COVERED] for w in run.windows if w.get(R.OSC_HQ_COVERED) is not None]
    held = f" ({np.mean(at_hq):.1f} at high quality)" if at_hq else ""
    return Finding(f"the generator is spreading out: its mass sits near {near:.1f} of {n_modes} modes at once{held}, "
                   f"but only {hq:.1%} of samples are high quality (within 3 stds of a mode): not converged yet",
                   {R.EV_STEPS: [run.windows[0][R.OSC_STEPS][0], run.windows[-1][R.OSC_STEPS][1]],
                    "covered": near, "hq_covered": float(np.mean(at_hq)) if at_hq else None, "hq": hq,
                    "n_modes": n_modes})


def _vanishing_g_gradient(run: RunFacts, t: dict) -> Finding | None:
    if run.loss != "minimax":
        return None  # the other losses keep dL_G/dlogit away from 0 when D(G(z)) -> 0
    steps, share = run.series(R.SAT_SHARE)
    sat = share >= t["min_sat_share"]
    if sat.sum() < t["min_probes"]:
        return None
    last = next(r for r in reversed(run.rows) if r[R.STEP] == steps[sat][-1])
    gm, gn = last.get(R.SAT_GNORM_MINIMAX), last.get(R.SAT_GNORM_NONSAT)
    return Finding(f"{share[sat].max():.0%} of fakes get D(G(z)) < {SATURATED_BELOW:g}, where the saturating G loss "
                   f"has almost no gradient (G's gradient norm {_fmt(gm)} vs {_fmt(gn)} under -log D)",
                   {R.EV_STEPS: _span(steps[sat]), "probes": int(sat.sum()), "max_sat_share": float(share[sat].max()),
                    R.SAT_DLOGIT_MINIMAX: last.get(R.SAT_DLOGIT_MINIMAX),
                    R.SAT_DLOGIT_NONSAT: last.get(R.SAT_DLOGIT_NONSAT),
                    R.SAT_GNORM_MINIMAX: gm, R.SAT_GNORM_NONSAT: gn})


def _off_the_data(run: RunFacts, t: dict) -> Finding | None:
    # the rows' high-quality share where the target has modes, else the share of fakes inside the points' k-NN balls
    key, on = (R.HQ, "high quality") if len(run.series(R.HQ)[0]) else (R.KNN_PRECISION, "inside the data's k-NN balls")
    steps, share = run.series(key)
    keep = np.isfinite(share)
    steps, share = steps[keep], share[keep]
    if run.data is None or not run.fakes or len(share) < t["min_rows"] or share.max() > t["max_on_data"]:
        return None
    offsets = [fakes.offset(run.data) for _, fakes in run.fakes]
    if min(offsets) <= t["min_offset"]:
        return None
    step, last = run.fakes[-1]
    return Finding(f"G's samples never reached the data: at most {share.max():.1%} of them were {on} in any of "
                   f"{len(share)} rows, and in every snapshot G's fixed-z fakes sat at least {min(offsets):.3g} "
                   f"of the data's scales from its centre (step {step}: around {_point(last.centre)} at scale "
                   f"{last.scale:.3g}; the data: around {_point(run.data.centre)} at scale {run.data.scale:.3g})",
                   {R.EV_STEPS: _span(steps), "max_on_data": float(share.max()), "min_offset": min(offsets),
                    "fakes_centre": list(last.centre), "fakes_scale": last.scale,
                    "data_centre": list(run.data.centre), "data_scale": run.data.scale})


def _point(xy) -> str:
    return "(" + ", ".join(f"{v:.3g}" for v in xy) + ")"


def _rows_for_tail(share: float, rows: int) -> int:
    """The fewest rows whose last `share` holds `rows` of them."""
    return next(n for n in count(1) if len(range(n)[_tail(n, share)]) >= rows)


def _fmt(v) -> str:
    return "n/a" if v is None else f"{v:.3g}"


# --- the table ---------------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule("divergence", "Training diverged (non-finite values)", "error",
         "a loss or gradient norm is NaN/inf (null in metrics.jsonl), some fakes are (n_nonfinite), or "
         "status.json says diverged",
         {}, lambda t: 1, _divergence, (X.STANDARDISE, X.LOWER_RATES, X.PENALTY, X.SPECTRAL)),
    Rule("exploded", "Training blew up (no NaN): losses far off, G gets no gradient", "error",
         "|D loss| or |G loss| >= max_loss, or G's gradient norm exactly 0, for min_rows rows in a row",
         {"max_loss": 1e3, "min_rows": 5}, lambda t: STEP0 + min(t["min_rows"], SHORT_STATE), _exploded,
         (X.LOWER_RATES, X.PENALTY, X.SPECTRAL)),
    Rule("off_the_data", "Off the data: G's samples never reach the data", "error",
         "over >= min_rows rows none has more than max_on_data of the samples at high quality (a target without "
         "modes: inside the data's k-NN balls), and in every snapshot the mean of G's fixed-z fakes lies more "
         "than min_offset of the data's scales (the root mean square of its coordinates' stds) from its centre",
         {"max_on_data": 0.01, "min_offset": FAR_OFF, "min_rows": 2}, lambda t: t["min_rows"], _off_the_data,
         (X.STANDARDISE,)),
    Rule("d_loss_zero", "D loss -> its floor: the discriminator is too strong", "warning",
         "D loss within max_above_floor of its floor for min_rows rows in a row; the floor is what a perfect D "
         "scores with the run's targets (0, or H(s) for one-sided smoothing s; not wgan)",
         {"max_above_floor": 0.05, "min_rows": 5}, lambda t: STEP0 + t["min_rows"], _d_loss_zero,
         (X.SMOOTHING, X.INSTANCE_NOISE, X.NOISY_LABELS, X.NONSATURATING)),
    Rule("exploding_gradients", "Gradient norms above 100", "warning",
         "D's or G's gradient norm > max_grad_norm in any row",
         {"max_grad_norm": 100.0}, lambda t: STEP0 + 1, _exploding_gradients,
         (X.PENALTY, X.SPECTRAL, X.SMOOTHING_GRADIENTS, X.LOWER_RATES)),
    Rule("spiky_d_loss", "Spiky, high-variance D loss", "warning",
         "min_spikes rows jump above (1 + rise) x the median of the window rows before them and robust_z "
         "robust stds above it, or the later half's std / mean > max_cv (not wgan)",
         {"window": 20, "rise": 0.5, "robust_z": 6.0, "min_spikes": 3, "max_cv": 0.5},
         lambda t: STEP0 + t["window"] + 1, _spiky_d_loss,
         (X.LOWER_RATES, X.BETAS, X.SPECTRAL, X.INSTANCE_NOISE, X.SMOOTHING)),
    Rule("g_loss_falls_without_progress", "G loss keeps falling while samples do not improve", "warning",
         "over >= min_rows rows G loss has rank correlation with the step <= max_rank_corr and its last fifth's "
         "median is min_drop below its first fifth's, while high-quality share gains < min_hq_gain, strict modes "
         "gain < min_mode_gain, and the samples are not already on every mode at >= good_hq (toy runs)",
         {"min_rows": 10, "max_rank_corr": -0.7, "min_drop": 0.25, "min_hq_gain": 0.05, "min_mode_gain": 1,
          "good_hq": 0.9}, lambda t: STEP0 + t["min_rows"],
         _g_loss_falls_without_progress, (X.LOOK, X.D_MORE, X.MINIBATCH)),
    Rule("mode_collapse", "Mode collapse: good samples on few modes", "warning",
         "over the last `tail` share of the rows, median strict modes <= max_modes_share x modes and (toy runs) "
         "median high-quality share >= min_hq; the tail holds at least min_tail_rows rows",
         {"min_hq": 0.5, "max_modes_share": 0.75, "tail": 0.2, "min_tail_rows": 2},
         lambda t: _rows_for_tail(t["tail"], t["min_tail_rows"]), _mode_collapse,
         (X.UNROLL, X.MINIBATCH, X.PACK, X.REPLAY)),
    Rule("mode_hopping", "Mode hopping: the generator rotates through the modes", "warning",
         "at least min_hot_share of the later half's windows have a mode-part oscillation index >= min_index "
         "while their mass passes near at least min_visited modes but sits near at most max_near_share x modes "
         "at once, unless the last window holds more "
         "than max_near_share x modes at high quality at once (image runs: classes): the run has settled since",
         {"min_index": 0.25, "min_visited": 2, "max_near_share": SPREAD_SHARE, "min_hot_share": 0.5},
         lambda t: osc.MIN_ENTRIES,
         _mode_hopping,
         (X.UNROLL, X.HIST_AVG, X.REPLAY, X.SWAPS)),
    Rule("spreading", "Spreading out: mass over many modes, not converged yet", "note",
         "over the later half's windows the mass sits near more than min_near_share x modes at once, while the "
         "median high-quality share of the last `tail` of the rows is < max_hq (toy runs)",
         {"min_near_share": SPREAD_SHARE, "max_hq": 0.5, "tail": 0.2}, lambda t: osc.MIN_ENTRIES, _spreading,
         (X.TRAIN_LONGER, X.WATCH)),
    Rule("vanishing_g_gradient", "Vanishing G gradient (saturated minimax loss)", "warning",
         f"loss = minimax and at >= min_probes saturation probes a share >= min_sat_share of fakes has "
         f"D(G(z)) < {SATURATED_BELOW:g}",
         {"min_sat_share": 0.5, "min_probes": 2}, lambda t: t["min_probes"], _vanishing_g_gradient,
         (X.NONSATURATING, X.INSTANCE_NOISE, X.SMOOTHING, X.WGAN_GP)),
)


def diagnose(run: RunFacts, rules: tuple[Rule, ...] = RULES) -> list[Verdict]:
    """Every rule's verdict on the run, in table order, with the remedies as they read for its config.
    After G's fakes turn non-finite only the divergence rule reads on: the other rules read the rows
    before (a NaN fake is on no mode, which would read as a collapse, or as hopping away)."""
    verdicts, nan_from = [], run.nonfinite_fakes_from()
    reached, far_data = _reached(run), run.data if run.started_off_the_data() else None
    for rule in rules:
        sees = run if nan_from is None or rule.check is _divergence else run.before(nan_from)
        found = rule.check(sees, rule.thresholds)
        if found is not None:
            verdicts.append(Verdict(rule.name, rule.title, rule.severity, found.message, found.evidence,
                                    X.for_run(rule.remedies, run.config, reached, far_data)))
    return verdicts


def _reached(run: RunFacts) -> int | None:
    return max(r[R.STEP] for r in run.rows) if run.rows else None


def judgement(run: RunFacts, verdicts: list[Verdict], rules: tuple[Rule, ...] = RULES) -> dict:
    """Which rules judged the run: diagnosis.json's fields beside the verdicts. A rule that found
    nothing in fewer rows than it needs did not look, and "no failure found" must not speak for it;
    a run lost to an error needs no more rows."""
    fired, rows = {v.rule for v in verdicts}, len(run.rows)
    # a run an error calls lost (diverged, blown up, off the data) is started anew, not trained longer:
    # the rules it is too short for would only judge a run already lost
    lost = any(v.severity == "error" for v in verdicts)
    unjudged = {} if lost else {r.name: r.needs for r in rules if r.name not in fired and rows < r.needs}
    c, resume = run.config, None
    if unjudged and "steps" in c and "log_every" in c:   # a run of gandiag's trainer: a row every log_every steps
        resume = X.resume_total(c, _reached(run) or 0, (max(unjudged.values()) - rows) * int(c["log_every"]))
    return {R.RULES_CHECKED: [r.name for r in rules], R.RULES_UNJUDGED: unjudged, R.DIAGNOSED_ROWS: rows,
            R.RESUME_STEPS: resume}


def summary(judged: dict, findings: int, run: str = "RUN") -> str:
    """The diagnosis in one line, from judgement()'s fields as stored (diagnosis.json; older files have
    none of the new ones and read as judged by every rule): what `gandiag analyze` and the HTML report
    say, the multi-run table and the end of `gandiag run` in part."""
    return "; ".join(filter(None, (verdict_head(judged, findings), shortfall(judged, run))))


def verdict_head(judged: dict, findings: int) -> str:
    unjudged, checked = judged.get(R.RULES_UNJUDGED) or {}, judged.get(R.RULES_CHECKED) or []
    if findings:
        return f"{findings} finding(s)"
    return f"no failure found by {len(checked) - len(unjudged)} of {len(checked)} rules" if unjudged else \
        "no failure found"


def rules_need(n: int) -> str:
    return f"{n} rule needs" if n == 1 else f"{n} rules need"


def shortfall(judged: dict, run: str = "RUN") -> str | None:
    """The rules too short a run left unjudged, the rows each needs and how to give them (None: none)."""
    unjudged = judged.get(R.RULES_UNJUDGED) or {}
    if not unjudged:
        return None
    needs = sorted(unjudged.items(), key=lambda item: (item[1], item[0]))
    resume = judged.get(R.RESUME_STEPS)
    how = f"train longer (gandiag resume {run} --steps {resume})" if resume is not None else \
        f"record at least {needs[-1][1]} rows (train longer, or log more often)"
    return (f"{rules_need(len(unjudged))} more metrics rows than this run's "
            f"{judged[R.DIAGNOSED_ROWS]} ({', '.join(f'{name} {n}' for name, n in needs)}): {how}")


def rules_table() -> str:
    """The rule table as Markdown: the single source of the docs' rule table."""
    lines = ["| rule | finds | severity | fires when | thresholds | rows needed |", "|---|---|---|---|---|---|"]
    for rule in RULES:
        limits = ", ".join(f"{k} = {v:g}" for k, v in rule.thresholds.items()) or "-"
        lines.append(f"| `{rule.name}` | {rule.title} | {rule.severity} | {rule.when} | {limits} | {rule.needs} |")
    return "\n".join(lines)
