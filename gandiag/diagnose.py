"""Failure diagnosis: one table of rules over a run's metrics rows -> verdicts with evidence and remedies.

Each rule has a name, a title, its thresholds, a check and the remedies the seeds suggest (ganhacks'
"track failures early", the lecture notes, the papers in shared/reference). A check looks at a RunView
and returns a Finding (a message and its evidence: the step range it rests on and the values) or None.
RULES is the table; README.md prints it. Reads rows only, so it works on any run folder, on a
crashed run, and live during training.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import record as R

#: losses whose D loss is >= 0 with 0 meaning a perfect D (the critic losses wgan/wgan-gp are not)
NONNEGATIVE_D_LOSSES = ("minimax", "nonsaturating", "least-squares", "hinge")
#: keys whose non-finite value means the run diverged
WATCHED = (R.D_LOSS, R.G_LOSS, R.D_GRAD_NORM, R.G_GRAD_NORM)


@dataclass(frozen=True)
class RunView:
    """What the rules look at: metrics rows, the loss in use (None: unknown), how the run ended, and
    the oscillation windows ({steps, visited, covered, index}) of the run's later half."""
    rows: list
    loss: str | None = None
    status: str = "unknown"
    windows: list = field(default_factory=list)
    _columns: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) over the rows holding `key`; null and non-numbers read as NaN."""
        if key not in self._columns:
            pairs = [(r[R.STEP], _number(r[key])) for r in self.rows if key in r]
            steps, values = zip(*pairs) if pairs else ((), ())
            self._columns[key] = np.asarray(steps, dtype=np.int64), np.asarray(values, dtype=np.float64)
        return self._columns[key]

    def columns(self, *keys: str) -> tuple[np.ndarray, ...]:
        """(steps, values of each key) over the rows holding all the keys (the step-0 row, say, has
        coverage but no losses)."""
        rows = [r for r in self.rows if all(k in r for k in keys)]
        return (np.asarray([r[R.STEP] for r in rows], dtype=np.int64),
                *(np.asarray([_number(r[k]) for r in rows], dtype=np.float64) for k in keys))

    def n_modes(self) -> int:
        """Modes of the toy target, from the rows' per-mode counts (0 for an image run)."""
        return next((len(r[R.MODE_COUNTS]) for r in reversed(self.rows) if r.get(R.MODE_COUNTS)), 0)

    def d_loss_is_nonnegative(self) -> bool:
        """True when D loss -> 0 means a perfect D. Without the loss name, a critic shows itself by
        negative values."""
        if self.loss is not None:
            return self.loss in NONNEGATIVE_D_LOSSES
        _, d = self.series(R.D_LOSS)
        return bool(np.all(d[np.isfinite(d)] >= 0))


def _number(v) -> float:
    # null (how metrics.jsonl writes a non-finite value), a bool or text: not a number
    return float(v) if isinstance(v, numbers.Real) and not isinstance(v, bool) else np.nan


@dataclass(frozen=True)
class Finding:
    message: str
    evidence: dict


@dataclass(frozen=True)
class Rule:
    name: str
    title: str
    severity: str                     # "error" (the run is lost) or "warning"
    when: str                         # the condition in words, naming the thresholds
    thresholds: dict
    check: Callable[[RunView, dict], Finding | None]
    remedies: tuple[str, ...]


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


def _tail(n: int, share: float) -> slice:
    return slice(n - max(1, int(round(n * share))), n)


def _rank_corr(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (0 when either side is constant)."""
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    if np.ptp(ra) == 0 or np.ptp(rb) == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


# --- the checks ----------------------------------------------------------------------------------

def _divergence(run: RunView, t: dict) -> Finding | None:
    bad = {}
    for key in WATCHED:
        steps, v = run.series(key)
        if not np.isfinite(v).all():
            bad[key] = steps[~np.isfinite(v)]
    if not bad and run.status != R.DIVERGED:
        return None
    steps = np.concatenate(list(bad.values())) if bad else [run.rows[-1][R.STEP] if run.rows else 0]
    where = f"non-finite {', '.join(sorted(bad))} from step {min(steps)}" if bad else "status.json says diverged"
    return Finding(f"training diverged: {where}",
                   {R.EV_STEPS: _span(steps), "non_finite": sorted(bad), "status": run.status})


def _d_loss_zero(run: RunView, t: dict) -> Finding | None:
    if not run.d_loss_is_nonnegative():
        return None
    steps, d = run.series(R.D_LOSS)
    stretch = _longest_run(d < t["max_d_loss"])
    if stretch.stop - stretch.start < t["min_rows"]:
        return None
    s, v = steps[stretch], d[stretch]
    return Finding(f"D loss stayed below {t['max_d_loss']} from step {s[0]} to {s[-1]} (min {v.min():.2g}): "
                   "D wins outright and G learns little",
                   {R.EV_STEPS: _span(s), "rows": len(v), "min": float(v.min()), "median": float(np.median(v))})


def _exploding_gradients(run: RunView, t: dict) -> Finding | None:
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


def _spiky_d_loss(run: RunView, t: dict) -> Finding | None:
    if not run.d_loss_is_nonnegative():
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
    if spikes.sum() < t["min_spikes"] and cv < t["max_cv"]:
        return None
    at = steps[w:][spikes]
    span = _span(at) if len(at) else _span(steps[len(d) // 2:])
    return Finding(f"D loss spikes {int(spikes.sum())} times (jumps above {1 + t['rise']:g}x its running median) "
                   f"and varies by {100 * cv:.0f} % over the later half: healthy D losses are smooth",
                   {R.EV_STEPS: span, "spikes": int(spikes.sum()), "spike_steps": at[:10].tolist(),
                    "late_cv": cv})


def _g_loss_falls_without_progress(run: RunView, t: dict) -> Finding | None:
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


def _mode_collapse(run: RunView, t: dict) -> Finding | None:
    rows = [r for r in run.rows if r.get(R.MODE_COUNTS) and r.get(R.HQ) is not None
            and r.get(R.MODES_STRICT) is not None]
    if not rows:
        return None
    tail = rows[_tail(len(rows), t["tail"])]
    n_modes = run.n_modes()
    hq = float(np.median([r[R.HQ] for r in tail]))
    modes = float(np.median([r[R.MODES_STRICT] for r in tail]))
    if hq < t["min_hq"] or modes > t["max_modes_share"] * n_modes:
        return None
    counts = np.asarray(tail[-1][R.MODE_COUNTS], dtype=np.float64)
    held = np.flatnonzero(counts >= R.MIN_MODE_SHARE * counts.sum() / max(tail[-1][R.HQ], 1e-12))
    return Finding(f"{hq:.0%} of samples are high quality but they hold only {modes:g} of {n_modes} modes "
                   f"(modes {held.tolist()})",
                   {R.EV_STEPS: _span([r[R.STEP] for r in tail]), "modes_strict": modes, "n_modes": n_modes,
                    "hq": hq, "held_modes": held.tolist(),
                    "reverse_kl": tail[-1].get(R.REVERSE_KL)})


def _mode_hopping(run: RunView, t: dict) -> Finding | None:
    hot = [w for w in run.windows if w[R.OSC_INDEX] >= t["min_index"]]
    if len(hot) < t["min_windows"]:
        return None
    top = max(hot, key=lambda w: w[R.OSC_INDEX])
    return Finding(f"the generator hops between modes: over {top[R.OSC_STEPS][1] - top[R.OSC_STEPS][0]} steps it "
                   f"visited {top[R.OSC_VISITED]} modes but covered {top[R.OSC_COVERED]:.1f} at once "
                   f"(window index {top[R.OSC_INDEX]:.2f})",
                   {R.EV_STEPS: [hot[0][R.OSC_STEPS][0], hot[-1][R.OSC_STEPS][1]], "windows": len(hot),
                    "max_index": top[R.OSC_INDEX], "visited": top[R.OSC_VISITED], "covered": top[R.OSC_COVERED]})


def _vanishing_g_gradient(run: RunView, t: dict) -> Finding | None:
    if run.loss != "minimax":
        return None  # the other losses keep dL_G/dlogit away from 0 when D(G(z)) -> 0
    steps, share = run.series(R.SAT_SHARE)
    sat = share >= t["min_sat_share"]
    if sat.sum() < t["min_probes"]:
        return None
    last = next(r for r in reversed(run.rows) if r[R.STEP] == steps[sat][-1])
    gm, gn = last.get(R.SAT_GNORM_MINIMAX), last.get(R.SAT_GNORM_NONSAT)
    return Finding(f"{share[sat].max():.0%} of fakes get D(G(z)) < 1e-3, where the saturating G loss has almost no "
                   f"gradient (G's gradient norm {_fmt(gm)} vs {_fmt(gn)} under -log D)",
                   {R.EV_STEPS: _span(steps[sat]), "probes": int(sat.sum()), "max_sat_share": float(share[sat].max()),
                    R.SAT_DLOGIT_MINIMAX: last.get(R.SAT_DLOGIT_MINIMAX),
                    R.SAT_DLOGIT_NONSAT: last.get(R.SAT_DLOGIT_NONSAT),
                    R.SAT_GNORM_MINIMAX: gm, R.SAT_GNORM_NONSAT: gn})


def _fmt(v) -> str:
    return "n/a" if v is None else f"{v:.3g}"


# --- the table ---------------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule("divergence", "Training diverged (non-finite values)", "error",
         "a loss or gradient norm is NaN/inf (null in metrics.jsonl), or status.json says diverged",
         {}, _divergence,
         ("lower the learning rates (--d-lr, --g-lr)",
          "add a gradient penalty: --loss wgan-gp, or --r1 10",
          "spectral normalisation on D: --spectral-norm")),
    Rule("d_loss_zero", "D loss -> 0: the discriminator is too strong", "warning",
         "D loss < max_d_loss for min_rows rows in a row (losses where 0 is a perfect D: not wgan)",
         {"max_d_loss": 0.05, "min_rows": 5}, _d_loss_zero,
         ("one-sided label smoothing: --label-smoothing 0.9",
          "instance noise on D's inputs, decayed: --instance-noise 0.1 --instance-noise-decay <steps>",
          "noisy labels or occasional flips: --noisy-labels, --label-flip 0.05",
          "the non-saturating G loss keeps G's gradient alive: --loss nonsaturating")),
    Rule("exploding_gradients", "Gradient norms above 100", "warning",
         "D's or G's gradient norm > max_grad_norm in any row",
         {"max_grad_norm": 100.0}, _exploding_gradients,
         ("a gradient penalty: --loss wgan-gp, or --r1 10",
          "spectral normalisation on D: --spectral-norm",
          "one-sided label smoothing keeps D from giving G very large gradients: --label-smoothing 0.9",
          "lower the learning rates (--d-lr, --g-lr)")),
    Rule("spiky_d_loss", "Spiky, high-variance D loss", "warning",
         "min_spikes rows jump above (1 + rise) x the median of the window rows before them and robust_z "
         "robust stds above it, or the later half's std / mean > max_cv (not wgan)",
         {"window": 20, "rise": 0.5, "robust_z": 6.0, "min_spikes": 3, "max_cv": 0.5}, _spiky_d_loss,
         ("lower the learning rates (--d-lr, --g-lr); Adam with beta1 0.5 (--d-beta1 0.5 --g-beta1 0.5)",
          "spectral normalisation on D: --spectral-norm",
          "instance noise on D's inputs: --instance-noise 0.1",
          "one-sided label smoothing: --label-smoothing 0.9")),
    Rule("g_loss_falls_without_progress", "G loss keeps falling while samples do not improve", "warning",
         "over >= min_rows rows G loss has rank correlation with the step <= max_rank_corr and its last fifth's "
         "median is min_drop below its first fifth's, while high-quality share gains < min_hq_gain, strict modes "
         "gain < min_mode_gain, and the samples are not already on every mode at >= good_hq (toy runs)",
         {"min_rows": 10, "max_rank_corr": -0.7, "min_drop": 0.25, "min_hq_gain": 0.05, "min_mode_gain": 1,
          "good_hq": 0.9},
         _g_loss_falls_without_progress,
         ("G is fooling D with garbage: look at the samples (gandiag animate RUN)",
          "give D more capacity or steps: --d-steps 2, a wider --d-hidden",
          "minibatch discrimination lets D see a lack of variety: --minibatch-disc")),
    Rule("mode_collapse", "Mode collapse: good samples on few modes", "warning",
         "over the last `tail` share of the rows, median high-quality share >= min_hq and median strict modes "
         "<= max_modes_share x modes (toy runs)",
         {"min_hq": 0.5, "max_modes_share": 0.75, "tail": 0.2}, _mode_collapse,
         ("unrolled D (Metz et al.): --unrolled 10",
          "minibatch discrimination: --minibatch-disc",
          "packing (PacGAN): --pack 2",
          "experience replay of old fakes: --replay-size 10000")),
    Rule("mode_hopping", "Mode hopping: the generator rotates through the modes", "warning",
         "min_windows windows of the later half have a mode-part oscillation index >= min_index (toy runs)",
         {"min_index": 0.25, "min_windows": 2}, _mode_hopping,
         ("unrolled D (Metz et al.): --unrolled 10",
          "historical averaging: --hist-avg 0.1",
          "experience replay of old fakes: --replay-size 10000",
          "swap in old checkpoints now and then: --swap-every 1000")),
    Rule("vanishing_g_gradient", "Vanishing G gradient (saturated minimax loss)", "warning",
         "loss = minimax and at >= min_probes saturation probes a share >= min_sat_share of fakes has "
         "D(G(z)) < 1e-3",
         {"min_sat_share": 0.5, "min_probes": 2}, _vanishing_g_gradient,
         ("the non-saturating G loss (flip the labels for G): --loss nonsaturating",
          "instance noise on D's inputs: --instance-noise 0.1 --instance-noise-decay <steps>",
          "one-sided label smoothing: --label-smoothing 0.9",
          "a Wasserstein loss with gradient penalty: --loss wgan-gp")),
)


def diagnose(run: RunView, rules: tuple[Rule, ...] = RULES) -> list[Verdict]:
    """Every rule's verdict on the run, in table order."""
    verdicts = []
    for rule in rules:
        found = rule.check(run, rule.thresholds)
        if found is not None:
            verdicts.append(Verdict(rule.name, rule.title, rule.severity, found.message, found.evidence,
                                    rule.remedies))
    return verdicts


def rules_table() -> str:
    """The rule table as Markdown (README.md shows it)."""
    lines = ["| rule | finds | fires when | thresholds |", "|---|---|---|---|"]
    for rule in RULES:
        limits = ", ".join(f"{k} = {v:g}" for k, v in rule.thresholds.items()) or "-"
        lines.append(f"| `{rule.name}` | {rule.title} | {rule.when} | {limits} |")
    return "\n".join(lines)
