"""What a snapshot computes from the players: fakes, D on a grid, the arrows of G's loss, the manifold,
and the saturation probe.

The probe and the views run on fixed z batches and never step an optimiser, draw from a training
generator or write a .grad (gradients come from torch.autograd.grad), so recording does not change
training; the Recorder also puts every module's mode and the global random streams back afterwards.
"""
from __future__ import annotations

from typing import Callable

import torch

from .. import losses
from . import keys as R


def _eval(*players) -> None:
    for p in players:
        module = getattr(p, "module", p)
        if isinstance(module, torch.nn.Module):
            module.eval()


def _g_loss(loss) -> Callable[[torch.Tensor], torch.Tensor]:
    return loss if callable(loss) else (lambda logits: losses.g_loss(loss, logits))


def _params_grad_norm(loss, params) -> float:
    grads = torch.autograd.grad(loss, params)
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))


def saturation_probe(G, D, z: torch.Tensor) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """(row entries, fakes, D's logits on them) of the saturation probe on fixed z.

    With a = D's logit on a fake, d/da log(1 - sigmoid(a)) = -D(G(z)) (vanishes as D(G(z)) -> 0) and
    d/da -log sigmoid(a) = -(1 - D(G(z))); G's gradient norm under both tells how much signal G gets.
    Each loss is differentiated through its own forward pass: a compiled player's backward may donate its
    saved buffers (torch's default), and then refuses to run twice over one graph (retain_graph)."""
    _eval(G, D)
    fake = G(z)
    logits = D(fake)
    prob = torch.sigmoid(logits.detach())
    params = [q for q in G.parameters() if q.requires_grad] if isinstance(G, torch.nn.Module) else []
    row = {R.SAT_SHARE: float((prob < R.SATURATED_BELOW).float().mean()),
           R.SAT_DLOGIT_MINIMAX: float(prob.mean()),
           R.SAT_DLOGIT_NONSAT: float((1 - prob).mean())}
    if params:
        row[R.SAT_GNORM_MINIMAX] = _params_grad_norm(losses.g_loss("minimax", logits), params)
        row[R.SAT_GNORM_NONSAT] = _params_grad_norm(losses.g_loss("nonsaturating", D(G(z))), params)
    return row, fake.detach(), logits.detach()


def toy_snapshot(G, D, z: torch.Tensor, *, loss, window, grid_res: int, manifold_z: torch.Tensor | None,
                 grid_chunk: int | None = None) -> tuple[dict, dict]:
    """(snapshot arrays, row entries) for a 2D target. Without D: the fakes (and manifold) only."""
    _eval(G, D)
    if D is None:
        with torch.no_grad():
            arrays = {R.SNAP_FAKES: G(z)}
            if manifold_z is not None:
                arrays[R.SNAP_MANIFOLD] = _manifold(G, manifold_z)
        return _numpy(arrays), {}
    sat_row, fake, logits = saturation_probe(G, D, z)
    x = fake.clone().requires_grad_(True)
    # -dL_G/dx per sample (sum, not mean, so the arrow length does not shrink with the batch size)
    (push,) = torch.autograd.grad(-_g_loss(loss)(D(x)) * len(x), x)
    xmin, xmax, ymin, ymax = window
    gx = torch.linspace(xmin, xmax, grid_res, device=z.device)
    gy = torch.linspace(ymin, ymax, grid_res, device=z.device)
    yy, xx = torch.meshgrid(gy, gx, indexing="ij")  # row i <-> y = gy[i], column j <-> x = gx[j]
    with torch.no_grad():
        # D scores the grid in batches of the training batch size: with minibatch discrimination a
        # score depends on the batch, and only batches of that size show what D learnt
        points = torch.stack([xx.ravel(), yy.ravel()], 1)
        grid_logits = torch.cat([D(chunk) for chunk in points.split(grid_chunk or len(z))])
        name = loss if isinstance(loss, str) else "nonsaturating"
        d_grid = losses.d_output(name, grid_logits).view(yy.shape)
        arrays = {R.SNAP_FAKES: fake, R.SNAP_ARROWS: push, R.SNAP_FAKE_LOGITS: logits,
                  R.SNAP_GRID_X: gx, R.SNAP_GRID_Y: gy, R.SNAP_D_GRID: d_grid}
        if manifold_z is not None:
            arrays[R.SNAP_MANIFOLD] = _manifold(G, manifold_z)
    return _numpy(arrays), sat_row


def image_snapshot(G, D, z: torch.Tensor) -> tuple[dict, dict]:
    """(snapshot arrays: the fixed-z samples and D's logits on them, saturation row entries)."""
    _eval(G, D)
    if D is None:
        with torch.no_grad():
            return _numpy({R.SNAP_IMAGES: G(z)}), {}
    sat_row, fake, logits = saturation_probe(G, D, z)
    return _numpy({R.SNAP_IMAGES: fake, R.SNAP_FAKE_LOGITS: logits}), sat_row


def _manifold(G, manifold_z: torch.Tensor) -> torch.Tensor:
    q = int(round(len(manifold_z) ** 0.5))
    return G(manifold_z).view(q, q, 2)


def _numpy(arrays: dict) -> dict:
    return {k: v.detach().float().cpu().numpy() for k, v in arrays.items()}

