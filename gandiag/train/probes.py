"""What the loop records besides losses: live mode metrics, snapshots and the saturation probe.

D is scored as G trains against it: in train mode on a batch of fakes, so a batch-norm layer
normalises the fakes with their own statistics (eval mode would use running statistics that mix
real and fake batches: a D no G step ever meets) and spectral norm takes its power iteration. G is
sampled in eval mode (its running statistics come from its own batches only): the generator a user
keeps, independent of the batch (docs/analyzer.md, "Batch norm").

Recording must not change training: every buffer a train-mode forward writes (running statistics,
the power iteration's vectors) is put back, and no probe draws from the training stream, steps an
optimiser or writes a .grad.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from .. import losses, record as R
from ..metrics import coverage
from ..metrics.saturation import SATURATED_BELOW
from ..nets.layers import AlwaysDropout


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


@contextmanager
def as_trained(*modules):
    """The modules in train mode, as the training step runs them, with no trace left: every buffer is
    restored and every submodule's mode put back on exit. AlwaysDropout stays on its probe path (eval:
    fixed masks), so no draw of the run's training stream is consumed."""
    saved = [(b, b.detach().clone()) for m in modules for b in m.buffers()]
    modes = [(sub, sub.training) for m in modules for sub in m.modules()]
    for m in modules:
        m.train()
        for sub in m.modules():
            if isinstance(sub, AlwaysDropout):
                sub.eval()
    try:
        yield
    finally:
        with torch.no_grad():
            for b, value in saved:
                b.copy_(value)
        for sub, was in modes:
            sub.training = was


@contextmanager
def frozen_batch_statistics(D: nn.Module, batch: torch.Tensor):
    """Inside as_trained: D's batch-norm layers normalise any input with the statistics of `batch` (D's
    fakes), as they do for those fakes in G's step; for scoring points that are not a batch of fakes
    (the heatmap grid). The running statistics it overwrites are restored by as_trained."""
    norms = [m for m in D.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        yield
        return
    seen = {}

    def keep(module, args):
        x = args[0].detach()
        dims = [d for d in range(x.dim()) if d != 1]
        seen[module] = (x.mean(dims), x.var(dims, unbiased=False))

    hooks = [m.register_forward_pre_hook(keep) for m in norms]
    try:
        with torch.no_grad():
            D(batch)
    finally:
        for h in hooks:
            h.remove()
    with torch.no_grad():
        for m in norms:
            m.running_mean.copy_(seen[m][0])
            m.running_var.copy_(seen[m][1])
            m.eval()
    yield


def mode_metrics(samples: np.ndarray, mixture) -> dict:
    """Live coverage row entries (PacGAN definitions) for one batch of samples."""
    return coverage.row_entries(samples, mixture)


@torch.no_grad()
def generate(G, z: torch.Tensor, chunk: int = 4096) -> np.ndarray:
    with eval_mode(G):
        return torch.cat([G(z[i:i + chunk]) for i in range(0, len(z), chunk)]).float().cpu().numpy()


def _params_grad_norm(loss, params) -> float:
    grads = torch.autograd.grad(loss, params)
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))


def measure_saturation(G, D, z: torch.Tensor) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """Saturation probe on fixed z: (row entries, G's eval-mode fakes, D's logits on them in train mode).

    With a = D's logit on a fake, d/da log(1 - sigmoid(a)) = -D(G(z)) (vanishes as D(G(z)) -> 0) and
    d/da -log sigmoid(a) = -(1 - D(G(z))); G's gradient norm under both tells how much signal G gets.
    Each loss is differentiated through its own forward pass: a compiled player's backward may donate its
    saved buffers (torch's default), and then refuses to run twice over one graph (retain_graph).
    """
    with eval_mode(G), as_trained(D):
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
    """(snapshot arrays, saturation row entries) for a 2D scenario: G's eval-mode fakes, and D as G's
    step sees it (train mode on the batch of fakes) scoring them, pushing them (the arrows) and over
    the grid (with the fakes' batch statistics)."""
    sat_row, fake, logits = measure_saturation(G, D, z)
    with as_trained(D):
        x = fake.clone().requires_grad_(True)
        # -dL_G/dx per sample (sum, not mean, so the arrow length does not shrink with the batch size)
        (push,) = torch.autograd.grad(-losses.g_loss(cfg.loss, D(x)) * len(x), x)
        xmin, xmax, ymin, ymax = window
        gx = torch.linspace(xmin, xmax, cfg.grid_res, device=z.device)
        gy = torch.linspace(ymin, ymax, cfg.grid_res, device=z.device)
        yy, xx = torch.meshgrid(gy, gx, indexing="ij")  # row i <-> y = gy[i], column j <-> x = gx[j]
        with frozen_batch_statistics(D, fake), torch.no_grad():
            # D scores the grid in batches of the training batch size: with minibatch discrimination a
            # score depends on the batch, and only batches of that size show what D learnt
            points = torch.stack([xx.ravel(), yy.ravel()], 1)
            grid_logits = torch.cat([D(chunk) for chunk in points.split(cfg.batch)])
            d_grid = losses.d_output(cfg.loss, grid_logits).view(yy.shape)
    arrays = {R.SNAP_FAKES: fake, R.SNAP_ARROWS: push, R.SNAP_FAKE_LOGITS: logits,
              R.SNAP_GRID_X: gx, R.SNAP_GRID_Y: gy, R.SNAP_D_GRID: d_grid}
    if manifold_z is not None:
        q = int(round(len(manifold_z) ** 0.5))
        arrays[R.SNAP_MANIFOLD] = torch.from_numpy(generate(G, manifold_z)).view(q, q, 2)
    return {k: v.float().cpu().numpy() for k, v in arrays.items()}, sat_row
