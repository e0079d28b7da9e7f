"""The suite's tiny settings, in one place: a toy ring GAN and an image GAN small enough for milliseconds
per step, as a Config for the library and as the same settings' flags for the CLI. A test names only what
it changes (`toy_config(unrolled=2)`, `flags(RUN, steps=8)`)."""
import torch

from gandiag.config import make_config
from gandiag.engine.reference import train_step
from gandiag.train.session import Session

#: a ring8 GAN (8 Gaussians on a radius-2 circle) of milliseconds per step, for the library's tests
TOY = {"data": "ring", "modes": 8, "radius": 2.0, "std": 0.02, "z_dim": 4, "g_hidden": (16,), "d_hidden": (16,),
       "batch": 32, "steps": 10, "eval_samples": 64, "snapshot_samples": 16, "grid_res": 4, "d_lr": 1e-3,
       "g_lr": 1e-3, "seed": 3}
#: the same size with G of two hidden layers and z of 8: the fast engine's stacked G path is exercised
TOY_DEEP_G = {**TOY, "z_dim": 8, "g_hidden": (16, 16)}
#: deeper players in small, for the generic fast path (a D of two hidden layers is not closed form)
TOY_DEEP = {**TOY, "g_hidden": (12, 12), "d_hidden": (10, 10), "batch": 16}
#: a whole run of a ring8 scenario on the CLI: rows every 5 steps, snapshots every 20, checkpoints every 10
RUN = {"steps": 60, "batch": 32, "z_dim": 8, "g_hidden": (16, 16), "d_hidden": (16,), "checkpoint_every": 10,
       "log_every": 5, "snapshot_every": 20, "eval_samples": 200, "snapshot_samples": 32, "grid_res": 8,
       "device": "cpu"}
#: an MNIST or Stacked MNIST GAN of a few channels, for the image tests (the digits come from mnist_cache)
IMAGE = {"steps": 4, "log_every": 2, "snapshot_every": 2, "checkpoint_every": 2, "eval_samples": 60,
         "snapshot_samples": 8, "batch": 16, "g_width": 4, "d_width": 4, "z_dim": 8, "device": "cpu"}
#: a reproduce protocol's cells in the tests: tiny players and frequent records, under a second a cell
CELL_TOY = {"g_hidden": (16,), "d_hidden": (8,), "z_dim": 4, "batch": 16, "eval_samples": 100,
            "snapshot_samples": 32, "grid_res": 4, "log_every": 2, "snapshot_every": 2, "checkpoint_every": 2,
            "device": "cpu"}
CELL_IMAGE = {"g_width": 2, "d_width": 2, "z_dim": 8, "batch": 8, "eval_samples": 64, "snapshot_samples": 8,
              "threads": 1, "log_every": 2, "snapshot_every": 2, "checkpoint_every": 2, "device": "cpu"}
#: the fuzz tests' runs: 2 steps of the smallest players
FUZZ_RUN = {"steps": 2, "batch": 16, "z_dim": 4, "g_hidden": (8,), "d_hidden": (8,), "eval_samples": 32,
            "snapshot_samples": 16, "grid_res": 4}
#: what a CLI run of a test never needs: the GIF at the end and the progress display
QUIET = ("--no-animate", "--quiet")


def toy_config(**overrides):
    return make_config(TOY, **overrides)


def toy_session(**overrides) -> Session:
    return Session.for_config(toy_config(**overrides), "cpu")


def flags(settings: dict, *extra, **overrides) -> list[str]:
    """The CLI flags that set `settings` (updated by `overrides`), then `extra` as given: a test's run
    with the CLI is the same run as `make_config(settings)`."""
    out = []
    for key, value in {**settings, **overrides}.items():
        text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
        out += [f"--{key.replace('_', '-')}", text]
    return out + [str(e) for e in extra]


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


def in_dtype(sessions: list[Session], dtype: torch.dtype) -> list[Session]:
    """The sessions with both players' parameters in `dtype` (their draws are cast where they are read)."""
    for s in sessions:
        s.players.G.to(dtype)
        s.players.D.to(dtype)
    return sessions
