"""MLP generator and discriminator for the 2D scenarios."""
from __future__ import annotations

import torch
from torch import nn

from .layers import AlwaysDropout, MinibatchDiscrimination, VirtualBatchNorm


class Scale(nn.Module):
    """Multiplies the input by a constant (the Unrolled GAN paper's D sees x / 4)."""

    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


class Maxout(nn.Module):
    """Linear map to units * pieces, then the max over each unit's pieces (PacGAN's D)."""

    def __init__(self, n_in: int, units: int, pieces: int):
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(n_in, units * pieces)

    def forward(self, x):
        return self.linear(x).view(*x.shape[:-1], self.units, self.pieces).amax(-1)


def activation(name: str, slope: float) -> nn.Module:
    return {"relu": nn.ReLU, "tanh": nn.Tanh, "leaky_relu": lambda: nn.LeakyReLU(slope)}[name]()


def norm_layer(norm: str, width: int, reference_size: int) -> nn.Module:
    """batch: BatchNorm (the trainer feeds reals and fakes as separate batches); instance: each sample
    normalised over its own features (for a feature vector that is layer norm); virtual-batch: VBN."""
    if norm == "batch":
        return nn.BatchNorm1d(width)
    if norm == "instance":
        return nn.LayerNorm(width)
    if norm == "virtual-batch":
        return VirtualBatchNorm(width, reference_size)
    raise ValueError(f"unknown normalisation {norm!r}")


def hidden_block(n_in: int, width: int, act: str, norm: str, pieces: int, dropout: float,
                 reference_size: int = 0, slope: float = 0.2) -> list[nn.Module]:
    """One hidden layer: affine (or maxout), normalisation, activation, dropout."""
    layers: list[nn.Module] = [Maxout(n_in, width, pieces) if act == "maxout" else nn.Linear(n_in, width)]
    if norm != "none":
        layers.append(norm_layer(norm, width, reference_size))
    if act != "maxout":
        layers.append(activation(act, slope))
    if dropout > 0:
        layers.append(AlwaysDropout(dropout))
    return layers


def initialise(module: nn.Module, init: str, gain: float, std: float) -> None:
    """Weights by the chosen scheme, biases zero; 'default' keeps PyTorch's own init."""
    if init == "default":
        return
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            if init == "orthogonal":
                nn.init.orthogonal_(m.weight, gain=gain)
            else:
                nn.init.normal_(m.weight, 0.0, std)
            nn.init.zeros_(m.bias)


def apply_spectral_norm(module: nn.Module) -> None:
    """Spectral normalisation (Miyato et al. 2018) on every linear map and convolution; call after initialise."""
    for m in [m for m in module.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]:
        nn.utils.parametrizations.spectral_norm(m)


class Generator(nn.Module):
    def __init__(self, z_dim: int, hidden, act: str, norm: str, dropout: float, out_dim: int = 2, slope: float = 0.2):
        super().__init__()
        layers, n_in = [], z_dim
        for width in hidden:
            layers += hidden_block(n_in, width, act, norm, 0, dropout, slope=slope)
            n_in = width
        self.net = nn.Sequential(*layers, nn.Linear(n_in, out_dim))

    def forward(self, z):
        return self.net(z)


class Discriminator(nn.Module):
    """features(x) -> [minibatch discrimination] -> one logit.

    With pack = m (PacGAN) D scores m points at once: an input row is m points side by side, shape
    (N, m * point_dim). Given single points, shape (N, point_dim), D packs each point with m - 1 copies
    of itself, so probes, heatmaps and arrows stay defined per point. With virtual batch norm D holds a
    fixed reference batch (the `reference` buffer, filled with reals before training) and passes it
    through its layers ahead of every batch.
    """

    def __init__(self, point_dim: int, hidden, act: str, norm: str, pieces: int, input_scale: float,
                 pack: int = 1, minibatch: tuple[int, int] | None = None, reference_size: int = 0,
                 slope: float = 0.2):
        super().__init__()
        self.point_dim, self.pack = point_dim, pack
        layers, n_in = [Scale(input_scale)], point_dim * pack
        for width in hidden:
            layers += hidden_block(n_in, width, act, norm, pieces, 0.0, reference_size, slope)
            n_in = width
        self.features = nn.Sequential(*layers)
        self.extra = MinibatchDiscrimination(n_in, *minibatch) if minibatch else nn.Identity()
        self.head = nn.Linear(self.extra.out_features if minibatch else n_in, 1)
        self.register_buffer("reference", torch.zeros(reference_size, point_dim * pack)
                             if norm == "virtual-batch" else None)

    def forward(self, x):
        if self.pack > 1 and x.shape[-1] == self.point_dim:
            x = x.repeat(1, self.pack)
        if self.reference is None:
            h = self.features(x)
        else:
            h = self.features(torch.cat([self.reference, x]))[len(self.reference):]
        return self.head(self.extra(h)).squeeze(-1)
