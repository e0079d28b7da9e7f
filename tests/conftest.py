"""Hypothesis profiles for the whole suite (HYPOTHESIS_PROFILE names one; else the thorough "ci" when CI
is set, else the fast "dev"), the fixtures of the tests that compile and of those that choose the float32
products' kernel, and mnist_cache's (the image runs')."""
import os

import pytest
import torch
from hypothesis import settings
from torch._dynamo.testing import CompileCounterWithBackend

from gandiag.engine import products
from gandiag.testing import register_profiles

#: the image-run tests' user cache with a tiny classifier, a fixture for every test module that names it
pytest_plugins = ["mnist_cache"]

register_profiles()
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


@pytest.fixture
def fresh_compile():
    """No compiled code cached from earlier tests (a test that counts what is traced starts from none)."""
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.fixture
def compile_counter(fresh_compile, monkeypatch):
    """torch.compile traces with dynamo and AOTAutograd as usual but runs the captured graphs eagerly
    (aot_eager, no inductor) and counts them: compiled code in seconds, without a C++ build. Inductor's
    options, which aot_eager takes none of, are kept in `options` for the tests to read."""
    counted, compile = CompileCounterWithBackend("aot_eager"), torch.compile

    def counting(fn, *args, options=None, **kwargs):
        counted.options = options
        return compile(fn, *args, backend=counted, **kwargs)

    monkeypatch.setattr(torch, "compile", counting)
    return counted


@pytest.fixture
def kernel(request, monkeypatch):
    """Float32 CPU products on the kernel the test's parameter names (products.ONEDNN or products.TORCH),
    whichever this CPU's faster one is (products.ONEDNN_PRODUCTS): both are tested on every machine. The
    torch .ci/run pins has oneDNN: a torch without it fails here rather than skip the tests."""
    onednn = request.param is products.ONEDNN
    assert not onednn or products.DNN_LINEAR is not None, "no oneDNN in this torch: install torch==2.13.0 (.ci/run)"
    monkeypatch.setattr(products, "ONEDNN_PRODUCTS", onednn)
    return request.param
