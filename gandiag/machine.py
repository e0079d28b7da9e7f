"""What of the machine this process may train on: its CPUs (its memory: gandiag.memory)."""
from __future__ import annotations

import os


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity where the system keeps one, else every CPU."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cpu_share(jobs: int) -> int:
    """The CPUs each of `jobs` processes training side by side counts on: an even share, at least one."""
    return max(1, usable_cpus() // jobs)
