"""The live progress line: steps/s, ETA, losses, modes, and any warning the analyzer raises."""
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


class Progress:
    """Rewrites one line on a terminal; prints a line every tenth of the run to a pipe or log file."""

    def __init__(self, total: int, start: int = 0, stream=None, quiet: bool = False, width: int = 20):
        self.total, self.start, self.quiet, self.width = total, start, quiet, width
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = time.perf_counter()
        self._next_plain = start

    def note(self, text: str) -> None:
        """A line of its own, before the progress line starts."""
        if not self.quiet:
            self.stream.write(text + "\n")
            self.stream.flush()

    def begin(self) -> None:
        """Start the clock at the first training step, so the rate leaves out the setup (a compilation)."""
        self.t0 = time.perf_counter()

    def update(self, step: int, row: dict, warnings: list[str] = ()) -> None:
        if self.quiet:
            return
        if not self.tty and step < self._next_plain and step < self.total:
            return
        self._next_plain = step + max(1, self.total // 10)
        elapsed = time.perf_counter() - self.t0
        rate = (step - self.start) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - step) / rate if rate > 0 else 0.0
        done = int(self.width * step / self.total)
        bar = "#" * done + "-" * (self.width - done)
        parts = [f"[{bar}] {step}/{self.total}", f"{rate:.0f} it/s", f"ETA {_duration(eta)}",
                 f"D {row.get('d_loss', float('nan')):.3f}", f"G {row.get('g_loss', float('nan')):.3f}"]
        if row.get("modes") is not None:
            parts.append(f"modes {row['modes']}/{len(row.get('mode_counts', []))}")
        if warnings:
            parts.append("WARNING: " + "; ".join(warnings))
        line = "  ".join(parts)
        self.stream.write(("\r\033[K" + line) if self.tty else line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and not self.quiet:
            self.stream.write("\n")
            self.stream.flush()
