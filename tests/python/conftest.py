"""Shared fixtures of the python suite: small seeded data sets (the seed is in every failure's
message through the fixtures' ids), and where the build's programs are."""

import os

import numpy as np
import pytest


def blobs(n, d, classes, seed, spread=1.0):
    """Gaussian blobs around random centres: X float32 (n, d), y int labels 0..classes-1."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 3.0, size=(classes, d))
    y = rng.integers(0, classes, size=n)
    X = (centres[y] + rng.normal(0.0, spread, size=(n, d))).astype(np.float32)
    return X, y


def linear_target(n, d, seed, noise=0.01):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n, d)).astype(np.float32)
    w = rng.uniform(-1.0, 1.0, size=d)
    y = (X @ w + 0.25 + rng.normal(0.0, noise, size=n)).astype(np.float32)
    return X, y


@pytest.fixture(params=[11], ids=lambda s: f"seed={s}")
def three_blobs(request):
    return blobs(600, 12, 3, request.param)


@pytest.fixture(params=[12], ids=lambda s: f"seed={s}")
def two_blobs(request):
    return blobs(400, 9, 2, request.param)


@pytest.fixture(params=[13], ids=lambda s: f"seed={s}")
def regression_data(request):
    return linear_target(500, 8, request.param)


@pytest.fixture
def fashion_mnist_dir():
    d = os.environ.get("ZIPML_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
    if not os.path.exists(os.path.join(d, "train-images-idx3-ubyte.gz")):
        pytest.skip(f"Fashion-MNIST is not in {d} (Debian: apt-get install dataset-fashion-mnist)")
    return d


@pytest.fixture
def zipml_train():
    p = os.environ.get("ZIPML_TRAIN")
    if not p or not os.path.exists(p):
        pytest.skip("ZIPML_TRAIN (the zipml-train program) is not given: meson test sets it")
    return p
