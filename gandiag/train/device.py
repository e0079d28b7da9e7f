"""How a run uses its device: config `precision`, `channels_last`, `compile` and `threads`.

`prepare` is applied once to each player, on its device, before its optimiser is built. Nothing it does
renames a parameter or buffer, so checkpoints, resume and the unrolled D (torch.func.functional_call)
see the same modules as without it:
- bf16: the module's forward (and an AC-GAN D's class head) runs under torch.autocast and hands back
  float32, so losses, penalties and metrics keep computing in float32; backward runs outside autocast,
  as PyTorch recommends. bf16 has float32's exponent range, so no gradient scaling is needed.
- channels_last: the conv weights, and the image batches D sees (`batch_format`), are NHWC in memory,
  the layout cuDNN's and oneDNN's fast conv kernels work in.
- compile: nn.Module.compile compiles the module's call in place (torch.compile would wrap it in a new
  module whose state_dict keys carry an `_orig_mod.` prefix), with torch's own settings: no config flag
  of torch is changed (the saturation probe differentiates each graph once, as a compiled backward that
  donates its buffers requires). On the fast engine (toy runs) the modules only record; the engine
  compiles its unrolled D instead (gandiag.engine.fused).

`threads` (docs/threads.md) is the one process-wide setting a run changes, because the config asks
for it: torch's intra-op thread count, set while the run trains and put back after.
"""
from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ..config import IMAGE_DATA

#: the toy scenarios' threads under threads = 0 (auto): their matrix products are small, and with more
#: threads on a shared machine they spend their time waiting on each other (benchmarks/bench_threads.py)
TOY_THREADS = 1

#: the methods of a player that compute from its inputs (class_logits: an AC-GAN D's class head)
_FORWARDS = ("forward", "class_logits")


def batch_format(cfg) -> torch.memory_format:
    """The memory format of the real batches a run draws."""
    return torch.channels_last if cfg.channels_last else torch.contiguous_format


def prepare(net: nn.Module, cfg, choice) -> nn.Module:
    """`net` (already on its device) set up as the config asks, for the engine `choice` names; compile
    comes last so it traces the others."""
    device = next(net.parameters()).device
    if cfg.channels_last:
        net.to(memory_format=torch.channels_last)
    if cfg.precision == "bf16":
        for name in _FORWARDS:
            if callable(getattr(net, name, None)):
                # an instance attribute, so nn.Module.__call__ and functional_call both find it
                setattr(net, name, _in_bf16(getattr(net, name), device.type))
    if cfg.compile and choice.name == "reference":
        net.compile()
    return net


def compiles(cfg, choice) -> bool:
    """Whether a run of cfg compiles anything: its players on the reference engine, the unrolled D on the
    fast one (a vanilla run on the fast engine has nothing to compile)."""
    return cfg.compile and (choice.name == "reference" or cfg.unrolled > 0)


def _in_bf16(method, device_type: str):
    @functools.wraps(method)
    def in_bf16(*args, **kwargs):
        with torch.autocast(device_type, dtype=torch.bfloat16):
            out = method(*args, **kwargs)
        return out.float()
    return in_bf16


def run_threads(cfg) -> int:
    """The intra-op threads a run of cfg trains with; 0: torch's count, left as it is."""
    return cfg.threads or (0 if cfg.data in IMAGE_DATA else TOY_THREADS)


@contextmanager
def threads(cfg) -> Iterator[None]:
    """torch's intra-op thread count as config `threads` asks, inside; as it was before, after."""
    before = torch.get_num_threads()
    torch.set_num_threads(run_threads(cfg) or before)
    try:
        yield
    finally:
        torch.set_num_threads(before)
