"""What the loop records besides losses: live mode metrics, snapshots and the saturation probe.

Probes run in eval mode on fixed z batches and never step an optimiser, draw from the training RNG or
write a .grad, so recording does not change training.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch

from .. import losses, record as R
from ..metrics import coverage

#: share of fakes with D(G(z)) below this counts as saturated
SATURATED_BELOW = 1e-3


@contextmanager
def eval_mode(*modules):
    modes = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, was in zip(modules, modes):
            m.train(was)


def mode_metrics(samples: np.ndarray, mixture) -> dict:
    """Live coverage row entries (PacGAN definitions) for one batch of samples."""
    counts = coverage.mode_counts(samples, mixture.centres, mixture.stds)
    return {R.MODES: coverage.modes_captured(counts),
            R.MODES_STRICT: coverage.modes_captured(counts, R.MIN_MODE_SHARE, len(samples)),
            R.HQ: coverage.high_quality_share(counts, len(samples)),
            R.REVERSE_KL: coverage.reverse_kl(counts),
            R.MODE_COUNTS: counts.tolist()}


@torch.no_grad()
def generate(G, z: torch.Tensor, chunk: int = 4096) -> np.ndarray:
    with eval_mode(G):
        return torch.cat([G(z[i:i + chunk]) for i in range(0, len(z), chunk)]).float().cpu().numpy()


def _params_grad_norm(loss, params) -> float:
    grads = torch.autograd.grad(loss, params)
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))


def saturation(G, D, z: torch.Tensor) -> tuple[dict, np.ndarray, np.ndarray]:
    """Saturation probe on fixed z: (row entries, fakes, D's logits on them).

    With a = D's logit on a fake, d/da log(1 - sigmoid(a)) = -D(G(z)) (vanishes as D(G(z)) -> 0) and
    d/da -log sigmoid(a) = -(1 - D(G(z))); G's gradient norm under both tells how much signal G gets.
    Each loss is differentiated through its own forward pass: a compiled player's backward may donate its
    saved buffers (torch's default), and then refuses to run twice over one graph (retain_graph).
    """
    with eval_mode(G, D):
        fake = G(z)
        logits = D(fake)
        prob = torch.sigmoid(logits.detach())
        params = [q for q in G.parameters() if q.requires_grad]
        row = {R.SAT_SHARE: float((prob < SATURATED_BELOW).float().mean()),
               R.SAT_DLOGIT_MINIMAX: float(prob.mean()),
               R.SAT_DLOGIT_NONSAT: float((1 - prob).mean()),
               R.SAT_GNORM_MINIMAX: _params_grad_norm(losses.g_loss("minimax", logits), params),
               R.SAT_GNORM_NONSAT: _params_grad_norm(losses.g_loss("nonsaturating", D(G(z))), params)}
    return row, fake.detach(), logits.detach()


def toy_snapshot(G, D, cfg, z: torch.Tensor, window, manifold_z: torch.Tensor | None) -> tuple[dict, dict]:
    """(snapshot arrays, saturation row entries) for a 2D scenario."""
    sat_row, fake, logits = saturation(G, D, z)
    with eval_mode(G, D):
        x = fake.clone().requires_grad_(True)
        # -dL_G/dx per sample (sum, not mean, so the arrow length does not shrink with the batch size)
        (push,) = torch.autograd.grad(-losses.g_loss(cfg.loss, D(x)) * len(x), x)
        xmin, xmax, ymin, ymax = window
        gx = torch.linspace(xmin, xmax, cfg.grid_res, device=z.device)
        gy = torch.linspace(ymin, ymax, cfg.grid_res, device=z.device)
        yy, xx = torch.meshgrid(gy, gx, indexing="ij")  # row i <-> y = gy[i], column j <-> x = gx[j]
        with torch.no_grad():
            # D scores the grid in batches of the training batch size: with minibatch discrimination a
            # score depends on the batch, and only batches of that size show what D learnt
            points = torch.stack([xx.ravel(), yy.ravel()], 1)
            grid_logits = torch.cat([D(chunk) for chunk in points.split(cfg.batch)])
            d_grid = losses.d_output(cfg.loss, grid_logits).view(yy.shape)
            arrays = {R.SNAP_FAKES: fake, R.SNAP_ARROWS: push, R.SNAP_FAKE_LOGITS: logits,
                      R.SNAP_GRID_X: gx, R.SNAP_GRID_Y: gy, R.SNAP_D_GRID: d_grid}
            if manifold_z is not None:
                q = int(round(len(manifold_z) ** 0.5))
                arrays[R.SNAP_MANIFOLD] = G(manifold_z).view(q, q, 2)
    return {k: v.float().cpu().numpy() for k, v in arrays.items()}, sat_row
