"""DCGAN generator and discriminator for 28 x 28 images with 1 or 3 channels (MNIST, Stacked MNIST).

G: z [+ class embedding] -> linear -> 4x4 x 4w -> transposed convs 7x7 x 2w -> 14x14 x w -> 28x28 x C -> tanh,
   normalisation (batch or none), ReLU and optional always-on dropout between. w = 16 starts at
   4x4x64 as the Unrolled GAN paper's Stacked MNIST generator does.
D: x -> strided convs 14x14 x w -> 7x7 x 2w -> 4x4 x 4w -> [minibatch discrimination] -> one logit;
   leaky ReLU, no pooling, no normalisation on the first layer (DCGAN). w = 2 and w = 4 give the
   paper's small discriminators (2-4-8 and 4-8-16 channels).
PacGAN packing stacks m images along the channels; given single images D packs each with m - 1 copies
of itself (as the MLP discriminator does), so probes stay defined per image.
Class labels (config `conditional`, `aux_classifier`; the class is the digit, or the digit triple for
Stacked MNIST): G concatenates a learned class embedding to z. A conditional D is a projection
discriminator (Miyato & Koyama 2018): logit = linear(h) + <embed(y), h>, the embedding starting at
zero (an unconditional D). An AC-GAN D (Odena et al. 2017) has a second head on the same features
that predicts the class (`class_logits`). Called without labels (probes, evaluation), both nets take
the classes in turn, 0, 1, 2, ...: fixed-z samples cover the classes evenly and D scores each fake for
the class it was drawn for.
"""
from __future__ import annotations

import torch
from torch import nn

from ..config import ConfigError
from ..data.mnist import classes_for, stack_for
from .layers import AlwaysDropout, MinibatchDiscrimination
from .mlp import Scale, activation

#: size of G's class embedding, concatenated to z
CLASS_EMBED = 32


def classes_in_turn(n: int, n_classes: int, device) -> torch.Tensor:
    return torch.arange(n, device=device) % n_classes


def norm2d(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.Identity()


class DCGANGenerator(nn.Module):
    def __init__(self, z_dim: int, channels: int, width: int, norm: str = "batch", act: str = "relu",
                 dropout: float = 0.0, n_classes: int = 0, slope: float = 0.2):
        super().__init__()
        self.width, self.n_classes = width, n_classes
        self.embed = nn.Embedding(n_classes, CLASS_EMBED) if n_classes else None
        self.project = nn.Linear(z_dim + (CLASS_EMBED if n_classes else 0), 4 * 4 * 4 * width)

        def block(c: int) -> list[nn.Module]:
            return [norm2d(norm, c), activation(act, slope)] + ([AlwaysDropout(dropout)] if dropout > 0 else [])

        self.body = nn.Sequential(
            *block(4 * width), nn.ConvTranspose2d(4 * width, 2 * width, 3, stride=2, padding=1),   # 4 -> 7
            *block(2 * width), nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1),       # 7 -> 14
            *block(width), nn.ConvTranspose2d(width, channels, 4, stride=2, padding=1),            # 14 -> 28
            nn.Tanh())

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            labels = classes_in_turn(len(z), self.n_classes, z.device) if labels is None else labels
            z = torch.cat([z, self.embed(labels)], 1)
        return self.body(self.project(z).view(-1, 4 * self.width, 4, 4))


class DCGANDiscriminator(nn.Module):
    def __init__(self, channels: int, width: int, norm: str = "none", act: str = "leaky_relu",
                 slope: float = 0.2, input_scale: float = 1.0, pack: int = 1,
                 minibatch: tuple[int, int] | None = None, n_classes: int = 0, aux_classes: int = 0):
        super().__init__()
        self.channels, self.pack, self.n_classes = channels, pack, n_classes
        self.features = nn.Sequential(
            Scale(input_scale),
            nn.Conv2d(channels * pack, width, 4, stride=2, padding=1),               # 28 -> 14
            activation(act, slope),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),                     # 14 -> 7
            norm2d(norm, 2 * width), activation(act, slope),
            nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1),                 # 7 -> 4
            norm2d(norm, 4 * width), activation(act, slope),
            nn.Flatten())
        n_features = 4 * 4 * 4 * width
        self.extra = MinibatchDiscrimination(n_features, *minibatch) if minibatch else nn.Identity()
        self.head = nn.Linear(self.extra.out_features if minibatch else n_features, 1)
        self.embed = nn.Embedding(n_classes, n_features) if n_classes else None
        if self.embed is not None:
            nn.init.zeros_(self.embed.weight)
        self.classes = nn.Linear(n_features, aux_classes) if aux_classes else None

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        if self.pack > 1 and x.shape[1] == self.channels:
            x = x.repeat(1, self.pack, 1, 1)
        return self.features(x)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self._features(x)
        logit = self.head(self.extra(h)).squeeze(-1)
        if self.embed is not None:
            labels = classes_in_turn(len(x), self.n_classes, x.device) if labels is None else labels
            logit = logit + (self.embed(labels) * h).sum(1)
        return logit

    def class_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The AC-GAN head's class logits (N, n_classes)."""
        return self.classes(self._features(x))


def build_dcgan(cfg) -> tuple[DCGANGenerator, DCGANDiscriminator]:
    """(G, D) for data = mnist or stacked-mnist, not yet initialised."""
    if cfg.d_norm == "virtual-batch":
        raise ConfigError("d_norm = virtual-batch is for the MLP discriminator: use batch, instance or none "
                          "with image data")
    if cfg.d_act == "maxout":
        raise ConfigError("d_act = maxout is for the MLP discriminator: use leaky_relu, relu or tanh with image data")
    labeled = cfg.conditional or cfg.aux_classifier
    if labeled and (cfg.pack > 1 or cfg.unrolled or cfg.replay_size):
        # each of these feeds D inputs whose classes the step does not know (packs, unrolled copies, old fakes)
        raise ConfigError("conditional and aux_classifier do not combine with pack, unrolled or replay_size: "
                          "drop one of them")
    channels, classes = stack_for(cfg.data), classes_for(cfg.data)
    G = DCGANGenerator(cfg.z_dim, channels, cfg.g_width, cfg.g_norm, cfg.g_act, cfg.g_dropout,
                       classes if labeled else 0, cfg.leaky_slope)
    D = DCGANDiscriminator(channels, cfg.d_width, cfg.d_norm, cfg.d_act, cfg.leaky_slope, cfg.d_input_scale,
                           cfg.pack, (cfg.mbd_kernels, cfg.mbd_dim) if cfg.minibatch_disc else None,
                           classes if cfg.conditional else 0, classes if cfg.aux_classifier else 0)
    return G, D
