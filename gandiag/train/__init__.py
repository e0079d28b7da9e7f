"""Training: sessions, the one loop over seed slots, run / resume / many seeds, and what trains besides
GANs (the MNIST classifier, the frozen-G saturation probe)."""
from .device import run_threads
from .loop import EXIT_DIVERGED, EXIT_INTERRUPTED, RunResult
from .runs import resume, run
from .seeds import is_pass, resume_seeds, run_pass, run_seeds
from .session import resolve_device

__all__ = ["run", "resume", "run_seeds", "run_pass", "resume_seeds", "is_pass", "RunResult", "EXIT_DIVERGED",
           "EXIT_INTERRUPTED", "resolve_device", "run_threads"]
