"""What the loop records for image runs (data = mnist or stacked-mnist): classifier metrics and sample grids.

The classifier (gandiag.metrics.classifier) comes from the user cache, trained there once on the same
offline digits when it is missing. The Frechet distance's reference is the classifier's features of a
fixed draw of reals, made once per run from its own generator (so the training stream is untouched).
"""
from __future__ import annotations

import sys

import torch

from .. import record as R
from ..data.mnist import target_from_config
from ..metrics.classifier import image_metrics, load_or_train, real_feature_stats
from .probes import generate, measure_saturation

#: seed offset of the fixed real batch behind the Frechet reference
REAL_SEED_OFFSET = 2_000_003


def _note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class ImageRecorder:
    """The image target, the classifier and the real feature statistics of one run."""

    def __init__(self, cfg, device: torch.device):
        self.target, self.source = target_from_config(cfg)
        model, info = load_or_train(cfg.data_dir, log=_note)
        self.classifier = model.to(device)
        self.classifier_info = {k: info[k] for k in ("sha256", "accuracy", "n_test", "data")}
        fixed = torch.Generator(device=device).manual_seed(cfg.seed + REAL_SEED_OFFSET)
        self.real_stats = real_feature_stats(self.classifier, self.target.sample(cfg.eval_samples, fixed, device))

    def record(self) -> dict:
        """config.json entries: where the digits came from (subset or not) and which classifier measured."""
        return {"data_source": self.source.to_dict(), "classifier": self.classifier_info}

    def metrics(self, G, z: torch.Tensor) -> dict:
        return image_metrics(self.classifier, torch.from_numpy(generate(G, z)), self.real_stats)

    def snapshot(self, G, D, z: torch.Tensor) -> tuple[dict, dict]:
        """(snapshot arrays: the fixed-z samples and D's logits on them, saturation row entries)."""
        sat_row, fake, logits = measure_saturation(G, D, z)
        return {R.SNAP_IMAGES: fake.float().cpu().numpy(), R.SNAP_FAKE_LOGITS: logits.float().cpu().numpy()}, sat_row
