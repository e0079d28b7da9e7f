"""MLP generator and discriminator for the 2D scenarios."""
from __future__ import annotations

import torch
from torch import nn


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


def activation(name: str) -> nn.Module:
    return {"relu": nn.ReLU, "tanh": nn.Tanh, "leaky_relu": lambda: nn.LeakyReLU(0.2)}[name]()


def hidden_block(n_in: int, width: int, act: str, norm: str, pieces: int, dropout: float) -> list[nn.Module]:
    """One hidden layer: affine (or maxout), normalisation, activation, dropout."""
    if act == "maxout":
        return [Maxout(n_in, width, pieces)]
    layers: list[nn.Module] = [nn.Linear(n_in, width)]
    if norm == "batch":
        layers.append(nn.BatchNorm1d(width))
    layers.append(activation(act))
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return layers


def initialise(module: nn.Module, init: str, gain: float, std: float) -> None:
    """Weights by the chosen scheme, biases zero; 'default' keeps PyTorch's own init."""
    if init == "default":
        return
    for m in module.modules():
        if isinstance(m, nn.Linear):
            if init == "orthogonal":
                nn.init.orthogonal_(m.weight, gain=gain)
            else:
                nn.init.normal_(m.weight, 0.0, std)
            nn.init.zeros_(m.bias)


class Generator(nn.Module):
    def __init__(self, z_dim: int, hidden, act: str, norm: str, dropout: float, out_dim: int = 2):
        super().__init__()
        layers, n_in = [], z_dim
        for width in hidden:
            layers += hidden_block(n_in, width, act, norm, 0, dropout)
            n_in = width
        self.net = nn.Sequential(*layers, nn.Linear(n_in, out_dim))
        # Dropout "at train and test time" (ganhacks): keep it active when the player is in eval mode.
        self.keep_dropout = dropout > 0

    def forward(self, z):
        return self.net(z)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.keep_dropout:
            for m in self.modules():
                if isinstance(m, nn.Dropout):
                    m.train(True)
        return self


class Discriminator(nn.Module):
    """features(x) -> [extra feature layer, e.g. minibatch discrimination] -> one logit."""

    def __init__(self, in_dim: int, hidden, act: str, norm: str, pieces: int, input_scale: float,
                 feature_layer: nn.Module | None = None, feature_out: int | None = None):
        super().__init__()
        layers, n_in = [Scale(input_scale)], in_dim
        for width in hidden:
            layers += hidden_block(n_in, width, act, norm, pieces, 0.0)
            n_in = width
        self.features = nn.Sequential(*layers)
        self.extra = feature_layer if feature_layer is not None else nn.Identity()
        self.head = nn.Linear(feature_out if feature_layer is not None else n_in, 1)

    def forward(self, x):
        return self.head(self.extra(self.features(x))).squeeze(-1)
