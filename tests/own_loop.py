"""A user's own GAN loop, written as a user would (plain PyTorch, not gandiag's nets or losses), for the
tests that record it."""
import numpy as np
import torch
from torch import nn

import gandiag
from gandiag.record.recorder import Recorder

Z = 4


def players(seed: int = 0):
    """A user's own G and D (not gandiag's nets): G with batch norm and dropout, which a careless probe
    would change (running statistics, random masks)."""
    torch.manual_seed(seed)
    G = nn.Sequential(nn.Linear(Z, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 2))
    D = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
    return G, D


def train(G, D, steps: int, rec: Recorder | None = None, every: int = 10, data=None):
    """The user's loop: a vanilla GAN with the global RNG, recording when a recorder is given."""
    target = gandiag.target("ring8")
    opt_g, opt_d = (torch.optim.Adam(m.parameters(), lr=2e-3, betas=(0.5, 0.999)) for m in (G, D))
    bce = nn.BCEWithLogitsLoss()
    z_fixed = torch.randn(64, Z)
    for step in range(steps + 1):
        real = target.sample(64) if data is None else data
        fake = G(torch.randn(64, Z))
        d_loss = bce(D(real), torch.ones(64, 1)) + bce(D(fake.detach()), torch.zeros(64, 1))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = bce(D(fake), torch.ones(64, 1))
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        if rec is not None and step % every == 0:
            rec.log(step, d_loss=d_loss, g_loss=g_loss.item(), lr=np.float32(2e-3))
            rec.snapshot(step, generator=G, discriminator=D, z=z_fixed)
    return G, D
