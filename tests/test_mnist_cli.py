"""`gandiag classifier train` through click's CliRunner, on a tiny IDX subset made here."""
import json

import numpy as np
from click.testing import CliRunner

from gandiag.cli import main
from gandiag.data.mnist import idx_bytes, load_digits
from gandiag.metrics import classifier as C


def test_classifier_train_caches_weights_and_prints_the_accuracy(tmp_path, monkeypatch):
    monkeypatch.setenv("GANDIAG_CACHE", str(tmp_path / "cache"))
    digits = load_digits()
    folder = tmp_path / "idx"
    folder.mkdir()
    (folder / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(digits.test_images[:200]))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(digits.test_labels[:200].astype(np.uint8)))
    result = CliRunner().invoke(main, ["classifier", "train", "--data-dir", str(folder), "--epochs", "1"])
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "cache" / "classifier" / C.INFO_FILE).read_text())
    assert f"held-out accuracy {100 * info['accuracy']:.2f} % on 40 digits (a subset of MNIST)" in result.output
    assert f"sha256 {info['sha256']}" in result.output and "epoch 1/1" in result.output


def test_classifier_train_on_a_folder_without_mnist_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(main, ["classifier", "train", "--data-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "no MNIST IDX files" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
