"""Networks: build the two players a config asks for."""
from __future__ import annotations

from torch import nn

from .mlp import Discriminator, Generator, initialise


def build_nets(cfg) -> tuple[nn.Module, nn.Module]:
    """(G, D) for a config, initialised; call after seeding torch so the init repeats."""
    G = Generator(cfg.z_dim, cfg.g_hidden, cfg.g_act, cfg.g_norm, cfg.g_dropout)
    D = Discriminator(2 * cfg.pack, cfg.d_hidden, cfg.d_act, cfg.d_norm, cfg.maxout_pieces, cfg.d_input_scale)
    initialise(G, cfg.init, cfg.init_gain, cfg.init_std)
    initialise(D, cfg.init, cfg.init_gain, cfg.init_std)
    return G, D
