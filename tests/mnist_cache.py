"""A user cache with a tiny MNIST classifier, shared by the image-run tests (a pytest fixture)."""
import numpy as np
import pytest

from gandiag.data.mnist import idx_bytes, load_digits
from gandiag.train import classifier as T


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A user cache holding a classifier trained for one pass over 240 shipped digits (seconds, not minutes)."""
    root = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANDIAG_CACHE", str(root))
        digits = load_digits()
        idx = tmp_path_factory.mktemp("idx")
        (idx / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(digits.train_images[::13][:300]))
        (idx / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(digits.train_labels[::13][:300].astype(np.uint8)))
        T.train_and_save(str(idx), epochs=1)
    return root
