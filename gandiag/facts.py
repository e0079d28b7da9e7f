"""What the diagnosis looks at: a run's metrics rows, its config, how it ended, its oscillation
windows and where the data and the snapshots' fakes sit (RunFacts), and what follows from them: the
samples behind a row's mode counts, the D loss a perfect discriminator reaches under the run's targets."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import special

from . import record as R
from .record.folder import number, series

#: losses whose D loss is >= 0 with its floor meaning a perfect D (the critic losses wgan/wgan-gp are not)
NONNEGATIVE_D_LOSSES = ("minimax", "nonsaturating", "least-squares", "hinge")
CROSS_ENTROPY = ("minimax", "nonsaturating")
#: fakes whose mean is further than this many of the data's scales from the data's centre lie off the data
FAR_OFF = 3.0


@dataclass(frozen=True)
class Spread:
    """Where a set of 2D points sits: its mean and its scale, the root mean square of its coordinates'
    standard deviations (1 for standardised data)."""
    centre: tuple[float, float]
    scale: float

    @classmethod
    def of_points(cls, points) -> "Spread | None":
        """The finite points' spread (None without any); in float64, so data at 1e30 keeps its variance."""
        x = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        x = x[np.isfinite(x).all(axis=1)]
        if not len(x):
            return None
        return cls((float(x[:, 0].mean()), float(x[:, 1].mean())), float(np.sqrt(x.var(axis=0).mean())))

    @classmethod
    def of_mixture(cls, mixture) -> "Spread":
        """A Gaussian mixture's spread, from its modes' centres, stds and weights."""
        c, s, w = (np.asarray(a, dtype=np.float64) for a in (mixture.centres, mixture.stds, mixture.weights))
        centre = w @ c
        var = float(w @ (((c - centre) ** 2).sum(axis=1) + 2 * s ** 2)) / 2
        return cls((float(centre[0]), float(centre[1])), float(np.sqrt(var)))

    def offset(self, other: "Spread") -> float:
        """How far this spread's centre lies from `other`'s, in `other`'s scales (data all at one point
        has none: any distance from it is infinitely many)."""
        far = float(np.hypot(self.centre[0] - other.centre[0], self.centre[1] - other.centre[1]))
        return far / other.scale if other.scale > 0 else float("inf") if far > 0 else 0.0


@dataclass(frozen=True)
class RunFacts:
    """What the rules look at: metrics rows, the run's config (config.json's "config"; {} when unknown:
    a user's own loop), how the run ended, the oscillation windows ({steps, visited, covered,
    hq_covered, index}) of the run's later half, the data's Spread (None: unknown, or image data) and
    (step, Spread) of each snapshot's fixed-z fakes (none live: the loop passes rows only)."""
    rows: list
    config: dict = field(default_factory=dict)
    status: str = "unknown"
    windows: list = field(default_factory=list)
    data: Spread | None = None
    fakes: list = field(default_factory=list)
    _columns: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def loss(self) -> str | None:
        return self.config.get("loss")

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) over the rows holding `key`; null and non-numbers read as NaN."""
        if key not in self._columns:
            self._columns[key] = series(self.rows, key)
        return self._columns[key]

    def columns(self, *keys: str) -> tuple[np.ndarray, ...]:
        """(steps, values of each key) over the rows holding all the keys (the step-0 row, say, has
        coverage but no losses)."""
        rows = [r for r in self.rows if all(k in r for k in keys)]
        return (np.asarray([r[R.STEP] for r in rows], dtype=np.int64),
                *(np.asarray([number(r[k]) for r in rows], dtype=np.float64) for k in keys))

    def n_modes(self) -> int:
        """Modes of the target, from the rows' per-mode counts (0 without them)."""
        return next((len(r[R.MODE_COUNTS]) for r in reversed(self.rows) if r.get(R.MODE_COUNTS)), 0)

    def late_hq(self, share: float) -> float | None:
        """Median high-quality share over the last `share` of the rows holding it (None: image runs)."""
        _, hq = self.series(R.HQ)
        hq = hq[np.isfinite(hq)]
        return float(np.median(hq[tail(len(hq), share)])) if len(hq) else None

    def nonfinite_fakes_from(self) -> int | None:
        """The first step whose row counts non-finite fakes (None: none has): a user's loop, unguarded,
        may record on after its G turned NaN."""
        steps, bad = self.series(R.N_NONFINITE)
        return int(steps[bad > 0][0]) if (bad > 0).any() else None

    def before(self, step: int) -> "RunFacts":
        """The facts of the rows before `step`, and of the oscillation windows that end before it."""
        return RunFacts([r for r in self.rows if r[R.STEP] < step], self.config, self.status,
                        [w for w in self.windows if w[R.OSC_STEPS][1] < step], self.data,
                        [(s, f) for s, f in self.fakes if s < step])

    def started_off_the_data(self) -> bool:
        """Whether G's first snapshot lies off the data (FAR_OFF): data at a place or scale G's start is
        nowhere near, which standardising the data fixes."""
        return self.data is not None and bool(self.fakes) and self.fakes[0][1].offset(self.data) > FAR_OFF

    def d_loss_floor(self) -> float | None:
        """The least D's loss can be: d_loss_floor of the config; with the loss unknown, 0 unless negative
        values give a critic away (None)."""
        if self.loss is not None:
            return d_loss_floor(self.config)
        _, d = self.series(R.D_LOSS)
        return 0.0 if np.all(d[np.isfinite(d)] >= 0) else None


def row_samples(row: dict, counted: float | None = None) -> float:
    """The samples behind a row's mode counts (which sum to `counted`, when the caller has it): N_SAMPLES
    when written; else back from hq = HQ / samples (older toy rows); else their sum (image runs: every
    sample has a class)."""
    if row.get(R.N_SAMPLES):
        return float(row[R.N_SAMPLES])
    counted = float(np.sum(row.get(R.MODE_COUNTS) or 0)) if counted is None else float(counted)
    return counted / row[R.HQ] if row.get(R.HQ) else max(counted, 1.0)


# --- the D loss a perfect D reaches ------------------------------------------------------------

def _target_moments(config: dict) -> tuple[tuple[float, float], tuple[float, float]]:
    """(mean, mean square) of D's real and fake targets under the run's smoothing, noisy labels and flips
    (gandiag.stabilizers.labels)."""
    def uniform(lo_hi):
        a, b = lo_hi
        return (a + b) / 2, (a * a + a * b + b * b) / 3
    s = float(config.get("label_smoothing", 1.0))
    real, fake = (s, s * s), (0.0, 0.0)
    if config.get("noisy_labels"):
        # imported here: the stabilizers package loads the players' layers, which analysis never needs otherwise
        from .stabilizers.labels import NOISY_FAKE, NOISY_REAL
        real, fake = uniform(NOISY_REAL), uniform(NOISY_FAKE)
    p = float(config.get("label_flip", 0.0))

    def flipped(own, other):   # each input takes the other side's target with probability p
        return tuple((1 - p) * x + p * y for x, y in zip(own, other))
    return flipped(real, fake), flipped(fake, real)


def d_loss_floor(config: dict) -> float | None:
    """The least D's loss can be under the run's targets, reached by a perfect D; None for the critic
    losses. Targets t drawn independently of D's input make D's expected loss at each input that of
    the mean target, so cross-entropy's floor is H(E t_real) + H(E t_fake) (binary entropies, nats:
    H(0.9) = 0.325 for one-sided smoothing 0.9), least squares' 0.5 Var t_real + 0.5 Var t_fake, hinge's 0."""
    loss = config.get("loss", "nonsaturating")
    if loss not in NONNEGATIVE_D_LOSSES:
        return None
    if loss == "hinge":
        return 0.0
    (mr, sr), (mf, sf) = _target_moments(config)
    if loss in CROSS_ENTROPY:
        return float(sum(special.entr(m) + special.entr(1 - m) for m in (mr, mf)))
    return 0.5 * (sr - mr * mr) + 0.5 * (sf - mf * mf)


def tail(n: int, share: float) -> slice:
    """The last `share` of n items (at least one)."""
    return slice(n - max(1, int(round(n * share))), n)
