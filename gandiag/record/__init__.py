"""The run folder: its names (keys), reading it (RunReader) and writing it (Recorder, the one writer).

`from gandiag import record as R` gives every key constant (R.STEP, R.MODES, R.SNAP_FAKES, ...) and the
folder's readers and helpers; `gandiag.record.Recorder` (also `gandiag.Recorder`) writes a folder.
The keys and RunError import nothing; the rest is imported when first asked for, so a command that only
names them (`gandiag --help`) starts at once.
"""
from .errors import RunError, os_error  # noqa: F401
from .keys import *  # noqa: F401,F403

_FOLDER = ("FolderLock", "RunReader", "atomic_write_bytes", "atomic_write_json", "checkpoint_name", "cut_rows",
           "discard_partial_writes", "json_text", "jsonable", "metrics_lines", "number",
           "run_folders_in", "saturation_probe_stem", "series", "snapshot_name", "temp_path", "writer_alive")


def __getattr__(name):
    if name in _FOLDER:
        from . import folder
        return getattr(folder, name)
    if name == "Recorder":
        from .recorder import Recorder
        return Recorder
    raise AttributeError(f"module 'gandiag.record' has no attribute {name!r}")
