#!/usr/bin/env python3
"""The README's picture of the report viewer, made by gandiag's own command and a headless Chromium:

    python docs/screenshot.py RUN [RUN ...] [--out docs/img/viewer.png] [--step STEP]

runs `gandiag report RUN ... --out <tmp>.html`, opens the page in Debian's chromium (through Playwright,
see tests/viz_browser.py), moves the slider to STEP (default: the last snapshot) and saves the top of
the page as a PNG.
"""
import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from viz_browser import browser_page, missing  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--out", default="docs/img/viewer.png")
    ap.add_argument("--step", type=int, default=None, help="step to show (the last snapshot at or before it)")
    ap.add_argument("--labels", default=None)
    ap.add_argument("--height", type=int, default=860)
    args = ap.parse_args()
    if missing():
        sys.exit(missing())
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp) / "report.html"
        labels = ["--labels", args.labels] if args.labels else []
        subprocess.run([sys.executable, "-m", "gandiag", "report", *args.runs, "--out", str(html), *labels], check=True)
        with browser_page(1280, args.height) as page:
            page.goto(html.as_uri())
            if args.step is not None:
                page.eval_on_selector("#slider", """(el, step) => {
                    const steps = JSON.parse(document.getElementById('gd-data').textContent).steps;
                    let k = 0; steps.forEach((s, i) => { if (s <= step) k = i; });
                    el.value = k; el.dispatchEvent(new Event('input')); }""", args.step)
            page.screenshot(path=args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
