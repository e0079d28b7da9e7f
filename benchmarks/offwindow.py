#!/usr/bin/env python3
"""How many fixed-z fakes each snapshot of a toy run puts outside the plot window, and how far they go:
the measurement behind marking off-window fakes on the window's edge (docs/pictures.md).

    python benchmarks/offwindow.py RUN [--every N]

Prints per snapshot: the step, the share of the fakes outside the window, and the largest |x| or |y|
of a fake (the window is square and fixed, RUN's Mixture.window()).
"""
import argparse

import numpy as np

from gandiag import record as R
from gandiag.viz.panels import off_window


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--every", type=int, default=1, help="print every Nth snapshot")
    args = ap.parse_args()
    reader = R.RunReader(args.run)
    window = reader.mixture().window()
    print(f"window {window[0]:.2f} .. {window[1]:.2f} on both axes")
    print(f"{'step':>7} {'outside':>8} {'max |coordinate|':>17}")
    shares = []
    for step in reader.snapshot_steps()[:: args.every]:
        fakes = reader.snapshot(step)[R.SNAP_FAKES]
        outside, _ = off_window(fakes, window)
        shares.append(outside.mean())
        print(f"{step:>7} {100 * outside.mean():>7.1f}% {np.nanmax(np.abs(fakes)):>17.2f}")
    print(f"snapshots with any fake outside: {sum(s > 0 for s in shares)} of {len(shares)}; "
          f"with most outside: {sum(s > 0.5 for s in shares)}")


if __name__ == "__main__":
    main()
