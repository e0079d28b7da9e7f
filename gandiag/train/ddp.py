"""Data-parallel training over torchrun's processes: one run folder, rank 0 writes.

`torchrun --nproc-per-node N -m gandiag run ...` starts N copies of the command; each finds its place
in the variables torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK). Every rank builds the same players from
the config's seed, then draws its own batches from its own random stream (rank 0 keeps the seed's, so
one process trains exactly as a plain run), so N ranks train on N batches of `batch` at once. Before
every optimiser step the gradients are averaged over the ranks in one all-reduce, which keeps the
players identical everywhere. Rank 0 runs the usual loop (metrics, snapshots, checkpoints, progress);
the others only train, with their stdout silenced. Backend: NCCL on CUDA, gloo on CPU.

Batch-norm running statistics stay per rank (they are not gradients); the recorded ones are rank 0's.
"""
from __future__ import annotations

import contextlib
import os
from typing import Iterator

import torch
import torch.distributed as dist

#: rank r > 0 trains from seed + r * RANK_SEED_STRIDE, far from the seeds of the run's fixed batches
RANK_SEED_STRIDE = 7_919_000_003


def active() -> bool:
    """Whether this process is one of several that torchrun started."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    """Rank 0, the one that writes (true outside torchrun)."""
    return rank() == 0


@contextlib.contextmanager
def process_group(device: torch.device) -> Iterator[torch.device]:
    """Join torchrun's process group for the block (nothing outside torchrun); yields this rank's device."""
    if not active():
        yield device
        return
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        with open(os.devnull, "w") as quiet, \
                contextlib.redirect_stdout(quiet) if rank() else contextlib.nullcontext():
            yield device
    finally:
        dist.destroy_process_group()


def from_main(value):
    """Rank 0's `value` on every rank (a run folder name that holds the time, say)."""
    if not active():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


@contextlib.contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the block before the others (it may train and cache the classifier they then load)."""
    if active() and rank():
        dist.barrier()
    yield
    if active() and not rank():
        dist.barrier()


def join(players, gen: torch.Generator, seed: int) -> None:
    """Give this rank its own training stream and average both players' gradients before each step."""
    if not active():
        return
    gen.manual_seed(seed + rank() * RANK_SEED_STRIDE)
    for opt in (players.opt_g, players.opt_d):
        opt.register_step_pre_hook(_average_gradients)


def _average_gradients(opt: torch.optim.Optimizer, args, kwargs) -> None:
    grads = [q.grad for group in opt.param_groups for q in group["params"] if q.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    for g, avg in zip(grads, flat.split([g.numel() for g in grads])):
        g.copy_(avg.view_as(g))


def describe() -> dict:
    """config.json's `ddp` entry: the processes behind the run (empty outside torchrun)."""
    if not active():
        return {}
    return {"ddp": {"world_size": dist.get_world_size(), "backend": dist.get_backend()}}
