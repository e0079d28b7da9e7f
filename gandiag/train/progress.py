"""The live progress display: steps/s, ETA, losses, modes, and any warning the analyzer raises.

On a terminal and in a Jupyter notebook it is a tqdm bar (tqdm.auto: a widget in a notebook, a
rewritten line in a terminal); written to a pipe or a log file it is a plain line every tenth of the
run, which a log keeps readable.
"""
from __future__ import annotations

import sys
import time

#: said before the first step of a run that compiles, which is silent otherwise for up to a minute
COMPILING = ("compiling (torch.compile): up to a minute the first time, seconds once inductor has cached it; "
             "the progress line follows")


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (its output streams are no terminal, yet widgets show)."""
    shell = sys.modules.get("IPython") and getattr(sys.modules["IPython"], "get_ipython", lambda: None)()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def status_text(row: dict, warnings=()) -> str:
    """'D 1.371  G 0.700  modes 1/8' (and the warnings) for a metrics row."""
    parts = [f"D {row.get('d_loss', float('nan')):.3f}", f"G {row.get('g_loss', float('nan')):.3f}"]
    if row.get("modes") is not None:
        parts.append(f"modes {row['modes']}/{len(row.get('mode_counts', []))}")
    if warnings:
        parts.append("WARNING: " + "; ".join(warnings))
    return "  ".join(parts)


class Progress:
    """A run's progress from step `start` to `total`."""

    def __init__(self, total: int, start: int = 0, stream=None, quiet: bool = False, width: int = 20):
        self.total, self.start, self.quiet, self.width = total, start, quiet, width
        self.stream = stream or sys.stderr
        self.live = not quiet and (in_notebook() or (hasattr(self.stream, "isatty") and self.stream.isatty()))
        self.t0 = time.perf_counter()
        self._next_plain = start
        self._bar = None

    def note(self, text: str) -> None:
        """A line of its own, before the progress display starts."""
        if not self.quiet:
            self.stream.write(text + "\n")
            self.stream.flush()

    def begin(self) -> None:
        """Start the clock at the first training step, so the rate leaves out the setup (a compilation)."""
        self.t0 = time.perf_counter()
        if self.live:
            from tqdm.auto import tqdm
            self._bar = tqdm(total=self.total, initial=self.start, file=self.stream, unit="it", dynamic_ncols=True,
                             smoothing=0.1)

    def update(self, step: int, row: dict, warnings: list[str] = ()) -> None:
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.update(step - self._bar.n)
            self._bar.set_postfix_str(status_text(row, warnings), refresh=True)
            return
        if step < self._next_plain and step < self.total:
            return
        self._next_plain = step + max(1, self.total // 10)
        elapsed = time.perf_counter() - self.t0
        rate = (step - self.start) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - step) / rate if rate > 0 else 0.0
        done = int(self.width * step / self.total)
        bar = "#" * done + "-" * (self.width - done)
        self.stream.write(f"[{bar}] {step}/{self.total}  {rate:.0f} it/s  ETA {_duration(eta)}  "
                          f"{status_text(row, warnings)}\n")
        self.stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
