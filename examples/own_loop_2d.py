"""A plain PyTorch GAN on your own 2D points, recorded with gandiag so that gandiag analyze, animate and
report diagnose it like one of gandiag's own runs.

    python examples/own_loop_2d.py                          # a spiral of points, 3000 steps
    python examples/own_loop_2d.py --points my_points.npy --modes 8 --out runs/mine
    python examples/own_loop_2d.py --steps 6000 --resume    # on from the newest checkpoint, in the same folder
    gandiag analyze runs/own-loop-2d && gandiag report runs/own-loop-2d

The loop checkpoints its players, optimisers, fixed z and random stream every 500 steps and at its last,
so a resumed run trains exactly what one uninterrupted run would.
"""
import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn

import gandiag
from gandiag.record import RunError, os_error


def spiral(n: int = 2000, seed: int = 0) -> np.ndarray:
    """Points along a two-turn spiral, a little noisy: a target with no Gaussian modes."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(0.05, 1, n)) * 4 * np.pi
    return np.c_[t * np.cos(t), t * np.sin(t)] / 6 + 0.03 * rng.standard_normal((n, 2))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--points", help=".npy or .csv file of N x 2 points (default: a spiral)")
    ap.add_argument("--modes", type=int, default=None, help="modes to fit to the points, for mode metrics")
    ap.add_argument("--steps", type=int, default=3000, help="the last step to train (default: 3000)")
    ap.add_argument("--out", default="runs/own-loop-2d", help="the run folder (default: runs/own-loop-2d)")
    ap.add_argument("--resume", action="store_true", help="continue --out from its newest checkpoint up to --steps")
    args = ap.parse_args(argv)
    try:
        train(args)
    except (gandiag.ConfigError, RunError) as e:   # a refused option or folder: one line, as gandiag's CLI says it
        ap.exit(1, f"{ap.prog}: error: {e}\n")
    except OSError as e:   # a folder that cannot be written, a path through a file
        ap.exit(1, f"{ap.prog}: error: {os_error(e)}\n")
    except KeyboardInterrupt:   # the recorder has marked the folder interrupted; its checkpoints are kept
        ap.exit(130, f"{ap.prog}: interrupted: run it again with --resume to go on from {args.out}'s newest "
                     "checkpoint\n")
    print(f"recorded {args.out}: gandiag analyze {args.out}")


def train(args):
    if args.steps < 0:
        raise RunError(f"--steps {args.steps} trains nothing: give the last step to train, 0 or more")
    if args.resume != Path(args.out, "config.json").is_file():   # the recorder's own refusals speak of its API
        raise RunError(f"{args.out} already holds a run: add --resume to go on from its newest checkpoint, or give "
                       "another --out" if not args.resume else f"{args.out} holds no run yet: run it without --resume")
    points = args.points or spiral()
    target = gandiag.target(points, modes=args.modes)
    data = torch.as_tensor(target.points, dtype=torch.float32)

    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(8, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 2))
    D = nn.Sequential(nn.Linear(2, 128), nn.LeakyReLU(0.2), nn.Linear(128, 1))   # one logit per sample
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    z_fixed = torch.randn(512, 8)

    players = {"G": G, "D": D, "opt_g": opt_g, "opt_d": opt_d}
    if args.resume:   # the newest checkpoint, and the recorder on from its step (later rows are trained again)
        steps = gandiag.load_run(args.out).checkpoint_steps()
        if not steps:
            raise RunError(f"{args.out} holds no checkpoint yet: run it again without --resume into another --out")
        if args.steps < steps[-1]:
            raise RunError(f"--steps {args.steps} is before {args.out}'s newest checkpoint (step {steps[-1]}): "
                           f"give --steps {steps[-1]} or more")
        # before the checkpoint is read: refuses another target, or a folder of gandiag's trainer
        recorder = gandiag.Recorder.resume(args.out, steps[-1], target=target)
        state = torch.load(f"{args.out}/checkpoints/step_{steps[-1]:08d}.pt")
        for name, player in players.items():
            player.load_state_dict(state[name])
        z_fixed, start = state["z_fixed"], state["step"] + 1
        torch.set_rng_state(state["rng"])
    else:
        start = 0
        recorder = gandiag.Recorder(args.out, target=target, config={"lr": 1e-3, "note": "examples/own_loop_2d.py"})

    with recorder as rec:
        for step in range(start, args.steps + 1):
            real = data[torch.randint(len(data), (256,))]
            fake = G(torch.randn(256, 8))
            d_loss = bce(D(real), torch.ones(256, 1)) + bce(D(fake.detach()), torch.zeros(256, 1))
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            g_loss = bce(D(fake), torch.ones(256, 1))
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
            if step % 50 == 0:
                rec.log(step, d_loss=d_loss, g_loss=g_loss)
            if step % 250 == 0:
                rec.snapshot(step, generator=G, discriminator=D, z=z_fixed)
            if step % 500 == 0 or step == args.steps:
                rec.checkpoint(step, {"step": step, "z_fixed": z_fixed, "rng": torch.get_rng_state(),
                                      **{name: player.state_dict() for name, player in players.items()}})


if __name__ == "__main__":
    main()
