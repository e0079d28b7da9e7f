"""Matrix products for the fast paths: oneDNN's float32 GEMM on the CPU where it is the faster.

torch's CPU matmul calls MKL, whose float32 GEMM runs its AVX2 kernels on AMD processors: on the
toy players' shapes (100 to 1024 rows, 128 to 1000 wide) it measured about 50 GFLOP/s on one core of
an AMD EPYC with AVX-512 (Zen 4), where oneDNN's (the kernel torch's inductor calls for linear layers)
measured 100 to 135, with any of the operands transposed. The toy presets' iterations are mostly these
products, so that is most of the fast engine's speed-up over the reference step there. On a Zen 3 EPYC
(AVX2 only) MKL measured 71 to 82 GFLOP/s and oneDNN 1.1 to 1.6 times slower, so the products take
oneDNN only where torch's CPU kernels have AVX-512 (ONEDNN_PRODUCTS, decided once).

`bmm` is the closed form's stacked product; `matmul` and `linear`, the generic path's. The latter two
are differentiable any number of times: the backward of a product is two products of
this module, so autograd can differentiate it again (the unrolled D's second-order gradient), and
every product of the backward passes picks its kernel here too. Where oneDNN does not apply (another
dtype or device, a CPU without AVX-512, or a product with a side under MIN_SIDE, where it measured
slower) they are torch's mm / addmm, so a float64 run computes what the reference computes to rounding.
"""
from __future__ import annotations

import torch
from torch import Tensor

#: the smallest M, K and N a product goes to oneDNN with (a D's 2-wide input layer stays on torch's mm)
MIN_SIDE = 16

#: oneDNN's linear, (input, weight, bias, post-op, its scalars, its algorithm) -> post-op(input @ weight^T
#: + bias); None where torch has no oneDNN
DNN_LINEAR = getattr(torch.ops.mkldnn, "_linear_pointwise", None) if torch.backends.mkldnn.is_available() else None
#: oneDNN's linear with a binary post-op, (input, other, weight, bias, op) -> op(input @ weight^T + bias, other)
DNN_LINEAR_BINARY = None if DNN_LINEAR is None else DNN_LINEAR.binary


def _onednn_is_faster() -> bool:
    """Whether float32 products are faster on oneDNN than on torch's mm here, from torch's CPU capability
    (which ATEN_CPU_CAPABILITY can lower). With AVX-512 (a Zen 4 EPYC) oneDNN measured about twice MKL's
    speed, MKL running its AVX2 kernels on AMD processors; with AVX2 only (a Zen 3 EPYC) MKL measured 1.1
    to 1.6 times faster than oneDNN on the same shapes and layouts, and torch's mm then tanh faster than
    oneDNN's product with a tanh post-op."""
    return DNN_LINEAR is not None and torch.backends.cpu.get_cpu_capability().startswith("AVX512")


#: whether float32 CPU products take oneDNN: decided once, at import, so a stacked pass, its seeds alone
#: and its resume in the same process multiply on one kernel (the tests set it both ways)
ONEDNN_PRODUCTS = _onednn_is_faster()

#: the kernels a product can take (_kernel)
ONEDNN, OUTER, TALL, TORCH = "oneDNN", "outer", "tall", "torch"


def _kernel(like: Tensor, m: int, k: int, n: int) -> str:
    """The kernel of an (m, k) @ (k, n) product of `like`'s dtype and device."""
    if _dnn_dtype(like) and min(m, k, n) >= MIN_SIDE:
        return ONEDNN
    if k == 1:
        return OUTER
    return TALL if n < MIN_SIDE <= m else TORCH


def _dnn_dtype(like: Tensor) -> bool:
    """Whether oneDNN computes products of `like`'s dtype and device: float32 on the CPU, where it is the
    faster kernel."""
    return ONEDNN_PRODUCTS and like.dtype is torch.float32 and like.is_cpu


def _product(a: Tensor, b: Tensor, bias: Tensor | None = None, kernel: str | None = None) -> Tensor:
    """a @ b (+ bias), on `kernel` (else _kernel's choice)."""
    kernel = kernel or _kernel(a, a.shape[0], a.shape[1], b.shape[1])
    if kernel is ONEDNN:
        return DNN_LINEAR(a, b.T, bias, "none", [], "")   # oneDNN's linear: input @ weight^T (+ bias)
    if kernel is OUTER:
        # the backward of D's one-logit head: elementwise, where MKL's GEMM with one inner term measured
        # several times slower; each entry is the same single product
        return a * b if bias is None else torch.addcmul(bias, a, b)
    if kernel is TALL:
        # MKL is slow on a tall product with few columns (G's 2-wide output, a D's packed input layer's
        # gradient): 4 to 15 times slower, measured, than the transposed product b^T a^T. Made contiguous:
        # Adam's fused kernel reads a gradient's memory as contiguous, whatever its strides
        return (torch.mm(b.T, a.T) if bias is None else torch.addmm(bias.unsqueeze(1), b.T, a.T)).T.contiguous()
    return torch.mm(a, b) if bias is None else torch.addmm(bias, a, b)


class _MatMul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor) -> Tensor:
        ctx.save_for_backward(a, b)
        return _product(a, b)

    @staticmethod
    def backward(ctx, grad: Tensor):
        a, b = ctx.saved_tensors
        return (matmul(grad, b.T) if ctx.needs_input_grad[0] else None,
                matmul(a.T, grad) if ctx.needs_input_grad[1] else None)


class _Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, W: Tensor, b: Tensor) -> Tensor:
        ctx.save_for_backward(x, W)
        return _product(x, W.T, b)

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, W = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (matmul(grad, W) if need[0] else None, matmul(grad.T, x) if need[1] else None,
                grad.sum(0) if need[2] else None)


class _LinearTanh(torch.autograd.Function):
    """tanh(x W^T + b): on a float32 CPU one oneDNN call, the tanh a post-op of the product (torch's
    float32 tanh measured ten times slower than its sigmoid, and as slow as the product beside it)."""

    @staticmethod
    def forward(ctx, x: Tensor, W: Tensor, b: Tensor) -> Tensor:
        y = DNN_LINEAR(x, W, b, "tanh", [], "") if _dnn_dtype(x) else torch.tanh(torch.addmm(b, x, W.T))
        ctx.save_for_backward(x, W, y)
        return y

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, W, y = ctx.saved_tensors
        return _TanhLayerGrad.apply(grad, x, W, y, ctx.needs_input_grad)


class _TanhLayerGrad(torch.autograd.Function):
    """_LinearTanh's backward, one node: the gradients of x, W and b from the gradient at y, those
    `need` (the forward's needs_input_grad) names. Its own backward (the unrolled D's second-order pass)
    is written out: autograd's, through the backward's separate operations, measured 1.2 times slower
    on ring8-veegan --unrolled 5."""

    @staticmethod
    def forward(ctx, grad: Tensor, x: Tensor, W: Tensor, y: Tensor, need: tuple[bool, bool, bool]):
        ctx.set_materialize_grads(False)
        pre = torch.ops.aten.tanh_backward(grad, y)   # grad * (1 - y^2)
        ctx.save_for_backward(grad, x, W, y, pre)
        return (matmul(pre, W) if need[0] else None, matmul(pre.T, x) if need[1] else None,
                pre.sum(0) if need[2] else None)

    @staticmethod
    def backward(ctx, bar_gx, bar_gW, bar_gb):
        grad, x, W, y, pre = ctx.saved_tensors
        if torch.is_grad_enabled():
            pre = torch.ops.aten.tanh_backward(grad, y)   # a saved intermediate has no history to differentiate
        if bar_gx is None and bar_gW is None and bar_gb is None:
            return None, None, None, None, None
        bar_pre = _tangent_of_pre(bar_gx, W, x, bar_gW, bar_gb)
        need = ctx.needs_input_grad
        return (torch.ops.aten.tanh_backward(bar_pre, y) if need[0] else None,
                matmul(pre, bar_gW) if need[1] and bar_gW is not None else None,
                matmul(pre.T, bar_gx) if need[2] and bar_gx is not None else None,
                (y * grad).mul_(bar_pre).mul_(-2) if need[3] else None,   # d(1 - y^2)/dy = -2y
                None)


def _tangent_of_pre(bar_gx: Tensor | None, W: Tensor, x: Tensor, bar_gW: Tensor | None,
                    bar_gb: Tensor | None) -> Tensor:
    """bar_gx W^T + x bar_gW^T + bar_gb, the terms that are not None. Both products and the bias in one
    oneDNN call (the second product's binary-add post-op) where they apply and nothing differentiates the
    sum again (_tracked, as matmul decides): oneDNN's fused call has no derivative, so a third-order pass
    (r1 or wgan-gp on a second-order unrolled D) takes the products of this module."""
    N, n_in, n_out = x.shape[0], x.shape[1], W.shape[0]
    if bar_gx is not None and bar_gW is not None and not _tracked(bar_gx, W, x, bar_gW, bar_gb) \
            and _kernel(x, N, n_in, n_out) is ONEDNN:
        return DNN_LINEAR_BINARY(x, DNN_LINEAR(bar_gx, W, bar_gb, "none", [], ""), bar_gW, None, "add")
    terms = [t for t in (None if bar_gx is None else matmul(bar_gx, W.T),
                         None if bar_gW is None else matmul(x, bar_gW.T), bar_gb) if t is not None]
    return sum(terms[1:], terms[0])


def bmm(a: Tensor, b: Tensor, bias: Tensor | None = None) -> Tensor:
    """a @ b (+ bias (S, n) on every row) for stacked (S, m, k) and (S, k, n). Where oneDNN applies,
    seed by seed: each seed's product is then the same call in a stacked pass as alone (a stacked seed
    trains bit for bit what it trains alone), and the copy into the stack is small beside the product.
    Elsewhere (CUDA, float64, a narrow side) torch's batched product, one call for every seed."""
    S, m, k = a.shape
    if _kernel(a, m, k, b.shape[2]) is ONEDNN:
        each = [_product(a[s], b[s], None if bias is None else bias[s]) for s in range(S)]
        return each[0].unsqueeze(0) if S == 1 else torch.stack(each)
    return torch.bmm(a, b) if bias is None else torch.baddbmm(bias.unsqueeze(1), a, b)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """a @ b for 2-D a, b."""
    kernel = _kernel(a, a.shape[0], a.shape[1], b.shape[1])
    if kernel is TORCH:
        return torch.mm(a, b)   # torch's own node, in C++
    # an autograd node only where something will differentiate it: the last backward pass of a step (where
    # most of these products are) has grad mode off, and a Function's apply costs several microseconds
    return _MatMul.apply(a, b) if _tracked(a, b) else _product(a, b, kernel=kernel)


def _tracked(*tensors: Tensor | None) -> bool:
    """Whether autograd records an operation on these tensors (None: no tensor)."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def linear(x: Tensor, W: Tensor, b: Tensor) -> Tensor:
    """x W^T + b, as nn.Linear computes it. Its own node where a product of its forward takes
    _product's kernel, and where only its weight gradient does: a narrow input layer (a D's 2 or
    2 * pack inputs) on inputs without a gradient (D's own step) has a forward for MKL but a weight
    gradient (out, N) @ (N, in) that is a tall product with few columns, measured 4 times faster
    transposed. Not where the inputs take a gradient too (G's step, the unrolled D): there the own
    node's extra operations in the second-order pass cost more than the product saves (measured:
    ring8-veegan --unrolled 5 0.83 of the reference with torch's node, 0.90 with this one)."""
    (N, n_in), n_out = x.shape, W.shape[0]
    own = _kernel(x, N, n_in, n_out) is not TORCH or \
        (not x.requires_grad and _kernel(x, n_out, N, n_in) is not TORCH)
    return _Linear.apply(x, W, b) if own else torch.addmm(b, x, W.T)


def linear_tanh(x: Tensor, W: Tensor, b: Tensor) -> Tensor:
    """tanh(x W^T + b), as nn.Linear then nn.Tanh compute it, differentiable any number of times."""
    return _LinearTanh.apply(x, W, b)
