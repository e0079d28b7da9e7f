"""Class labels in the training step (image data, config `conditional` / `aux_classifier`).

G draws its fakes for the classes of the real batch beside them, so reals and fakes share one label
vector: a conditional D scores both, and the WGAN-GP interpolates between them, for the same classes.
"""
from __future__ import annotations

from typing import Callable

from torch import Tensor, nn


def uses_labels(cfg) -> bool:
    return cfg.conditional or cfg.aux_classifier


def draw_labeled(sample_real: Callable[[int], Tensor], sample_labeled: Callable[[int], tuple[Tensor, Tensor]] | None,
                 n: int) -> tuple[Tensor, Tensor | None]:
    """(reals, their classes) when the run uses labels (sample_labeled given), else (reals, None)."""
    return sample_labeled(n) if sample_labeled is not None else (sample_real(n), None)


def generate(G: nn.Module, z: Tensor, labels: Tensor | None) -> Tensor:
    return G(z) if labels is None else G(z, labels)


def for_classes(D: Callable[..., Tensor], labels: Tensor | None) -> Callable[[Tensor], Tensor]:
    """D as the callable x -> logits that losses and penalties take, scoring x for `labels` (None: D itself)."""
    return D if labels is None else lambda x: D(x, labels)


def class_loss(D: nn.Module, x: Tensor, labels: Tensor) -> Tensor:
    """The AC-GAN term (Odena et al. 2017): cross-entropy of D's class head on x against labels."""
    return nn.functional.cross_entropy(D.class_logits(x), labels)
