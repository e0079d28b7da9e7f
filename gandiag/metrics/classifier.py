"""A small MNIST classifier trained by gandiag, and the mode metrics it gives image GANs.

Inception-based FID is a poor fit for 28 x 28 digits, so the image scenarios are measured with this
classifier instead (shared/reference/README.md): each channel of a sample is classified (argmax), the
class is the digit (MNIST) or the digit triple (Stacked MNIST, 1000 modes), and from the class
histogram come modes covered and KL to uniform (natural log, empty bins skipped: coverage.reverse_kl).
The classifier score is the Inception-score formula exp(E_x KL(p(y|x) || p(y))) with this classifier;
the Frechet distance compares Gaussians fitted to its penultimate features of fakes and reals.

The weights live in the user cache (gandiag.cache), beside a JSON record of their sha256, the held-out
accuracy and the digits they were trained on; loading checks the checksum. Training it is the
trainer's business (gandiag.train.classifier): nothing here trains.
"""
from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import record as R
from ..cache import cache_dir
from ..config import ConfigError
from ..data.mnist import encode_digits
from .coverage import modes_captured, reverse_kl

ARCH = "cnn3x3-16-32-128"          # changes when the network below changes: old cached weights then refuse to load
N_FEATURES = 128
WEIGHTS_FILE, INFO_FILE = "mnist-classifier.pt", "mnist-classifier.json"


class DigitClassifier(nn.Module):
    """Two 3x3 conv + max-pool stages, a 128-unit feature layer, 10 logits. Input (N, 1, 28, 28) in [-1, 1]."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 7 * 7, N_FEATURES), nn.ReLU())
        self.head = nn.Linear(N_FEATURES, 10)

    def forward(self, x):
        return self.head(self.features(x))


# --- the cached weights -----------------------------------------------------------------------

def classifier_dir() -> Path:
    return cache_dir() / "classifier"


def replaced_dir(sha256: str, folder: Path | None = None) -> Path:
    """Where `gandiag classifier train` keeps a classifier it replaced (the runs it scored resume only with it)."""
    return (Path(folder) if folder else classifier_dir()) / "replaced" / sha256[:12]


def load_classifier(folder: Path | None = None) -> tuple[DigitClassifier, dict]:
    """The cached classifier and its record; a missing, altered or outdated one is a one-line ConfigError."""
    folder = Path(folder) if folder else classifier_dir()
    weights, info_path = folder / WEIGHTS_FILE, folder / INFO_FILE
    if not weights.is_file() or not info_path.is_file():
        raise ConfigError(f"no trained MNIST classifier in {folder}: run `gandiag classifier train`")
    try:
        info = json.loads(info_path.read_text())
    except ValueError:  # a half-written or edited record checks nothing
        info = {}
    data = weights.read_bytes()
    if not isinstance(info, dict) or info.get("arch") != ARCH \
            or info.get("sha256") != hashlib.sha256(data).hexdigest():
        raise ConfigError(f"the classifier in {folder} fails its checksum or is from another gandiag version: "
                          "run `gandiag classifier train` again")
    model = DigitClassifier()
    model.load_state_dict(torch.load(io.BytesIO(data), map_location="cpu", weights_only=True))
    return model.eval(), info


# --- metrics ----------------------------------------------------------------------------------

@torch.no_grad()
def classify(model: DigitClassifier, images: torch.Tensor, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel class probabilities (N, C, 10) and features concatenated over channels (N, C * 128),
    for images (N, C, 28, 28) in [-1, 1]; each channel is one digit."""
    model.eval()
    n, c = images.shape[:2]
    device = next(model.parameters()).device
    flat = images.reshape(n * c, 1, *images.shape[2:])
    probs, feats = [], []
    for i in range(0, len(flat), chunk):
        f = model.features(flat[i:i + chunk].to(device, torch.float32))
        feats.append(f.double().cpu())
        probs.append(torch.softmax(model.head(f).double(), 1).cpu())
    return torch.cat(probs).view(n, c, 10), torch.cat(feats).view(n, -1)


def class_counts(probs: torch.Tensor) -> np.ndarray:
    """Samples per class (10^C bins) from per-channel probabilities (N, C, 10): argmax digit per channel."""
    classes = encode_digits(probs.argmax(-1))
    return np.bincount(classes.numpy(), minlength=10 ** probs.shape[1])


def joint_probs(probs: torch.Tensor) -> torch.Tensor:
    """(N, C, 10) independent per-channel probabilities -> (N, 10^C) over digit tuples, ordered as encode_digits."""
    joint = probs[:, 0]
    for c in range(1, probs.shape[1]):
        joint = (joint[:, :, None] * probs[:, c, None, :]).flatten(1)
    return joint


def classifier_score(joint: torch.Tensor) -> float:
    """exp(E_x KL(p(y|x) || p(y))), p(y) the mean of p(y|x) over the samples; 0 log 0 = 0."""
    p = joint.double()
    marginal = p.mean(0, keepdim=True)
    terms = torch.where(p > 0, p * (torch.log(p) - torch.log(marginal)), torch.zeros_like(p))
    return float(torch.exp(terms.sum(1).mean()))


def feature_stats(features: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (unbiased) of features (N, F)."""
    f = np.asarray(features, dtype=np.float64)
    return f.mean(0), np.atleast_2d(np.cov(f, rowvar=False))


def _psd_sqrt(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between two (mean, covariance) Gaussians.
    tr (S_a S_b)^(1/2) is computed as the trace of the PSD root of S_a^(1/2) S_b S_a^(1/2) (same
    eigenvalues), which stays real and finite for the singular covariances of dead ReLU features."""
    (mu_a, s_a), (mu_b, s_b) = a, b
    root_a = _psd_sqrt(s_a)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ s_b @ root_a), 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * cross)


def image_metrics(model: DigitClassifier, fakes: torch.Tensor, real_stats: tuple[np.ndarray, np.ndarray]) -> dict:
    """The metrics row entries for image fakes (N, C, 28, 28) in [-1, 1]; real_stats = feature_stats of reals."""
    probs, feats = classify(model, fakes)
    counts = class_counts(probs)
    n_classes = len(counts)
    return {R.MODES: modes_captured(counts),
            R.MODES_STRICT: modes_captured(counts, R.STRICT_FAIR_SHARE / n_classes, len(fakes)),
            R.REVERSE_KL: reverse_kl(counts),
            R.CLASSIFIER_SCORE: classifier_score(joint_probs(probs)),
            R.FRECHET_DISTANCE: frechet_distance(feature_stats(feats), real_stats),
            R.MODE_COUNTS: counts.tolist()}  # the classes are the modes


def real_feature_stats(model: DigitClassifier, reals: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """feature_stats of real images (N, C, 28, 28), the reference of the Frechet distance."""
    return feature_stats(classify(model, reals)[1])
