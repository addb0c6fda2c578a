"""The done-when of the Python package: SGDClassifier(precision="q4") on Fashion-MNIST gives
zipml-train --precision q4's test accuracy (same settings: both defaults)."""

import json
import subprocess

import zipml


def test_q4_accuracy_is_zipml_trains(fashion_mnist_dir, zipml_train, tmp_path):
    summary = tmp_path / "s.json"
    out = subprocess.run([zipml_train, "--precision", "q4", "--data-dir", fashion_mnist_dir, "--summary", str(summary),
                          "--quiet"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    run = json.loads(summary.read_text())["runs"][0]
    X, y, Xt, yt = zipml.load_fashion_mnist(fashion_mnist_dir)
    clf = zipml.SGDClassifier(precision="q4").fit(X, y)
    assert clf.score(Xt, yt) == run["test_accuracy"]
    assert clf.n_iter_ == run["epochs_run"]
    assert clf.step_ == run["step"]
    assert clf.score(Xt, yt) > 0.83
