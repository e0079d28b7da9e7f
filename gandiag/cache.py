"""The user cache: fetched data sets and the trained MNIST classifier live here, never inside the package."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """$GANDIAG_CACHE, else $XDG_CACHE_HOME/gandiag, else ~/.cache/gandiag (not created here)."""
    if os.environ.get("GANDIAG_CACHE"):
        return Path(os.environ["GANDIAG_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "gandiag"
