"""Training: the step, the loop, probes and progress."""
from .loop import EXIT_DIVERGED, EXIT_INTERRUPTED, RunError, RunResult, resume, run

__all__ = ["run", "resume", "RunResult", "RunError", "EXIT_DIVERGED", "EXIT_INTERRUPTED"]
