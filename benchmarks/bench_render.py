#!/usr/bin/env python3
"""How fast `gandiag animate` renders and how big its GIF is, at default settings.

The budget (issue 5): 100 frames of a ring8 run in at most about 20 s on the 2-core CPU, and a GIF
under 5 MB.

    python benchmarks/bench_render.py           # a synthetic ring8 run shaped like a real one:
                                                # 100 snapshots, 512 fixed-z fakes, a 64 x 64 D grid
    python benchmarks/bench_render.py RUN       # a real run folder, thinned to 100 frames

Prints each stage's wall and CPU time (CPU time is what the machine's other load cannot inflate),
then the end-to-end animate_run call and the GIF's size.
"""
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' synthetic runs

from gandiag.viz import DEFAULT_DPI, DEFAULT_FPS, DEFAULT_SIZE, style  # noqa: E402
from gandiag.viz.animate import Timeline, animate_run, gif_palette, to_palette, write_gif  # noqa: E402
from gandiag.viz.source import RunView  # noqa: E402

FRAMES = 100


class Clock:
    def __init__(self):
        self.rows = []

    def __call__(self, name, fn, *args):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn(*args)
        self.rows.append((name, time.perf_counter() - wall, time.process_time() - cpu))
        return out

    def report(self):
        print(f"{'stage':<34}{'wall s':>9}{'cpu s':>9}")
        for name, wall, cpu in self.rows:
            print(f"{name:<34}{wall:>9.2f}{cpu:>9.2f}")


@style.styled
def stages(run: Path, out: Path) -> None:
    """animate_run's stages, timed one by one."""
    clock = Clock()
    tl = clock("load snapshots", Timeline, [RunView(run)], FRAMES)
    renderers = clock("build figure", tl.renderers, None, DEFAULT_SIZE, DEFAULT_DPI)
    frames = clock(f"render {len(tl.steps)} frames", lambda: [tl.frame(renderers, k) for k in range(len(tl.steps))])
    palette = clock("palette (3 sample frames)", gif_palette, [frames[0], frames[len(frames) // 2], frames[-1]])
    images = clock("quantise", lambda: [to_palette(f, palette) for f in frames])
    clock("encode GIF", write_gif, iter(images), out, DEFAULT_FPS)
    clock.report()
    per_frame = next(cpu for name, _, cpu in clock.rows if name.startswith("render")) / len(frames)
    print(f"render: {1000 * per_frame:.0f} ms CPU per frame ({frames[0].shape[1]}x{frames[0].shape[0]} px)")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if len(sys.argv) > 1:
            run = Path(sys.argv[1])
        else:
            from viz_synth import rotating_run
            run = rotating_run(Path(tmp) / "ring8", FRAMES, every=250)
        print(f"run: {run} ({len(RunView(run).steps)} snapshots, {FRAMES} frames at most)")
        stages(run, Path(tmp) / "stages.gif")
        wall, cpu = time.perf_counter(), time.process_time()
        gif = animate_run(run, max_frames=FRAMES)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"animate_run end to end: {wall:.1f} s wall, {cpu:.1f} s CPU; "
              f"GIF {gif.stat().st_size / 1e6:.2f} MB ({gif})")


if __name__ == "__main__":
    main()
