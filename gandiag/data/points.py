"""A user's own 2D samples or points from a file: .npy, .npz (its only array, or `fakes` as a snapshot
holds them) or .csv (an optional header line). `gandiag metrics` scores such a file; `--data-file` trains
on one."""
from __future__ import annotations

import io
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np

from ..record.keys import SNAP_FAKES


def load_samples(path) -> np.ndarray:
    """An N x 2 float array from .npy, .npz (its only array, or `fakes` in a snapshot) or .csv
    (an optional header line), non-finite values included; a one-line ValueError for anything else."""
    path = Path(path)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "not found"
        raise FileNotFoundError(f"{path} {what}: give a .npy, .npz or .csv file of N x 2 samples")
    try:
        x = _read_array(path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"{path} cannot be read as {path.suffix or 'a samples file'} ({why}): "
                         "save N x 2 numbers with numpy.save, numpy.savez or as CSV") from None
    if x.ndim != 2 or x.shape[1] != 2 or len(x) == 0:
        raise ValueError(f"{path} holds an array of shape {x.shape}: expected N x 2 samples (one x, y per row)")
    return x   # rows with NaN or inf are samples too: coverage_report scores them as on no mode


def _read_array(path: Path) -> np.ndarray:
    suffix = path.suffix.lower()
    if suffix == ".npy":
        with open(path, "rb") as f:  # np.load given a path leaves it open when the file is damaged
            return _real(np.load(f, allow_pickle=False))
    if suffix == ".npz":
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
            if SNAP_FAKES in z.files or len(z.files) == 1:
                return _real(z[SNAP_FAKES if SNAP_FAKES in z.files else z.files[0]])
            raise ValueError(f"several arrays ({', '.join(z.files)}) and none named {SNAP_FAKES!r}" if z.files
                             else "it holds no arrays")
    if suffix in (".csv", ".txt"):
        # utf-8-sig: Excel's "CSV UTF-8" starts with a byte-order mark, which would make the first row of
        # numbers unparseable and so taken for a header, its point silently dropped
        text = path.read_text(encoding="utf-8-sig")
        at_once = _read_at_once(path, text)
        if at_once is not None:
            return at_once
        lines = text.splitlines()
        has_header, rows = _header_and_rows(lines)
        if not rows:   # numpy would say shape (0, 1)
            raise ValueError("it holds no rows of numbers" + (" (a header line only)" if has_header else ""))
        numbered = [(i, line.count(",") + 1) for i, line in enumerate(lines, 1) if i > has_header and line.strip()]
        short = next(((i, n) for i, n in numbered if n != numbered[0][1]), None)
        if short:   # numpy's own message here advises its `usecols` argument, which no gandiag command takes
            raise ValueError(f"line {short[0]} holds {short[1]} value(s) where line {numbered[0][0]} holds "
                             f"{numbered[0][1]}: write one x,y per line")
        try:
            with warnings.catch_warnings():  # no rows: numpy warns and returns an empty array, refused above
                warnings.simplefilter("ignore", UserWarning)
                # numpy skips only empty lines: one of spaces would be a row of 1 value, its `usecols` advice again
                return np.loadtxt(io.StringIO("\n".join(line if line.strip() else "" for line in lines[has_header:])),
                                  delimiter=",", ndmin=2)
        except ValueError:
            # numpy names its row from 0 after the header ('foo' on line 3 of a file with a header: row 1)
            word = next(((i, v.strip()) for i, line in enumerate(lines, 1) if i > has_header
                         for v in line.split("#")[0].split(",") if line.strip() and not _numeric_line(v)), None)
            if word is None:
                raise
            raise ValueError(f"line {word[0]} holds {word[1]!r}, not a number: write one x,y per line") from None
    raise ValueError(f"unknown file type {suffix!r}")


def _header_and_rows(lines: list[str]) -> tuple[bool, list[str]]:
    """Whether the first line is a header, and the lines of numbers (not blank) after it."""
    has_header = bool(lines) and not _numeric_line(lines[0])
    rows = [line for line in lines[has_header:] if line.strip()]
    if any(_other_separator(line) for line in lines[:1] + rows[:1]):
        # numbers apart by spaces, tabs or ';': the first is taken for a header, numpy names another line
        raise ValueError("its values are not comma-separated: write one x,y per line")
    return has_header, rows


#: the characters a CSV's top is split at to find its header and first row
_TOP = 1 << 16
#: line breaks of str.splitlines that numpy's reading of a file does not break at
_OTHER_BREAKS = re.compile("[\v\f\x1c-\x1e\x85\u2028\u2029]")


def _read_at_once(path: Path, text: str) -> np.ndarray | None:
    """The CSV's numbers as numpy reads the file itself, or None where the line-by-line checks must
    name what is wrong. Those keep a Python string per line (2M rows: 1.1 GB); numpy's reader fails on
    whatever they refuse, as long as lines break where theirs do and no '#' starts a comment only numpy
    sees, so they need only run when it fails."""
    top = text[:_TOP].splitlines()
    has_header, rows = _header_and_rows(top if len(text) <= _TOP else top[:-1])   # its last line may go on
    if not rows or "#" in text or _OTHER_BREAKS.search(text):
        return None
    try:
        return np.loadtxt(path, delimiter=",", ndmin=2, skiprows=int(has_header), encoding="utf-8-sig")
    except ValueError:
        return None


def _real(array: np.ndarray) -> np.ndarray:
    """The array as float64; complex numbers refused (numpy would drop their imaginary parts, warning)."""
    if np.iscomplexobj(array):
        raise ValueError("it holds complex numbers")
    return np.asarray(array, dtype=np.float64)


def _other_separator(line: str) -> bool:
    """Whether a line is numbers apart by spaces, tabs or semicolons rather than commas."""
    return not _numeric_line(line) and _numeric_line(re.sub(r"[\s;]+", ",", line.strip()))


def _numeric_line(line: str) -> bool:
    try:
        [float(v) for v in line.split(",")]
    except ValueError:
        return False
    return True
