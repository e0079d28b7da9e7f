#!/usr/bin/env python3
"""How big `gandiag report` makes report.html and how long it takes, for a run shaped like the default
ring8 run (25,000 steps, a snapshot every 500: 50 snapshots of 512 fixed-z fakes and a 64 x 64 D grid,
a metrics row every 100 steps), or for RUN when given.

    python benchmarks/bench_report.py           # synthetic default-shaped run (tests/viz_synth.py)
    python benchmarks/bench_report.py RUN       # a real run folder (the report goes to a temp file)

Prints the wall and CPU time of write_report (the analyzer runs first when diagnosis.json is missing,
so the second call, with it there, is the report alone) and the file's size with its main parts.
"""
import json
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' synthetic runs

from gandiag import record as R  # noqa: E402
from gandiag.viz.report import write_report  # noqa: E402


def timed(fn, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if len(sys.argv) > 1:
            run = Path(sys.argv[1])
        else:
            from viz_synth import metric_rows, rotating_run
            run = rotating_run(Path(tmp) / "ring8", 50, every=500)
            with open(run / R.METRICS_FILE, "w") as f:  # a row every 100 steps, as the default run logs
                f.writelines(json.dumps(row) + "\n" for row in metric_rows(25000, 100))
        out = Path(tmp) / "report.html"
        for what in ("first call (analyzer included when needed)", "second call (report alone)"):
            _, wall, cpu = timed(write_report, run, out)
            print(f"{what}: {wall:.1f} s wall, {cpu:.1f} s CPU")
        html = out.read_text()
        blob = re.search(r"id=gd-data>(.*?)</script>", html, re.S)[1]
        pngs = sum(len(m) for m in re.findall(r"data:image/png;base64,[^'\"]+", html))
        print(f"report.html: {len(html.encode()) / 1e6:.2f} MB ({run}): the viewer's data {len(blob) / 1e6:.2f} MB, "
              f"the print figure {pngs / 1e6:.2f} MB, page and script {(len(html) - len(blob) - pngs) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
