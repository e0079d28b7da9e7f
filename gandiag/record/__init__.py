"""The run folder: its names (keys), reading it (RunReader) and writing it (Recorder, the one writer).

`from gandiag import record as R` gives every key constant (R.STEP, R.MODES, R.SNAP_FAKES, ...) and the
folder's readers and helpers; `gandiag.record.Recorder` (also `gandiag.Recorder`) writes a folder.
"""
from .folder import (FolderLock, RunError, RunReader, atomic_write_bytes, atomic_write_json, checkpoint_name,
                     discard_partial_writes, json_text, jsonable, metrics_lines, snapshot_name, writer_alive)
from .keys import *  # noqa: F401,F403


def __getattr__(name):
    # the Recorder imports torch and the metrics: only when it is asked for, so reading a folder stays light
    if name == "Recorder":
        from .recorder import Recorder
        return Recorder
    raise AttributeError(f"module 'gandiag.record' has no attribute {name!r}")
