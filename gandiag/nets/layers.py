"""Layers the stabilizers put into the players: minibatch discrimination, virtual batch norm, dropout.

Each is an ordinary nn.Module, so unrolling (torch.func.functional_call) and checkpoints see their
parameters and buffers like any other layer's.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

#: rows of the (kernels, rows, N) distance block computed at once: bounds memory when D scores a big grid
_MBD_CHUNK_ELEMENTS = 1 << 24


class _PairwiseL1(torch.autograd.Function):
    """L1 distances between the rows of a (K, P, C) and b (K, Q, C), per leading index: (K, P, Q).

    torch.cdist(p=1) has no double backward, which unrolling through minibatch discrimination needs;
    this backward is written with differentiable ops, so autograd can differentiate it again.
    """

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor) -> Tensor:
        ctx.save_for_backward(a, b)
        return torch.cdist(a, b, p=1)

    @staticmethod
    def backward(ctx, grad: Tensor):
        a, b = ctx.saved_tensors
        grad_a, grad_b = [], []
        for c in range(a.shape[-1]):  # one coordinate at a time keeps memory at K * P * Q
            weighted = grad * torch.sign(a[..., :, None, c] - b[..., None, :, c])
            grad_a.append(weighted.sum(-1))
            grad_b.append(-weighted.sum(-2))
        return torch.stack(grad_a, -1), torch.stack(grad_b, -1)


#: elements of the (kernels, C, rows, N) sign block _SelfSimilarity's backward computes at once (4 MB in
#: float32: L2-sized blocks measured 4 times faster than torch.cdist's own backward, larger ones slower)
_SIGN_CHUNK_ELEMENTS = 1 << 20


def _rows(mT: Tensor) -> int:
    K, C, N = mT.shape
    return max(1, _SIGN_CHUNK_ELEMENTS // (K * C * N))


def _blocks(mT: Tensor):
    """(i, r, the differences m_i' - m_j (K, C, r, N) for rows i' = i .. i + r - 1) of mT (K, C, N), in
    cache-sized blocks. Each block is written into contiguous memory of its own, reused: left to choose,
    a broadcast result's layout follows its inputs' strides, and those passes measured 10 to 30 times slower."""
    K, C, N = mT.shape
    rows = _rows(mT)
    memory = mT.new_empty(K * C * min(rows, N) * N)
    for i in range(0, N, rows):
        r = len(range(i, min(i + rows, N)))
        out = memory[:K * C * r * N].view(K, C, r, N)
        yield i, r, torch.sub(mT[:, :, i:i + rows, None], mT[:, :, None, :], out=out)


class _SelfSimilarity(torch.autograd.Function):
    """o_i = sum_j exp(-||m_i - m_j||_1) per kernel, (K, N) for m (K, N, C), for a once-differentiated
    loss: what minibatch_features computes with _PairwiseL1, exp and a sum, in fewer full-size passes.
    The distances are symmetric, so the gradient is sum_j w_ij sign(m_i - m_j) with
    w_ij = -exp(-d_ij) (g_i + g_j): row sums only, computed coordinate by coordinate in cache-sized
    blocks of rows (no column sums, no (K, N, N) weight tensor)."""

    @staticmethod
    def forward(ctx, m: Tensor) -> Tensor:
        mT = m.transpose(1, 2).contiguous()   # (K, C, N)
        K, _, N = mT.shape
        similarity = m.new_empty(K, N, N)   # what the reference's autograd keeps too (its exp's output)
        for i, r, block in _blocks(mT):
            similarity[:, i:i + r] = block.abs_().sum(1)   # the L1 distances of rows i..i + r - 1
        similarity.neg_().exp_()
        ctx.save_for_backward(mT, similarity)
        return similarity.sum(-1)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):
        mT, similarity = ctx.saved_tensors
        K, _, N = mT.shape
        weights, sums = mT.new_empty(K * min(_rows(mT), N) * N), []
        for i, r, block in _blocks(mT):
            w = torch.add(grad[:, i:i + r, None], grad[:, None, :], out=weights[:K * r * N].view(K, r, N))
            w.mul_(similarity[:, i:i + r]).neg_()
            sums.append(block.sign_().mul_(w.unsqueeze(1)).sum(-1))
        return torch.cat(sums, 2).transpose(1, 2)


class MinibatchDiscrimination(nn.Module):
    """Salimans et al. 2016: lets D compare each sample with the rest of its batch.

    M_i = f(x_i) T with T of shape (A, B, C); c_b(i, j) = exp(-||M_i,b - M_j,b||_1);
    o(x_i)_b = sum over j != i of c_b(i, j); the output is [f(x_i), o(x_i)] (width A + B).
    A batch of identical samples gives o = N - 1 in every kernel, the most similar a batch can be.
    """

    def __init__(self, in_features: int, kernels: int, dim: int, init_std: float = 0.05):
        super().__init__()
        self.kernels, self.dim = kernels, dim
        self.T = nn.Parameter(torch.randn(in_features, kernels * dim) * init_std)

    @property
    def out_features(self) -> int:
        return self.T.shape[0] + self.kernels

    def forward(self, f: Tensor) -> Tensor:
        return minibatch_features(f, self.T, self.kernels, self.dim)


def minibatch_features(f: Tensor, T: Tensor, kernels: int, dim: int, twice_differentiable: bool = True) -> Tensor:
    """MinibatchDiscrimination's output [f, o(f)] for features f (N, A) and its tensor T (A, kernels * dim).
    twice_differentiable=False: a backward with no backward of its own (_SelfSimilarity), several times
    faster at batch 512 with 100 kernels of 5 (benchmarks/bench_presets.py)."""
    n = f.shape[0]
    m = (f @ T).view(n, kernels, dim).transpose(0, 1)  # (B, N, C)
    rows = max(1, _MBD_CHUNK_ELEMENTS // max(1, kernels * n))
    # exp(-0) = 1 is each sample's similarity to itself: subtracting it leaves the sum over j != i
    if twice_differentiable:
        o = torch.cat([torch.exp(-_PairwiseL1.apply(m[:, i:i + rows], m)).sum(-1) - 1.0
                       for i in range(0, n, rows)], dim=1)
    else:
        o = _SelfSimilarity.apply(m) - 1.0
    return torch.cat([f, o.transpose(0, 1)], dim=1)


class VirtualBatchNorm(nn.Module):
    """Salimans et al. 2016: each sample is normalised with the statistics of a fixed reference batch
    plus itself, so D's output on a sample does not depend on the rest of its batch.

    The owning network passes [reference rows; batch rows] through its layers (see Discriminator);
    the first `reference_size` rows are normalised with the reference statistics alone.
    """

    def __init__(self, width: int, reference_size: int, eps: float = 1e-5):
        super().__init__()
        self.reference_size, self.eps = reference_size, eps
        self.weight = nn.Parameter(torch.ones(width))
        self.bias = nn.Parameter(torch.zeros(width))

    def forward(self, h: Tensor) -> Tensor:
        return virtual_batch_norm(h, self.reference_size, self.weight, self.bias, self.eps)


def virtual_batch_norm(h: Tensor, reference_size: int, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
    """VirtualBatchNorm's output for h = [reference rows; batch rows] and its parameters."""
    ref, x = h[:reference_size], h[reference_size:]
    mean_ref, var_ref = ref.mean(0), ref.var(0, unbiased=False)
    # moments of the reference batch with x added at weight w = 1 / (R + 1), in a form that is never < 0
    w = 1.0 / (reference_size + 1)
    mean = mean_ref + w * (x - mean_ref)
    var = (1 - w) * var_ref + w * (1 - w) * (x - mean_ref) ** 2
    normed = torch.cat([(ref - mean_ref) / torch.sqrt(var_ref + eps), (x - mean) / torch.sqrt(var + eps)])
    return normed * weight + bias


class AlwaysDropout(nn.Module):
    """Dropout that stays on at test time (ganhacks) and draws its masks from a known generator.

    In train mode the masks come from `generator` (the run's training stream, set by the trainer);
    in eval mode from a generator reseeded at every call, so probes see the same masks for the same
    fixed z and never consume a random number of the training stream.
    """

    EVAL_SEED = 0

    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self.generator: torch.Generator | None = None

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            gen = self.generator
        else:
            gen = torch.Generator(device=x.device).manual_seed(self.EVAL_SEED)
        keep = torch.rand(x.shape, generator=gen, device=x.device, dtype=x.dtype) >= self.p
        return x * keep / (1.0 - self.p) if self.p < 1 else x * keep


def use_generator(module: nn.Module, gen: torch.Generator) -> None:
    """Make every AlwaysDropout in `module` draw its training masks from `gen`."""
    for m in module.modules():
        if isinstance(m, AlwaysDropout):
            m.generator = gen
