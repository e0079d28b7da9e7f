"""The MNIST classifier pipeline and the classifier-based mode metrics of image runs."""
import numpy as np
import pytest
import scipy.linalg
import torch
from numpy.testing import assert_allclose, assert_array_equal
from torch import nn

from gandiag import record as R
from gandiag.config import ConfigError
from gandiag.data.mnist import idx_bytes, load_digits, to_unit
from gandiag.metrics import classifier as C
from gandiag.train import classifier as T


@pytest.fixture(autouse=True)
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANDIAG_CACHE", str(tmp_path / "cache"))


# --- mode counting on constructed images with known digits ------------------------------------

def digit_level(d):
    """Pixel value, in [-1, 1], of a constructed image of digit d (every pixel = 20 d)."""
    return to_unit(torch.as_tensor(20 * d, dtype=torch.uint8))


class FirstPixel(nn.Module):
    def forward(self, x):
        return x.flatten(1)[:, :1]


class PixelReader(nn.Module):
    """A stand-in classifier that reads the digit off a constructed image: feature = its first pixel,
    logits peak sharply at the digit whose level is nearest."""

    def __init__(self):
        super().__init__()
        self.levels = nn.Parameter(digit_level(torch.arange(10)))
        self.features = FirstPixel()

    def head(self, f):
        return -1000.0 * (f - self.levels) ** 2


def constructed(triples: list[tuple[int, ...]]) -> torch.Tensor:
    """Images (N, C, 28, 28) whose channel c shows digit triples[n][c]."""
    return digit_level(torch.tensor(triples))[:, :, None, None].expand(-1, -1, 28, 28).contiguous()


def test_stacked_mode_counting_matches_a_direct_count_of_the_known_triples():
    triples = [(1, 2, 3)] * 5 + [(4, 5, 6)] * 3 + [(7, 8, 9), (0, 0, 0)]
    images = constructed(triples)
    model = PixelReader()
    row = C.image_metrics(model, images, C.real_feature_stats(model, images))
    direct = np.bincount([100 * a + 10 * b + c for a, b, c in triples], minlength=1000)
    assert_array_equal(row[R.MODE_COUNTS], direct)
    assert row[R.MODES] == 4
    p = np.array([5, 3, 1, 1]) / 10
    assert_allclose(row[R.REVERSE_KL], np.sum(p * np.log(p * 1000)))
    assert_allclose(row[R.CLASSIFIER_SCORE], np.exp(-np.sum(p * np.log(p))), rtol=1e-6)
    assert_allclose(row[R.FRECHET_DISTANCE], 0.0, atol=1e-6)


def test_strict_modes_need_a_tenth_of_the_fair_share():
    # 200 MNIST samples: the fair share is 20, a tenth of it 2 samples; class 2's single sample is a stray
    images = constructed([(0,)] * 197 + [(1,)] * 2 + [(2,)])
    model = PixelReader()
    row = C.image_metrics(model, images, C.real_feature_stats(model, images))
    assert (row[R.MODES], row[R.MODES_STRICT]) == (3, 2)
    assert_array_equal(row[R.MODE_COUNTS][:4], [197, 2, 1, 0])


def test_joint_probabilities_order_digit_tuples_like_the_labels():
    probs = torch.nn.functional.one_hot(torch.tensor([[1, 2, 3], [9, 0, 4]]), 10).double()
    torch.testing.assert_close(C.joint_probs(probs).argmax(1), torch.tensor([123, 904]))
    torch.testing.assert_close(C.joint_probs(probs).sum(1), torch.ones(2, dtype=torch.float64))


@pytest.mark.parametrize("rows, expected", [
    (torch.eye(4).repeat(3, 1), 4.0),                        # confident and balanced over 4 classes
    (torch.eye(4)[[2, 2, 2]], 1.0),                          # confident, one class
    (torch.full((5, 4), 0.25), 1.0),                         # unsure about every sample
])
def test_classifier_score_is_the_inception_formula(rows, expected):
    assert_allclose(C.classifier_score(rows), expected)


def test_frechet_distance_matches_the_closed_form_and_scipy():
    mu_a, mu_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    var_a, var_b = np.array([1.0, 4.0, 0.0]), np.array([9.0, 1.0, 1.0])   # one dead (zero-variance) feature
    closed = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    assert_allclose(C.frechet_distance((mu_a, np.diag(var_a)), (mu_b, np.diag(var_b))), closed)
    rng = np.random.default_rng(0)
    a, b, mu_a, mu_b = rng.normal(size=(4, 4)), rng.normal(size=(4, 4)), rng.normal(size=4), rng.normal(size=4)
    s_a, s_b = a @ a.T + np.eye(4), b @ b.T + np.eye(4)
    reference = np.sum((mu_a - mu_b) ** 2) + np.trace(s_a + s_b - 2 * scipy.linalg.sqrtm(s_a @ s_b).real)
    assert_allclose(C.frechet_distance((mu_a, s_a), (mu_b, s_b)), reference)


# --- the classifier pipeline on a tiny subset -------------------------------------------------

@pytest.fixture
def tiny_idx_dir(tmp_path):
    """300 real digits (30 per class) of the shipped subset, as IDX files: 240 to train, 60 held out."""
    digits = load_digits()
    pick = np.concatenate([np.flatnonzero(digits.train_labels == d)[:30] for d in range(10)])
    folder = tmp_path / "idx"
    folder.mkdir()
    (folder / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(digits.train_images[pick]))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(digits.train_labels[pick].astype(np.uint8)))
    return folder


def test_classifier_trains_caches_and_reloads_with_its_recorded_accuracy(tiny_idx_dir, tmp_path):
    folder = tmp_path / "clf"
    info = T.train_and_save(str(tiny_idx_dir), epochs=2, folder=folder)
    model, loaded = C.load_classifier(folder)
    digits = load_digits(str(tiny_idx_dir))
    assert_allclose(loaded["accuracy"], T.accuracy(model, digits.test_images, digits.test_labels))
    assert (loaded["n_test"], loaded["epochs"], loaded["data"]["subset"]) == (60, 2, True)
    assert loaded["sha256"] == info["sha256"] and len(info["sha256"]) == 64


def test_training_repeats_exactly_for_a_seed(tiny_idx_dir):
    digits = load_digits(str(tiny_idx_dir))
    (a, _), (b, _) = T.train_classifier(digits, epochs=1), T.train_classifier(digits, epochs=1)
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        torch.testing.assert_close(x, y, rtol=0, atol=0, msg=name)


def test_altered_weights_fail_the_checksum(tiny_idx_dir, tmp_path):
    folder = tmp_path / "clf"
    T.train_and_save(str(tiny_idx_dir), epochs=1, folder=folder)
    weights = folder / C.WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ConfigError, match="fails its checksum.*gandiag classifier train"):
        C.load_classifier(folder)


def test_a_missing_classifier_is_trained_once_then_reused(tiny_idx_dir, tmp_path):
    folder = tmp_path / "clf"
    with pytest.raises(ConfigError, match="run `gandiag classifier train`"):
        C.load_classifier(folder)
    notes = []
    _, first = T.load_or_train(str(tiny_idx_dir), folder, epochs=1, log=notes.append)
    _, second = T.load_or_train(str(tiny_idx_dir), folder, epochs=1, log=notes.append)
    assert first == second
    assert sum("training one" in n for n in notes) == 1


def test_default_epochs_give_the_shipped_subset_as_many_steps_as_the_full_set():
    # 24 passes over 4,000 digits and 2 over 60,000: about 1,500 steps of 64 either way, never fewer than 2 passes
    assert [T.default_epochs(n) for n in (4000, 60_000, 10**7)] == [24, 2, 2]


def test_a_run_that_must_first_train_the_classifier_says_so_on_stderr(tiny_idx_dir, tmp_path, monkeypatch, capsys):
    from gandiag.config import load_config
    from gandiag.train.runs import run_target
    monkeypatch.setenv("GANDIAG_CACHE", str(tmp_path / "cache"))
    one_pass = T.train_and_save   # one pass over the 240 digits keeps it seconds
    monkeypatch.setattr(T, "train_and_save",
                        lambda data_dir, epochs, folder, log: one_pass(data_dir, 1, folder=folder, log=log))
    run_target(load_config("mnist", data_dir=str(tiny_idx_dir)), torch.device("cpu"))
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == f"no MNIST classifier cached yet: training one into {tmp_path / 'cache' / 'classifier'} (once)"
    assert len(lines) == 3 and lines[1].startswith(f"MNIST from idx ({tiny_idx_dir}): 240 training + 60 held-out") \
        and lines[2].startswith("epoch 1/1: held-out accuracy ")
