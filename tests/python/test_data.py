"""Data helpers: LIBSVM files against scikit-learn's writer, Fashion-MNIST as zipml-train
reads it, packed streams written, read and trained on."""

import gzip
import json
import os
import subprocess

import numpy as np
import pytest
from sklearn.datasets import dump_svmlight_file

import zipml
from conftest import blobs, linear_target


def test_load_libsvm_reads_what_scikit_learn_writes(tmp_path):
    seed = 51
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, size=(40, 6)).astype(np.float32)
    X[rng.uniform(size=X.shape) < 0.4] = 0.0
    y = rng.integers(0, 4, size=40).astype(np.float32)
    for zero_based in (True, False):
        path = tmp_path / f"d{int(zero_based)}.svm"
        dump_svmlight_file(X, y, path, zero_based=zero_based)
        Xr, yr = zipml.load_libsvm(path, n_features=6, zero_based=zero_based)
        assert Xr.dtype == np.float32 and Xr.flags["C_CONTIGUOUS"]
        np.testing.assert_allclose(Xr, X, rtol=1e-6, err_msg=f"seed={seed}")
        assert np.array_equal(yr, y)
    gz = tmp_path / "d.svm.gz"
    gz.write_bytes(gzip.compress((tmp_path / "d1.svm").read_bytes()))
    Xg, _ = zipml.load_libsvm(gz, n_features=6, zero_based=True)
    assert np.array_equal(Xg, zipml.load_libsvm(tmp_path / "d1.svm", n_features=6, zero_based=True)[0])


def test_a_malformed_libsvm_file_names_file_line_and_token(tmp_path):
    path = tmp_path / "bad.svm"
    path.write_text("1 1:0.5 2:0.25\n-1 1:0.5 2:x7\n")
    with pytest.raises(zipml.ZipmlError) as e:
        zipml.load_libsvm(path)
    msg = str(e.value)
    assert f"{path}:2:" in msg and "x7" in msg
    with pytest.raises(zipml.ZipmlError, match="nonexistent.svm"):
        zipml.load_libsvm(tmp_path / "nonexistent.svm")


def test_fashion_mnist_is_zipml_trains(fashion_mnist_dir):
    X, y, Xt, yt = zipml.load_fashion_mnist(fashion_mnist_dir, train_limit=500, test_limit=100)
    assert X.shape == (500, 784) and Xt.shape == (100, 784) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0 and set(np.unique(y)) <= set(range(10))
    raw, _, _, _ = zipml.load_fashion_mnist(fashion_mnist_dir, scale=None, train_limit=5, test_limit=5)
    assert raw.max() == 255.0
    with pytest.raises(zipml.ZipmlError, match="dataset-fashion-mnist"):
        zipml.load_fashion_mnist("/nonexistent")


def test_a_packed_stream_trains_the_model_the_arrays_train(tmp_path):
    seed = 52
    X, y = blobs(300, 11, 3, seed)
    for precision, rounding in (("q4", "nearest"), ("q2", "stochastic"), ("float32", "nearest")):
        clf = zipml.SGDClassifier(precision=precision, rounding=rounding, epochs=3, order="file", random_state=seed)
        from_arrays = clf.fit(X, y.astype(np.float32)).coef_.copy()
        s = zipml.pack(X, y, precision=precision, rounding=rounding, random_state=seed)
        assert s.n_samples == 300 and s.n_features == 11 and s.precision == precision
        assert list(s.classes) == [0.0, 1.0, 2.0] and s.scaling == "columns"
        s.save(tmp_path / "s.zps")
        loaded = zipml.load_stream(tmp_path / "s.zps")
        assert np.array_equal(loaded.words, s.words)
        assert not loaded.words.flags.writeable
        from_file = zipml.SGDClassifier(epochs=3).fit(loaded)
        assert np.array_equal(from_file.coef_, from_arrays), f"{precision} seed={seed}"
        # the stream's scaler is applied to the data predicted on
        assert np.array_equal(from_file.predict(X), clf.predict(X))
        assert from_file.precision_ == precision  # the stream fixes it
    dec = zipml.pack(X, y, precision="q8").features(0, 2)
    assert dec.shape == (2, 11) and dec.min() >= 0.0 and dec.max() <= 1.0


def test_a_damaged_stream_file_is_refused(tmp_path):
    X, y = blobs(50, 5, 2, 53)
    zipml.pack(X, y).save(tmp_path / "s.zps")
    raw = bytearray((tmp_path / "s.zps").read_bytes())
    raw[-9] ^= 0x10
    (tmp_path / "bad.zps").write_bytes(bytes(raw))
    with pytest.raises(zipml.ZipmlError, match="bad.zps"):
        zipml.load_stream(tmp_path / "bad.zps")


def test_stream_files_cross_with_zipml_train(tmp_path, zipml_train):
    X, y = linear_target(200, 6, 54)
    s = zipml.pack(X, y, precision="q8", regression=True)
    s.save(tmp_path / "r.zps")
    out = subprocess.run([zipml_train, "--train", str(tmp_path / "r.zps"), "--model", "least-squares", "--epochs", "5",
                          "--step", "0.0625", "--save", str(tmp_path / "r.zml"), "--quiet"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    reg = zipml.SGDRegressor(epochs=5, step=0.0625).fit(s)
    assert np.array_equal(zipml.load_model(tmp_path / "r.zml").coef_, reg.coef_)
