"""The floor of an iteration's work: its matrix products and random draws alone, nothing else.

An iteration cannot be faster than the products it multiplies and the draws it makes (the same numbers
from the same generator, so that a seed trains what it trains on the reference engine). `floor_of`
records one iteration's products and draws with the profiler, with their operands' shapes and
strides, and returns a loop that calls only those operations, each on operands of the recorded layout
made beforehand: no elementwise pass, no autograd and no Python between them.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch.profiler import profile

from gandiag.engine.products import DNN_LINEAR, DNN_LINEAR_BINARY   # as the fast path calls them

LINEAR = "mkldnn::_linear_pointwise"   # the profiler's name for both of oneDNN's products
BINARY = LINEAR + ".binary"   # the one with a sum in its epilogue, as PRODUCTS names it
#: profiler op name -> the operation, called with the recorded tensor operands (scalar factors left at 1)
PRODUCTS: dict[str, Callable] = {
    "aten::mm": torch.mm, "aten::addmm": torch.addmm, "aten::bmm": torch.bmm, "aten::baddbmm": torch.baddbmm,
    LINEAR: lambda x, w, b=None: DNN_LINEAR(x, w, b, "none", [], ""),
    # the product with a sum added in its epilogue (products._tangent_of_pre): the profiler names it as the
    # plain one, told apart here by its five arguments (recorded)
    BINARY: lambda x, other, w, b=None: DNN_LINEAR_BINARY(x, other, w, b, "add"),
}
#: in-place draws from a generator: what torch.randn, torch.rand and the samplers call
DRAWS = ("aten::normal_", "aten::uniform_")

Recorded = tuple[str, list[tuple[list[int], list[int]]]]   # (op name, (shape, strides) of each tensor operand)


def _inside_another(event) -> bool:
    """Whether a product or draw runs inside another one: the outer one is timed whole."""
    parent = event.cpu_parent
    while parent is not None:
        if parent.name in PRODUCTS or parent.name in DRAWS:
            return True
        parent = parent.cpu_parent
    return False


def _name(event) -> str:
    """The op's name in PRODUCTS or DRAWS."""
    return BINARY if event.name == LINEAR and len(event.input_shapes) == 5 else event.name


def recorded(iteration: Callable[[], object]) -> list[Recorded]:
    """The products and draws one call of `iteration` makes, in order."""
    with profile(record_shapes=True) as prof:
        iteration()
    return [(_name(e), [(shape, stride) for shape, stride, dtype in
                      zip(e.structured_input_shapes, e.structured_input_strides, e.input_dtypes) if dtype == "float"])
            for e in prof.events() if (e.name in PRODUCTS or e.name in DRAWS) and not _inside_another(e)]


def _operand(shape: list[int], stride: list[int]) -> torch.Tensor:
    """A float32 tensor of this layout (a view of just enough memory)."""
    size = 1 + sum((n - 1) * s for n, s in zip(shape, stride)) if math.prod(shape) else 0
    return torch.randn(size).as_strided(shape, stride)


def floor_of(iteration: Callable[[], object], warmup: int = 3) -> Callable[[], object]:
    """A loop calling only the products and draws of one call of `iteration`, on CPU in float32. It is
    recorded after `warmup` calls, once its buffers and the libraries' caches exist. (An iteration
    trains: the calls advance its run.)"""
    for _ in range(warmup):
        iteration()
    calls = []
    for name, operands in recorded(iteration):
        tensors = [_operand(*o) for o in operands]
        if name in DRAWS:
            draw = torch.empty_like(tensors[0])   # fresh memory, as a new batch is drawn into
            calls.append(draw.normal_ if name == "aten::normal_" else draw.uniform_)
        else:
            calls.append(lambda op=PRODUCTS[name], tensors=tensors: op(*tensors))
    if not calls:
        raise ValueError("the iteration made no matrix product or draw the profiler recorded")
    return lambda: [call() for call in calls]
