"""Example user losses to try `gandiag check-loss` on (see docs/property-kit.md).

    gandiag check-loss examples/my_loss.py:g_loss --role generator
    gandiag check-loss examples/my_loss.py:g_loss_clamped --role generator
    gandiag check-loss examples/my_loss.py:d_loss --role discriminator --optimum cross-entropy
"""
import torch
import torch.nn.functional as F


def g_loss(fake_logits):
    """Non-saturating generator loss -log D(G(z)), written stably as softplus(-a)."""
    return F.softplus(-fake_logits).mean()


def g_loss_clamped(fake_logits):
    """The same loss as it is often written, with a clamp to keep log away from 0: finite everywhere,
    but the clamp zeroes the gradient once D(G(z)) < 1e-6, so the loss saturates after all."""
    return -torch.log(torch.sigmoid(fake_logits).clamp(min=1e-6)).mean()


def d_loss(real_logits, fake_logits):
    """Cross-entropy discriminator loss: reals labelled 1, fakes 0."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def d_loss_smoothed(real_logits, fake_logits):
    """d_loss with one-sided label smoothing (reals labelled 0.9): on purpose, D's optimum is no longer
    p / (p + q), and `--optimum cross-entropy` says so."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, 0.9))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake
