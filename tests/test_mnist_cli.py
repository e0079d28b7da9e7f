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


def test_classifier_train_says_which_cached_classifier_it_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("GANDIAG_CACHE", str(tmp_path / "cache"))
    images, labels = load_digits().test_images, load_digits().test_labels.astype(np.uint8)

    def train(first: int) -> tuple[str, str]:
        folder = tmp_path / f"idx{first}"
        folder.mkdir(exist_ok=True)
        (folder / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(images[first:first + 100]))
        (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(labels[first:first + 100]))
        result = CliRunner().invoke(main, ["classifier", "train", "--data-dir", str(folder), "--epochs", "1"])
        assert result.exit_code == 0, result.output
        return json.loads((tmp_path / "cache" / "classifier" / C.INFO_FILE).read_text())["sha256"], result.output

    cache = tmp_path / "cache" / "classifier"
    first, output = train(0)
    weights = (cache / C.WEIGHTS_FILE).read_bytes()
    assert "replaced" not in output
    second, output = train(100)
    kept = cache / "replaced" / first[:12]
    assert output.splitlines()[-1] == (f"replaced the classifier {first[:12]}, kept in {kept}: copy its two files "
                                       f"back into {cache} to resume the runs it scored")
    assert (kept / C.WEIGHTS_FILE).read_bytes() == weights   # the runs it scored can have it back
    assert json.loads((kept / C.INFO_FILE).read_text())["sha256"] == first
    again, output = train(100)   # the same weights again: nothing was replaced, nothing more kept
    assert again == second and "replaced" not in output
    assert [p.name for p in (cache / "replaced").iterdir()] == [first[:12]]
