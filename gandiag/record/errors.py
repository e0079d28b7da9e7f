"""The run folder's one user-facing error, apart so that the CLI names it without importing numpy."""
import errno
import re

#: analyze, resume and probe write into the run folder itself and have no --out to point elsewhere
_NO_OUT = "; a command without it: run it on a copy of the run folder"
#: what a user can do about the operating system's refusals that a run folder meets
_REMEDIES = {
    errno.ENOSPC: "free some space or write elsewhere (what was written before is kept)",
    errno.EDQUOT: "free some space or write elsewhere (what was written before is kept)",
    errno.EROFS: f"write to another folder (--out{_NO_OUT})",
    errno.EACCES: f"write to a folder of your own (--out{_NO_OUT}) or fix its permissions",
    errno.EPERM: f"write to a folder of your own (--out{_NO_OUT}) or fix its permissions",
    errno.ENOTDIR: "a part of the path is a file, not a folder: choose another path",
    errno.EISDIR: "that is a folder: give a file name",
    errno.ENAMETOOLONG: "choose a shorter path",
    errno.EMFILE: "raise `ulimit -n` or open fewer runs at once",
}
#: the temp name an atomic write uses (record.folder.temp_path): the user knows the file by its real name
_TEMP = re.compile(r"\.(?P<name>.+)\.\d+\.[0-9a-f]+\.tmp")


class RunError(ValueError):
    """A user-facing, one-line error about a run folder or one of its files (the CLI prints it as is)."""


def os_error(e: OSError) -> RunError:
    """The operating system's refusal (a read-only folder, a full disk, a path through a file) as one
    line: the path, the system's reason and what to do. The one place such errors are worded."""
    paths = [_real_name(str(p)) for p in (e.filename, e.filename2) if p is not None]
    reason = e.strerror or str(e) or type(e).__name__
    remedy = _REMEDIES.get(e.errno)
    return RunError(" -> ".join(paths) + (": " if paths else "") + reason + (f": {remedy}" if remedy else ""))


def _real_name(path: str) -> str:
    head, _, name = path.rpartition("/")
    temp = _TEMP.fullmatch(name)
    return f"{head}/{temp['name']}" if temp and head else temp["name"] if temp else path
