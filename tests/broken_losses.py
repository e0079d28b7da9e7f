"""Deliberately broken GAN losses that the property kit must catch, each under the property named in
CAUGHT_BY. tests/test_property_kit.py runs them through the library and through `gandiag check-loss`."""
import torch
import torch.nn.functional as F


def naive_log_sigmoid(fake_logits):
    """-log D(G(z)) written as -log(sigmoid(a)): in float32 sigmoid(a) rounds to 0 below a = -104 (the
    loss becomes inf) and the gradient 1 / sigmoid(a) overflows below about a = -88."""
    return -torch.log(torch.sigmoid(fake_logits)).mean()


def wrong_sign(real_logits, fake_logits):
    """D's cross-entropy loss with the labels swapped: its descent step teaches D to call reals fake."""
    return F.softplus(real_logits).mean() + F.softplus(-fake_logits).mean()


def saturating_non_saturating(fake_logits):
    """A "non-saturating" -log D(G(z)) with an epsilon inside the log: once D(G(z)) << 1e-8 (a < -18)
    the gradient sigmoid(a) (1 - sigmoid(a)) / (sigmoid(a) + 1e-8) vanishes, as the minimax loss's does."""
    return -torch.log(torch.sigmoid(fake_logits) + 1e-8).mean()


def relativistic_paired(real_logits, fake_logits):
    """The relativistic standard GAN's D loss (Jolicoeur-Martineau 2018), real i against fake i: which fake a
    real is scored against depends on the order the batches came in."""
    return F.softplus(fake_logits - real_logits).mean()


#: broken loss -> (its role, the one property that must fail on it)
CAUGHT_BY = {
    "naive_log_sigmoid": ("generator", "finite_value_and_gradient"),
    "wrong_sign": ("discriminator", "discriminator_step_separates"),
    "saturating_non_saturating": ("generator", "non_saturating_gradient"),
    "relativistic_paired": ("discriminator", "batch_permutation_invariance"),
}
