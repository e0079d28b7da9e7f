"""Networks: build the two players a config asks for."""
from __future__ import annotations

from torch import nn

from ..config import IMAGE_DATA
from ..rng import seeded
from .dcgan import build_dcgan
from .mlp import Discriminator, Generator, apply_spectral_norm, initialise


def build_nets(cfg) -> tuple[nn.Module, nn.Module]:
    """(G, D) for a config, on the CPU, initialised from cfg.seed; the caller's random streams are
    left as they were (gandiag.rng.seeded: torch's layers draw their initial weights from its global
    generator).

    D's virtual-batch-norm reference batch (cfg.batch packed inputs) starts at zero: the trainer
    fills it with reals (gandiag.stabilizers.build_stabilizers).
    """
    with seeded(cfg.seed):
        return _build(cfg)


def _build(cfg) -> tuple[nn.Module, nn.Module]:
    if cfg.data in IMAGE_DATA:  # DCGAN for the image scenarios (gandiag.nets.dcgan)
        G, D = build_dcgan(cfg)
    else:
        G = Generator(cfg.z_dim, cfg.g_hidden, cfg.g_act, cfg.g_norm, cfg.g_dropout, slope=cfg.leaky_slope)
        D = Discriminator(2, cfg.d_hidden, cfg.d_act, cfg.d_norm, cfg.maxout_pieces, cfg.d_input_scale,
                          pack=cfg.pack, minibatch=(cfg.mbd_kernels, cfg.mbd_dim) if cfg.minibatch_disc else None,
                          reference_size=cfg.batch, slope=cfg.leaky_slope)
    initialise(G, cfg.init, cfg.init_gain, cfg.init_std)
    initialise(D, cfg.init, cfg.init_gain, cfg.init_std)
    if cfg.spectral_norm:
        apply_spectral_norm(D)
    return G, D
