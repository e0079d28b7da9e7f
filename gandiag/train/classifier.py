"""Training gandiag's MNIST classifier (gandiag.metrics.classifier defines it and its metrics) and
caching its weights with a sha256 checksum and its held-out accuracy (`gandiag classifier train`)."""
from __future__ import annotations

import hashlib
import io
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import record as R
from ..data.mnist import Digits, load_digits, to_unit
from ..metrics.classifier import (ARCH, INFO_FILE, WEIGHTS_FILE, DigitClassifier, classifier_dir, load_classifier,
                                  replaced_dir)
from ..rng import seeded

#: default training length in optimizer steps, whatever the data size: about 1.6 passes over the full
#: 60,000 digits, or many passes over the 4,000 of the shipped subset
DEFAULT_STEPS = 1500
BATCH = 64


def accuracy(model: DigitClassifier, images: np.ndarray, labels: np.ndarray, chunk: int = 2048) -> float:
    """Share of digits (uint8 images) whose argmax class is the label."""
    model.eval()
    with torch.no_grad():
        hits = sum(int((model(to_unit(torch.from_numpy(images[i:i + chunk])[:, None])).argmax(1)
                        == torch.from_numpy(labels[i:i + chunk])).sum()) for i in range(0, len(images), chunk))
    return hits / len(images)


def default_epochs(n_train: int) -> int:
    """Passes over n_train digits that make about DEFAULT_STEPS optimizer steps (at least 2)."""
    return max(2, math.ceil(DEFAULT_STEPS * BATCH / n_train))


def train_classifier(digits: Digits, epochs: int | None = None, lr: float = 1e-3, seed: int = 0,
                     log=None) -> tuple[DigitClassifier, float]:
    """Adam on the training digits for `epochs` passes (default: default_epochs); returns the model and
    its held-out accuracy."""
    epochs = epochs or default_epochs(len(digits.train_labels))
    with seeded(seed):  # the init must repeat, and must not move the caller's RNG
        model = DigitClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    x = to_unit(torch.from_numpy(digits.train_images)[:, None])
    y = torch.from_numpy(digits.train_labels)
    for epoch in range(1, epochs + 1):
        model.train()
        for idx in torch.randperm(len(x), generator=gen).split(BATCH):
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if log:
            log(f"epoch {epoch}/{epochs}: held-out accuracy "
                f"{accuracy(model, digits.test_images, digits.test_labels):.4f}")
    return model, accuracy(model, digits.test_images, digits.test_labels)


def save_classifier(model: DigitClassifier, info: dict, folder: Path | None = None) -> Path:
    """Weights and their record (sha256 of the weight file, arch, plus `info`); returns the weight file."""
    folder = Path(folder) if folder else classifier_dir()
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    data = buf.getvalue()
    R.atomic_write_bytes(folder / WEIGHTS_FILE, data)
    R.atomic_write_json(folder / INFO_FILE, {"arch": ARCH, "sha256": hashlib.sha256(data).hexdigest(), **info})
    return folder / WEIGHTS_FILE


def train_and_save(data_dir: str = "", epochs: int | None = None, seed: int = 0, folder: Path | None = None,
                   log=None) -> dict:
    """`gandiag classifier train`: train on the offline digits, cache the weights; returns the record,
    with `replaced`: the record of the classifier these weights replace, where they differ from it, and
    `kept`: the folder its two files were copied to (the runs it scored resume only with it)."""
    digits = load_digits(data_dir)
    if log:
        log(digits.source.describe())
    t0 = time.perf_counter()
    epochs = epochs or default_epochs(digits.source.n_train)
    model, acc = train_classifier(digits, epochs=epochs, seed=seed, log=log)
    info = {"accuracy": acc, "n_test": digits.source.n_test, "epochs": epochs, "seed": seed,
            "train_seconds": round(time.perf_counter() - t0, 1), "data": digits.source.to_dict(),
            "torch": torch.__version__}
    folder = Path(folder) if folder else classifier_dir()
    before = _cached_record(folder)
    kept = _keep_a_copy(folder, before)   # before the new weights are written, so no crash can lose it
    path = save_classifier(model, info, folder)
    saved = json.loads((path.parent / INFO_FILE).read_text())
    if kept and before["sha256"] == saved["sha256"]:   # the same weights again: nothing was replaced
        shutil.rmtree(kept)
        kept = None
    return {**saved, "path": str(path), **({"replaced": before, "kept": str(kept)} if kept else {})}


def _cached_record(folder: Path) -> dict:
    """The cached classifier's record, {} where there is none or it cannot be read."""
    try:
        record = json.loads((folder / INFO_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _keep_a_copy(folder: Path, record: dict) -> Path | None:
    """The cached weights and record copied to their replaced_dir; None where none is cached."""
    sha = record.get("sha256")
    if not isinstance(sha, str) or not (folder / WEIGHTS_FILE).is_file():
        return None
    kept = replaced_dir(sha, folder)
    kept.mkdir(parents=True, exist_ok=True)
    for name in (WEIGHTS_FILE, INFO_FILE):
        R.atomic_write_bytes(kept / name, (folder / name).read_bytes())
    return kept


def load_or_train(data_dir: str = "", folder: Path | None = None, epochs: int | None = None,
                  log=None) -> tuple[DigitClassifier, dict]:
    """The cached classifier, trained first when there is none yet."""
    folder = Path(folder) if folder else classifier_dir()
    if not (folder / WEIGHTS_FILE).is_file():
        if log:
            log(f"no MNIST classifier cached yet: training one into {folder} (once)")
        train_and_save(data_dir, epochs, folder=folder, log=log)
    return load_classifier(folder)
