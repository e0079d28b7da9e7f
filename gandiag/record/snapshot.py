"""What a snapshot computes from the players: fakes, D on a grid, the arrows of G's loss, the manifold,
and the saturation probe.

D is scored as G trains against it: in train mode on the batch of fakes, so a batch-norm layer
normalises the fakes with their own statistics (eval mode would use running statistics that mix real
and fake batches: a D no G step ever meets) and spectral norm takes its power iteration. G is sampled
in eval mode (its running statistics come from its own batches only): the generator a user keeps,
independent of the batch (docs/analyzer.md, "Batch norm").

Recording must not change training: every buffer a train-mode forward writes (running statistics, the
power iteration's vectors) and every random generator a layer holds are put back, every module's mode
too, and gradients come from torch.autograd.grad (no .grad is written, no optimiser stepped).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable

import torch
from torch import nn

from .. import losses
from . import keys as R
from .errors import RunError


def _module(player):
    """The nn.Module behind a player (a Recorder wraps D into a logits function that keeps it)."""
    module = getattr(player, "module", player)
    return module if isinstance(module, nn.Module) else None


@contextmanager
def eval_mode(*players):
    modules = [m for m in map(_module, players) if m is not None]
    modes = [(sub, sub.training) for m in modules for sub in m.modules()]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for sub, was in modes:
            sub.training = was


@contextmanager
def as_trained(*players):
    """The players in train mode, as the training step runs them, with no trace left: every buffer, every
    random generator a layer holds (a dropout of one's own, say) and every submodule's mode are put back."""
    modules = [m for m in map(_module, players) if m is not None]
    buffers = [(b, b.detach().clone()) for m in modules for b in m.buffers()]
    generators = [(g, g.get_state()) for m in modules for sub in m.modules()
                  for g in vars(sub).values() if isinstance(g, torch.Generator)]
    modes = [(sub, sub.training) for m in modules for sub in m.modules()]
    for m in modules:
        m.train()
    try:
        yield
    finally:
        with torch.no_grad():
            for b, value in buffers:
                b.copy_(value)
        for g, saved in generators:
            g.set_state(saved)
        for sub, was in modes:
            sub.training = was


@contextmanager
def frozen_batch_statistics(D, batch: torch.Tensor):
    """Inside as_trained: D's batch-norm layers normalise any input with the statistics of `batch` (D's
    fakes), as they do for those fakes in G's step; for scoring points that are not a batch of fakes
    (the heatmap grid). The running statistics it overwrites are restored by as_trained."""
    module = _module(D)
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)] if module else []
    if not norms:
        yield
        return
    seen = {}

    def keep(layer, args):
        x = args[0].detach()
        dims = [d for d in range(x.dim()) if d != 1]
        seen[layer] = (x.mean(dims), x.var(dims, unbiased=False))

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


@torch.no_grad()
def fakes_of(G, z: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """G(z) in eval mode, in chunks, as float32 on the CPU."""
    with eval_mode(G):
        return torch.cat([_samples(G, z[i:i + chunk]).float().cpu() for i in range(0, len(z), chunk)])


def _samples(G, z: torch.Tensor) -> torch.Tensor:
    """G(z), refused in one line unless it is one sample per row of z (a G returning more than its samples
    is wrapped by the caller)."""
    out = G(z)
    if not isinstance(out, torch.Tensor) or out.dim() < 2 or len(out) != len(z):
        raise RunError(f"G(z) gave {described(out)} for {len(z)} z: the recorder needs one sample per row "
                       "(a tensor of shape (N, 2), or (N, C, H, W) for images); pass generator=lambda z: "
                       "G(z)[0] where G returns more")
    return out


def described(out) -> str:
    return f"a tensor of shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else f"a {type(out).__name__}"


def _g_loss(loss) -> Callable[[torch.Tensor], torch.Tensor]:
    return loss if callable(loss) else (lambda logits: losses.g_loss(loss, logits))


@contextmanager
def autograd_on():
    """Gradients on for the probe whatever the caller's mode (evaluation code often sits under
    torch.no_grad() or torch.inference_mode()); the caller's mode is back after the block."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


def _params_grad_norm(loss, params) -> float:
    grads = torch.autograd.grad(loss, params)
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))


def measure_saturation(G, D, z: torch.Tensor) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """The saturation probe on fixed z: (row entries, G's eval-mode fakes, D's train-mode logits on them).

    With a = D's logit on a fake, d/da log(1 - sigmoid(a)) = -D(G(z)) (vanishes as D(G(z)) -> 0) and
    d/da -log sigmoid(a) = -(1 - D(G(z))); G's gradient norm under both tells how much signal G gets.
    Each loss is differentiated through its own forward pass: a compiled player's backward may donate its
    saved buffers (torch's default), and then refuses to run twice over one graph (retain_graph)."""
    module = _module(G)
    params = [q for q in module.parameters() if q.requires_grad] if module is not None else []
    with eval_mode(G), as_trained(D), autograd_on():
        z = z.clone() if z.is_inference() else z   # autograd cannot save a tensor made under inference mode
        fake = _samples(G, z)
        logits = D(fake)
        prob = torch.sigmoid(logits.detach())
        row = {R.SAT_SHARE: float((prob < R.SATURATED_BELOW).float().mean()),
               R.SAT_DLOGIT_MINIMAX: float(prob.mean()),
               R.SAT_DLOGIT_NONSAT: float((1 - prob).mean())}
        if params:
            row[R.SAT_GNORM_MINIMAX] = _params_grad_norm(losses.g_loss("minimax", logits), params)
            again = D(_samples(G, z))
            row[R.SAT_GNORM_NONSAT] = _params_grad_norm(losses.g_loss("nonsaturating", again), params)
    return row, fake.detach(), logits.detach()


def toy_snapshot(G, D, z: torch.Tensor, *, loss, window, grid_res: int, manifold_z: torch.Tensor | None,
                 grid_chunk: int | None = None) -> tuple[dict, dict]:
    """(snapshot arrays, row entries) for a 2D target: G's eval-mode fakes, and D as G's step sees it
    scoring them, pushing them (the arrows) and over the grid (with the fakes' batch statistics).
    Without D: the fakes (and the manifold) only."""
    arrays, sat_row = {}, {}
    if D is None:
        arrays[R.SNAP_FAKES] = fakes_of(G, z)
    else:
        sat_row, fake, logits = measure_saturation(G, D, z)
        with as_trained(D), autograd_on():
            x = fake.clone().requires_grad_(True)
            # -dL_G/dx per sample (sum, not mean, so the arrow length does not shrink with the batch size)
            (push,) = torch.autograd.grad(-_g_loss(loss)(D(x)) * len(x), x)
            xmin, xmax, ymin, ymax = window
            # in the players' dtype and on their device: a float64 D refuses a float32 grid
            gx = torch.linspace(xmin, xmax, grid_res, device=fake.device, dtype=fake.dtype)
            gy = torch.linspace(ymin, ymax, grid_res, device=fake.device, dtype=fake.dtype)
            yy, xx = torch.meshgrid(gy, gx, indexing="ij")  # row i <-> y = gy[i], column j <-> x = gx[j]
            with frozen_batch_statistics(D, fake), torch.no_grad():
                # D scores the grid in batches of the training batch size: with minibatch discrimination a
                # score depends on the batch, and only batches of that size show what D learnt
                points = torch.stack([xx.ravel(), yy.ravel()], 1)
                grid_logits = torch.cat([D(chunk) for chunk in points.split(grid_chunk or len(z))])
                d_grid = losses.d_output(loss if isinstance(loss, str) else "nonsaturating", grid_logits).view(yy.shape)
        arrays = {R.SNAP_FAKES: fake, R.SNAP_ARROWS: push, R.SNAP_FAKE_LOGITS: logits,
                  R.SNAP_GRID_X: gx, R.SNAP_GRID_Y: gy, R.SNAP_D_GRID: d_grid}
    if manifold_z is not None:
        q = int(round(len(manifold_z) ** 0.5))
        arrays[R.SNAP_MANIFOLD] = fakes_of(G, manifold_z).view(q, q, 2)
    return _numpy(arrays), sat_row


def image_snapshot(G, D, z: torch.Tensor) -> tuple[dict, dict]:
    """(snapshot arrays: the fixed-z samples and D's logits on them, saturation row entries)."""
    if D is None:
        return _numpy({R.SNAP_IMAGES: fakes_of(G, z)}), {}
    sat_row, fake, logits = measure_saturation(G, D, z)
    return _numpy({R.SNAP_IMAGES: fake, R.SNAP_FAKE_LOGITS: logits}), sat_row


def _numpy(arrays: dict) -> dict:
    return {k: v.detach().float().cpu().numpy() for k, v in arrays.items()}
