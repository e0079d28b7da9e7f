"""A tiny ring8 configuration and session for the stabilizer tests (milliseconds per step)."""
import torch

from gandiag.config import make_config
from gandiag.engine.reference import train_step
from gandiag.train.session import Session

TINY = {"data": "ring", "modes": 8, "radius": 2.0, "std": 0.02, "z_dim": 4, "g_hidden": (16,),
        "d_hidden": (16,), "batch": 32, "steps": 10, "eval_samples": 64, "snapshot_samples": 16,
        "grid_res": 4, "d_lr": 1e-3, "g_lr": 1e-3, "seed": 3}


def tiny_config(**overrides):
    return make_config(TINY, **overrides)


def tiny_session(**overrides) -> Session:
    return Session.for_config(tiny_config(**overrides), "cpu")


def run_steps(s: Session, first: int, last: int) -> dict:
    """Iterations first..last (1-based, inclusive); the last one's statistics."""
    for step in range(first, last + 1):
        stats = train_step(s.players, s.stabilizers, s.cfg, s.sample_real, s.sample_z, s.gen, step)
    return stats


def scores_depend_on_batch(D) -> bool:
    """Whether D's score of one 2D sample changes with the other samples of its batch."""
    torch.manual_seed(0)
    x, others = torch.randn(1, 2), torch.randn(2, 5, 2)
    first, second = (D(torch.cat([x, o]))[0] for o in others)
    return not torch.allclose(first, second)
